"""Benchmark: mixloom curate vs datatrove 0.10.1, same corpus, same quality rules, same worker count.

mixloom runs `mixloom curate` on a recipe read → normalize → quality (gopher_quality, gopher_repetition, c4,
fineweb; published thresholds) → exact dedup → write (Parquet); with one worker it runs inline, limited to one
Polars thread, so that each side uses one core per worker. datatrove runs, in its own venv,
bench/datatrove_curate.py: JsonlReader → the same normalization (a formatter; datatrove has no built-in
equivalent) → GopherQuality → GopherRepetition → C4Quality → FineWebQuality → JsonlWriter + its 3-stage exact
dedup. Both get the same JSONL shards, built at run time from local text (bench/corpus.py). Each run is a
subprocess: wall time, CPU time (user+sys of the whole process tree) and peak memory (sum of the tree's RSS,
sampled) are its own, printed side by side per worker count with the speed ratio. The quality keep/reject
decisions of both are compared document by document.

C4 rewrites kept documents to their kept lines in datatrove, and FineWeb then judges the rewritten text; the
mixloom recipe turns on the same behaviour (`c4.remove_lines: true`) so both judge the same text.

Set up datatrove once:
  python -m venv .bench/venvs/datatrove
  .bench/venvs/datatrove/bin/pip install datatrove==0.10.1 "spacy>=3.8" regex orjson "xxhash<4" tokenizers

Run:  python bench/curate.py                 (100 MB, 1 and 2 workers)
      python bench/curate.py --mb 5          (a quick run; --docs N asks for at least N documents)
      python bench/curate.py --repeat 2      (the faster of two runs per configuration, on a busy machine)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.corpus import build_corpus  # noqa: E402
from bench.proctree import TreeSampler  # noqa: E402

DT_VENV = ROOT / ".bench" / "venvs" / "datatrove"
DT_SETUP = (
    "python -m venv .bench/venvs/datatrove && .bench/venvs/datatrove/bin/pip install "
    'datatrove==0.10.1 "spacy>=3.8" regex orjson "xxhash<4" tokenizers'
)
RULES = ["gopher_quality", "gopher_repetition", "c4", "fineweb"]
# datatrove's reasons → mixloom's categories (same checks, mixloom names them after its score columns)
DT_REASONS = {
    "gopher_short_doc": "few_words",
    "gopher_long_doc": "many_words",
    "gopher_below_avg_threshold": "mean_word_length",
    "gopher_above_avg_threshold": "mean_word_length",
    "gopher_too_many_hashes": "hash_ratio",
    "gopher_too_many_ellipsis": "ellipsis_ratio",
    "gopher_too_many_bullets": "bullet_lines",
    "gopher_too_many_end_ellipsis": "ellipsis_lines",
    "gopher_below_alpha_threshold": "alpha_words",
    "gopher_enough_stop_words": "stop_words",
    "too_few_sentences": "few_sentences",
    **{f"top_{n}_gram": f"top_{n}gram_frac" for n in (2, 3, 4)},
    **{f"duplicated_{n}_n_grams": f"dup_{n}gram_frac" for n in range(5, 11)},
}


def make_corpus(work: Path, mb: float, docs: int, shards: int) -> tuple[list[Path], int, int]:
    """Build the corpus and cut it into `shards` JSONL files (both tools parallelise over files)."""
    full = work / "corpus.jsonl"
    n_docs, n_bytes = build_corpus(full, min_bytes=int(mb * 1e6), min_docs=docs)
    (work / "shards").mkdir(exist_ok=True)
    out = [work / "shards" / f"part-{i}.jsonl" for i in range(shards)]
    files = [p.open("w", encoding="utf-8") for p in out]
    with full.open(encoding="utf-8") as f:  # streamed: the bench process stays small
        for i, line in enumerate(f):
            files[i * shards // n_docs].write(line)
    for fh in files:
        fh.close()
    full.unlink()
    return out, n_docs, n_bytes


def timed(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> dict:
    """Run `cmd`: wall seconds, CPU seconds and peak summed RSS of its whole process tree.

    The tree is sampled with psutil (every 50 ms): worker processes forked by a pool or a fork server are not
    always waited for by the command itself, so its rusage would miss them. Without psutil, rusage it is.
    """
    try:
        import psutil  # noqa: F401
    except ImportError:
        psutil = None
    cpu: dict[tuple[int, float], float] = {}

    def visit(proc, _rss: int) -> None:
        t = proc.cpu_times()
        cpu[(proc.pid, proc.create_time())] = t.user + t.system

    with log.open("w") as f:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        sampler = TreeSampler(p.pid, visit) if psutil else None
        if sampler:
            sampler.start()
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        peak = sampler.stop() if sampler else 0
        p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"command failed ({p.returncode}): {' '.join(cmd)}\n{log.read_text()[-3000:]}")
    own = ru.ru_utime + ru.ru_stime  # the command and the children it waited for, exactly
    return {
        "wall": wall,
        "cpu": max(own, sum(cpu.values())),
        # ru_maxrss starts from this process's size at fork, so it is only a fallback
        "peak_mb": peak / 2**20 if psutil else ru.ru_maxrss / 1024,
    }


def run_mixloom(shards: list[Path], work: Path, workers: int) -> tuple[dict, dict[str, str | None]]:
    import yaml

    recipe = {
        "name": "bench-curate",
        "seed": 0,
        "sources": {
            "corpus": {
                "path": str(shards[0].parent / "*.jsonl"),
                "format": "jsonl",
                "text": "text",
                "id": "id",
                "domain": "code",
            },
        },
        "steps": [
            {"normalize": {}},
            {"quality": {"rules": RULES, "overrides": {"c4.remove_lines": True}}},
            {"dedup": {"method": "exact"}},
        ],
        "execution": {"workers": workers},
        "output": str(work / "out"),
    }
    path = work / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    exe = Path(sys.executable).parent / "mixloom"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "mixloom.cli"]
    # one worker runs inline: one Polars thread, so each worker uses one core, as datatrove's do
    env = {**os.environ, "POLARS_MAX_THREADS": "1"} if workers == 1 else None
    if (work / "out").exists():
        shutil.rmtree(work / "out")
    stats = timed(
        [*cmd, "curate", str(path), "--out", str(work / "out"), "--workers", str(workers)],
        work / "log.txt",
        env,
    )
    import polars as pl

    decisions: dict[str, str | None] = {}
    rej = pl.read_parquet(sorted((work / "out" / "rejects").glob("*.parquet")))
    for doc_id, step, reason in rej.select("id", "step", "reason").iter_rows():
        decisions[doc_id.removeprefix("corpus/")] = reason if "quality" in step else f"{step}:{reason}"
    for f in sorted((work / "out" / "curated").glob("*.parquet")):
        for doc_id in pl.read_parquet(f, columns=["id"])["id"]:
            decisions[doc_id.removeprefix("corpus/")] = None
    manifest = json.loads((work / "out" / "manifest.json").read_text())
    stats["steps"] = _step_seconds(manifest)
    return stats, decisions


def _step_seconds(manifest: dict) -> dict[str, float]:
    """Seconds each step spent over all shards (worker time, summed), from the manifest's funnel."""
    return {st["step"]: float(st.get("seconds") or 0.0) for st in manifest.get("steps", [])}


