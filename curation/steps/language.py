"""language: offline language identification with lingua (its models ship inside the package).

Adds `lang` (ISO 639-1 code, or `unknown`) and `lang_score` (lingua's confidence for that language) and rejects
documents whose language is not in `keep` or whose score is below `min_score` (reason `language:<code>` with
the detected code, or `language:low_score`). Only the first `max_chars` characters are looked at: a few
hundred are plenty for identification and keep the cost per document bounded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl
from pydantic import Field, field_validator

from curation.steps.base import StepContext, StepInfo, reject_where
from mixloom.schema import Strict


class Params(Strict):
    keep: list[str] = ["en"]
    min_score: float = Field(0.5, ge=0, le=1)
    candidates: list[str] | None = Field(
        None, description="languages to tell apart (default: all lingua knows)"
    )
    max_chars: int = Field(1000, gt=0)
    low_accuracy: bool = Field(
        False, description="lingua fast mode: much faster, unreliable below ~120 characters"
    )

    @field_validator("keep", "candidates")
    @classmethod
    def _codes(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        from lingua import IsoCode639_1

        bad = [c for c in v if not hasattr(IsoCode639_1, c.upper())]
        if bad:
            raise ValueError(f"unknown ISO 639-1 codes {bad} (e.g. en, de, fr)")
        return [c.lower() for c in v]


@dataclass
class Language:
    params: Params
    name: str = "language"
    modifies_text: bool = False
    _detector: Any = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict:
        return {
            "params": self.params,
            "name": self.name,
            "modifies_text": self.modifies_text,
            "_detector": None,
        }

    def detector(self) -> Any:
        if self._detector is None:
            from lingua import IsoCode639_1, LanguageDetectorBuilder

            if self.params.candidates:
                codes = [
                    getattr(IsoCode639_1, c.upper()) for c in {*self.params.candidates, *self.params.keep}
                ]
                builder = LanguageDetectorBuilder.from_iso_codes_639_1(*sorted(codes, key=str))
            else:
                builder = LanguageDetectorBuilder.from_all_languages()
            if self.params.low_accuracy:
                builder = builder.with_low_accuracy_mode()
            self._detector = builder.build()
        return self._detector

    def process(self, df: pl.DataFrame) -> pl.DataFrame:
        codes: list[str] = []
        scores: list[float] = []
        if df.height:
            texts = df["text"].str.slice(0, self.params.max_chars).to_list()
            for conf in self.detector().compute_language_confidence_values_in_parallel(texts):
                if conf and conf[0].value > 0:
                    codes.append(conf[0].language.iso_code_639_1.name.lower())
                    # lingua sums in hash-map order, which varies per process: the last bits of its
                    # confidence differ between runs, so it is rounded to keep outputs byte-identical
                    scores.append(round(float(conf[0].value), 6))
                else:
                    codes.append("unknown")
                    scores.append(0.0)
        out = df.with_columns(
            pl.Series("lang", codes, dtype=pl.String), pl.Series("lang_score", scores, dtype=pl.Float64)
        )
        out = reject_where(out, ~pl.col("lang").is_in(self.params.keep), pl.lit("language:") + pl.col("lang"))
        return reject_where(out, pl.col("lang_score") < self.params.min_score, "language:low_score")


def build(params: Params, ctx: StepContext) -> Language:
    return Language(params)


INFO = StepInfo(name="language", params=Params, build=build, doc=__doc__ or "")
