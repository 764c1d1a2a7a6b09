"""Pretraining loop, nanoGPT style: the whole loop readable in one sitting.

AdamW with warmup + cosine decay, gradient accumulation and clipping, periodic per-domain validation,
exact-resume checkpoints, JSONL logs. On a GPU it runs under bf16 autocast and `torch.compile`; under
`torchrun`/`accelerate launch` it wraps the model in DDP (NCCL on GPUs, gloo on CPUs).
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mixloom.progress import step_progress
from mixloom.sections.train import PretrainSection
from training import checkpoint, dist
from training.data import IGNORE, PackedLoader, Prefetcher, domain_token_counts, eval_blocks
from training.logs import JsonlLog, plot_loss, quiet_libraries, read_log
from training.model import build_model, context_length, load_checkpoint, param_count
from training.threads import ThreadTuner
from training.tokenizer import load_tokenizer


@dataclass
class Plan:
    """What one optimizer step consists of, derived from the recipe and the number of processes."""

    micro_batch: int
    grad_accum: int
    context: int
    world: int
    warmup: int
    min_lr: float

    @property
    def step_tokens(self) -> int:
        return self.micro_batch * self.grad_accum * self.context * self.world


def make_plan(cfg: PretrainSection, world: int, context: int | None = None) -> Plan:
    context = context or cfg.model.context
    per_micro = cfg.micro_batch * context * world
    accum = max(1, round(cfg.batch_tokens / per_micro))
    warmup = cfg.warmup if cfg.warmup is not None else max(1, cfg.steps // 20)
    min_lr = cfg.min_lr if cfg.min_lr is not None else cfg.lr / 10
    return Plan(cfg.micro_batch, accum, context, world, min(warmup, cfg.steps), min_lr)


def lr_at(step: int, cfg: PretrainSection, plan: Plan) -> float:
    """Linear warmup to `lr`, then cosine decay to `min_lr` at the last step."""
    if step < plan.warmup:
        return cfg.lr * (step + 1) / plan.warmup
    progress = (step - plan.warmup) / max(1, cfg.steps - plan.warmup)
    return plan.min_lr + 0.5 * (1 + math.cos(math.pi * min(1.0, progress))) * (cfg.lr - plan.min_lr)


def make_optimizer(model, cfg: PretrainSection, fused: bool):
    import torch

    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    rest = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, fused=fused)


def autocast(device: str, dtype: str):
    import torch

    use_bf16 = dtype == "bf16" or (dtype == "auto" and device.startswith("cuda"))
    if not use_bf16:
        return contextlib.nullcontext()
    return torch.autocast(device.split(":")[0], dtype=torch.bfloat16)


def evaluate(model, val: dict[str, Any], d: dist.Dist, cfg: PretrainSection, unigram: np.ndarray):
    """Validation loss and perplexity per domain and overall (token-weighted), plus the unigram baseline."""
    import torch
    import torch.nn.functional as F

    model.eval()
    unigram = dist.all_reduce_sum(torch.from_numpy(unigram.copy())).numpy()
    sums = torch.zeros(len(val), 3, dtype=torch.float64)  # model nll, unigram nll, tokens
    logp = np.log((unigram + 1) / (unigram.sum() + len(unigram)))
    with torch.no_grad():
        for i, (x, y) in enumerate(val.values()):
            for b in range(d.rank * cfg.micro_batch, len(x), d.world * cfg.micro_batch):
                xb, yb = x[b : b + cfg.micro_batch], y[b : b + cfg.micro_batch]
                with autocast(d.device, cfg.dtype):
                    logits = model(input_ids=xb.to(d.device), use_cache=False).logits
                nll = F.cross_entropy(
                    logits.float().flatten(0, 1), yb.to(d.device).flatten(), reduction="sum"
                )
                tgt = yb[yb != IGNORE].numpy()
                sums[i] += torch.tensor([nll.item(), -logp[tgt].sum(), len(tgt)], dtype=torch.float64)
    dist.all_reduce_sum(sums)
    model.train()
    out = {}
    for name, (nll, uni, n) in [*zip(val, sums.tolist(), strict=True), ("overall", sums.sum(0).tolist())]:
        out[name] = {
            "loss": nll / n,
            "ppl": math.exp(nll / n),
            "unigram_ppl": math.exp(uni / n),
            "tokens": int(n),
        }
    return out


def train(
    cfg: PretrainSection,
    tokenizer_dir: Path,
    train_files: list[Path],
    val_files: list[Path],
    out_dir: Path,
    seed: int,
    config_hash: str,
    resume: bool = True,
    stop_at: int | None = None,
    checkpoint_dir: Path | None = None,
) -> dict:
    """Run (or resume) pretraining; writes the model, checkpoints, log.jsonl and loss.png to `out_dir`."""
    import torch
    import torch.nn.functional as F

    quiet_libraries()
    d = dist.setup(cfg.device)
    tuner = ThreadTuner(d.device)  # before torch works: as many threads as CPUs free now
    checkpoint.seed_all(seed)
    tok = load_tokenizer(tokenizer_dir)
    plan = make_plan(cfg, d.world, context_length(cfg, checkpoint_dir))
    shares = cfg.shares or domain_token_counts(train_files)
    raw = (load_checkpoint(checkpoint_dir) if checkpoint_dir else build_model(cfg.model, tok, seed)).to(
        d.device
    )
    cuda = d.device.startswith("cuda")
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    opt = make_optimizer(raw, cfg, fused=cuda)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_at(s, cfg, plan) / cfg.lr)
    unigram = np.zeros(len(tok), dtype=np.int64)
    step, data_state = 0, None
    ck = checkpoint.load_latest(out_dir / "checkpoints", config_hash, d.world) if resume else None
    if ck:
        raw.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        step, data_state, unigram = ck["step"], ck["data"][d.rank], ck["unigram"]
        tuner.resume_with(ck.get("threads"))
        checkpoint.set_rng_state(ck["rng"][d.rank])
    packed = PackedLoader(
        train_files, shares, tok, plan.context, plan.micro_batch, seed, d.rank, d.world, data_state
    )
    model = raw
    if cfg.compile is True or (cfg.compile == "auto" and cuda):
        model = torch.compile(raw)
    single = model  # evaluation runs here: ranks may score different numbers of batches, DDP would sync
    if d.world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        model = DDP(single, device_ids=[d.local_rank] if cuda else None)
    val = {}
    loader = Prefetcher(packed)  # tokenisation overlaps compute; state() follows consumed batches
    for dom in sorted(packed.streams) if val_files else []:
        blocks = eval_blocks(val_files, dom, tok, plan.context, cfg.eval_tokens)
        if blocks is not None:
            val[dom] = blocks
    log = JsonlLog(out_dir / "log.jsonl", step if ck else None, enabled=d.main)
    vocab = len(tok)
    last_eval: dict = {}
    run_tokens, run_time, tokens_log, busy = 0, 0.0, 0, 0.0
    loss_acc, acc_steps = torch.zeros((), device=d.device), 0
    t_log = time.perf_counter()
    model.train()
    last_loss, last_tps = None, None
    with step_progress("train.pretrain", cfg.steps) if d.main else contextlib.nullcontext(_no_show) as show:
        show(step)
        while step < cfg.steps:
            for micro in range(plan.grad_accum):
                x, y, _ = loader.next_batch()
                unigram += np.bincount(y.numpy().ravel(), minlength=vocab)
                x, y = x.to(d.device, non_blocking=True), y.to(d.device, non_blocking=True)
                sync = d.world == 1 or micro == plan.grad_accum - 1
                with contextlib.nullcontext() if sync else model.no_sync(), autocast(d.device, cfg.dtype):
                    logits = model(input_ids=x, use_cache=False).logits
                    loss = F.cross_entropy(logits.float().view(-1, vocab), y.reshape(-1)) / plan.grad_accum
                loss.backward()
                loss_acc += loss.detach()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            lr = sched.get_last_lr()[0]
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step, acc_steps, tokens_log = step + 1, acc_steps + 1, tokens_log + plan.step_tokens

            if step % cfg.log_every == 0 or step in (cfg.steps, stop_at):
                loss_val = dist.all_reduce_sum(loss_acc.clone()).item() / d.world / acc_steps
                elapsed = time.perf_counter() - t_log - busy  # training time only: eval and saving excluded
                run_tokens, run_time = run_tokens + tokens_log, run_time + elapsed
                log.write(
                    {
                        "step": step,
                        "loss": loss_val,
                        "lr": lr,
                        "tokens_per_s": tokens_log / elapsed,
                        "tokens": step * plan.step_tokens,
                        "domain_tokens": _global_tokens(loader, d),
                    }
                )
                last_loss, last_tps = loss_val, tokens_log / elapsed
                loss_acc.zero_()
                tokens_log, acc_steps, busy, t_log = 0, 0, 0.0, time.perf_counter()
            t_busy = time.perf_counter()
            if val and (step % cfg.eval_every == 0 or step == cfg.steps):
                last_eval = evaluate(single, val, d, cfg, unigram)
                log.write({"step": step, "eval": last_eval})
            if step % cfg.checkpoint_every == 0 or step in (cfg.steps, stop_at):
                _save_checkpoint(
                    out_dir,
                    step,
                    raw,
                    opt,
                    sched,
                    loader,
                    unigram,
                    d,
                    config_hash,
                    cfg.keep_checkpoints,
                    tuner.threads,
                )
            busy += time.perf_counter() - t_busy
            show(step, loss=last_loss, tokens_per_s=last_tps)
            tuner.maybe_retune()
            if step == stop_at:
                break
    loader.close()
    if val and not last_eval and step == cfg.steps:  # resumed a finished run: report its validation again
        last_eval = evaluate(single, val, d, cfg, unigram)
    results = {
        "steps": step,
        "threads": tuner.history,
        "params": param_count(raw),
        "plan": plan.__dict__,
        "shares_target": _norm(shares),
        "domain_tokens": _global_tokens(loader, d),
        "tokens_per_s": run_tokens / run_time if run_time else None,
        "passes": {k: v["passes"] for k, v in loader.state()["streams"].items()},
        "validation": last_eval,
        "weights_digest": _weights_digest(raw, d),
    }
    total = sum(results["domain_tokens"].values())
    results["shares_seen"] = {k: v / total for k, v in results["domain_tokens"].items()} if total else {}
    if d.main and step == cfg.steps:
        raw.save_pretrained(out_dir / "model")
        tok.save_pretrained(out_dir / "model")
        plot_loss(
            read_log(out_dir / "log.jsonl"),
            out_dir / "loss.png",
            title=f"pretrain ({results['params']:,} params)",
        )
    dist.barrier(d)
    dist.teardown(d)
    return results


def _weights_digest(model, d: dist.Dist) -> list[str]:
    """A hash of the final weights from every process: under DDP they must all be equal (gradients synced)."""
    import hashlib

    h = hashlib.sha256()
    for name, p in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(p.detach().float().cpu().numpy().tobytes())
    return dist.gather(h.hexdigest()[:16], d)


def _no_show(step: int, **_: Any) -> None:
    return None


def _norm(shares: dict[str, float]) -> dict[str, float]:
    total = sum(shares.values())
    return {k: v / total for k, v in sorted(shares.items())}


def _global_tokens(loader: Prefetcher, d: dist.Dist) -> dict[str, int]:
    per_rank = dist.gather(loader.tokens, d)
    return {k: sum(r[k] for r in per_rank) for k in sorted(loader.tokens)}


def _save_checkpoint(out_dir, step, raw, opt, sched, loader, unigram, d, config_hash, keep, threads) -> None:
    data, rng = dist.gather(loader.state(), d), dist.gather(checkpoint.rng_state(), d)
    if d.main:
        payload = {
            "model": raw.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "data": data,
            "rng": rng,
            "unigram": unigram,
            "world": d.world,
            "config_hash": config_hash,
            "threads": threads,
        }
        checkpoint.save(out_dir / "checkpoints", step, payload, keep)
    dist.barrier(d)
