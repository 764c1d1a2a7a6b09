"""MinHash near-duplicate detection, vectorised over many documents at once.

- `text`: tokenisation and stable 64-bit shingle hashes in numpy, plus pure-Python reference functions
  that define them (usable as a datasketch `hashfunc`).
- `signature`: datasketch-compatible MinHash signatures (same permutations, same values) and LSH band keys.
- `cluster`: the out-of-core reduce: candidate pairs band by band, verification, connected components,
  one keeper per cluster.
"""
