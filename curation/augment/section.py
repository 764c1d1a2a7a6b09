"""The recipe's `augment:` section: which documents get augmented copies, how, and how much of the mix they
may take. Every method is opt-in per source (`sources:`), since e.g. shuffling sentences only suits text
whose sentence order carries no meaning."""

from __future__ import annotations

from pydantic import Field, field_validator

from mixloom.schema import Strict


class WordReplace(Strict):
    """Replace some plain words by WordNet synonyms (names, numbers, code and URLs untouched)."""

    sources: list[str] = Field(min_length=1, description="sources to augment (opt-in)")
    rate: float = Field(0.15, gt=0, le=1, description="share of replaceable words replaced")
    copies: int = Field(1, ge=1, le=10, description="augmented copies per document")
    min_replaced: int = Field(1, ge=1, description="copies with fewer replaced words are not made")


class SentenceShuffle(Strict):
    """Reorder the sentences of order-insensitive text (e.g. independent headlines or reviews)."""

    sources: list[str] = Field(min_length=1, description="sources whose sentence order carries no meaning")
    copies: int = Field(1, ge=1, le=10)
    min_sentences: int = Field(3, ge=2, description="documents with fewer sentences are not shuffled")


class AugmentSection(Strict):
    """`augment:` in a recipe. Augmented documents go through every curation step, stay in their parent's
    split, and are capped per domain in the mix."""

    max_augmented_share: float | dict[str, float] = Field(
        0.2,
        description="per domain: the most of its mix that augmented documents may be (a number or {domain: x})",
    )
    word_replace: WordReplace | None = None
    sentence_shuffle: SentenceShuffle | None = None

    @field_validator("max_augmented_share")
    @classmethod
    def _share(cls, v: float | dict[str, float]) -> float | dict[str, float]:
        for x in v.values() if isinstance(v, dict) else [v]:
            if not 0 <= x < 1:
                raise ValueError("a share is at least 0 and below 1")
        return v

    def methods(self) -> dict[str, WordReplace | SentenceShuffle]:
        return {k: v for k in ("word_replace", "sentence_shuffle") if (v := getattr(self, k)) is not None}

    def cap(self, domain: str) -> float:
        s = self.max_augmented_share
        return s.get(domain, 0.0) if isinstance(s, dict) else s
