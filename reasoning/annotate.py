"""The `annotate` stage: quality labels for documents, as FineWeb-Edu (an LLM rates pages) and DCLM
(reference text as positives, web text as negatives) make them.

- `method: llm`: a seeded sample of documents (`curate.curated`, recipe sources' raw files, or files) goes
  through the generator's engine with the recipe's rubric prompt; answers are parsed strictly
  (`reasoning.annotate_parse`), unparsable ones retried at `retry_temperature` and then quarantined with the
  reason. Every answer is cached by document text, prompt, model and sampling settings, so a rerun, a larger
  sample or a changed threshold costs no engine call for what was already asked.
- `method: reference`: `positives` are label 1, `negatives` label 0; a text found in both is quarantined.
- `method: file`: labels from a file (`label` 0/1, or `score` compared with `positive_at`).

Writes `annotate/labels/part-00000.parquet` (reference `annotate.labels`: id, text, domain, label, score,
reason, method, set, answer, attempts), `annotate/quarantine.parquet`, `annotate/cache.sqlite` and
`annotate/manifest.json`.
"""

from __future__ import annotations

import html
import time
from typing import Any

import polars as pl
import xxhash

from mixloom.errors import RecipeError, UserError
from mixloom.layout import RunLayout
from mixloom.manifest import stage_header, write_manifest
from mixloom.recipe import Recipe
from mixloom.stage import Section, Stage
from reasoning.annotate_docs import Doc, files_of, load_docs
from reasoning.annotate_section import CURATED, AnnotateSection, DocFiles

NAME = "annotate"
LABEL_COLUMNS = {
    "id": pl.String,
    "text": pl.String,
    "domain": pl.String,
    "label": pl.Int8,
    "score": pl.Float64,
    "reason": pl.String,
    "method": pl.String,
    "set": pl.String,
    "answer": pl.String,
    "attempts": pl.Int32,
}


def render(prompt: str, text: str, chat: bool) -> Any:
    """The rubric with the document in place of `{text}` (a plain replace: rubrics may show JSON braces)."""
    body = prompt.replace("{text}", text)
    return [{"role": "user", "content": body}] if chat else body


def text_hash(text: str) -> str:
    return xxhash.xxh3_128_hexdigest(text.encode("utf-8", "surrogatepass"))


def _row(d: Doc, label: int, method: str, set_: str, **kw: Any) -> dict[str, Any]:
    base = {"id": d.id, "text": d.text, "domain": d.domain, "label": label, "method": method, "set": set_}
    return {**dict.fromkeys(LABEL_COLUMNS), **base, "attempts": 0, **kw}


def uses_own_classifier(recipe: Recipe) -> bool:
    """True when this run's curation filters with the classifier trained from this stage's labels."""
    qm = recipe.get("train.quality_model")
    if qm is None or getattr(qm, "data", None) != "annotate.labels":
        return False
    for entry in recipe.steps:
        ((name, params),) = entry.items()
        if (
            name == "quality_model"
            and isinstance(params, dict)
            and params.get("model") == "train.quality_model"
        ):
            return True
    return False


