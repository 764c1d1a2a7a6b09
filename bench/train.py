"""Pretraining throughput: mixloom's loop against a minimal plain-PyTorch reference, same model and batch.

mixloom streams Parquet shards, tokenises on the fly, mixes domains, logs and checkpoints; the reference
trains from one pre-tokenised tensor (nanoGPT's `get_batch`). Both use the same Llama model, AdamW,
micro-batch, gradient accumulation and clipping, and on a GPU the same bf16 autocast and torch.compile.
Runs alternate (reference first, then mixloom first, ...) and each side keeps its best, to damp noise on a shared machine.

    python bench/train.py [--steps 30] [--repeats 3] [--width 128] [--layers 2] [--context 128] [--busy 2]

Prints a table and `ratio mixloom/reference: X.XX` (the target is >= 0.90). Then, on CPU, the busy-machine
check: mixloom's pretraining with its own thread choice (`MIXLOOM_THREADS=auto`) on the machine as it is,
then with `--busy` CPU-bound processes running beside it, and, for comparison, with every CPU's thread
forced (what torch does by default, the behaviour before the thread fix); it prints
`busy/idle tokens/s: X.XX` (the target is >= 0.40).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "training"))


def corpus(run: Path) -> None:
    """Curated-format shards from the WikiText-2 sample (and financial text when present)."""
    from train_helpers import finance_texts, wiki_paragraphs, write_curated

    docs = {"general": wiki_paragraphs()}
    fin = finance_texts()
    if fin:
        docs["financial"] = fin
    write_curated(run, docs, repeats={"financial": 2}, shards=4)


def reference_loop(cfg, tok, train_files: list[Path], steps: int, seed: int) -> float:
    """Tokens/s of a minimal loop on pre-tokenised data (setup excluded, like mixloom's own count)."""
    import numpy as np
    import pyarrow.parquet as pq
    import torch
    import torch.nn.functional as F

    from training.data import encode
    from training.dist import pick_device
    from training.model import build_model
    from training.pretrain import autocast, make_plan

    device = pick_device(cfg.device)
    texts = [t for f in train_files for t in pq.read_table(f, columns=["text"]).column(0).to_pylist()]
    data = torch.from_numpy(np.fromiter((t for x in encode(tok, texts) for t in x), dtype=np.int64))
    plan = make_plan(cfg, world=1)
    model = build_model(cfg.model, tok, seed).to(device)
    opt = torch.optim.AdamW(
        model.parameters(),
        lr=cfg.lr,
        betas=cfg.betas,
        weight_decay=cfg.weight_decay,
        fused=device.startswith("cuda"),
    )
    compiled = cfg.compile is True or (cfg.compile == "auto" and device.startswith("cuda"))
    fwd = torch.compile(model) if compiled else model
    gen = torch.Generator().manual_seed(seed)
    T, B = plan.context, plan.micro_batch

    def get_batch():
        ix = torch.randint(len(data) - T - 1, (B,), generator=gen)
        x = torch.stack([data[i : i + T] for i in ix])
        y = torch.stack([data[i + 1 : i + 1 + T] for i in ix])
        return x.to(device, non_blocking=True), y.to(device, non_blocking=True)

    t0 = time.perf_counter()
    for _ in range(steps):
        for _ in range(plan.grad_accum):
            x, y = get_batch()
            with autocast(device, cfg.dtype):
                logits = fwd(input_ids=x, use_cache=False).logits
                loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), y.view(-1)) / plan.grad_accum
            loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
    loss.item()  # wait for the device
    return steps * plan.step_tokens / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--context", type=int, default=128)
    ap.add_argument("--micro-batch", type=int, default=8)
    ap.add_argument("--accum", type=int, default=2)
    ap.add_argument("--vocab", type=int, default=2048)
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (0: torch's default; 1 is steadiest on a shared CPU)",
    )
    ap.add_argument("--busy", type=int, default=2, help="CPU-bound processes beside the busy run (0: skip)")
    args = ap.parse_args()

    import os

    os.environ.setdefault("MIXLOOM_QUIET", "1")
    import torch
    from rich.console import Console
    from rich.table import Table

    from mixloom.recipe import parse_recipe
    from training import run_stage
    from training.tokenizer import load_tokenizer

    if args.threads and not torch.cuda.is_available():
        torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="mixloom-bench-train-"))
    try:
        corpus(work)
        model = {"layers": args.layers, "heads": args.heads, "width": args.width, "context": args.context}
        pretrain = {
            "model": model,
            "steps": args.steps,
            "micro_batch": args.micro_batch,
            "validation": None,
            "batch_tokens": args.micro_batch * args.context * args.accum,
            "log_every": args.steps,
            "checkpoint_every": 10**9,
            "data": str(work / "mix" / "train"),
        }
        train = {
            "tokenizer": {"vocab_size": args.vocab, "data": str(work / "mix" / "train")},
            "pretrain": pretrain,
        }
        recipe = parse_recipe(
            {"name": "bench", "seed": 0, "output": str(work), "train": train}, work / "r.yaml"
        )
        run_stage(recipe, "tokenizer")
        tok = load_tokenizer(work / "train" / "tokenizer")
        files = sorted((work / "mix" / "train").glob("*.parquet"))
        ref, ours = [], []
        for i in range(args.repeats):  # alternate which side goes first, so neither gets the quieter slot
            for side in ("ref", "ours") if i % 2 == 0 else ("ours", "ref"):
                if side == "ref":
                    ref.append(reference_loop(recipe.train.pretrain, tok, files, args.steps, seed=0))
                    continue
                ours.append(_ours(recipe, work, str(args.threads or "auto")))
        busy = _busy_check(recipe, work, args) if args.busy and not torch.cuda.is_available() else None
    finally:
        shutil.rmtree(work, ignore_errors=True)

    device = "cuda" if torch.cuda.is_available() else f"cpu ({args.threads or 'auto'} threads)"
    t = Table(
        title=f"pretraining throughput: {args.layers}x{args.width}, context {args.context}, "
        f"{args.micro_batch}x{args.accum} sequences/step, {args.steps} steps, {device}"
    )
    for col in ("loop", "tokens/s (best)", "all runs"):
        t.add_column(col, justify="left" if col == "loop" else "right")
    t.add_row(
        "reference (plain PyTorch, pre-tokenised)", f"{max(ref):,.0f}", ", ".join(f"{x:,.0f}" for x in ref)
    )
    t.add_row(
        "mixloom (streamed shards, domain mix)", f"{max(ours):,.0f}", ", ".join(f"{x:,.0f}" for x in ours)
    )
    Console().print(t)
    print(f"ratio mixloom/reference: {max(ours) / max(ref):.2f}")
    if busy:
        t = Table(title=f"mixloom pretraining beside {args.busy} busy processes ({busy['cpus']} CPUs)")
        for col in ("run", "threads", "tokens/s", "all runs"):
            t.add_column(col, justify="left" if col == "run" else "right")
        for name, (threads, runs) in busy["rows"].items():
            t.add_row(name, str(threads), f"{max(runs):,.0f}", ", ".join(f"{x:,.0f}" for x in runs))
        Console().print(t)
        idle, loaded = max(busy["rows"]["idle, threads auto"][1]), max(busy["rows"]["busy, threads auto"][1])
        print(f"idle tokens/s: {idle:,.0f}  busy tokens/s: {loaded:,.0f}")
        print(f"busy/idle tokens/s: {loaded / idle:.2f}")