def run_datatrove(shards: list[Path], work: Path, workers: int) -> tuple[dict, dict[str, str | None]]:
    py = DT_VENV / "bin" / "python"
    dec = work / "decisions.jsonl"
    cmd = [
        str(py),
        str(ROOT / "bench" / "datatrove_curate.py"),
        *map(str, shards),
        "--work",
        str(work / "dt"),
        "--workers",
        str(workers),
        "--normalize",
        "--decisions",
        str(dec),
    ]
    if (work / "dt").exists():
        shutil.rmtree(work / "dt")
    stats = timed(cmd, work / "log.txt")
    decisions = {}
    for line in dec.read_text().splitlines():
        d = json.loads(line)
        decisions[d["id"]] = d["reason"]
    return stats, decisions


def quality_decision(reason: str | None) -> str:
    """keep / reject by the quality rules / gone before them (empty after normalization)."""
    if reason is None or "dedup" in reason:  # kept by the quality rules, maybe dropped as a duplicate later
        return "keep"
    rule = reason.split(":", 1)[0]
    return "reject" if rule in RULES else "before"


def category(reason: str | None) -> str | None:
    """A datatrove or mixloom reason as `<rule set>:<mixloom check>`."""
    if reason is None or quality_decision(reason) != "reject":
        return None
    rule, _, what = reason.partition(":")
    return f"{rule}:{DT_REASONS.get(what, what)}"


