"""`mixloom run` and `mixloom plan`: the recipe's stages in graph order, each skipped when its key is unchanged.

A stage's cache key hashes its own recipe section, the checksums of the files it reads, the keys of the stages
it reads from (see `mixloom.graph`) and the code version. So changing `train.sft` re-runs SFT and whatever reads
`train.sft` (DPO, GRPO, eval), and nothing upstream. Within a stage, finished shards, batches and checkpoints
are reused, so a killed run resumes where it stopped.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mixloom import storage
from mixloom.graph import Node, build_graph
from mixloom.layout import RunLayout
from mixloom.manifest import code_version, file_checksum, stable_hash, write_json_atomic
from mixloom.progress import console
from mixloom.recipe import Recipe
from mixloom.runlock import run_lock
from mixloom.stage_log import library_output_to


@dataclass
class Status:
    """What `plan` says of a stage: its key, whether it will run, and why."""

    name: str
    key: str
    reads: list[str]
    run: bool
    why: str


class Checksums:
    """File checksums, reused from the last run while a file's size and mtime are unchanged."""

    def __init__(self, known: dict[str, list]):
        self.known = known

    def __call__(self, path: Path) -> str:
        st = path.stat()
        entry = self.known.get(str(path))
        if entry and entry[0] == st.st_size and entry[1] == st.st_mtime_ns:
            return entry[2]
        digest = file_checksum(path)
        self.known[str(path)] = [st.st_size, st.st_mtime_ns, digest]
        return digest


def _read_state(layout: RunLayout) -> dict[str, Any]:
    return json.loads(layout.state.read_text()) if layout.state.exists() else {}


def _parts(
    node: Node, recipe: Recipe, layout: RunLayout, keys: dict[str, str], checksum: Checksums
) -> dict[str, Any]:
    return {
        "section": stable_hash(node.stage.section(recipe, layout)),
        "files": {str(f): checksum(f) for f in node.files},
        "deps": {d: keys[d] for d in node.deps},
        "code": code_version(),
    }


def _why(parts: dict[str, Any], old: dict[str, Any] | None, rerun: set[str]) -> str:
    """Why a stage will run: the first difference from its last successful run."""
    if old is None:
        return "never ran"
    prev = old.get("parts", {})
    if prev.get("section") != parts["section"]:
        return "its recipe section changed"
    changed = [f for f, c in parts["files"].items() if prev.get("files", {}).get(f) != c]
    if changed or set(prev.get("files", {})) != set(parts["files"]):
        names = [Path(f).name for f in changed] or ["the set of input files"]
        return f"input changed: {', '.join(names[:3])}"
    ups = [d for d in parts["deps"] if d in rerun or prev.get("deps", {}).get(d) != parts["deps"][d]]
    if ups:
        return f"reads {', '.join(ups)}, which " + ("will run" if set(ups) & rerun else "changed")
    if prev.get("code") != parts["code"]:
        return "the code version changed"
    return "forced"


def plan(recipe: Recipe, out: Path | None = None, force: bool = False) -> list[Status]:
    """Each stage in run order with its cache key and whether (and why) it would run now."""
    layout = RunLayout(recipe.output_dir(out))
    state = _read_state(layout)
    checksum = Checksums(state.get("_files", {}))
    keys: dict[str, str] = {}
    rerun: set[str] = set()
    out_list = []
    for node in build_graph(recipe):
        parts = _parts(node, recipe, layout, keys, checksum)
        key = keys[node.name] = stable_hash(parts)
        old = state.get(node.name)
        runs = force or old is None or old.get("key") != key
        why = "forced" if force else (_why(parts, old, rerun) if runs else "cached")
        if runs:
            rerun.add(node.name)
        reads = (
            node.refs
            + [str(f) for f in node.files][:3]
            + ([f"… {len(node.files) - 3} more files"] if len(node.files) > 3 else [])
        )
        out_list.append(Status(node.name, key, reads, runs, why))
    return out_list


def run_alone(recipe_path: Path, name: str, out: Path | None = None) -> tuple[Any, dict[str, Any], RunLayout]:
    """One registered stage on its own (the `mixloom annotate`-style commands): load the recipe, the stage's
    own checks, then its run; returns the stage, its result and the run layout."""
    from mixloom.plugins import STAGES
    from mixloom.recipe import load_recipe

    recipe = load_recipe(recipe_path)
    stage = STAGES.get(name)
    stage.validate(recipe)
    layout = RunLayout(recipe.output_dir(out))
    return stage, stage.run(recipe, layout), layout


def run_recipe(
    recipe: Recipe,
    out: Path | None = None,
    force: bool = False,
    only: list[str] | None = None,
    report: bool = True,
) -> dict[str, Any]:
    """Run every stage of the recipe (or `only` these), skipping those whose cache key is unchanged; then the
    data card and the HTML report (unless `report=False`).

    The run directory is locked for the whole run: a second `run` into it fails at once, naming the holder."""
    layout = RunLayout(recipe.output_dir(out))
    if storage.is_url(layout.root):  # only some stages read and write object storage: say so before work
        chosen = [
            n for n in build_graph(recipe) if not only or n.name in only or n.name.split(".")[0] in only
        ]
        if others := [n.name for n in chosen if not n.stage.object_storage]:
            storage.local_only(layout.root, f"stage(s) {', '.join(others)}")
    storage.makedirs(layout.root)
    with run_lock(layout.root):
        return _run(recipe, layout, force, only, report)


def _run(
    recipe: Recipe, layout: RunLayout, force: bool, only: list[str] | None, report: bool = True
) -> dict[str, Any]:
    state = _read_state(layout)
    checksum = Checksums(state.setdefault("_files", {}))
    keys: dict[str, str] = {}
    rerun: set[str] = set()
    summary: dict[str, Any] = {}
    for node in build_graph(recipe):
        parts = _parts(node, recipe, layout, keys, checksum)
        key = keys[node.name] = stable_hash(parts)
        if only and node.name not in only and node.name.split(".")[0] not in only:
            summary[node.name] = "not selected"
            continue
        old = state.get(node.name)
        if not force and old is not None and old.get("key") == key:
            console.print(f"[dim]{node.name}: unchanged, cached[/]", highlight=False)
            summary[node.name] = "cached"
            continue
        why = "forced" if force else _why(parts, old, rerun)
        rerun.add(node.name)
        console.print(f"[bold]{node.name}[/] … [dim]({why})[/]", highlight=False)
        t0 = time.perf_counter()
        with library_output_to(layout.stage_dir(node.name) / "output.log"):  # unless --verbose
            result = node.stage.run(recipe, layout) or {}
        seconds = time.perf_counter() - t0
        state[node.name] = {"key": key, "parts": parts, "seconds": round(seconds, 2), "finished": time.time()}
        write_json_atomic(layout.state, state)
        line = node.stage.summary(result)
        summary[node.name] = f"ran in {seconds:.1f}s" + (f": {line}" if line else "")
    if not report:
        return summary
    from mixloom.report import build_report, write_data_card

    if storage.is_url(layout.root):
        summary["report"] = "not built for a run in object storage (mixloom report needs a local copy)"
        return summary
    if layout.manifest.exists() or any(v != "not selected" for v in summary.values()):
        write_data_card(layout.root)
    summary["report"] = str(build_report(layout.root))
    return summary
