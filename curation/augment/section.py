"""The recipe's `augment:` section: which documents get augmented copies, how, and how much of the mix they
may take. Every method is opt-in per source (`sources:`), since e.g. shuffling sentences only suits text
whose sentence order carries no meaning."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from mixloom.schema import Strict


class LabelKeep(Strict):
    """For labelled data: a copy is kept only if it still carries its document's label, as judged by a
    classifier or by the label's own checker (a copy that fails is rejected with step `augment`)."""

    field: str = Field(description="the record field that holds the label (kept in `meta`, or a column)")
    classifier: str | None = Field(
        None,
        description="a local transformers text-classification model directory: the label it predicts for the "
        "copy must be the document's (matched by name, case-insensitive, or by class index)",
    )
    checker: Literal["math_answer", "contains"] | None = Field(
        None,
        description="math_answer: the copy's final answer equals the label (#### N, \\boxed{}, ...); "
        "contains: the label's text still appears in the copy (e.g. an extractive answer)",
    )
    batch_size: int = Field(32, ge=1, description="copies per classifier batch")

    @model_validator(mode="after")
    def _one(self) -> LabelKeep:
        if (self.classifier is None) == (self.checker is None):
            raise ValueError("give exactly one of classifier or checker")
        return self


class WordReplace(Strict):
    """Replace some plain words by WordNet synonyms (names, numbers, code and URLs untouched)."""

    sources: list[str] = Field(min_length=1, description="sources to augment (opt-in)")
    rate: float = Field(0.15, gt=0, le=1, description="share of replaceable words replaced")
    copies: int = Field(1, ge=1, le=10, description="augmented copies per document")
    min_replaced: int = Field(1, ge=1, description="copies with fewer replaced words are not made")
    label: LabelKeep | None = None


class SentenceShuffle(Strict):
    """Reorder the sentences of order-insensitive text (e.g. independent headlines or reviews)."""

    sources: list[str] = Field(min_length=1, description="sources whose sentence order carries no meaning")
    copies: int = Field(1, ge=1, le=10)
    min_sentences: int = Field(3, ge=2, description="documents with fewer sentences are not shuffled")
    label: LabelKeep | None = None


class LLMEngine(Strict):
    """An OpenAI-compatible server, e.g. `python -m vllm.entrypoints.openai.api_server --model DIR`."""

    base_url: str = Field(description="e.g. http://127.0.0.1:8000/v1")
    model: str = Field(description="the served model's name")
    api_key_env: str | None = Field(None, description="environment variable holding the API key")
    temperature: float = Field(0.7, ge=0)
    max_tokens: int = Field(512, ge=1)
    concurrency: int = Field(8, ge=1)
    retries: int = Field(4, ge=0)
    request_timeout: float = Field(120.0, gt=0)


class LLMMethod(Strict):
    """Shared by `paraphrase` and `back_translate`: what to rewrite, with what, and the meaning filter."""

    sources: list[str] = Field(min_length=1)
    engine: LLMEngine
    copies: int = Field(1, ge=1, le=10)
    prompt: str = ""
    min_similarity: float = Field(0.5, ge=0, le=1, description="below: the meaning drifted, rejected")
    max_similarity: float = Field(0.97, ge=0, le=1, description="above: a near copy, rejected")
    keep_numbers: bool = Field(True, description="reject a copy that lost a number of the original")
    pivot: str = "French"
    label: LabelKeep | None = None

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, v: str) -> str:
        if v and "{text}" not in v:
            raise ValueError("a prompt must contain {text} (where the document goes)")
        return v


class Paraphrase(LLMMethod):
    prompt: str = (
        "Rewrite the following text in different words. Keep every fact, name and number. "
        "Reply with the rewritten text only.\n\n{text}"
    )


class BackTranslate(LLMMethod):
    """Translate into `pivot` and back; the prompt gets {language} (the pivot, then English) and {text}."""

    prompt: str = "Translate the following text into {language}. Reply with the translation only.\n\n{text}"


class AugmentSection(Strict):
    """`augment:` in a recipe. Augmented documents go through every curation step, stay in their parent's
    split, and are capped per domain in the mix."""

    max_augmented_share: float | dict[str, float] = Field(
        0.2,
        description="per domain: the most of its mix that augmented documents may be (a number or {domain: x})",
    )
    word_replace: WordReplace | None = None
    sentence_shuffle: SentenceShuffle | None = None
    paraphrase: Paraphrase | None = None
    back_translate: BackTranslate | None = None

    @field_validator("max_augmented_share")
    @classmethod
    def _share(cls, v: float | dict[str, float]) -> float | dict[str, float]:
        for x in v.values() if isinstance(v, dict) else [v]:
            if not 0 <= x < 1:
                raise ValueError("a share is at least 0 and below 1")
        return v

    def methods(self) -> dict[str, Any]:
        names = ("word_replace", "sentence_shuffle", "paraphrase", "back_translate")
        return {k: v for k in names if (v := getattr(self, k)) is not None}

    def cap(self, domain: str) -> float:
        s = self.max_augmented_share
        return s.get(domain, 0.0) if isinstance(s, dict) else s
