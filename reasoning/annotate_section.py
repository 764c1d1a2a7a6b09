"""Recipe section `annotate:`: labels for a quality classifier, from an LLM, a file or reference sources.

```yaml
annotate:
  method: llm                      # llm | file | reference
  sample: {from: curate.curated, n: 500}      # or {sources: [wiki]} or {paths: [{path: data/x.jsonl}]}
  engine: {kind: vllm, model: tiny, max_tokens: 64}
  prompt: |
    Rate the educational value of this extract from 0 to 5 ...
    {text}
    Answer exactly as two lines: `Score: N` then `Reason: ...`.
  scale: [0, 5]
  positive_at: 3                   # score >= 3 is a positive label (FineWeb-Edu's threshold)
```
`method: reference` takes `positives:` and `negatives:` (DCLM style) instead of a sample and an engine;
`method: file` takes `labels:` (a JSONL/Parquet file with `text` and `label` or `score`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from mixloom.schema import Strict
from mixloom.sections.generate import EngineSpec

CURATED = "curate.curated"


class DocFiles(Strict):
    """Documents from files: the path (file, glob or directory) and how to find the text in a record."""

    path: str
    format: Literal["jsonl", "json", "parquet", "csv", "text"] | None = None
    text: str = "text"
    id: str | None = Field(None, description="id field (default: file name and record number)")
    split_on: Literal["none", "blank_line", "line"] = "none"


class DocSet(Strict):
    """Where documents come from: the curated corpus, named recipe sources (their raw files), or files."""

    from_: str | None = Field(None, alias="from", description="a reference: curate.curated")
    sources: list[str] = Field(default_factory=list, description="names of recipe `sources:` (raw files)")
    paths: list[DocFiles] = Field(default_factory=list)
    n: int | None = Field(None, ge=1, description="seeded sample of this many documents (default: all)")
    min_chars: int = Field(20, ge=0, description="shorter documents are not sampled")
    max_chars: int = Field(4000, ge=1, description="documents are cut to this many characters")

    @model_validator(mode="after")
    def _one(self) -> DocSet:
        given = [bool(self.from_), bool(self.sources), bool(self.paths)]
        if sum(given) != 1:
            raise ValueError("give exactly one of from: curate.curated, sources: [...], paths: [...]")
        if self.from_ is not None and self.from_ != CURATED:
            raise ValueError(f"from: {self.from_!r} is not a document reference; use {CURATED}")
        return self


class AnnotateSection(Strict):
    method: Literal["llm", "file", "reference"] = "llm"
    # llm
    sample: DocSet | None = None
    engine: EngineSpec | None = None
    prompt: str | None = Field(None, description="rubric with a {text} placeholder")
    chat: bool = Field(True, description="send the prompt as a user chat message (else as plain text)")
    answer_format: Literal["lines", "json"] = Field(
        "lines", description='lines: `Score: N` and `Reason: ...`; json: {"score": N, "reason": ...}'
    )
    scale: tuple[float, float] = (0, 5)
    integer: bool = Field(True, description="scores must be whole numbers")
    positive_at: float = Field(3, description="a score >= this is a positive label")
    temperature: float = Field(0.0, ge=0)
    retry_temperature: float = Field(
        0.7, gt=0, description="sampling temperature of retries (greedy decoding would repeat the answer)"
    )
    retries: int = Field(2, ge=0, description="extra tries for an unparsable answer before quarantine")
    max_reason_chars: int = Field(300, ge=1)
    # reference (DCLM style)
    positives: DocSet | None = None
    negatives: DocSet | None = None
    # file
    labels: DocFiles | None = None

    @model_validator(mode="after")
    def _method(self) -> AnnotateSection:
        need = {
            "llm": ("sample", "engine", "prompt"),
            "reference": ("positives", "negatives"),
            "file": ("labels",),
        }[self.method]
        missing = [k for k in need if getattr(self, k) is None]
        if missing:
            raise ValueError(f"method: {self.method} needs {', '.join(missing)}")
        if self.method == "llm" and "{text}" not in (self.prompt or ""):
            raise ValueError("prompt must contain the placeholder {text} (where the document goes)")
        lo, hi = self.scale
        if lo >= hi:
            raise ValueError(f"scale [{lo}, {hi}]: the first number must be below the second")
        return self

    def doc_sets(self) -> dict[str, DocSet]:
        sets = {"sample": self.sample, "positives": self.positives, "negatives": self.negatives}
        return {k: v for k, v in sets.items() if v is not None}
