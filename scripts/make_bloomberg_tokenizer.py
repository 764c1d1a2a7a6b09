"""Train the byte-level BPE that `recipes/bloomberg_style.yaml` counts its mix in (data/tokenizers/bloomberg-bpe-8k).

The recipe's curated documents (curated with `mix.tokenizer: approx`, so this does not depend on itself) are
the training text, and the trainer is the project's own (`training.tokenizer.train_tokenizer`), so the mix is
measured in the tokens a model trained by mixloom on this data would see. Deterministic: rerunning it writes
the same files.

    PYTHONPATH=. .venv/bin/python scripts/make_bloomberg_tokenizer.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "data" / "tokenizers" / "bloomberg-bpe-8k"


def main() -> int:
    import pyarrow.parquet as pq

    from curation.pipeline import curate
    from mixloom.recipe import load_recipe
    from training.tokenizer import train_tokenizer

    recipe = load_recipe(ROOT / "recipes" / "bloomberg_style.yaml")
    recipe = recipe.model_copy(update={"mix": recipe.mix.model_copy(update={"tokenizer": "approx"})})
    with tempfile.TemporaryDirectory() as tmp:
        curate(recipe, out=Path(tmp))
        files = sorted((Path(tmp) / "curated").glob("*.parquet"))
        texts = [t for f in files for t in pq.read_table(f, columns=["text"]).column(0).to_pylist() if t]
    tok = train_tokenizer(iter([texts]), vocab_size=8192, min_frequency=2)
    OUT.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(OUT)
    print(f"{OUT}: vocabulary {len(tok)}, trained on {len(texts)} curated documents")
    return 0


if __name__ == "__main__":
    sys.exit(main())
