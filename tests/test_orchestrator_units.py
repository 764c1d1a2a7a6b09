"""The orchestrator and the run graph on three small registered stages (no curation or training): run order,
cache keys, why a stage re-runs, `--only`, `--force`, the checksum cache and the graph's errors. Fast, so the
mutation check (scripts/mutation.sh) can run it for every mutant of mixloom/orchestrator.py and graph.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mixloom import orchestrator
from mixloom.errors import RecipeError
from mixloom.graph import build_graph, expand, producer
from mixloom.layout import RunLayout
from mixloom.orchestrator import Checksums, plan, run_alone, run_recipe
from mixloom.plugins import STAGES
from mixloom.recipe import Recipe, load_recipe
from mixloom.stage import Section, Stage

PARAMS: dict[str, object] = {}  # each fake stage's "recipe section" (its cache key), set by the tests
READS: dict[str, list[str]] = {}
RAN: list[str] = []
SEEDS: list[int] = []  # the recipe seed each run saw
VALIDATED: list[str] = []


class Fake(Stage):
    """Writes `<stage dir>/out.txt` from what it read; its section and reads come from the dicts above."""

    def __init__(self, name: str):
        self.name = name

    def enabled(self, recipe: Recipe) -> bool:
        return self.name in PARAMS

    def section(self, recipe, layout):
        """Like a stage whose key covers a decision log in the run directory (e.g. review's)."""
        log = layout.root / f"{self.name}.decisions"
        return {
            "params": PARAMS[self.name],
            "seed": recipe.seed,
            "log": log.read_text() if log.exists() else "",
        }

    def reads(self, recipe: Recipe) -> list[str]:
        return list(READS.get(self.name, []))

    def validate(self, recipe: Recipe):
        VALIDATED.append(recipe.name)

    def run(self, recipe, layout):
        RAN.append(self.name)
        SEEDS.append(recipe.seed)
        out = layout.stage_dir(self.name)
        out.mkdir(parents=True, exist_ok=True)
        (out / "out.txt").write_text(f"{self.name} {PARAMS[self.name]}")
        print(f"library noise from {self.name}")  # goes to the stage's output.log, not the terminal
        return {"n": len(RAN)} if self.name != "zz.sink" else None

    def summary(self, result):
        return f"n={result['n']}" if result else ""

    def report(self, layout):
        out = layout.stage_dir(self.name) / "out.txt"
        if not out.exists():
            return []
        return [Section(f"Fake {self.name}", html=f"<p>{out.read_text()}</p>", markdown=f"{self.name} done")]


SINK, MID, SRC = Fake("zz.sink"), Fake("zz.mid"), Fake("zz.src")


@pytest.fixture
def fakes(tmp_path):
    """Register sink before its producers, so the order must come from what they read, not the registry."""
    for stage in (SINK, MID, SRC):
        STAGES.register(stage.name, f"{__name__}:{stage.name.split('.')[1].upper()}")
    (tmp_path / "a.txt").write_text("alpha")
    PARAMS.clear()
    PARAMS.update({"zz.src": 1, "zz.mid": 1, "zz.sink": 1})
    READS.clear()
    READS.update({"zz.mid": ["zz.src.out", "a.txt"], "zz.sink": ["zz.mid", "zz.src.out"]})
    RAN.clear()
    SEEDS.clear()
    VALIDATED.clear()
    yield tmp_path
    for stage in (SINK, MID, SRC):
        STAGES.unregister(stage.name)


def _recipe(tmp: Path, seed: int = 0) -> Recipe:
    p = tmp / "recipe.yaml"
    p.write_text(f"name: units\nseed: {seed}\noutput: {tmp / 'run'}\n")
    return load_recipe(p)


def _plan(tmp: Path, **kw) -> dict[str, orchestrator.Status]:
    return {s.name: s for s in plan(_recipe(tmp), **kw)}


def test_graph_orders_producers_first_and_splits_refs_from_files(fakes):
    nodes = build_graph(_recipe(fakes))
    assert [n.name for n in nodes] == ["zz.src", "zz.mid", "zz.sink"]
    mid, sink = nodes[1], nodes[2]
    assert mid.refs == ["zz.src.out"] and mid.deps == ["zz.src"] and mid.files == [fakes / "a.txt"]
    assert sink.deps == ["zz.mid", "zz.src"] and sink.files == []


def test_first_run_runs_everything_in_order_and_a_second_is_cached(fakes, capsys):
    before = _plan(fakes)
    assert [s.run for s in before.values()] == [True, True, True]
    assert {s.why for s in before.values()} == {"never ran"}
    assert before["zz.mid"].reads == ["zz.src.out", str(fakes / "a.txt")]
    assert len({s.key for s in before.values()}) == 3

    summary = run_recipe(_recipe(fakes))
    assert RAN == ["zz.src", "zz.mid", "zz.sink"]
    assert summary["zz.src"].startswith("ran in ") and summary["zz.src"].endswith(": n=1")
    assert summary["zz.mid"].endswith(": n=2") and ":" not in summary["zz.sink"]  # no summary line
    cap = capsys.readouterr()
    assert "never ran" in cap.err and "library noise" not in cap.out + cap.err
    layout = RunLayout(fakes / "run")
    assert "library noise from zz.mid" in (layout.stage_dir("zz.mid") / "output.log").read_text()
    state = json.loads(layout.state.read_text())
    assert {k: v["key"] for k, v in state.items() if k != "_files"} == {k: s.key for k, s in before.items()}
    assert state["zz.mid"]["parts"]["deps"] == {"zz.src": before["zz.src"].key}
    # the report and the data card hold each stage's section
    assert "<p>zz.mid 1</p>" in Path(summary["report"]).read_text()
    assert "zz.sink done" in layout.datacard.read_text()

    after = _plan(fakes)
    assert [(s.run, s.why) for s in after.values()] == [(False, "cached")] * 3
    assert {k: s.key for k, s in after.items()} == {k: s.key for k, s in before.items()}
    again = run_recipe(_recipe(fakes))
    assert [again[k] for k in ("zz.src", "zz.mid", "zz.sink")] == ["cached"] * 3
    assert RAN == ["zz.src", "zz.mid", "zz.sink"]


def test_a_changed_input_file_reruns_its_reader_and_what_reads_that(fakes):
    run_recipe(_recipe(fakes))
    (fakes / "a.txt").write_text("beta, longer")
    st = _plan(fakes)
    assert not st["zz.src"].run
    assert st["zz.mid"].why == "input changed: a.txt"
    assert st["zz.sink"].why == "reads zz.mid, which will run"
    RAN.clear()
    summary = run_recipe(_recipe(fakes))
    assert RAN == ["zz.mid", "zz.sink"] and summary["zz.src"] == "cached"


def test_a_changed_section_reruns_downstream_and_says_why(fakes):
    run_recipe(_recipe(fakes))
    PARAMS["zz.src"] = 2
    st = _plan(fakes)
    assert st["zz.src"].why == "its recipe section changed"
    assert st["zz.mid"].why == "reads zz.src, which will run"
    assert st["zz.sink"].why == "reads zz.mid, zz.src, which will run"
    RAN.clear()
    run_recipe(_recipe(fakes))
    assert RAN == ["zz.src", "zz.mid", "zz.sink"]
    assert (RunLayout(fakes / "run").stage_dir("zz.src") / "out.txt").read_text() == "zz.src 2"


def test_a_changed_seed_changes_every_key(fakes):
    run_recipe(_recipe(fakes))
    assert all(s.run for s in plan(_recipe(fakes, seed=5)))


def test_a_dependency_changed_elsewhere_is_named(fakes):
    """The upstream key differs from the one recorded, though upstream itself is cached (run with --only)."""
    run_recipe(_recipe(fakes))
    PARAMS["zz.src"] = 3
    run_recipe(_recipe(fakes), only=["zz.src"])
    st = _plan(fakes)
    assert not st["zz.src"].run
    assert st["zz.mid"].why == "reads zz.src, which changed"


def test_a_new_input_file_is_a_changed_set_of_files(fakes):
    run_recipe(_recipe(fakes))
    READS["zz.mid"] = [*READS["zz.mid"], "b.txt"]
    (fakes / "b.txt").write_text("b")
    assert _plan(fakes)["zz.mid"].why == "input changed: b.txt"
    READS["zz.mid"] = ["zz.src.out"]  # a file dropped: nothing changed in the rest, the set did
    assert _plan(fakes)["zz.mid"].why == "input changed: the set of input files"


def test_a_new_code_version_reruns_with_its_reason(fakes, monkeypatch):
    run_recipe(_recipe(fakes))
    monkeypatch.setattr(orchestrator, "code_version", lambda: "other")
    st = _plan(fakes)
    assert st["zz.src"].why == "the code version changed"
    assert st["zz.mid"].why == "reads zz.src, which will run"


def test_force_and_only(fakes):
    run_recipe(_recipe(fakes))
    assert {s.why for s in _plan(fakes, force=True).values()} == {"forced"}
    RAN.clear()
    summary = run_recipe(_recipe(fakes), force=True, only=["zz.mid"])
    assert RAN == ["zz.mid"]
    assert summary["zz.src"] == summary["zz.sink"] == "not selected"
    RAN.clear()
    run_recipe(_recipe(fakes), force=True, only=["zz"])  # a stage family by its first part
    assert RAN == ["zz.src", "zz.mid", "zz.sink"]


def test_nothing_selected_writes_no_data_card(fakes):
    summary = run_recipe(_recipe(fakes), only=["eval"])
    assert set(summary) == {"zz.src", "zz.mid", "zz.sink", "report"}
    assert not RunLayout(fakes / "run").datacard.exists()
    assert Path(summary["report"]).exists()


def test_plan_lists_at_most_three_files(fakes):
    for i in range(5):
        (fakes / f"f{i}.txt").write_text(str(i))
    READS["zz.src"] = [str(fakes / f"f{i}.txt") for i in range(5)]
    reads = _plan(fakes)["zz.src"].reads
    assert reads == [str(fakes / f"f{i}.txt") for i in range(3)] + ["… 2 more files"]
    READS["zz.src"] = READS["zz.src"][:4]
    assert _plan(fakes)["zz.src"].reads[3:] == ["… 1 more files"]
    READS["zz.src"] = READS["zz.src"][:3]
    assert _plan(fakes)["zz.src"].reads == [str(fakes / f"f{i}.txt") for i in range(3)]


def test_checksums_are_reused_while_size_and_mtime_hold(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(orchestrator, "file_checksum", lambda p: calls.append(p) or f"sum{len(calls)}")
    f = tmp_path / "x"
    f.write_text("1")
    known: dict[str, list] = {}
    c = Checksums(known)
    assert c(f) == "sum1" and c(f) == "sum1" and len(calls) == 1
    assert known[str(f)][:2] == [f.stat().st_size, f.stat().st_mtime_ns]
    f.write_text("22")
    assert c(f) == "sum2"
    st = f.stat()
    known[str(f)] = [st.st_size, st.st_mtime_ns + 1, "stale"]  # same size, other mtime
    assert c(f) == "sum3"


def test_a_cycle_and_an_unconfigured_producer_are_recipe_errors(fakes):
    READS["zz.src"] = ["zz.sink"]
    with pytest.raises(RecipeError, match="cycle") as e:
        build_graph(_recipe(fakes))
    assert "zz.src ← zz.sink" in str(e.value)
    READS["zz.src"] = []
    del PARAMS["zz.src"]
    with pytest.raises(RecipeError, match="'zz.src.out', which the stage 'zz.src' produces") as e:
        build_graph(_recipe(fakes))
    assert "add a `zz.src` section" in str(e.value)


def test_an_existing_path_wins_over_a_reference_and_self_reads_are_no_edge(fakes):
    (fakes / "zz.src.out").write_text("a file named like a reference")
    READS["zz.src"] = ["zz.src.cache", "a.txt"]  # its own output, then a file: both read, no self-edge
    nodes = {n.name: n for n in build_graph(_recipe(fakes))}
    assert nodes["zz.src"].files == [fakes / "a.txt"] and nodes["zz.src"].refs == []
    assert nodes["zz.mid"].files == [fakes / "zz.src.out", fakes / "a.txt"]
    assert nodes["zz.mid"].deps == [] and nodes["zz.src"].deps == []
    assert nodes["zz.sink"].deps == ["zz.mid"]


def test_producer_is_the_longest_registered_prefix():
    assert producer("train.sft.heldout") == "train.sft"
    assert producer("train.sft") == "train.sft"
    assert producer("curate.train") == "mix" and producer("mix.validation") == "mix"  # the older name
    assert producer("curate.curated") == "curate"
    assert producer("train.sftx") is None and producer("nothing") is None


def test_expand_globs_folders_and_missing_paths(tmp_path):
    (tmp_path / "d" / "sub").mkdir(parents=True)
    for name in ("d/b.txt", "d/a.txt", "d/sub/c.txt", "d/.hidden"):
        (tmp_path / name).write_text(name)
    r = _recipe(tmp_path)
    assert expand(r, "d") == [tmp_path / "d/a.txt", tmp_path / "d/b.txt", tmp_path / "d/sub/c.txt"]
    assert expand(r, "d/*.txt") == [tmp_path / "d/a.txt", tmp_path / "d/b.txt"]
    assert expand(r, "d/**/*.txt") == [tmp_path / "d/a.txt", tmp_path / "d/b.txt", tmp_path / "d/sub/c.txt"]
    assert expand(r, "d/*") == [tmp_path / "d/a.txt", tmp_path / "d/b.txt"]  # folders are not files
    assert expand(r, "d/a.txt") == [tmp_path / "d/a.txt"]
    assert expand(r, "missing.txt") == [] and expand(r, "missing/*.txt") == []


def test_run_alone_validates_then_runs_one_stage(fakes):
    path = fakes / "recipe.yaml"
    _recipe(fakes)
    stage, result, layout = run_alone(path, "zz.src")
    assert stage is SRC and result == {"n": 1} and layout.root == fakes / "run"
    assert VALIDATED == ["units"] and SEEDS == [0] and (fakes / "run" / "zz" / "src" / "out.txt").exists()
    assert run_alone(path, "zz.mid", out=fakes / "else")[2].root == fakes / "else"
    with pytest.raises(KeyError, match="unknown stage 'nope'"):
        run_alone(path, "nope")


def test_cli_plan_table_and_json(fakes, capsys):
    from mixloom.cli import main

    path = fakes / "recipe.yaml"
    _recipe(fakes)
    assert main(["plan", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"run graph of units ({fakes / 'run'})" in out
    assert "zz.src" in out and "will run: never ran" in out and "a.txt" in out
    assert main(["plan", str(path), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["zz.src", "zz.mid", "zz.sink"]
    assert rows[1]["reads"] == ["zz.src.out", str(fakes / "a.txt")] and rows[1]["why"] == "never ran"
    assert set(rows[0]) == {"name", "key", "reads", "run", "why"}


def test_cli_run_with_overrides_only_and_report(fakes, capsys, monkeypatch):
    from mixloom.cli import main

    monkeypatch.setenv("MIXLOOM_VERBOSE", "")  # records the variable so that --verbose is undone after
    monkeypatch.delenv("MIXLOOM_VERBOSE")
    path = fakes / "recipe.yaml"
    _recipe(fakes)
    assert main(["run", str(path), "--only", "zz.src", "--set", "seed=4"]) == 0
    err = capsys.readouterr().err
    assert "zz.src: ran in" in err and "zz.mid: not selected" in err and "report:" in err
    assert RAN == ["zz.src"]
    assert json.loads((fakes / "run" / ".mixloom-state.json").read_text())["zz.src"]["parts"]["section"]
    assert main(["plan", str(path), "--set", "seed=4", "--json"]) == 0
    assert [r["run"] for r in json.loads(capsys.readouterr().out)] == [False, True, True]
    assert main(["plan", str(path), "--json"]) == 0  # without the override the seed differs: all run
    assert [r["run"] for r in json.loads(capsys.readouterr().out)] == [True, True, True]
    assert main(["run", str(path), "--verbose", "--only", "zz.mid", "--out", str(fakes / "other")]) == 0
    assert os.environ.get("MIXLOOM_VERBOSE") == "1"
    assert (fakes / "other" / "zz" / "mid" / "out.txt").exists()
    capsys.readouterr()
    assert main(["report", str(fakes / "run"), "--out", str(fakes / "rep")]) == 0
    assert capsys.readouterr().out.strip() == str(fakes / "rep" / "index.html")
    assert "<p>zz.src 1</p>" in (fakes / "rep" / "index.html").read_text()


def test_cli_errors_are_one_line_with_exit_2(fakes, capsys):
    from mixloom.cli import main

    assert main([]) == 2
    assert "no command given; commands: " in capsys.readouterr().err
    assert main(["plan", str(fakes / "missing.yaml")]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "missing.yaml" in err and "Traceback" not in err
    assert main(["nosuchcommand"]) == 2
    assert "No such command 'nosuchcommand'" in capsys.readouterr().err
    assert main(["run", str(_recipe(fakes).path), "--set", "nokey"]) == 2
    assert "--set" in capsys.readouterr().err


def test_graph_errors_name_the_recipe_file_and_the_stage(fakes):
    recipe = _recipe(fakes)
    READS["zz.src"] = ["zz.sink"]
    with pytest.raises(RecipeError) as e:
        build_graph(recipe)
    assert str(e.value) == (
        f"{fakes / 'recipe.yaml'}: (stages): the stages read each other in a cycle: "
        "zz.sink ← zz.mid/zz.src, zz.mid ← zz.src, zz.src ← zz.sink"
    )
    READS["zz.src"] = []
    del PARAMS["zz.src"]
    with pytest.raises(RecipeError) as e:
        build_graph(_recipe(fakes))
    assert str(e.value) == (
        f"{fakes / 'recipe.yaml'}: zz.sink: reads 'zz.src.out', which the stage 'zz.src' produces, but this "
        "recipe does not configure it; fix: add a `zz.src` section or give a path instead of 'zz.src.out'"
    )


def test_a_run_directory_is_made_with_its_parents(fakes):
    summary = run_recipe(_recipe(fakes, seed=9), out=fakes / "deep" / "er" / "run")
    assert summary["zz.sink"].startswith("ran") and SEEDS == [9, 9, 9]
    assert (fakes / "deep" / "er" / "run" / ".mixloom-state.json").exists()


def test_what_a_run_prints_and_records(fakes, capsys):
    import re
    import time

    t0 = time.time()
    summary = run_recipe(_recipe(fakes), force=True)
    t1 = time.time()
    err = capsys.readouterr().err
    assert "zz.src … (forced)" in err and "zz.sink … (forced)" in err  # even where it never ran
    assert re.fullmatch(r"ran in \d+\.\ds", summary["zz.sink"]) and summary["zz.src"].endswith("s: n=1")
    state = json.loads((fakes / "run" / ".mixloom-state.json").read_text())
    for name in ("zz.src", "zz.mid", "zz.sink"):
        rec = state[name]
        assert isinstance(rec["seconds"], float) and 0 <= rec["seconds"] <= t1 - t0 + 0.01
        assert rec["seconds"] == round(rec["seconds"], 2) and t0 <= rec["finished"] <= t1
    run_recipe(_recipe(fakes))
    assert "zz.src: unchanged, cached" in capsys.readouterr().err
    (fakes / "run" / "zz.src.decisions").write_text("item 3: rejected")  # the run's own input changed
    assert _plan(fakes)["zz.src"].why == "its recipe section changed"
    run_recipe(_recipe(fakes))
    err = " ".join(capsys.readouterr().err.split())
    assert "zz.src … (its recipe section changed)" in err
    assert "zz.mid … (reads zz.src, which will run)" in err


def test_why_names_at_most_three_changed_files(fakes):
    files = [fakes / f"f{i}.txt" for i in range(5)]
    for f in files:
        f.write_text("old")
    READS["zz.src"] = [str(f) for f in files]
    run_recipe(_recipe(fakes))
    for f in files[:4]:
        f.write_text("new!")
    assert _plan(fakes)["zz.src"].why == "input changed: f0.txt, f1.txt, f2.txt"


def test_a_state_file_from_an_older_version_reads_as_changed(fakes):
    """Entries without `parts` (or without its `files`/`deps`) mean: rerun, with a reason, no crash."""
    run_recipe(_recipe(fakes))
    state_path = fakes / "run" / ".mixloom-state.json"
    good = json.loads(state_path.read_text())

    def plan_with(stage: str, drop: str | None):
        state = json.loads(json.dumps(good))
        state[stage]["key"] = "old"
        if drop is None:
            del state[stage]["parts"]
        else:
            del state[stage]["parts"][drop]
        state_path.write_text(json.dumps(state))
        return _plan(fakes)[stage].why

    assert plan_with("zz.src", None) == "its recipe section changed"
    assert plan_with("zz.mid", "files") == "input changed: a.txt"
    plan_with("zz.src", "files")  # a stage without files whose record lacks them: runs, no crash
    assert _plan(fakes)["zz.src"].run
    assert plan_with("zz.sink", "deps") == "reads zz.mid, zz.src, which changed"
    assert run_recipe(_recipe(fakes))["zz.sink"].startswith("ran")


def test_plan_reuses_the_runs_checksums_and_honours_out(fakes, monkeypatch):
    """`plan` on a large corpus must not re-read files whose size and mtime are unchanged."""
    other = fakes / "elsewhere"
    run_recipe(_recipe(fakes), out=other)
    calls = []
    real = orchestrator.file_checksum
    monkeypatch.setattr(orchestrator, "file_checksum", lambda p: calls.append(p) or real(p))
    assert [s.run for s in plan(_recipe(fakes), out=other)] == [False, False, False] and calls == []
    assert [s.run for s in plan(_recipe(fakes))] == [True, True, True]  # the recipe's own output: never ran
