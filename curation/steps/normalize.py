"""normalize: Unicode NFKC, control characters, whitespace; optional mojibake repair with ftfy.

Runs vectorised in Polars except the optional ftfy pass. Adds `norm_changed` (bool). Rejects documents that
normalise to nothing (reason `normalize:empty`), so later steps never see empty text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import polars as pl

from curation.steps.base import StepContext, StepInfo, reject_where
from mixloom.schema import Strict

CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u200e\u200f\ufeff]"


class Params(Strict):
    form: Literal["NFC", "NFKC", "NFD", "NFKD", "none"] = "NFKC"
    control_chars: bool = True
    whitespace: bool = True
    fix_mojibake: bool = False


@dataclass
class Normalize:
    params: Params
    name: str = "normalize"
    modifies_text: bool = True

    def process(self, df: pl.DataFrame) -> pl.DataFrame:
        p = self.params
        t = pl.col("text")
        if p.fix_mojibake:
            import ftfy

            t = t.map_elements(ftfy.fix_text, return_dtype=pl.String)
        if p.form != "none":
            t = t.str.normalize(p.form)
        if p.control_chars:
            t = t.str.replace_all(CONTROL, "")
        if p.whitespace:
            t = (
                t.str.replace_all(r"\r\n?", "\n")
                .str.replace_all(r"[ \t\u00a0\u2000-\u200a\u3000]+", " ")
                .str.replace_all(r" *\n *", "\n")
                .str.replace_all(r"\n{3,}", "\n\n")
                .str.strip_chars()
            )
        out = df.with_columns(t.alias("__norm"))
        out = out.with_columns(
            (pl.col("__norm") != pl.col("text")).alias("norm_changed"), pl.col("__norm").alias("text")
        ).drop("__norm")
        return reject_where(out, pl.col("text").str.len_bytes() == 0, "normalize:empty")


def build(params: Params, ctx: StepContext) -> Normalize:
    return Normalize(params)


INFO = StepInfo(name="normalize", params=Params, build=build, doc=__doc__ or "")
