"""Recipe section for training (`train:`): tokenizer, pretraining, alignment stages and evaluation.

`data:` and `model:` keys take either a path (relative to the recipe's base_dir) or a reference to another
stage's output: `curate.train|validation|test`, `generate.sft`, `generate.pairs`, `train.pretrain|sft|rm|dpo|grpo`.
Cross-stage rules the schema cannot express live in `training.check(recipe)`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from mixloom.schema import Strict

Device = Literal["auto", "cpu", "cuda"]


class TokenizerSection(Strict):
    """Byte-level BPE, trained on the curated documents before the mix when the mix counts its tokens
    (`mix.tokenizer: train.tokenizer`, the default), else on the train split."""

    vocab_size: int = Field(8192, ge=320, description="total vocabulary, special tokens included")
    min_frequency: int = Field(2, ge=1)
    data: str | None = Field(None, description="default: curate.curated or curate.train (see above)")
    max_docs: int | None = Field(
        None, ge=1, description="train on at most this many documents (default: all)"
    )


class ModelSection(Strict):
    """A Llama-style decoder; head_dim = width / heads must be >= 32 (vLLM kernels need it)."""

    layers: int = Field(4, ge=1)
    heads: int = Field(4, ge=1)
    kv_heads: int | None = Field(None, ge=1, description="grouped-query attention (default: heads)")
    width: int = Field(256, ge=32)
    context: int = Field(512, ge=8)
    ffn: int | None = Field(None, ge=1, description="MLP width (default: 8/3 * width rounded up to 64)")
    rope_theta: float = 10000.0
    tie_embeddings: bool = True

    @model_validator(mode="after")
    def _heads(self) -> ModelSection:
        if self.width % self.heads:
            raise ValueError(f"model.width {self.width} must be divisible by model.heads {self.heads}")
        if self.width // self.heads < 32:
            raise ValueError(
                f"head_dim = width/heads = {self.width // self.heads} is below 32 (vLLM cannot serve it); "
                "use fewer heads or a larger width"
            )
        kv = self.kv_heads or self.heads
        if self.heads % kv:
            raise ValueError(f"model.heads {self.heads} must be a multiple of model.kv_heads {kv}")
        return self


class PretrainSection(Strict):
    model: ModelSection | str = Field(
        ModelSection(),
        description="a new model's shape, or a local Hugging Face checkpoint directory to continue "
        "pretraining from (its own tokenizer is used; no tokenizer stage needed)",
    )
    context: int | None = Field(
        None,
        ge=8,
        description="sequence length for a checkpoint `model` (default: its max_position_embeddings, at most 2048)",
    )
    data: str = "curate.train"
    validation: str | None = "curate.validation"
    steps: int = Field(500, ge=1)
    batch_tokens: int = Field(16384, ge=1, description="tokens per optimizer step, all processes together")
    micro_batch: int = Field(8, ge=1, description="sequences per forward pass and process")
    lr: float = Field(3e-3, gt=0)
    min_lr: float | None = Field(None, ge=0, description="cosine floor (default: lr / 10)")
    warmup: int | None = Field(None, ge=0, description="warmup steps (default: 5% of steps)")
    weight_decay: float = Field(0.1, ge=0)
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = Field(1.0, ge=0, description="max gradient norm; 0 disables clipping")
    shares: dict[str, float] | None = Field(
        None, description="domain token shares to feed (default: the shares found in the train split)"
    )
    eval_every: int = Field(100, ge=1)
    eval_tokens: int = Field(65536, ge=1, description="validation tokens per domain")
    checkpoint_every: int = Field(100, ge=1)
    keep_checkpoints: int = Field(2, ge=1)
    log_every: int = Field(10, ge=1)
    device: Device = "auto"
    dtype: Literal["auto", "bf16", "fp32"] = "auto"
    compile: Literal["auto"] | bool = "auto"

    @model_validator(mode="after")
    def _context(self) -> PretrainSection:
        if isinstance(self.model, ModelSection) and self.context not in (None, self.model.context):
            raise ValueError("context: set the sequence length with model.context for a new model")
        return self


class _Align(Strict):
    """What every TRL stage shares: the data, the starting model and the optimiser settings."""

    data: str
    model: str = "train.sft"
    epochs: float = Field(1.0, gt=0)
    max_steps: int | None = Field(None, ge=1, description="stop after this many steps (overrides epochs)")
    lr: float = Field(5e-4, gt=0)
    batch_size: int = Field(8, ge=1)
    grad_accum: int = Field(1, ge=1)
    max_length: int = Field(512, ge=8)
    warmup: float = Field(0.0, ge=0, lt=1, description="warmup as a fraction of the steps")
    device: Device = "auto"
    report_to: list[Literal["wandb", "tensorboard", "mlflow"]] = Field(
        [], description="experiment trackers to log to (each must be installed); default none"
    )


class SFTSection(_Align):
    data: str = "generate.sft"
    model: str = "train.pretrain"
    holdout: float = Field(0.05, ge=0, lt=1, description="share of conversations kept out for `mixloom eval`")


class RMSection(_Align):
    data: str = "generate.pairs"


class DPOSection(_Align):
    data: str = "generate.pairs"
    beta: float = Field(0.1, gt=0)


class GRPOSection(_Align):
    data: str = Field(description="prompts with `answer` (math) or `test` + `entry_point` (code)")
    rewards: list[Literal["math", "code"]] = ["math"]
    num_generations: int = Field(4, ge=2)
    max_completion_length: int = Field(128, ge=1)
    temperature: float = Field(1.0, gt=0)
    beta: float = Field(0.0, ge=0, description="KL weight against the starting model")
    sandbox_timeout: float = Field(5.0, gt=0)


class QualityModelSection(Strict):
    """A document-quality classifier trained offline on CPU from labels (`training/quality_model.py`)."""

    data: str = Field(
        "annotate.labels", description="labels: the annotate stage's output, or a Parquet/JSONL path"
    )
    backend: Literal["fasttext", "hashed_linear"] = "fasttext"
    holdout: float = Field(0.2, gt=0, lt=1, description="share of labels held out for precision/recall/F1")
    epochs: int = Field(10, ge=1)
    lr: float = Field(0.5, gt=0, description="fastText learning rate")
    dim: int = Field(32, ge=2, description="fastText vector size")
    word_ngrams: int = Field(2, ge=1, le=5, description="word n-grams (both backends)")
    buckets: int = Field(200_000, ge=1024, description="hash buckets of n-grams (model size ~ buckets x dim)")
    min_count: int = Field(1, ge=1)
    c: float = Field(4.0, gt=0, description="hashed_linear: inverse L2 regularisation strength")
    lowercase: bool = True
    max_chars: int = Field(10_000, ge=1, description="characters of each document the model reads")


METRICS = ("perplexity", "bpb", "rouge", "f1", "exact_match", "pass_at_k", "gsm8k")


class EvalTask(Strict):
    """One metric on one data set; names alone (`eval: [perplexity, rouge]`) take these defaults."""

    metric: Literal["perplexity", "bpb", "rouge", "f1", "exact_match", "pass_at_k", "gsm8k"]
    data: str | None = Field(None, description="default per metric; see training/evaluate.py")
    model: str | None = Field(None, description="default: the last trained stage")
    limit: int | None = Field(None, ge=1, description="evaluate at most this many examples")
    max_new_tokens: int = Field(128, ge=1)
    n: int = Field(10, ge=1, description="pass_at_k: samples per problem")
    k: list[int] = [1, 5, 10]
    temperature: float = Field(0.8, gt=0, description="pass_at_k sampling temperature")
    stride: int | None = Field(
        None, ge=1, description="perplexity: window stride (default: context / 2); bpb: default context"
    )

    @model_validator(mode="after")
    def _k(self) -> EvalTask:
        if self.metric == "pass_at_k" and max(self.k) > self.n:
            raise ValueError(f"pass_at_k needs n >= max(k); got n={self.n}, k={self.k}")
        return self


class TrainSection(Strict):
    tokenizer: TokenizerSection | None = None
    pretrain: PretrainSection | None = None
    sft: SFTSection | None = None
    rm: RMSection | None = None
    dpo: DPOSection | None = None
    grpo: GRPOSection | None = None
    quality_model: QualityModelSection | None = None
    eval: list[EvalTask] = []

    @field_validator("eval", mode="before")
    @classmethod
    def _names(cls, v: Any) -> Any:
        if isinstance(v, list):
            return [{"metric": x} if isinstance(x, str) else x for x in v]
        return v
