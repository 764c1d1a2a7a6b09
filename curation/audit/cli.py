"""`mixloom audit RUN_OR_RECIPE`: the bias audit of a curation run, as tables, a page and findings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def audit_cmd(
    target: Annotated[Path, typer.Argument(help="a run directory, or a recipe YAML (its output run)")],
    scorers: Annotated[
        str | None, typer.Option(help="comma-separated backends to compare: mixloom,profanity,detoxify")
    ] = None,
    probe: Annotated[
        str | None, typer.Option(help="labelled probe CSV (HateCheck test_suite_cases.csv) or 'builtin'")
    ] = None,
    threshold: Annotated[float | None, typer.Option(help="score above which a text is rejected")] = None,
    checkpoint: Annotated[str | None, typer.Option(help="detoxify: a local .ckpt")] = None,
    config: Annotated[str | None, typer.Option(help="detoxify: local config/tokenizer dir")] = None,
) -> None:
    """Bias audit: who each curation step removes, per-group toxicity errors, counterfactual shifts."""
    from curation.audit.page import group_table, md_table, write_page
    from curation.audit.run import AuditSection, run_audit
    from mixloom.errors import UserError
    from mixloom.layout import RunLayout
    from mixloom.progress import stdout

    seed = 0
    if target.is_file():
        from mixloom.recipe import load_recipe

        recipe = load_recipe(target)
        run_dir, root, seed = recipe.output_dir(), recipe.root, recipe.seed
        base = recipe.get("audit") or AuditSection()
    elif target.is_dir():
        run_dir, root, base = target, Path.cwd(), AuditSection()
    else:
        raise UserError(f"{target}: no such run directory or recipe file")
    upd: dict = {}
    if scorers:
        upd["scorers"] = [s.strip() for s in scorers.split(",") if s.strip()]
    if probe:
        upd["probe"] = probe
    if threshold is not None:
        upd["threshold"] = threshold
    det = {k: v for k, v in (("checkpoint", checkpoint), ("config", config)) if v}
    if det:
        upd["detoxify"] = {**base.detoxify, **det}
    try:
        section = AuditSection.model_validate({**base.model_dump(), **upd})
    except Exception as e:  # pydantic: one line naming the option and what it accepts
        errs = getattr(e, "errors", lambda: [])()
        where = ".".join(str(p) for p in errs[0]["loc"]) if errs else ""
        msg = f"{where}: {errs[0]['msg']}" if errs else str(e).splitlines()[0]
        raise UserError(f"audit options: {msg}") from None
    layout = RunLayout(run_dir)
    result = run_audit(layout, section, root, seed)
    page, md = write_page(layout)
    rows = group_table(result)
    if rows:
        stdout.print(md_table(rows, list(dict.fromkeys(k for r in rows for k in r))), highlight=False)
    for f in result["findings"]:
        stdout.print(f"- {f}", highlight=False)
    stdout.print(f"wrote {page} and {md}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("audit")(audit_cmd)
