"""Recipe section for reasoning-data generation (`generate:`).

```yaml
generate:
  engine: {kind: vllm, model: tiny, max_tokens: 256}
  tasks:
    - {kind: math_cot, seeds: data/gsm8k/train.jsonl, n: 4, temperature: 0.8, select: verified}
    - {kind: code, seeds: data/humaneval/problems.jsonl, n: 4, select: verified}
```
`model: tiny` makes (or reuses) a tiny random model under the output dir, so examples run from a
fresh clone; anything else is a local model directory (or, for `kind: openai`, the served model name).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from mixloom.schema import Strict


class EngineSpec(Strict):
    kind: Literal["vllm", "openai", "transformers"] = "vllm"
    model: str = Field(description="local model dir, 'tiny', or (openai) the served model name")
    max_tokens: int = Field(256, ge=1)
    batch_size: int = Field(256, ge=1, description="problems per engine call; also the unit of resumption")
    dtype: str = "auto"
    max_model_len: int | None = Field(None, ge=16)
    gpu_memory_utilization: float | None = Field(None, gt=0, le=1)
    vllm_args: dict[str, Any] = Field(default_factory=dict, description="extra vllm.LLM keyword arguments")
    base_url: str | None = Field(None, description="openai: server URL, e.g. http://127.0.0.1:8000/v1")
    api_key_env: str | None = Field(None, description="openai: name of the env var holding the API key")
    concurrency: int = Field(8, ge=1, description="openai: requests in flight")
    retries: int = Field(4, ge=0, description="openai: retries per request, exponential backoff")
    request_timeout: float = Field(120.0, gt=0)

    @model_validator(mode="after")
    def _openai(self) -> EngineSpec:
        if self.kind == "openai" and not self.base_url:
            raise ValueError("engine.base_url is required for kind: openai (e.g. http://127.0.0.1:8000/v1)")
        return self


class TaskSpec(Strict):
    kind: Literal["math_cot", "pal", "code"]
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+$", description="default: the kind")
    seeds: str = Field(
        description="seed problems: GSM8K-style (question, answer) or MATH-style (problem, solution, answer, "
        "subject, level) JSONL for math_cot and pal; HumanEval-style (prompt, test, entry_point) for code"
    )
    limit: int | None = Field(None, ge=1, description="use only the first N seed problems")
    n: int = Field(4, ge=1, description="samples per problem")
    temperature: float = Field(0.8, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1, description="default: engine.max_tokens")
    format: Literal["text", "chat"] = Field("text", description="few-shot text prompts, or chat messages")
    shots: int = Field(4, ge=0, description="few-shot exemplars (math_cot: the first seeds, not generated)")
    select: Literal["verified", "majority", "all"] = "verified"
    dedup: bool = Field(True, description="identical generations of one problem count once")
    rationalize: bool = Field(False, description="STaR: retry unsolved problems with the answer as a hint")
    references: bool = Field(
        False,
        description="also emit each seed's own reference solution (verified like any sample) into the SFT set and "
        "as `chosen` against failed samples (SPIN-style pairs); math_cot and code seeds that carry one",
    )
    pairs_per_problem: int = Field(1, ge=0)
    timeout: float = Field(10.0, gt=0, description="seconds per verification (sandbox run / sympy check)")
    stop: list[str] | None = Field(None, description="stop strings (default: the task's own)")
    process_check: bool = Field(
        False,
        description="math_cot: also recompute the arithmetic claims of the chain (<<48/2=24>>, a × b = c, "
        "a + b = c); a sample whose final answer is right but whose steps hold a false equation is rejected "
        "with reason `false step`",
    )

    @model_validator(mode="after")
    def _rules(self) -> TaskSpec:
        if self.kind == "code" and self.select == "majority":
            raise ValueError("select: majority needs comparable answers; use verified or all for kind: code")
        if self.kind == "code" and self.rationalize:
            raise ValueError("rationalize needs a final answer to hint; it applies to math_cot and pal only")
        if self.kind != "math_cot" and self.process_check:
            raise ValueError("process_check reads chain-of-thought arithmetic; it applies to math_cot only")
        return self

    @property
    def id(self) -> str:
        return self.name or self.kind


class OutputSpec(Strict):
    jsonl: bool = Field(False, description="also write JSONL copies of sft/pairs")


class GenerateSection(Strict):
    engine: EngineSpec
    tasks: list[TaskSpec] = Field(min_length=1)
    output: OutputSpec = OutputSpec()
    sandbox: Literal["auto", "strict"] = Field(
        "auto",
        description="strict: code and pal tasks require the strong sandbox (namespaces) and the run fails "
        "before any work where only the fallback mode exists; auto: the fallback runs, with a warning, and "
        "every record names the mode",
    )

    @model_validator(mode="after")
    def _unique(self) -> GenerateSection:
        ids = [t.id for t in self.tasks]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(
                f"generate.tasks: task names must be unique, repeated: {dup} (set `name:` on each)"
            )
        return self
