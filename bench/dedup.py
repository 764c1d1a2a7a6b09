"""Near-duplicate detection benchmark: mixloom's MinHash step against a plain datasketch loop, datatrove and
text-dedup, on one corpus of real local text with planted near-duplicates, measured in the same run.

    .venv/bin/python bench/dedup.py                       # 50k documents + 10% planted copies
    .venv/bin/python bench/dedup.py --docs 20000 --tools mixloom,datasketch
    .venv/bin/python bench/dedup.py --scale 50000,100000,200000,400000   # time and memory as the corpus grows

Each tool runs in its own process; the table shows its seconds (after imports), documents/s, peak memory
(resident memory summed over its process tree, sampled every 50 ms) and the quality of its duplicate pairs
against exact Jaccard similarity (lowercased word 5-grams): a reported pair is (removed document, the
document kept in its cluster); the truth is every planted or reported pair whose exact Jaccard is at least
the threshold; recall counts a true pair found when both documents land in one cluster.

datatrove 0.10.1 and text-dedup 0.4 run from their own venvs under .bench/venvs/ (skipped when absent):
    python3 -m venv .bench/venvs/datatrove && .bench/venvs/datatrove/bin/pip install "datatrove==0.10.1" \\
        tokenizers orjson spacy regex "xxhash<4"
    python3 -m venv .bench/venvs/text-dedup && .bench/venvs/text-dedup/bin/pip install "text-dedup==0.4.0"
They get datasketch's balanced LSH parameters for the threshold (what MinHashLSH and text-dedup choose);
mixloom chooses recall-weighted bands and verifies candidates exactly.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import dedup_corpus  # noqa: E402

WORK = ROOT / ".bench" / "dedup"
VENVS = ROOT / ".bench" / "venvs"
PAGE = os.sysconf("SC_PAGE_SIZE")


# --- memory of a process tree ------------------------------------------------------------------------------


def _tree_rss(root: int) -> int:
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(d))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        with contextlib.suppress(OSError):  # the process may have exited meanwhile
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        todo += children.get(pid, [])
    return total


def run_measured(cmd: list[str], log: Path) -> tuple[float, int, int]:
    """Run `cmd`; returns (wall seconds, peak tree RSS in bytes, exit code)."""
    peak = [0]
    with log.open("w") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "MIXLOOM_QUIET": "1", "PYTHONUNBUFFERED": "1"},
        )

        def sample() -> None:
            while proc.poll() is None:
                peak[0] = max(peak[0], _tree_rss(proc.pid))
                time.sleep(0.05)

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        code = proc.wait()
        th.join()
        return time.perf_counter() - t0, peak[0], code


# --- tools -------------------------------------------------------------------------------------------------


def tool_command(
    tool: str, workers: int, corpus: Path, out: Path, a, bands: tuple[int, int]
) -> list[str] | None:
    common = ["--workers", str(workers)]
    if tool in ("mixloom", "mixloom-step", "datasketch"):
        return [
            sys.executable,
            "bench/dedup_run.py",
            tool,
            str(corpus),
            str(out),
            *common,
            "--threshold",
            str(a.threshold),
            "--num-perm",
            str(a.num_perm),
            "--ngram",
            str(a.ngram),
        ]
    py = VENVS / tool / "bin" / "python"
    if not py.exists():
        return None
    if tool == "datatrove":
        return [
            str(py),
            "bench/dedup_datatrove.py",
            str(corpus),
            str(out),
            *common,
            "--buckets",
            str(bands[0]),
            "--rows",
            str(bands[1]),
            "--ngram",
            str(a.ngram),
        ]
    return [
        str(py),
        "bench/dedup_textdedup.py",
        str(corpus),
        str(out),
        *common,
        "--threshold",
        str(a.threshold),
        "--num-perm",
        str(a.num_perm),
        "--ngram",
        str(a.ngram),
    ]


def load_clusters(out: Path) -> tuple[dict[str, str], set[str]]:
    cluster, removed = {}, set()
    for line in (out / "clusters.jsonl").open():
        d = json.loads(line)
        cluster[d["id"]] = d["cluster"]
        if d["removed"]:
            removed.add(d["id"])
    return cluster, removed


def reported_pairs(cluster: dict[str, str], removed: set[str]) -> set[tuple[str, str]]:
    """(removed document, the kept document of its cluster) pairs, each sorted."""
    members: dict[str, list[str]] = {}
    for i, c in cluster.items():
        members.setdefault(c, []).append(i)
    pairs = set()
    for ms in members.values():
        kept = sorted(m for m in ms if m not in removed) or sorted(ms)
        for m in ms:
            if m in removed and m != kept[0]:
                pairs.add(tuple(sorted((m, kept[0]))))
    return pairs


# --- quality -----------------------------------------------------------------------------------------------


def exact_jaccard(
    pairs: set[tuple[str, str]], texts: dict[str, str], ngram: int
) -> dict[tuple[str, str], float]:
    from curation.minhash import text as tx

    ids = sorted({i for p in pairs for i in p})
    sets: dict[str, np.ndarray] = {}
    for s in range(0, len(ids), 5000):
        chunk = ids[s : s + 5000]
        doc, h = tx.word_ngram_hashes(tx.tokenize([texts[i] for i in chunk]), ngram)
        bounds = np.searchsorted(doc, np.arange(len(chunk) + 1))
        for k, i in enumerate(chunk):
            sets[i] = np.unique(h[bounds[k] : bounds[k + 1]])
    out = {}
    for a, b in pairs:
        x, y = sets[a], sets[b]
        inter = len(np.intersect1d(x, y, assume_unique=True))
        union = len(x) + len(y) - inter
        out[(a, b)] = inter / union if union else 1.0
    return out


def evaluate(runs: dict[str, Path], corpus: Path, threshold: float, ngram: int) -> dict[str, dict]:
    texts = dedup_corpus.load_texts(corpus)
    planted = {tuple(sorted((p["original"], p["copy"]))) for p in dedup_corpus.load_planted(corpus)}
    clusters = {k: load_clusters(v) for k, v in runs.items()}
    reported = {k: reported_pairs(*c) for k, c in clusters.items()}
    pool = set(planted).union(*reported.values()) if reported else set(planted)
    jac = exact_jaccard(pool, texts, ngram)
    truth = {p for p in pool if jac[p] >= threshold}
    planted_truth = truth & planted
    res = {}
    for k, (cluster, _) in clusters.items():
        same = {p for p in truth if p[0] in cluster and cluster[p[0]] == cluster.get(p[1])}
        rep = reported[k]
        res[k] = {
            "pairs": len(rep),
            "precision": sum(jac[p] >= threshold for p in rep) / len(rep) if rep else float("nan"),
            "recall": len(same) / len(truth) if truth else float("nan"),
            "recall_planted": len(same & planted_truth) / len(planted_truth)
            if planted_truth
            else float("nan"),
        }
    res["_truth"] = {"true_pairs": len(truth), "planted_true": len(planted_truth), "planted": len(planted)}
    return res


# --- main --------------------------------------------------------------------------------------------------


def run_tools(plan: list[tuple[str, int]], corpus: Path, meta: dict, a, tag: str) -> tuple[list[dict], dict]:
    """Run the plan `a.repeat` times, round-robin (so load from other work hits every tool alike); keep
    each tool's fastest run and its highest peak memory."""
    best: dict[str, dict] = {}
    runs: dict[str, Path] = {}
    for r in range(a.repeat):
        rows, rruns = _run_once(plan, corpus, meta, a, f"{tag}/round{r}")
        for row in rows:
            old = best.get(row["tool"])
            if old is None or row["seconds"] < old["seconds"]:
                best[row["tool"]] = {**row, "peak_mb": max(row["peak_mb"], old["peak_mb"] if old else 0)}
                runs[row["tool"]] = rruns[row["tool"]]
            else:
                old["peak_mb"] = max(old["peak_mb"], row["peak_mb"])
    return list(best.values()), runs


