"""`mixloom tiny-model DIR`: a tiny random Llama and tokenizer for tests and examples (no download)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mixloom.errors import UserError


def register(app: typer.Typer) -> None:
    @app.command("tiny-model")
    def tiny_model_cmd(
        out: Annotated[Path, typer.Argument(help="directory to write the model to")],
        texts: Annotated[list[Path] | None, typer.Option(help="text files to train the tokenizer on")] = None,
        vocab_size: Annotated[int, typer.Option(min=300, help="tokenizer vocabulary size")] = 512,
        seed: Annotated[int, typer.Option(help="seed of the random weights")] = 0,
    ) -> None:
        """Write a tiny random Llama + byte-level BPE tokenizer (for tests and examples; no download)."""
        from mixloom.progress import console
        from mixloom.tiny import default_texts, make_tiny_model

        corpus = list(default_texts())
        for t in texts or []:
            if not t.is_file():
                raise UserError(f"--texts {t}: file not found")
            corpus += [
                ln for ln in t.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()
            ]
        path = make_tiny_model(out, corpus, vocab_size=vocab_size, seed=seed)
        console.print(f"tiny model written to {path}", highlight=False)
