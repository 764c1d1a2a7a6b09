"""`mixloom toxicity-model build|card`: (re)build mixloom's own toxicity model offline, and show its card."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
app = typer.Typer(
    help="mixloom's own toxicity model (the `toxicity` step's default backend).", no_args_is_help=True
)


def _need(p: Path | None, what: str, default: Path) -> Path:
    from mixloom.errors import UserError

    p = p or default
    if not p.is_file():
        raise UserError(f"--{what}: {p} does not exist; give the path to {default.name}")
    return p


@app.command("build")
def build_cmd(
    davidson: Annotated[Path | None, typer.Option(help="davidson_labeled_data.csv")] = None,
    wiki: Annotated[Path | None, typer.Option(help="WikiText-2 test.txt (optional everyday text)")] = None,
    hatecheck: Annotated[
        Path | None, typer.Option(help="HateCheck test_suite_cases.csv: decontamination and evaluation only")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="model file (default: the one shipped in the package)")
    ] = None,
    target_precision: Annotated[
        float, typer.Option(help="held-out precision the threshold must reach")
    ] = 0.8,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Train the model (about a minute on 2 cores) and write it with its MODEL_CARD.md."""
    from curation.toxicity_model.card import write_card
    from curation.toxicity_model.model import PACKAGED, load
    from curation.toxicity_model.train import BuildConfig, build
    from mixloom.progress import stdout

    dav = _need(davidson, "davidson", SHARED / "toxicity" / "davidson_labeled_data.csv")
    wiki = wiki or (SHARED / "wikitext2" / "test.txt")
    hc = hatecheck or (SHARED / "toxicity" / "hatecheck" / "test_suite_cases.csv")
    sample = Path(__file__).resolve().parents[2] / "data" / "toxicity" / "davidson_sample.csv"
    cfg = BuildConfig(
        davidson=dav,
        exclude=sample,
        wiki=wiki if wiki.is_file() else None,
        hatecheck=hc if hc.is_file() else None,
        seed=seed,
        target_precision=target_precision,
    )
    path = out or PACKAGED
    info = build(cfg, path)
    load.cache_clear()
    card = path.with_name("MODEL_CARD.md") if path == PACKAGED else path.with_suffix(".md")
    write_card(load(str(path)), info, card, cfg.hatecheck)
    stdout.print(
        f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) and {card} in {info['seconds']} s",
        highlight=False,
    )


@app.command("card")
def card_cmd() -> None:
    """Print the shipped model's card."""
    from curation.toxicity_model.model import PACKAGED
    from mixloom.progress import stdout

    stdout.print(PACKAGED.with_name("MODEL_CARD.md").read_text(), highlight=False, markup=False)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="toxicity-model")