def _ours(recipe, work: Path, threads: str) -> float:
    """One fresh mixloom pretraining run with MIXLOOM_THREADS=threads; its tokens/s."""
    import os

    from training import run_stage

    os.environ["MIXLOOM_THREADS"] = threads
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(work / "train" / "pretrain")
    res = run_stage(recipe, "pretrain", resume=False)
    _ours.threads = res.get("threads") or [0]  # type: ignore[attr-defined]
    return res["tokens_per_s"]


def _busy_check(recipe, work: Path, args) -> dict:
    """Idle vs beside `--busy` spinning processes (auto threads), and busy with all CPUs forced (old default)."""
    import subprocess

    from training.threads import cpus

    rows: dict[str, tuple[int, list[float]]] = {}

    def run(name: str, threads: str) -> None:
        runs = [_ours(recipe, work, threads) for _ in range(max(1, args.repeats - 1))]
        rows[name] = (_ours.threads[0], runs)  # type: ignore[attr-defined]

    run("idle, threads auto", "auto")
    spin = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
    try:
        time.sleep(1.0)  # let the scheduler see them
        run("busy, threads auto", "auto")
        run("busy, every CPU (torch default, before the fix)", str(cpus()))
    finally:
        for p in spin:
            p.kill()
            p.wait()
    return {"cpus": cpus(), "rows": rows}


if __name__ == "__main__":
    main()
