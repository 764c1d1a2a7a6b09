"""Recipe sections for the curation stage: sources, steps, mix, splits, execution."""

from __future__ import annotations

import codecs
import math
import re
from typing import Any, Literal

from pydantic import Field, field_validator

from mixloom.schema import Strict

FORMATS = ("jsonl", "json", "parquet", "csv", "text")


class Source(Strict):
    """One input corpus: files (a path, glob or directory) that become documents of one domain."""

    path: str | list[str]
    format: Literal["jsonl", "json", "parquet", "csv", "text"] | None = None
    text: str = "text"
    id: str | None = None
    domain: str
    split_on: str = Field(
        "none",
        description="text format only: none (one doc per file), blank_line, line, or regex:PATTERN "
        "(a new document starts at each line matching PATTERN)",
    )
    fields: list[str] | None = Field(None, description="extra fields to keep in `meta` (default: all)")
    sql: str | None = Field(None, description="pre-filter on the raw records, DuckDB SQL over table `docs`")
    polars: str | None = Field(None, description="pre-filter on the raw records, a Polars boolean expression")
    max_doc_bytes: int = Field(2_000_000, gt=0, description="larger documents are quarantined")
    encoding: str = "utf-8"
    licence: str | None = Field(None, description="licence of the source, for the data card")

    @field_validator("split_on")
    @classmethod
    def _split(cls, v: str) -> str:
        if v in ("none", "blank_line", "line"):
            return v
        if v.startswith("regex:"):
            try:
                re.compile(v.removeprefix("regex:"))
            except re.error as e:
                raise ValueError(f"regex:{v.removeprefix('regex:')!r} does not compile: {e}") from None
            return v
        raise ValueError("must be one of none, blank_line, line, regex:PATTERN")

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, v: str) -> str:
        try:
            name = codecs.lookup(v).name
        except LookupError:
            raise ValueError(f"unknown encoding '{v}' (e.g. utf-8, latin-1, cp1252)") from None
        if "\n".encode(name) != b"\n":  # records are split on the byte \n
            raise ValueError(f"encoding '{v}' is not ASCII-compatible; convert the files to utf-8 first")
        return v


class Mix(Strict):
    """Target shares per domain (and per source inside a domain), measured in tokens or documents."""

    unit: Literal["tokens", "docs"] = "tokens"
    tokenizer: str | None = Field(
        None,
        description="the unit of `tokens`: 'train.tokenizer' (the run's own tokenizer; the default when the "
        "recipe trains one), a local tokenizer dir, or 'approx' (a fast regex word/punct estimate)",
    )
    budget: int | Literal["max"] = "max"
    shares: dict[str, float]
    sources: dict[str, dict[str, float]] | None = None
    max_epochs: float | dict[str, float] = Field(4.0, description="copies of a document at most (> 0)")
    allow_shortfall: bool = False
    tolerance: float = Field(0.01, ge=0, le=1, description="allowed |achieved - target| share")

    @field_validator("budget", mode="before")
    @classmethod
    def _budget(cls, v: Any) -> Any:
        if isinstance(v, str) and v != "max":
            try:
                v = int(v.replace("_", ""))
            except ValueError:
                raise ValueError("must be a positive integer or 'max'") from None
        if isinstance(v, int | float) and not (math.isfinite(v) and v > 0):
            raise ValueError(f"must be a positive integer or 'max', got {v}")
        return v

    @field_validator("max_epochs")
    @classmethod
    def _epochs(cls, v: float | dict[str, float]) -> float | dict[str, float]:
        for k, x in (v if isinstance(v, dict) else {"": v}).items():
            if not (math.isfinite(x) and x > 0):
                raise ValueError(f"{k + ': ' if k else ''}must be a number > 0, got {x}")
        return v