def _run_once(plan: list[tuple[str, int]], corpus: Path, meta: dict, a, tag: str) -> tuple[list[dict], dict]:
    from datasketch.lsh import _optimal_param

    bands = _optimal_param(a.threshold, a.num_perm, 0.5, 0.5)
    rows, runs = [], {}
    for tool, workers in plan:
        out = WORK / "runs" / tag / f"{tool}-{workers}"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        cmd = tool_command(tool, workers, corpus, out, a, bands)
        if cmd is None:
            print(f"  {tool}: skipped (no venv at {VENVS / tool}; see `bench/dedup.py --help`)", flush=True)
            continue
        print(f"  running {tool} on {workers} worker(s) ...", flush=True)
        wall, peak, code = run_measured(cmd, out / "log.txt")
        if code != 0 or not (out / "result.json").exists():
            print(f"  {tool}: failed (exit {code}); last lines of {out / 'log.txt'}:")
            print("    " + "\n    ".join((out / "log.txt").read_text().splitlines()[-8:]))
            continue
        sec = json.loads((out / "result.json").read_text())["seconds"]
        for p in out.iterdir():  # keep the clusters and the log, not the tool's (large) outputs
            if p.name not in ("clusters.jsonl", "result.json", "log.txt"):
                shutil.rmtree(p) if p.is_dir() else p.unlink()
        label = f"{tool} x{workers}"
        runs[label] = out
        rows.append(
            {
                "tool": label,
                "seconds": sec,
                "wall": wall,
                "docs_s": meta["docs"] / sec,
                "peak_mb": peak / 2**20,
            }
        )
    return rows, runs


