"""Pretraining on real text: learning, per-domain evaluation, outputs, and exact resume."""

from __future__ import annotations

import json
import shutil

import pytest
from train_helpers import tiny_recipe

from mixloom.errors import UserError
from training import run_stage
from training.logs import read_log


def test_loss_falls_and_validation_beats_unigram(wiki_pretrained):
    run, _, results = wiki_pretrained
    log = read_log(run / "train" / "pretrain" / "log.jsonl")
    losses = [r["loss"] for r in log if "loss" in r]
    assert losses[0] > 5.5  # ~ln(512) at the start
    assert losses[-1] < losses[0] - 1.0
    val = results["pretrain"]["validation"]["overall"]
    assert val["tokens"] > 4000
    assert val["ppl"] < 0.8 * val["unigram_ppl"], val
    evals = [r["eval"]["overall"]["ppl"] for r in log if "eval" in r]
    assert len(evals) == 2 and evals[1] < evals[0]


def test_outputs_manifest_and_model_loads(wiki_pretrained):
    from transformers import AutoModelForCausalLM

    run, recipe, results = wiki_pretrained
    out = run / "train" / "pretrain"
    man = json.loads((out / "manifest.json").read_text())
    assert man["stage"] == "train.pretrain" and len(man["section_hash"]) == 16
    assert man["section"]["steps"] == 80 and man["code_version"]
    names = {e["path"].rsplit("/", 1)[-1] for e in man["inputs"]}
    assert {"part-00000.parquet", "part-00001.parquet", "tokenizer.json"} <= names
    assert all(len(e["xxh3_128"]) == 32 for e in man["inputs"])
    assert (
        man["results"]["validation"]["overall"]["ppl"] == results["pretrain"]["validation"]["overall"]["ppl"]
    )
    assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rec = next(r for r in read_log(out / "log.jsonl") if "loss" in r)
    assert {"step", "loss", "lr", "tokens_per_s", "tokens", "domain_tokens"} <= set(rec)
    model = AutoModelForCausalLM.from_pretrained(out / "model")
    assert model.config.head_dim >= 32 and model.config.num_hidden_layers == 2
    assert model.config.vocab_size == results["tokenizer"]["vocab_size"] == 512
    # 80 steps x 2048 tokens, all of one domain
    assert results["pretrain"]["domain_tokens"] == {"general": 80 * 2048}


def test_lr_schedule_warmup_then_cosine():
    from mixloom.sections.train import PretrainSection
    from training.pretrain import lr_at, make_plan

    cfg = PretrainSection(steps=100, lr=1e-3, warmup=10, batch_tokens=4096, micro_batch=8)
    plan = make_plan(cfg, world=1)
    lrs = [lr_at(s, cfg, plan) for s in range(100)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)
    assert lrs[10] == lrs[9] and all(a > b for a, b in zip(lrs[10:], lrs[11:], strict=False))
    assert lrs[-1] == pytest.approx(1e-4, rel=0.01)  # min_lr defaults to lr / 10
    assert plan.grad_accum == 1 and plan.step_tokens == 4096


def _fresh(tmp_path, name, wiki_pretrained):
    src, _, _ = wiki_pretrained
    d = tmp_path / name
    shutil.copytree(src / "mix", d / "mix")
    shutil.copytree(src / "train" / "tokenizer", d / "train" / "tokenizer")
    short = {"steps": 8, "log_every": 1, "eval_every": 4, "checkpoint_every": 100, "warmup": 2}
    return d, tiny_recipe(d, pretrain=short)


def test_resume_reproduces_uninterrupted_losses(tmp_path, wiki_pretrained):
    from training.stages import run_pretrain

    a, ra = _fresh(tmp_path, "a", wiki_pretrained)
    b, rb = _fresh(tmp_path, "b", wiki_pretrained)
    full = run_pretrain(ra, a)
    partial = run_pretrain(rb, b, stop_at=5)
    assert partial["steps"] == 5 and not (b / "train" / "pretrain" / "model").exists()
    resumed = run_pretrain(rb, b)
    la, lb = (read_log(d / "train" / "pretrain" / "log.jsonl") for d in (a, b))
    losses_a = [(r["step"], r["loss"]) for r in la if "loss" in r]
    losses_b = [(r["step"], r["loss"]) for r in lb if "loss" in r]
    assert [s for s, _ in losses_b] == list(range(1, 9))  # no step logged twice
    assert losses_b == losses_a  # bit-identical on CPU
    assert [r["eval"] for r in lb if "eval" in r] == [r["eval"] for r in la if "eval" in r]
    assert resumed["domain_tokens"] == full["domain_tokens"]
    # running a finished stage again changes nothing and still reports its validation
    again = run_pretrain(rb, b)
    assert again["validation"] == resumed["validation"] and again["steps"] == 8
    assert read_log(b / "train" / "pretrain" / "log.jsonl") == lb


def test_resume_refuses_a_changed_recipe(tmp_path, wiki_pretrained):
    from training.stages import run_pretrain

    d, r = _fresh(tmp_path, "c", wiki_pretrained)
    run_pretrain(r, d, stop_at=2)
    changed = tiny_recipe(d, pretrain={"steps": 8, "lr": 1e-3, "log_every": 1, "checkpoint_every": 100})
    with pytest.raises(UserError, match="different train.pretrain"):
        run_pretrain(changed, d)
    assert run_pretrain(changed, d, resume=False)["steps"] == 8


def test_per_domain_validation_on_a_two_domain_mix(mix_run):
    recipe = tiny_recipe(mix_run, pretrain={"steps": 40, "eval_every": 40})
    run_stage(recipe, "tokenizer")
    res = run_stage(recipe, "pretrain")
    val = res["validation"]
    assert set(val) == {"financial", "general", "overall"}
    for dom in ("financial", "general"):
        assert val[dom]["tokens"] > 1000 and val[dom]["ppl"] < val[dom]["unigram_ppl"], (dom, val[dom])
    n = val["financial"]["tokens"] + val["general"]["tokens"]
    assert val["overall"]["tokens"] == n
    # what the model saw follows the mix shares (one 128-token sequence is 1/640 of the run)
    for dom, share in res["shares_target"].items():
        assert res["shares_seen"][dom] == pytest.approx(share, abs=2 / 640)
    assert sum(res["domain_tokens"].values()) == 40 * 2048