class RayOptions(Strict):
    """Where the ray executor runs. RAY_ADDRESS in the environment, when set, wins over `address` (the
    environment names the cluster of this invocation, as `ray job submit` sets it; the recipe, a default)."""

    address: str | None = Field(
        None,
        description="the Ray cluster to run on: HOST:PORT of its head (GCS port, 6379 by default), "
        "'auto' (the cluster started on this machine), or ray://HOST:PORT (Ray client); none: a local Ray",
    )

    @field_validator("address")
    @classmethod
    def _address(cls, v: str | None) -> str | None:
        if v is None or v == "auto":
            return v
        m = _RAY_ADDRESS.match(v)
        if not m or not 0 < int(m.group("port")) < 65536:
            raise ValueError(
                f"'{v}' is not a Ray address: use HOST:PORT of the head (e.g. 10.0.0.5:6379), 'auto', "
                "or ray://HOST:PORT"
            )
        return v


_RAY_ADDRESS = re.compile(r"^(ray://)?(?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(?P<port>\d{1,5})$")


class Execution(Strict):
    executor: Literal["local", "ray"] = "local"
    workers: int = Field(1, ge=1)
    shard_docs: int = Field(20_000, ge=1, description="documents per shard (bounds memory per task)")
    shard_bytes: int = Field(4 << 20, ge=1, description="text bytes per shard (bounds memory per task)")
    output_format: Literal["parquet", "jsonl"] = "parquet"
    ray: RayOptions = Field(
        default_factory=RayOptions, description="the ray executor's cluster (`ray.address`)"
    )


def _check_sum(name: str, weights: dict[str, float]) -> None:
    odd = [k for k, v in weights.items() if not math.isfinite(v)]
    if odd:
        raise ValueError(f"{name} must be finite numbers ({', '.join(f'{k}: {weights[k]}' for k in odd)})")
    total = sum(weights.values())
    if abs(total - 1.0) > 1e-6:
        parts = " + ".join(f"{k} {v:g}" for k, v in weights.items())
        raise ValueError(f"{name} must sum to 1, got {parts} = {total:.6g}")
    bad = [k for k, v in weights.items() if v < 0]
    if bad:
        raise ValueError(f"{name} must be >= 0 (negative: {', '.join(bad)})")


def check_curation(
    sources: dict[str, Source], steps: list[dict[str, Any]], mix: Mix | None, splits: dict[str, float]
) -> None:
    """Cross-field rules of the curation sections; each message starts with its key path."""
    for i, s in enumerate(steps):
        if not isinstance(s, dict) or len(s) != 1:
            raise ValueError(f"steps.{i}: a step is a mapping with exactly one key (the step name)")
    _check_sum("splits", splits)
    if mix is None:
        return
    _check_sum("mix.shares", mix.shares)
    domains = {s.domain for s in sources.values()}
    missing = set(mix.shares) - domains
    if missing:
        raise ValueError(
            f"mix.shares names domains no source has: {sorted(missing)}; source domains: {sorted(domains)}"
        )
    uncovered = domains - set(mix.shares)
    if uncovered:
        raise ValueError(f"mix.shares has no share for domains {sorted(uncovered)} (give 0 to drop them)")
    for dom, inner in (mix.sources or {}).items():
        _check_sum(f"mix.sources.{dom}", inner)
        for src in inner:
            if src not in sources:
                raise ValueError(f"mix.sources.{dom} names unknown source '{src}'")
            if sources[src].domain != dom:
                raise ValueError(
                    f"mix.sources.{dom}.{src}: source '{src}' belongs to domain '{sources[src].domain}'"
                )
    if isinstance(mix.max_epochs, dict):
        unknown = set(mix.max_epochs) - set(sources)
        if unknown:
            raise ValueError(f"mix.max_epochs names unknown sources {sorted(unknown)}")


TOKENIZER_STAGE = "train.tokenizer"


def mix_tokenizer(recipe: Any) -> str:
    """The tokenizer whose tokens the mix's shares count: the recipe's `mix.tokenizer`, else the run's own
    tokenizer when the recipe trains one (shares then hold in the tokens that train), else 'approx'."""
    mix = recipe.mix
    if mix is not None and mix.tokenizer:
        return mix.tokenizer
    if mix is not None and recipe.get(TOKENIZER_STAGE) is not None:
        return TOKENIZER_STAGE
    return "approx"
