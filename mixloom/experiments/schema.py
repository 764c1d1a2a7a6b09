"""Recipe sections `ablate:` and `mix_search:` (registered in `mixloom.plugins.SECTIONS`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from mixloom.schema import Strict
from mixloom.sections.train import PretrainSection, TokenizerSection


class EvalSet(Strict):
    """A held-out text set scored in bits per byte; a string value is a reference to the base recipe's
    curated split (`curate.validation`, `curate.test`), scored per domain."""

    path: str = Field(description="a file or glob (relative to base_dir)")
    format: Literal["jsonl", "json", "parquet", "text"] | None = Field(None, description="default: by suffix")
    text: str = Field("text", description="the text field (jsonl, json, parquet)")
    split_on: Literal["blank_line", "line", "none"] = Field("blank_line", description="text format only")
    skip: str | None = Field(None, description="regex: documents matching it are left out (e.g. headings)")
    limit: int | None = Field(None, ge=1, description="score at most this many documents (the first ones)")


class Proxy(Strict):
    """The small model every run trains: tokenizer + pretraining settings (data is set by the experiment)."""

    tokenizer: TokenizerSection = TokenizerSection(vocab_size=2048)
    pretrain: PretrainSection

    @property
    def budget_tokens(self) -> int:
        return self.pretrain.steps * self.pretrain.batch_tokens


class _Experiment(Strict):
    proxy: Proxy
    seeds: list[int] = Field(
        [0, 1, 2], min_length=1, description="training seeds (curation keeps the recipe's)"
    )
    eval: dict[str, EvalSet | Literal["curate.validation", "curate.test"]] = Field(min_length=1)
    output: str | None = Field(None, description="default: <the recipe's run directory>/<command>")
    workers: int = Field(
        1, ge=1, description="proxies trained at once, one CPU thread each (tiny models use cores better so)"
    )


class AblateSection(_Experiment):
    """Named variants of the base recipe, each trained as the same proxy at the same token budget."""

    variants: dict[str, dict[str, Any]] = Field(
        min_length=2, description="name → overrides of the base recipe (dotted keys; {} = the recipe as is)"
    )
    baseline: str | None = Field(
        None, description="the variant others are compared with (default: the first)"
    )
    noise_k: float = Field(2.0, gt=0, description="a difference is real when it exceeds k × the seed std")
    prepare: dict[str, dict[str, Any]] = Field(
        {}, description="data builders run first: name → arguments (see mixloom.experiments.prepare)"
    )

    @model_validator(mode="after")
    def _baseline(self) -> AblateSection:
        if self.baseline is not None and self.baseline not in self.variants:
            raise ValueError(
                f"ablate.baseline: '{self.baseline}' is not a variant ({', '.join(self.variants)})"
            )
        for name in self.variants:
            if not name.replace("-", "").replace("_", "").isalnum():
                raise ValueError(f"ablate.variants.{name}: use letters, digits, '-' and '_' in variant names")
        return self

    @property
    def baseline_name(self) -> str:
        return self.baseline or next(iter(self.variants))


class MixSearchSection(_Experiment):
    """RegMix-style search: proxies on Dirichlet samples around the recipe's shares, a regression, a pick."""

    runs: int = Field(16, ge=4, description="sampled mixtures (one proxy each, the first seed)")
    concentration: float = Field(8.0, gt=0, description="Dirichlet alpha = concentration × share")
    objective: str = Field("mean", description="'mean' over the eval sets, or one eval set's name")
    candidates: int = Field(100_000, ge=100, description="mixtures scored by the fitted model")
    top: int = Field(100, ge=1, description="the pick is the mean of the best `top` candidates (RegMix)")
    min_share: float = Field(0.0, ge=0, lt=1, description="candidates give every domain at least this share")

    @model_validator(mode="after")
    def _objective(self) -> MixSearchSection:
        if self.objective != "mean" and self.objective not in self.eval:
            raise ValueError(
                f"mix_search.objective: '{self.objective}' is neither 'mean' nor an eval set "
                f"({', '.join(self.eval)})"
            )
        return self
