"""LLM labels: rubric prompts through the generator's engine, strict parsing, retries, a persistent cache.

A document is tried up to `1 + retries` times. Attempt k of a document has its own cache key and sampling
seed, so reruns ask the engine only for what no earlier run asked (same text, prompt, model and settings).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mixloom.manifest import stable_hash
from mixloom.progress import progress_bar
from mixloom.recipe import Recipe
from reasoning.annotate_docs import Doc
from reasoning.annotate_parse import AnswerCache, ParseError, Rubric, parse_answer
from reasoning.annotate_section import AnnotateSection


def _engine(recipe: Recipe, cfg: AnnotateSection, out: Path, engine: Any, docs: list[Doc]) -> tuple[Any, Any]:
    """(engine, model identity for cache keys). The engine starts lazily: a fully cached run loads nothing."""
    from reasoning.pipeline import Context, model_identity

    spec = cfg.engine
    assert spec is not None
    if engine is not None:
        return (lambda: engine), f"{engine.kind}:{engine.model}"
    if spec.kind == "openai":
        model: Path | str = spec.model
    elif spec.model == "tiny":
        from mixloom.tiny import default_texts, make_tiny_model

        texts = default_texts() + [d.text for d in docs[:200]]
        model = make_tiny_model(out / "tiny-model", texts, vocab_size=1024, seed=recipe.seed)
    else:
        model = recipe.resolve(spec.model)
    ctx = Context(recipe, spec, model, str(model))
    return ctx.get_engine, model_identity(model)


def annotate_llm(
    recipe: Recipe, cfg: AnnotateSection, docs: list[Doc], out: Path, engine: Any = None
) -> tuple[list[dict], list[dict], dict[str, Any]]:
    """Label `docs`; returns (label rows, quarantine rows, stats)."""
    from reasoning.annotate import _row, render, text_hash
    from reasoning.pipeline import problem_seed

    spec = cfg.engine
    assert spec is not None and cfg.prompt is not None
    rubric = Rubric(cfg.answer_format, cfg.scale[0], cfg.scale[1], cfg.integer, cfg.max_reason_chars)
    get_engine, identity = _engine(recipe, cfg, out, engine, docs)
    base = {
        "prompt": cfg.prompt,
        "chat": cfg.chat,
        "engine": spec.kind,
        "model": identity,
        "max_tokens": spec.max_tokens,
        "seed": recipe.seed,
    }

    def temp(attempt: int) -> float:
        return cfg.temperature if attempt == 0 else cfg.retry_temperature

    def key(d: Doc, attempt: int) -> str:
        return stable_hash(
            {**base, "text": text_hash(d.text), "attempt": attempt, "temperature": temp(attempt)}
        )

    cache = AnswerCache(out / "cache.sqlite")
    stats = {"engine_calls": 0, "cache_hits": 0, "retried": 0, "parsed_first_try": 0}
    answers: dict[str, list[str]] = {d.id: [] for d in docs}
    errors: dict[str, str] = {}
    done: dict[str, tuple[float, str, int]] = {}
    pending = list(docs)
    try:
        with progress_bar("annotate", total=len(docs)) as advance:
            for attempt in range(cfg.retries + 1):
                if not pending:
                    break
                keys = {d.id: key(d, attempt) for d in pending}
                got = cache.get(list(keys.values()))
                stats["cache_hits"] += len(got)
                # one engine call per distinct text: documents with the same text share the answer
                todo = list({keys[d.id]: d for d in pending if keys[d.id] not in got}.values())
                for i in range(0, len(todo), spec.batch_size):
                    batch = todo[i : i + spec.batch_size]
                    gens = get_engine().generate(
                        [render(cfg.prompt, d.text, cfg.chat) for d in batch],
                        n=1,
                        temperature=temp(attempt),
                        max_tokens=spec.max_tokens,
                        seed=[
                            problem_seed(recipe.seed, "annotate", text_hash(d.text), f"try{attempt}")
                            for d in batch
                        ],
                    )
                    new = {keys[d.id]: g.completions[0].text for d, g in zip(batch, gens, strict=True)}
                    cache.put(new)
                    got.update(new)
                    stats["engine_calls"] += len(batch)
                still = []
                for d in pending:
                    text = got[keys[d.id]]
                    answers[d.id].append(text)
                    try:
                        score, reason = parse_answer(text, rubric)
                    except ParseError as e:
                        errors[d.id] = str(e)
                        still.append(d)
                        continue
                    done[d.id] = (score, reason, attempt + 1)
                    stats["parsed_first_try"] += attempt == 0
                    advance(1)
                stats["retried"] += len(still) if attempt < cfg.retries else 0
                pending = still
            advance(len(pending))
    finally:
        cache.close()
    rows, quarantine = [], []
    for d in docs:
        if d.id in done:
            score, reason, tries = done[d.id]
            rows.append(
                _row(
                    d,
                    int(score >= cfg.positive_at),
                    "llm",
                    "sample",
                    score=score,
                    reason=reason,
                    answer=answers[d.id][-1],
                    attempts=tries,
                )
            )
        else:
            reason = f"unparsable after {len(answers[d.id])} tries: {errors[d.id]}"
            quarantine.append(
                {"id": d.id, "text": d.text, "reason": reason, "answers": json.dumps(answers[d.id])}
            )
    return rows, quarantine, stats
