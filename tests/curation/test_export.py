"""`mixloom export`: Hugging Face Parquet, JSONL and MDS shards that their own readers load, offline."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import types
from pathlib import Path

import polars as pl
import pytest

from curation.export import export_run
from curation.pipeline import curate
from mixloom.cli import main
from mixloom.errors import UserError
from mixloom.recipe import load_recipe
from tests.sources import FIQA, WIKI

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    import yaml

    tmp = tmp_path_factory.mktemp("export")
    data = {
        "name": "export",
        "base_dir": str(ROOT),
        "seed": 5,
        "sources": {"fiqa": FIQA, "wiki": WIKI},
        "steps": [{"dedup": {"method": "exact"}}],
        "mix": {"shares": {"financial": 0.5, "general": 0.5}, "max_epochs": 3},
        "splits": {"train": 0.9, "test": 0.1},
        "execution": {"shard_docs": 500},
    }
    (tmp / "r.yaml").write_text(yaml.safe_dump(data))
    curate(load_recipe(tmp / "r.yaml"), out=tmp / "run")
    return tmp / "run"


def _mix(run: Path, split: str) -> pl.DataFrame:
    return pl.read_parquet(run / "mix" / split)


def test_hf_export_loads_with_datasets_shuffled_with_default_columns(run, tmp_path):
    from datasets import load_dataset

    info = export_run(run, "hf", tmp_path / "hf")
    ds = load_dataset(str(tmp_path / "hf"))
    assert set(ds) == {"train", "test"}
    assert ds["train"].column_names == ["id", "text", "source", "domain"]
    mix = _mix(run, "train")
    assert ds["train"].num_rows == mix.height == info["rows"]["train"]
    assert sorted(ds["train"]["id"]) == sorted(mix["id"].to_list())  # same rows (repeats included) ...
    assert ds["train"]["id"][:50] != mix["id"].to_list()[:50]  # ... in a shuffled order
    again = export_run(run, "hf", tmp_path / "hf2")
    digest = [
        hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in (tmp_path / "hf" / "data").glob("train*")
    ]
    assert digest == [
        hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp_path / "hf2" / "data").glob("train*")
    ]
    assert again["rows"] == info["rows"]


def test_jsonl_export_for_trl_and_column_selection(run, tmp_path):
    from datasets import load_dataset

    export_run(run, "jsonl", tmp_path / "j", columns=["text", "tokens", "epoch"], splits=["train"])
    ds = load_dataset("json", data_files=str(tmp_path / "j" / "train.jsonl"), split="train")
    assert ds.column_names == ["text", "tokens", "epoch"] and ds.num_rows == _mix(run, "train").height
    every = export_run(run, "jsonl", tmp_path / "all", columns=["all"], splits=["test"])
    assert "meta" in every["columns"] and len(every["columns"]) > 6
    with pytest.raises(UserError, match="nope not in the (test|train) mix; available: id"):
        export_run(run, "jsonl", tmp_path / "bad", columns=["id", "nope"])
    with pytest.raises(UserError, match="--split dev"):
        export_run(run, "jsonl", tmp_path / "bad", splits=["dev"])


def _streaming():
    """mosaicml-streaming's reader, loaded from the venv or from `.bench/streaming` (see README: Export).

    Its top-level `streaming/__init__.py` imports torchvision (which this venv must not have: it breaks vLLM
    on CPU torch), so the package's `streaming.base` is loaded without that convenience __init__."""
    extra = ROOT / ".bench" / "streaming"
    if extra.exists() and str(extra) not in sys.path:
        sys.path.append(str(extra))
    spec = importlib.util.find_spec("streaming")
    if spec is None or spec.submodule_search_locations is None:
        pytest.skip(
            "mosaicml-streaming is not installed (pip install --no-deps --target .bench/streaming ...)"
        )
    if "streaming" not in sys.modules:
        pkg = types.ModuleType("streaming")
        pkg.__path__ = list(spec.submodule_search_locations)
        sys.modules["streaming"] = pkg
    from streaming.base import StreamingDataset

    return StreamingDataset


def test_mds_export_loads_with_streaming_dataset(run, tmp_path):
    StreamingDataset = _streaming()
    export_run(run, "mds", tmp_path / "mds", columns=["id", "text", "tokens"])
    import curation.io.mds as mds

    small = tmp_path / "small"  # several shards: sample offsets across shard boundaries
    mds.write_mds(_mix(run, "test").select("id", "text", "tokens"), small, size_limit=4096)
    assert len(list(small.glob("shard.*.mds"))) > 3
    every = export_run(
        run, "mds", tmp_path / "every", columns=["all"], splits=["test"]
    )  # scores, flags, meta
    full = StreamingDataset(local=str(tmp_path / "every"), split="test", shuffle=False, batch_size=1)
    assert set(full[0]) == set(every["columns"]) and len(full) == _mix(run, "test").height
    for local, split in ((tmp_path / "mds", "train"), (small, None)):
        ds = StreamingDataset(local=str(local), split=split, shuffle=False, batch_size=1)
        rows = [ds[i] for i in range(len(ds))]
        src = _mix(run, split or "test")
        assert len(rows) == src.height
        assert sorted(r["id"] for r in rows) == sorted(src["id"].to_list())
        by_id = dict(zip(src["id"], src["text"], strict=False))
        assert all(r["text"] == by_id[r["id"]] for r in rows)
        tokens = dict(zip(src["id"], src["tokens"], strict=False))
        assert all(int(r["tokens"]) == tokens[r["id"]] for r in rows)


def test_cli_export_and_errors(run, tmp_path, capsys):
    assert (
        main(["export", str(run), "--format", "jsonl", "--out", str(tmp_path / "c"), "--columns", "id,text"])
        == 0
    )
    assert (tmp_path / "c" / "train.jsonl").exists() and (tmp_path / "c" / "export.json").exists()
    assert main(["export", str(run), "--format", "csv"]) == 2
    assert main(["export", str(tmp_path), "--format", "hf"]) == 2
    assert (
        main(["export", str(run), "--push-to-hub", "me/data", "--out", str(tmp_path / "h")]) == 2
    )  # offline
    err = capsys.readouterr().err
    assert "HF_HUB_OFFLINE" in err and "Traceback" not in err
