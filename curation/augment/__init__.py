"""Dataset expansion: augmented copies of documents with their lineage (parent id, method, settings)."""

from curation.augment.rules import sentence_shuffle, word_replace
from curation.augment.section import AugmentSection

__all__ = ["AugmentSection", "sentence_shuffle", "word_replace"]