def compare(ours: dict, theirs: dict, show: int) -> tuple[float, float, int, list[str]]:
    ids = sorted(set(ours) | set(theirs))
    both = [
        i
        for i in ids
        if quality_decision(ours.get(i, "x:before")) != "before"
        and quality_decision(theirs.get(i, "x:before")) != "before"
    ]
    agree = [i for i in both if quality_decision(ours[i]) == quality_decision(theirs[i])]
    rejected = [i for i in agree if quality_decision(ours[i]) == "reject"]
    same_reason = sum(category(ours[i]) == category(theirs[i]) for i in rejected)
    lines = []
    for i in [i for i in both if quality_decision(ours[i]) != quality_decision(theirs[i])][:show]:
        lines.append(f"    {i}: mixloom {ours[i] or 'kept'} | datatrove {theirs[i] or 'kept'}")
    return (
        len(agree) / max(len(both), 1),
        same_reason / max(len(rejected), 1),
        len(ids) - len(both),
        lines,
    )


def per_rule_agreement(shards: list[Path], work: Path, n: int) -> list[str]:
    """Each rule set on its own (no filter chain) on the first n documents: datatrove vs mixloom."""
    import polars as pl

    from curation.steps.normalize import Normalize
    from curation.steps.normalize import Params as NormParams
    from curation.steps.quality import Params, Quality

    ref = work / "independent.jsonl"
    cmd = [str(DT_VENV / "bin" / "python"), str(ROOT / "bench" / "datatrove_curate.py"), *map(str, shards)]
    cmd += [
        "--work",
        str(work / "independent"),
        "--normalize",
        "--independent",
        str(n),
        "--independent-out",
        str(ref),
    ]
    subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
    theirs = {d["id"]: d for d in map(json.loads, ref.read_text().splitlines())}
    docs = pl.concat([pl.read_ndjson(p) for p in shards]).filter(pl.col("id").is_in(list(theirs)))
    docs = Normalize(NormParams()).process(docs.with_columns(tokens=pl.lit(0, pl.Int64)))
    docs = docs.filter(pl.col("_reject").is_null()).drop("_reject")
    out = []
    for rule in RULES:
        ours = Quality(Params(rules=[rule])).process(docs)
        pairs = list(zip(ours["id"], ours["_reject"], strict=True))
        same = sum((r is None) == (theirs[i][rule] is None) for i, r in pairs)
        out.append(f"{rule} {same / len(pairs):.2%} ({len(pairs) - same} differ)")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description="mixloom curate vs datatrove on the same corpus and rules")
    ap.add_argument("--mb", type=float, default=100.0, help="corpus size in MB (default 100)")
    ap.add_argument("--docs", type=int, default=0, help="at least this many documents")
    ap.add_argument("--workers", default="1,2", help="worker counts to run (default 1,2)")
    ap.add_argument("--shards", type=int, default=4, help="JSONL files the corpus is cut into")
    ap.add_argument("--show", type=int, default=10, help="disagreements to list")
    ap.add_argument("--repeat", type=int, default=1, help="runs per configuration; the fastest counts")
    ap.add_argument("--independent", type=int, default=3000, help="documents for the per-rule-set check")
    ap.add_argument("--no-datatrove", action="store_true")
    ap.add_argument("--work", type=Path, help="keep the work here (default: a temporary directory)")
    args = ap.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    with_dt = not args.no_datatrove and (DT_VENV / "bin" / "python").exists()
    if not with_dt and not args.no_datatrove:
        print(f"datatrove skipped: no venv at {DT_VENV}. Create it with:\n  {DT_SETUP}\n")
    tmp = None if args.work else tempfile.TemporaryDirectory(prefix="mixloom-bench-")
    work = args.work or Path(tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    shards, n_docs, n_bytes = make_corpus(work, args.mb, args.docs, args.shards)
    mb = n_bytes / 1e6
    print(
        f"corpus: {n_docs:,} documents, {mb:.1f} MB of Python sources and /usr/share/doc text, "
        f"{len(shards)} JSONL shards; machine: {os.cpu_count()} CPUs (shared: timings are noisy)\n"
    )
    rows, results = [], {}
    for w in counts:
        for tool in ("mixloom", "datatrove") if with_dt else ("mixloom",):
            d = work / f"{tool}-{w}"
            d.mkdir(exist_ok=True)
            runs = []
            for r in range(args.repeat):
                print(
                    f"running {tool} with {w} worker(s)" + (f", run {r + 1}" if args.repeat > 1 else ""),
                    flush=True,
                )
                runs.append((run_mixloom if tool == "mixloom" else run_datatrove)(shards, d, w))
            stats, dec = min(runs, key=lambda x: x[0]["wall"])
            results[(tool, w)] = (stats, dec)
            rows.append((tool, w, stats))
    print(
        f"\n{'tool':<10} {'workers':>7} {'seconds':>8} {'docs/s':>8} {'MB/s':>6} {'CPU s':>7} "
        f"{'docs/CPU-s':>10} {'peak MB':>8}"
    )
    for tool, w, s in rows:
        print(
            f"{tool:<10} {w:>7} {s['wall']:>8.1f} {n_docs / s['wall']:>8.0f} {mb / s['wall']:>6.2f} "
            f"{s['cpu']:>7.1f} {n_docs / s['cpu']:>10.0f} {s['peak_mb']:>8.0f}"
        )
    if with_dt:
        print()
        for w in counts:
            (ms, md), (ds, dd) = results[("mixloom", w)], results[("datatrove", w)]
            agree, reason, skipped, lines = compare(md, dd, args.show)
            print(
                f"{w} worker(s): mixloom/datatrove docs/s = {ds['wall'] / ms['wall']:.2f}x "
                f"(per CPU second {ds['cpu'] / ms['cpu']:.2f}x); peak memory (process tree) mixloom "
                f"{ms['peak_mb']:.0f} MB, datatrove {ds['peak_mb']:.0f} MB: {ms['peak_mb'] / ds['peak_mb']:.2f}x "
                f"(bar: <= 1.2x); quality decisions agree on {agree:.3%} "
                f"of documents, same reason for {reason:.2%} of common rejects"
                + (f"; {skipped} emptied by normalization on either side" if skipped else "")
            )
            if lines:
                print("  first disagreements:\n" + "\n".join(lines))
        if args.independent:
            lines = per_rule_agreement(shards, work, args.independent)
            print(
                f"each rule set alone on the first {args.independent:,} documents, decisions agree: "
                + "; ".join(lines)
            )
    kinds = Counter(category(r) for r in results[("mixloom", counts[0])][1].values() if category(r))
    print("\nmixloom rejects by reason: " + ", ".join(f"{k} {v:,}" for k, v in kinds.most_common(8)))
    for w in counts:
        steps = results[("mixloom", w)][0]["steps"]
        print(
            f"mixloom step seconds ({w} worker(s), summed over shards): "
            + ", ".join(f"{k} {v:.1f}" for k, v in steps.items())
        )
    print(
        "\nEach side runs: mixloom — read JSONL, normalize (NFKC, control characters, whitespace), quality (4 rule"
        " sets in order, each scoring the documents still kept; C4 rewrites kept documents to their kept lines),"
        " exact dedup, write Parquet + rejects, manifest; one worker runs inline with one Polars thread.\n"
        "datatrove — JsonlReader, the same normalization as a formatter (datatrove has no equivalent), drop empty,"
        " GopherQuality, GopherRepetition, C4Quality, FineWebQuality (stop at the first failing filter),"
        " JsonlWriter, exact dedup (signatures, find duplicates, filter + write)."
    )
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
