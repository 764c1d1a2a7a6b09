"""`mixloom eval`: score a trained model on the recipe's `train.eval` tasks and write results as JSON.

Default data per metric (see `training.checks.EVAL_DEFAULT_DATA`): perplexity and bits per byte (`bpb`, comparable
across tokenizers) on the curated test split (per domain and overall); ROUGE / F1 / exact match on the SFT held-out conversations; GSM8K accuracy on
`data/gsm8k/test.jsonl`; pass@k needs a HumanEval-style file. Rows that already carry a `prediction`
(or, for pass@k, `completions`) are scored as given, so outputs of other systems can be compared too.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mixloom.errors import UserError
from mixloom.manifest import write_json_atomic
from mixloom.recipe import Recipe
from mixloom.sections.train import EvalTask
from training import align, generate, metrics, refs
from training.checks import EVAL_DEFAULT_DATA
from training.logs import quiet_libraries
from training.stages import write_stage_manifest

LM_STAGES = ("grpo", "dpo", "sft", "pretrain")  # newest first; rm is a scorer, not a generator


def default_model(run_dir: Path) -> Path:
    for s in LM_STAGES:
        p = refs.stage_dir(run_dir, s) / "model"
        if (p / "config.json").exists():
            return p
    raise UserError(f"{run_dir}: no trained model under train/; run `mixloom train` first or pass --model")


def _rows(recipe: Recipe, run_dir: Path, ref: str, where: str) -> list[dict[str, Any]]:
    if ref == "train.sft.heldout":
        from training.sft import sft_rows

        cfg = recipe.train.sft  # type: ignore[union-attr]
        files = refs.data_files(recipe, run_dir, cfg.data, "train.sft.data")
        _, held = align.holdout_split(
            sft_rows(refs.read_rows(files), str(files[0].parent)), cfg.holdout, recipe.seed
        )
        return held
    return refs.read_rows(refs.data_files(recipe, run_dir, ref, where))


def qa_examples(
    rows: list[dict[str, Any]], source: str
) -> tuple[list[list[dict]], list[list[str]], list | None]:
    """(prompt conversations, reference answers, given predictions or None) from any supported row shape."""
    prompts, golds = [], []
    for i, r in enumerate(rows):
        if "messages" in r:
            msgs = align.conversation(list(r["messages"]), "user")
            last = max((j for j, m in enumerate(msgs) if m["role"] == "assistant"), default=None)
            if last is None:
                raise UserError(f"{source}: row {i}: no assistant message to use as the reference")
            prompts.append(msgs[:last])
            golds.append([msgs[last]["content"]])
            continue
        gold = r.get("answers", r.get("reference", r.get("answer")))
        if "prompt" not in r and "question" not in r or gold is None:
            raise UserError(
                f"{source}: row {i}: needs `messages`, or `prompt`/`question` with `reference`/`answers`"
            )
        prompts.append(align.conversation(r.get("prompt", r.get("question")), "user"))
        golds.append([gold] if isinstance(gold, str) else [str(g) for g in gold])
    given = [r["prediction"] for r in rows] if rows and "prediction" in rows[0] else None
    return prompts, golds, given


def _qa(task: EvalTask, rows, source, lm) -> dict[str, Any]:
    prompts, golds, preds = qa_examples(rows, source)
    if preds is None:
        preds = generate.chat(lm, prompts, task.max_new_tokens)
    if task.metric == "rouge":
        return {**metrics.rouge(preds, golds), "n": len(preds)}
    fn = metrics.f1_score if task.metric == "f1" else metrics.exact_match
    return {
        task.metric: sum(fn(p, g) for p, g in zip(preds, golds, strict=True)) / max(1, len(preds)),
        "n": len(preds),
    }


def _gsm8k(task: EvalTask, rows, source, lm) -> dict[str, Any]:
    refs.require_columns(rows, ["question", "answer"], source)
    preds = [r["prediction"] for r in rows] if "prediction" in rows[0] else None
    if preds is None:
        prompts = [align.conversation(r["question"], "user") for r in rows]
        preds = generate.chat(lm, prompts, task.max_new_tokens)
    acc, _ = metrics.gsm8k_accuracy(preds, [r["answer"] for r in rows])
    return {"accuracy": acc, "n": len(rows)}


def _pass_at_k(task: EvalTask, rows, source, lm, seed: int) -> dict[str, Any]:
    from verification.sandbox import run_tests

    refs.require_columns(rows, ["prompt", "test", "entry_point"], source)
    passed = []
    for r in rows:
        samples = r.get("completions") or generate.sample(
            lm, r["prompt"], task.n, task.max_new_tokens, task.temperature, seed
        )
        programs = [r["prompt"] + s for s in samples]
        passed.append(
            (
                len(programs),
                sum(run_tests(p, r["test"], r["entry_point"], context=r["prompt"]).passed for p in programs),
            )
        )
    out: dict[str, Any] = {
        f"pass@{k}": sum(metrics.pass_at_k(n, c, k) for n, c in passed) / len(passed)
        for k in task.k
        if all(k <= n for n, _ in passed)
    }
    return {**out, "n": len(rows), "samples": task.n}


def _perplexity(task: EvalTask, rows, lm) -> dict[str, Any]:
    from training.data import encode

    by_domain: dict[str, list[int]] = {}
    for r in rows:
        if r.get("epoch"):  # upsampled copies would count a document twice
            continue
        by_domain.setdefault(r.get("domain") or "all", []).extend(encode(lm.tok, [r["text"]])[0])
    window = lm.context
    stride = task.stride or max(1, window // 2)
    out, total = {}, [0.0, 0]
    for dom, ids in sorted(by_domain.items()):
        nll, n = metrics.sliding_nll(lm.model, ids, window, stride, lm.device)
        out[dom] = {"ppl": metrics.perplexity(nll, n), "tokens": n}
        total = [total[0] + nll, total[1] + n]
    out["overall"] = {"ppl": metrics.perplexity(*total), "tokens": total[1]}
    return {"perplexity": out, "window": window, "stride": stride}


def _block_nll(model, ids: list[int], window: int, device: str, batch: int = 32) -> tuple[float, int]:
    """Summed NLL of ids[1:] scored in non-overlapping windows, `batch` windows per forward pass."""
    import torch
    import torch.nn.functional as F

    x = torch.as_tensor(ids[:-1], dtype=torch.long)
    y = torch.as_tensor(ids[1:], dtype=torch.long)
    n = -(-len(x) // window)
    pad = n * window - len(x)
    x = F.pad(x, (0, pad), value=0).view(n, window)
    y = F.pad(y, (0, pad), value=-100).view(n, window)
    total = 0.0
    model.eval()
    with torch.no_grad():
        for b in range(0, n, batch):
            logits = model(input_ids=x[b : b + batch].to(device), use_cache=False).logits.float()
            total += F.cross_entropy(
                logits.flatten(0, 1),
                y[b : b + batch].to(device).flatten(),
                ignore_index=-100,
                reduction="sum",
            ).item()
    return total, len(y)


def _bits_per_byte(task: EvalTask, rows, lm, source: str) -> dict[str, Any]:
    """Bits per UTF-8 byte per domain and overall: comparable across tokenizers, unlike perplexity.

    Each domain's documents are joined as `EOS doc EOS doc EOS ...`, so every text token and every
    separating EOS is predicted once; the EOS counts as one byte (a document separator, like a newline).
    Windows of the model's context do not overlap (batched: fast enough to score every run of an
    ablation); give `stride` for sliding windows with more left context.
    """
    import math

    from training.data import encode

    refs.require_columns(rows, ["text"], source)
    eos = lm.tok.eos_token_id
    by_domain: dict[str, tuple[list[int], int]] = {}
    for r in rows:
        if r.get("epoch") or not r.get("text"):  # upsampled copies would count a document twice
            continue
        dom = r.get("domain") or "all"
        ids, nbytes = by_domain.get(dom, ([eos], 0))
        ids.extend(encode(lm.tok, [r["text"]])[0])
        by_domain[dom] = (ids, nbytes + len(r["text"].encode("utf-8")) + 1)
    window = lm.context
    out, total = {}, [0.0, 0, 0]
    for dom, (ids, nbytes) in sorted(by_domain.items()):
        if task.stride:
            nll, n = metrics.sliding_nll(lm.model, ids, window, task.stride, lm.device)
        else:
            nll, n = _block_nll(lm.model, ids, window, lm.device)
        out[dom] = {"bpb": nll / math.log(2) / nbytes, "bytes": nbytes, "tokens": n}
        total = [total[0] + nll, total[1] + nbytes, total[2] + n]
    out["overall"] = {"bpb": total[0] / math.log(2) / max(1, total[1]), "bytes": total[1], "tokens": total[2]}
    return {"bpb": out, "window": window, "stride": task.stride or window}


def run_eval(
    recipe: Recipe, run_dir: Path, tasks: list[EvalTask] | None = None, model: str | None = None
) -> dict[str, Any]:
    """Evaluate each task; results go to OUT/train/eval/results.json (with a manifest) and are returned."""
    tasks = tasks if tasks is not None else (recipe.train.eval if recipe.train else [])
    if not tasks:
        raise UserError(
            f"{recipe.path}: train.eval: no evaluation tasks; add e.g. `eval: [perplexity]` or pass --metric"
        )
    quiet_libraries()
    started, out_dir = time.time(), refs.stage_dir(run_dir, "eval")
    cache: dict[Path, generate.LM] = {}
    results, inputs = [], []
    for i, task in enumerate(tasks):
        mdir = (
            refs.model_dir(recipe, run_dir, model or task.model, "--model")
            if (model or task.model)
            else default_model(run_dir)
        )
        lm = cache.get(mdir) or cache.setdefault(mdir, generate.LM.load(mdir))
        data = task.data or EVAL_DEFAULT_DATA[task.metric]
        if data is None:
            raise UserError(f"{recipe.path}: train.eval.{i}.data: {task.metric} needs `data:`")
        rows = _rows(recipe, run_dir, data, f"train.eval.{i}.data")[: task.limit]
        if not rows:
            raise UserError(f"{recipe.path}: train.eval.{i}.data: {data} has no rows")
        t0 = time.time()
        if task.metric == "perplexity":
            value = _perplexity(task, rows, lm)
        elif task.metric == "bpb":
            value = _bits_per_byte(task, rows, lm, data)
        elif task.metric in ("rouge", "f1", "exact_match"):
            value = _qa(task, rows, data, lm)
        elif task.metric == "gsm8k":
            value = _gsm8k(task, rows, data, lm)
        else:
            value = _pass_at_k(task, rows, data, lm, recipe.seed)
        results.append(
            {
                "metric": task.metric,
                "data": data,
                "model": str(mdir),
                **value,
                "seconds": round(time.time() - t0, 2),
            }
        )
        if not refs.is_ref(data) and data != "train.sft.heldout":
            inputs.append(recipe.resolve(data))
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out_dir / "results.json", results)
    write_stage_manifest(recipe, "eval", out_dir, inputs, {"tasks": results}, started)
    return {"results": results, "path": str(out_dir / "results.json")}


def table(results: list[dict[str, Any]]):
    """A rich table: one row per metric value."""
    from rich.markup import escape
    from rich.table import Table

    t = Table(title="mixloom eval")
    for col in ("metric", "data", "value", "n"):
        t.add_column(col, justify="right" if col in ("value", "n") else "left")
    for r in results:
        if r["metric"] == "perplexity":
            for dom, v in r["perplexity"].items():
                t.add_row(escape(f"perplexity[{dom}]"), r["data"], f"{v['ppl']:.3f}", str(v["tokens"]))
            continue
        if r["metric"] == "bpb":
            for dom, v in r["bpb"].items():
                t.add_row(escape(f"bpb[{dom}]"), r["data"], f"{v['bpb']:.4f}", str(v["bytes"]))
            continue
        for k, v in r.items():
            if isinstance(v, float) and k != "seconds":
                t.add_row(k, r["data"], f"{v:.4f}", str(r.get("n", "")))
    return t
