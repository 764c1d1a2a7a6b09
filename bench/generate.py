"""Generation throughput: the vLLM and transformers engines on the same prompts and model, one run.

    python -m bench.generate                      # tiny local model, GSM8K few-shot prompts
    python -m bench.generate --model DIR --problems 64 --n 4 --max-tokens 256

Prints one row per engine: start-up seconds, generation seconds, completion tokens, tokens/s and
samples/s, and the speed-up of vLLM over transformers. Both engines get identical prompts, sampling
parameters and per-prompt seeds. Timings on a shared machine are noisy: compare within one run.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def prompts(problems: int, shots: int) -> list[str]:
    from mixloom.sections.generate import TaskSpec
    from reasoning.tasks import make_task

    task = make_task(TaskSpec(kind="math_cot", seeds="data/gsm8k/train.jsonl", shots=shots))
    seeds = task.load(ROOT / "data" / "gsm8k" / "train.jsonl")
    ex, rest = task.take_shots(seeds.problems)
    return [task.prompt(p, ex) for p in rest[:problems]]  # type: ignore[misc]


def tiny(path: Path) -> Path:
    from mixloom.tiny import make_tiny_model

    rows = [json.loads(x) for x in (ROOT / "data" / "gsm8k" / "train.jsonl").read_text().splitlines()]
    return make_tiny_model(path, [r["question"] + "\n" + r["answer"] for r in rows], vocab_size=2048)


def measure(kind: str, model: Path, batch: list[str], args: argparse.Namespace) -> dict[str, float]:
    from reasoning.engines import make_engine

    t0 = time.perf_counter()
    engine = make_engine(kind, str(model), seed=0)
    start = time.perf_counter() - t0
    seeds = list(range(1000, 1000 + len(batch)))
    # one small warm-up call, so lazy initialisation is not counted as generation
    engine.generate(batch[:1], n=1, temperature=args.temperature, max_tokens=4, seed=seeds[:1])
    t1 = time.perf_counter()
    gens = engine.generate(
        batch, n=args.n, temperature=args.temperature, top_p=0.95, max_tokens=args.max_tokens, seed=seeds
    )
    secs = time.perf_counter() - t1
    tokens = sum(c.tokens for g in gens for c in g.completions)
    samples = sum(len(g.completions) for g in gens)
    engine.close()
    return {
        "start_s": start,
        "gen_s": secs,
        "tokens": tokens,
        "samples": samples,
        "tokens_per_s": tokens / secs,
        "samples_per_s": samples / secs,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, help="local model dir (default: a tiny random Llama in .bench/)")
    ap.add_argument("--problems", type=int, default=16)
    ap.add_argument("--shots", type=int, default=2)
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=96)
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--engines", default="vllm,transformers")
    args = ap.parse_args()

    from reasoning.engines import cpu_defaults

    cpu_defaults()
    model = args.model or tiny(ROOT / ".bench" / "tiny-generate")
    batch = prompts(args.problems, args.shots)
    print(
        f"model {model}\n{len(batch)} prompts x n={args.n}, max_tokens {args.max_tokens}, "
        f"{args.shots}-shot GSM8K, temperature {args.temperature}\n"
    )
    rows = {kind: measure(kind, model, batch, args) for kind in args.engines.split(",")}
    head = f"{'engine':<14}{'start s':>9}{'gen s':>9}{'tokens':>9}{'tokens/s':>11}{'samples/s':>11}"
    print(head)
    print("-" * len(head))
    for kind, r in rows.items():
        print(
            f"{kind:<14}{r['start_s']:>9.1f}{r['gen_s']:>9.2f}{r['tokens']:>9d}"
            f"{r['tokens_per_s']:>11,.0f}{r['samples_per_s']:>11.1f}"
        )
    if {"vllm", "transformers"} <= rows.keys():
        ratio = rows["vllm"]["tokens_per_s"] / rows["transformers"]["tokens_per_s"]
        print(f"\nvLLM / transformers tokens/s: {ratio:.1f}x")


if __name__ == "__main__":
    main()