class AnnotateStage(Stage):
    name = NAME

    def __init__(self, engine: Any = None):
        self.engine = engine  # tests hand in a scripted engine; by default the recipe's engine is started

    def cfg(self, recipe: Recipe) -> AnnotateSection:
        cfg = recipe.get(NAME)
        if cfg is None:
            raise UserError(f"{recipe.path}: annotate: the recipe has no `annotate:` section")
        return cfg

    def validate(self, recipe: Recipe) -> None:
        cfg, where = self.cfg(recipe), str(recipe.path)
        for key, spec in cfg.doc_sets().items():
            if spec.from_ == CURATED:
                if not recipe.sources:
                    raise RecipeError(where, f"annotate.{key}.from", "curate.curated needs `sources:`")
                if uses_own_classifier(recipe):
                    raise RecipeError(
                        where,
                        f"annotate.{key}.from",
                        "a cycle: curation's quality_model step uses train.quality_model, which is trained "
                        "on these labels, which would be sampled from the curated output of the same run",
                        "sample raw files instead (`sources: [name]` or `paths:`), or train the classifier "
                        "in another run and give its model directory as the step's `model:`",
                    )
            for name in spec.sources:
                if name not in recipe.sources:
                    raise RecipeError(
                        where,
                        f"annotate.{key}.sources",
                        f"unknown source '{name}'",
                        f"one of {list(recipe.sources)}",
                    )
        if cfg.method == "llm":
            assert cfg.engine is not None
            import importlib.util

            from reasoning.checks import ENGINE_PACKAGE, TINY

            pkg, fix = ENGINE_PACKAGE[cfg.engine.kind]
            if importlib.util.find_spec(pkg) is None:
                raise RecipeError(
                    where, "annotate.engine.kind", f"engine '{cfg.engine.kind}' needs '{pkg}'", fix
                )
            local = cfg.engine.kind != "openai" and cfg.engine.model != TINY
            if local and not (recipe.resolve(cfg.engine.model) / "config.json").is_file():
                raise RecipeError(
                    where,
                    "annotate.engine.model",
                    f"no model directory at {recipe.resolve(cfg.engine.model)}",
                    "give a local Hugging Face model dir, or 'tiny'",
                )

    def reads(self, recipe: Recipe) -> list[str]:
        cfg = self.cfg(recipe)
        out = [f for spec in cfg.doc_sets().values() for f in files_of(recipe, spec)]
        if cfg.labels is not None:
            out.append(cfg.labels.path)
        if cfg.engine is not None and cfg.engine.kind != "openai" and cfg.engine.model != "tiny":
            out.append(cfg.engine.model)
        return out

    # -- run ---------------------------------------------------------------------------------------
    def run(self, recipe: Recipe, layout: RunLayout) -> dict[str, Any]:
        cfg, t0 = self.cfg(recipe), time.perf_counter()
        out = layout.stage_dir(NAME)
        out.mkdir(parents=True, exist_ok=True)
        stats: dict[str, Any] = {"method": cfg.method}
        if cfg.method == "reference":
            rows, quarantine = self._reference(recipe, layout, cfg)
        elif cfg.method == "file":
            rows, quarantine = self._file(recipe, cfg)
        else:
            from reasoning.annotate_llm import annotate_llm

            docs = load_docs(recipe, layout, cfg.sample, "annotate.sample")  # type: ignore[arg-type]
            rows, quarantine, llm_stats = annotate_llm(recipe, cfg, docs, out, self.engine)
            stats.update(llm_stats)
        labels = pl.DataFrame(rows, schema=LABEL_COLUMNS) if rows else pl.DataFrame(schema=LABEL_COLUMNS)
        labels = labels.sort("id")
        (out / "labels").mkdir(exist_ok=True)
        labels.write_parquet(out / "labels" / "part-00000.parquet")
        q = pl.DataFrame(
            quarantine, schema={"id": pl.String, "text": pl.String, "reason": pl.String, "answers": pl.String}
        )
        q.sort("id").write_parquet(out / "quarantine.parquet")
        stats.update(
            labels=labels.height,
            positives=int(labels["label"].sum() or 0) if labels.height else 0,
            quarantined=q.height,
            quarantine_reasons=dict(q.group_by("reason").len().sort("reason").rows()) if q.height else {},
            domains=dict(labels.group_by("domain").len().sort("domain").rows()) if labels.height else {},
            seconds=round(time.perf_counter() - t0, 3),
        )
        write_manifest(
            out,
            {
                **stage_header(recipe, NAME, recipe.dump(NAME)),
                "outputs": {"labels": "labels/", "quarantine": "quarantine.parquet"},
                "results": stats,
            },
        )
        return stats

    def _reference(self, recipe: Recipe, layout: RunLayout, cfg: AnnotateSection) -> tuple[list, list]:
        pos = load_docs(recipe, layout, cfg.positives, "annotate.positives")  # type: ignore[arg-type]
        neg = load_docs(recipe, layout, cfg.negatives, "annotate.negatives")  # type: ignore[arg-type]
        both = {text_hash(d.text) for d in pos} & {text_hash(d.text) for d in neg}
        rows, quarantine = [], []
        for docs, label, set_ in ((pos, 1, "positives"), (neg, 0, "negatives")):
            for d in docs:
                if text_hash(d.text) in both:
                    quarantine.append(
                        {"id": d.id, "text": d.text, "reason": "in positives and negatives", "answers": "[]"}
                    )
                else:
                    rows.append(_row(d, label, "reference", set_))
        return rows, quarantine

    def _file(self, recipe: Recipe, cfg: AnnotateSection) -> tuple[list, list]:
        from reasoning.annotate_docs import expand

        spec: DocFiles = cfg.labels  # type: ignore[assignment]
        files = expand(recipe, spec.path)
        if not files:
            raise UserError(f"{recipe.path}: annotate.labels.path: no file at {recipe.resolve(spec.path)}")
        rows, quarantine = [], []
        for f in files:
            df = pl.read_parquet(f) if f.suffix == ".parquet" else pl.read_ndjson(f, infer_schema_length=None)
            if spec.text not in df.columns or not {"label", "score"} & set(df.columns):
                raise UserError(
                    f"{f}: a labels file needs `{spec.text}` and `label` (0/1) or `score` columns"
                )
            for i, rec in enumerate(df.iter_rows(named=True)):
                rid = str(rec.get(spec.id)) if spec.id and rec.get(spec.id) is not None else f"{f.name}#{i}"
                d = Doc(f"{f.stem}/{rid}", rec.get(spec.text) or "", str(rec.get("domain") or f.stem))
                label, score = rec.get("label"), rec.get("score")
                if not d.text.strip():
                    quarantine.append({"id": d.id, "text": d.text, "reason": "empty text", "answers": "[]"})
                elif label in (0, 1, True, False):
                    rows.append(_row(d, int(label), "file", f.name, score=score))
                elif label is not None:
                    quarantine.append(
                        {"id": d.id, "text": d.text, "reason": "label is not 0 or 1", "answers": "[]"}
                    )
                elif isinstance(score, int | float):
                    rows.append(_row(d, int(score >= cfg.positive_at), "file", f.name, score=float(score)))
                else:
                    quarantine.append(
                        {"id": d.id, "text": d.text, "reason": "no label or score", "answers": "[]"}
                    )
        return rows, quarantine

    # -- report ------------------------------------------------------------------------------------
    def report(self, layout: RunLayout) -> list[Section]:
        from mixloom.manifest import read_manifest

        out = layout.stage_dir(NAME)
        if not (out / "manifest.json").exists():
            return []
        res = read_manifest(out)["results"]
        keys = ["method", "labels", "positives", "quarantined", "engine_calls", "cache_hits", "retried"]
        rows = [(k, res[k]) for k in keys if k in res]
        md = "\n".join(f"| {k} | {v} |" for k, v in rows)
        reasons = res.get("quarantine_reasons") or {}
        md_q = "\n".join(f"- {k}: {v}" for k, v in reasons.items())
        markdown = f"| | |\n|---|---|\n{md}\n" + (f"\nQuarantined answers:\n{md_q}\n" if md_q else "")
        table = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
        q_html = "".join(f"<li>{html.escape(k)}: {v}</li>" for k, v in reasons.items())
        return [
            Section(
                "Quality labels (annotate)",
                html=f"<table>{table}</table>" + (f"<p>Quarantined:</p><ul>{q_html}</ul>" if q_html else ""),
                markdown=markdown,
                order=35,
            )
        ]

    def summary(self, result: dict[str, Any]) -> str:
        extra = f", {result['cache_hits']} cached answers" if "cache_hits" in result else ""
        return (
            f"{result['labels']} labels ({result['positives']} positive), "
            f"{result['quarantined']} quarantined{extra}"
        )


STAGE = AnnotateStage()
