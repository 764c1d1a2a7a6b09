"""The training stages' report sections: loss curves per stage, validation perplexity, evaluation results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mixloom.figures import add_figure, pyplot, table
from mixloom.layout import RunLayout
from mixloom.stage import Section

ORDER = {"tokenizer": 50, "pretrain": 51, "sft": 52, "rm": 53, "dpo": 54, "grpo": 55}


def _loss_figure(s: Section, log: Path, stage: str) -> None:
    recs = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
    train = [(r["step"], r["loss"]) for r in recs if "loss" in r]
    if not train:
        return
    evals = [r for r in recs if any(k.startswith(("val", "eval")) for k in r)]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.plot(*zip(*train, strict=True), label="train loss", color="#3b7dd8")
    keys = sorted(
        {k for r in evals for k, v in r.items() if k.startswith(("val", "eval")) and isinstance(v, dict)}
    )
    for k in keys:
        for dom in sorted({d for r in evals for d in r.get(k, {})}):
            pts = [
                (r["step"], r[k][dom].get("loss") if isinstance(r[k][dom], dict) else r[k][dom])
                for r in evals
                if dom in r.get(k, {})
            ]
            pts = [p for p in pts if p[1] is not None]
            if pts:
                ax.plot(*zip(*pts, strict=True), marker="o", label=f"{k} {dom}")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats per token)")
    ax.set_title(f"Training: {stage}")
    ax.legend(fontsize=7, loc="upper right")
    add_figure(s, fig, f"loss_{stage}.png", f"Loss curves of train.{stage}")
    extra = [
        (k, lbl)
        for k, lbl in (
            ("lr", "learning rate"),
            ("learning_rate", "learning rate"),
            ("grad_norm", "gradient norm"),
            ("rewards/margins", "DPO reward margin (chosen - rejected)"),
            ("reward", "mean reward"),
        )
        if any(k in r for r in recs)
    ]
    if extra:
        fig, axes = plt.subplots(1, len(extra), figsize=(3.4 * len(extra), 2.8), squeeze=False)
        for ax, (k, lbl) in zip(axes[0], extra, strict=True):
            pts = [(r["step"], r[k]) for r in recs if isinstance(r.get(k), int | float)]
            ax.plot(*zip(*pts, strict=True), color="#81b29a")
            ax.set_xlabel("step")
            ax.set_title(lbl, fontsize=9)
        add_figure(
            s, fig, f"dynamics_{stage}.png", f"Learning rate, gradient norm and rewards of train.{stage}"
        )


def stage_sections(layout: RunLayout, stage: str) -> list[Section]:
    d = layout.train(stage)
    if not (d / "manifest.json").exists():
        return []
    m = json.loads((d / "manifest.json").read_text())
    res = m.get("results", {})
    s = Section(f"Training: {stage}", order=ORDER.get(stage, 56))
    if (d / "log.jsonl").exists():
        _loss_figure(s, d / "log.jsonl", stage)
    val = res.get("validation")
    if isinstance(val, dict) and val:
        rows = [
            [k, f"{v.get('ppl', float('nan')):.2f}", f"{v.get('unigram_ppl', float('nan')):.2f}"]
            for k, v in val.items()
        ]
        s.html += "<p>Validation perplexity of the pretrained model on the curated validation split, per domain.</p>"
        s.html += table(rows, ["validation split", "perplexity (pretrained model)", "unigram baseline"])
    line = ", ".join(f"{k}: {v}" for k, v in res.items() if isinstance(v, int | float | str))
    s.markdown = f"- `train.{stage}`: {line}\n"
    return [s] if s.html or s.markdown else []


def _headline(r: dict[str, Any]) -> str:
    """One readable line for an evaluation result: its numbers, nested ones flattened."""
    parts = []
    for k, v in r.items():
        if k in ("metric", "data", "model", "seconds", "window", "stride"):
            continue
        if isinstance(v, dict):
            inner = []
            for dk, dv in v.items():
                val = dv.get("ppl", dv.get("value")) if isinstance(dv, dict) else dv
                inner.append(f"{dk} {val:.4g}" if isinstance(val, float) else f"{dk} {val}")
            parts.append(f"{k}: " + ", ".join(inner))
        else:
            parts.append(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}")
    return "; ".join(parts)


def eval_sections(layout: RunLayout) -> list[Section]:
    path = layout.eval / "results.json"
    if not path.exists():
        return []
    ev = json.loads(path.read_text())
    ev = ev if isinstance(ev, list) else [ev]
    rows = [
        [r.get("metric"), r.get("data"), Path(str(r.get("model", ""))).parent.name, _headline(r)] for r in ev
    ]
    s = Section("Evaluation", order=70)
    s.html = (
        "<p>Scores of the final model of the run (the last training stage) on each evaluation set; the "
        "pretraining section's perplexity is the pretrained model on the validation split, so the two differ.</p>"
    )
    s.html += table(rows, ["metric", "data", "model", "result"])
    for r in ev:
        if r.get("metric") == "perplexity":
            model = Path(str(r.get("model", ""))).parent.name
            ppl = ", ".join(f"{d} {v['ppl']:.2f}" for d, v in r["perplexity"].items())
            s.facts[f"perplexity ({model} model, {r['data']})"] = ppl
    s.markdown = (
        "## Evaluation\n\n" + "\n".join(f"- {r[0]} on {r[1]} ({r[2]} model): {r[3]}" for r in rows) + "\n"
    )
    return [s]