def print_table(rows: list[dict], quality: dict[str, dict]) -> None:
    hdr = (
        f"{'tool':<18}{'seconds':>9}{'process s':>11}{'docs/s':>9}{'peak MB':>9}{'pairs':>8}"
        f"{'precision':>11}{'recall':>8}{'planted':>9}"
    )
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        q = quality.get(r["tool"], {})
        print(
            f"{r['tool']:<18}{r['seconds']:>9.1f}{r['wall']:>11.1f}{r['docs_s']:>9.0f}{r['peak_mb']:>9.0f}"
            f"{q.get('pairs', 0):>8}{q.get('precision', float('nan')):>11.3f}"
            f"{q.get('recall', float('nan')):>8.3f}"
            f"{q.get('recall_planted', float('nan')):>9.3f}"
        )


def compare(rows: list[dict]) -> None:
    by = {r["tool"]: r["seconds"] for r in rows}
    ours = by.get("mixloom x2")
    if ours is None:
        return
    for other, target in (("datasketch x1", 3), ("text-dedup x2", 4), ("datatrove x2", 9)):
        if other in by:
            ratio = by[other] / ours
            print(
                f"mixloom x2 vs {other:<14}: {ratio:5.1f}x faster "
                f"(target >= {target}x: {'met' if ratio >= target else 'NOT met'})"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=50_000, help="distinct documents before planting")
    ap.add_argument(
        "--copies", type=float, default=0.1, help="planted near-duplicates, as a fraction of --docs"
    )
    ap.add_argument("--tools", default="mixloom,mixloom-step,datasketch,datatrove,text-dedup")
    ap.add_argument("--workers", default="1,2", help="worker counts for mixloom")
    ap.add_argument("--ext-workers", type=int, default=2, help="workers for datatrove and text-dedup")
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--num-perm", type=int, default=128)
    ap.add_argument("--ngram", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=1, help="rounds over all tools; the fastest run counts")
    ap.add_argument("--scale", default="", help="comma-separated corpus sizes: mixloom only, time and memory")
    a = ap.parse_args()
    tools = a.tools.split(",")
    workers = [int(w) for w in a.workers.split(",")]
    print(f"machine: {os.cpu_count()} cores; timings are noisy when the machine is shared", flush=True)

    if a.scale:
        rows_all = []
        for n in [int(x) for x in a.scale.split(",")]:
            corpus = WORK / f"corpus-{n}"
            meta = dedup_corpus.build(n, corpus, a.copies)
            print(f"corpus {n}: {meta['docs']} documents, {meta['bytes'] / 1e6:.0f} MB", flush=True)
            plan = [(t, max(workers)) for t in tools if t in ("mixloom", "mixloom-step")]
            rows, _ = run_tools(plan, corpus, meta, a, f"scale-{n}")
            rows_all += [{**r, "docs": meta["docs"]} for r in rows]
        print(f"\n{'tool':<18}{'docs':>9}{'seconds':>9}{'us/doc':>8}{'docs/s':>9}{'peak MB':>9}")
        for r in rows_all:
            print(
                f"{r['tool']:<18}{r['docs']:>9}{r['seconds']:>9.1f}{1e6 * r['seconds'] / r['docs']:>8.0f}"
                f"{r['docs_s']:>9.0f}{r['peak_mb']:>9.0f}"
            )
        return

    corpus = WORK / f"corpus-{a.docs}"
    meta = dedup_corpus.build(a.docs, corpus, a.copies)
    print(
        f"corpus: {meta['docs']} documents ({meta['planted']} planted copies), "
        f"{meta['bytes'] / 1e6:.0f} MB of text",
        flush=True,
    )
    plan = [(t, w) for t in ("mixloom", "mixloom-step") if t in tools for w in workers]
    plan += [("datasketch", 1)] if "datasketch" in tools else []
    plan += [(t, a.ext_workers) for t in ("datatrove", "text-dedup") if t in tools]
    rows, runs = run_tools(plan, corpus, meta, a, str(a.docs))
    quality = evaluate(runs, corpus, a.threshold, a.ngram)
    truth = quality.pop("_truth")
    print(
        f"\nthreshold {a.threshold}, {a.num_perm} permutations, {a.ngram}-gram words; "
        f"{truth['true_pairs']} true pairs "
        f"(exact Jaccard >= {a.threshold}) among planted and reported pairs, {truth['planted_true']} of "
        f"{truth['planted']} planted pairs\n"
    )
    print_table(rows, quality)
    print()
    compare(rows)


if __name__ == "__main__":
    main()
