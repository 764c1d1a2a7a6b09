"""Apply per-type actions to a batch of texts: typed placeholders, masks, and the spans for `trace`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from curation.pii.detect import SEP, TYPES, Span, resolve, scan_batch

PLACEHOLDER = {
    "private_key": "<PRIVATE_KEY>",
    "url_credentials": "<CREDENTIALS>",
    "secret": "<SECRET>",
    "email": "<EMAIL>",
    "iban": "<IBAN>",
    "credit_card": "<CREDIT_CARD>",
    "national_id": "<NATIONAL_ID>",
    "phone": "<PHONE>",
    "ipv6": "<IP_ADDRESS>",
    "ipv4": "<IP_ADDRESS>",
    "name": "<NAME>",
    "address": "<ADDRESS>",
}
_ALNUM = re.compile(r"[^\W_]")
CHUNK_CHARS = 8 << 20  # texts are scanned joined, in chunks of about this many characters


def mask(value: str) -> str:
    """Letters and digits become `*`; separators stay, so the shape (not the value) remains readable."""
    return _ALNUM.sub("*", value)


@dataclass
class Redacted:
    """One document after redaction: its new text, what was found where (offsets in the new text), counts."""

    text: str
    spans: list[dict] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def redact_text(text: str, spans: list[Span], actions: dict[str, str]) -> Redacted:
    """Replace each span by its placeholder (`redact` and `reject`) or its mask (`mask`)."""
    out: list[str] = []
    kept: list[dict] = []
    counts: dict[str, int] = {}
    pos = n = 0
    for s in spans:
        out.append(text[pos : s.start])
        n += s.start - pos
        value = mask(text[s.start : s.end]) if actions[s.type] == "mask" else PLACEHOLDER[s.type]
        kept.append({"type": s.type, "kind": s.kind, "start": n, "end": n + len(value)})
        out.append(value)
        n += len(value)
        pos = s.end
        counts[s.type] = counts.get(s.type, 0) + 1
    out.append(text[pos:])
    return Redacted("".join(out), kept, counts)


def _chunks(texts: list[str]) -> list[tuple[int, int]]:
    bounds, start, size = [], 0, 0
    for i, t in enumerate(texts):
        size += len(t) + len(SEP)
        if size >= CHUNK_CHARS:
            bounds.append((start, i + 1))
            start, size = i + 1, 0
    if start < len(texts):
        bounds.append((start, len(texts)))
    return bounds


def redact_batch(texts: list[str], actions: dict[str, str], extra=None) -> list[Redacted]:
    """Redact many texts with one scan per chunk of joined texts (types whose action is `off` are skipped).

    `extra(text) -> list[Span]` adds spans from another detector (the optional NER model) per document.
    """
    types = frozenset(t for t, a in actions.items() if a != "off" and t in TYPES)
    results: list[Redacted] = []
    for lo, hi in _chunks(texts):
        part = texts[lo:hi]
        if any("\x00" in t for t in part):  # a NUL inside a document would look like a separator
            part = [t.replace("\x00", " ") for t in part]  # same length, so offsets stay valid
        per_doc = scan_batch(part, types) if types else [[] for _ in part]
        for i, original in enumerate(texts[lo:hi]):
            doc_spans = per_doc[i]
            if extra is not None:
                doc_spans = resolve(doc_spans + extra(original))
            results.append(redact_text(original, doc_spans, actions))
    return results
