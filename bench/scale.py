"""Benchmark: how curation scales with workers and corpus size, and where the memory is (driver vs workers).

The corpus is built at run time from the real text in ../shared/data (WikiText-2, FiQA posts, SemEval headlines,
repeated with variations: bench/scale_corpus.py). The recipe is read → normalize → length filter → exact dedup →
mix (two domains, `budget: max`) → splits, so every corpus-wide phase runs: the duplicate-id check, the dedup
reduce, the mix plan and the mix shuffle, and the accounting check. Each run is `mixloom curate` in a
subprocess; its process tree is sampled with psutil every 50 ms, and each process's peak RSS is kept:

  driver  the `mixloom curate` process itself
  worker  the largest peak of one worker process (local: spawned pool processes; ray: `ray::` workers)
  other   Ray's own processes (raylet, GCS, ...) and the resource tracker, summed at their peaks (short-lived
          forks of the driver before their exec are left out: they share the driver's pages)
  tree    the largest sum over the whole tree at one sample

Scaling efficiency of n workers = (docs/s with n workers) / (n × docs/s with 1 worker), per executor.

`--worker-limit 1.5GB` puts each worker process (and the driver, which runs tasks too), as soon as it is seen,
into its own cgroup (v1 memory controller under /sys/fs/cgroup/memory, charges moved with it) limited to that
size: a process over it is killed by the kernel and the run fails. Without a writable cgroup the limit is not enforced and the bench says so.

`--driver-growth` runs the same recipe on N and 8×N documents (2 workers, each executor) and prints the driver's peak
for both: the driver holds no per-document state, so it should not grow (the issue's bar: ≤ 5%).

Run:  python bench/scale.py                       (100 MB and 1 GB; 1 and 2 workers; local and ray)
      python bench/scale.py --sizes 100MB         (the small corpus only)
      python bench/scale.py --driver-growth 20MB  (driver peak at 20 MB and 160 MB of documents, local and ray;
                                                  the local driver runs tasks: its peak moves ±15 MB with the shards it runs)
      python bench/scale.py --sizes 1GB --workers 2 --executors local --worker-limit 1.5GB
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.proctree import TreeSampler  # noqa: E402
from bench.scale_corpus import DATA, available, build  # noqa: E402

CGROUP = Path("/sys/fs/cgroup/memory")


def parse_size(s: str) -> int:
    s = s.strip().upper().removesuffix("B")
    mult = {"K": 1e3, "M": 1e6, "G": 1e9}.get(s[-1:], 1)
    return int(float(s.rstrip("KMG")) * mult)


def _kind(cmdline: list[str]) -> str:
    text = " ".join(cmdline)
    ray_task = text.startswith("ray::") and not text.split()[0].endswith("Agent")  # agents are Ray's own
    if "multiprocessing.spawn" in text or "default_worker.py" in text or ray_task:
        return "worker"
    if (
        "mixloom.cli" in text
    ):  # a fork of the driver before its exec (git, a spawn): shares the driver's pages
        return "fork"
    return "other"


class Cgroups:
    """One memory cgroup (v1) per worker process, limited to `limit` bytes; removed at the end."""

    def __init__(self, limit: int):
        self.limit, self.groups, self.failed = limit, {}, []
        self.base = CGROUP / f"mixloom-bench-{os.getpid()}"

    @staticmethod
    def usable() -> bool:
        probe = CGROUP / f"mixloom-probe-{os.getpid()}"
        try:
            probe.mkdir()
            (probe / "memory.limit_in_bytes").write_text(str(1 << 30))
            probe.rmdir()
            return True
        except OSError:
            return False

    def add(self, pid: int) -> None:
        if pid in self.groups:
            return
        g = self.base / str(pid)
        try:
            g.mkdir(parents=True)
            with contextlib.suppress(OSError):  # not every kernel lets charges move: then from here on
                (g / "memory.move_charge_at_immigrate").write_text("3")
            (g / "memory.limit_in_bytes").write_text(str(self.limit))
            (g / "cgroup.procs").write_text(str(pid))
            self.groups[pid] = g
        except OSError as e:
            self.failed.append(f"{pid}: {e}")

    def report(self) -> dict:
        """Peak usage (RSS and page cache the worker charged) and limit hits per group."""
        peaks, hits = [], 0
        for g in self.groups.values():
            try:
                peaks.append(int((g / "memory.max_usage_in_bytes").read_text()))
                hits += int((g / "memory.failcnt").read_text())
            except OSError:
                pass
        return {
            "groups": len(self.groups),
            "max_usage_mb": max(peaks, default=0) / 2**20,
            "failcnt": hits,
            "failed": self.failed,
        }

    def remove(self) -> None:
        for g in list(self.groups.values()):
            for _ in range(50):
                try:
                    g.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)
        with contextlib.suppress(OSError):
            self.base.rmdir()


def measure(cmd: list[str], log: Path, env: dict, limit: int | None = None) -> dict:
    """Run `cmd`; wall seconds and peak RSS of the driver, the largest worker, Ray's processes and the tree."""

    groups = Cgroups(limit) if limit else None
    peaks: dict[int, tuple[str, int]] = {}

    def visit(proc, rss: int) -> None:
        kind = "driver" if proc.pid == p.pid else peaks.get(proc.pid, ("other",))[0]
        if kind == "other":  # again until it is a worker: just forked, it has its parent's cmdline
            kind = _kind(proc.cmdline())
        if groups and kind in ("worker", "driver"):  # the local driver runs tasks too
            groups.add(proc.pid)
        peaks[proc.pid] = (kind, max(rss, peaks.get(proc.pid, ("", 0))[1]))

    with log.open("w") as f:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        sampler = TreeSampler(p.pid, visit)
        sampler.start()
        rc = p.wait()
        wall = time.perf_counter() - t0
        tree_peak = sampler.stop()
    cg = groups.report() if groups else None
    if groups:
        groups.remove()
    if rc != 0:
        raise SystemExit(f"command failed ({rc}): {' '.join(cmd)}\n{log.read_text()[-3000:]}\ncgroups: {cg}")
    mb = 2**20
    return {
        "wall": wall,
        "driver_mb": max((v for k, v in peaks.values() if k == "driver"), default=0) / mb,
        "worker_mb": max((v for k, v in peaks.values() if k == "worker"), default=0) / mb,
        "workers_seen": sum(k == "worker" for k, _ in peaks.values()),
        "other_mb": sum(v for k, v in peaks.values() if k == "other") / mb,
        "tree_mb": tree_peak / mb,
        "cgroup": cg,
    }


def _corpus(path: Path, size: int) -> dict[str, int]:
    """Build the corpus, or reuse one built before with the same size (kept with --work)."""
    done = path / "built.json"
    if done.exists() and json.loads(done.read_text()).get("size") == size:
        return json.loads(done.read_text())
    info = build(path, size)
    done.write_text(json.dumps({**info, "size": size}))
    return info


def write_recipe(corpus: Path, work: Path, shard_docs: int) -> Path:
    import yaml

    src = {"format": "jsonl", "text": "text", "id": "id"}
    recipe = {
        "name": "bench-scale",
        "seed": 1,
        "sources": {
            "general": {"path": str(corpus / "general-*.jsonl"), "domain": "general", **src},
            "financial": {"path": str(corpus / "financial-*.jsonl"), "domain": "financial", **src},
        },
        "steps": [
            {"normalize": {}},
            {"sql": {"query": "length(text) >= 40", "reason": "short"}},
            {"dedup": {"method": "exact"}},
        ],
        "mix": {"budget": "max", "shares": {"general": 0.6, "financial": 0.4}, "max_epochs": 4},
        "splits": {"train": 0.98, "validation": 0.01, "test": 0.01},
        "execution": {"shard_docs": shard_docs},
    }
    path = work / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def run_curate(recipe: Path, out: Path, executor: str, workers: int, limit: int | None) -> dict:
    if out.exists():
        shutil.rmtree(out)
    cmd = [sys.executable, "-m", "mixloom.cli", "curate", str(recipe), "--out", str(out)]
    cmd += ["--executor", executor, "--workers", str(workers)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if workers == 1:  # inline: one Polars thread, so each worker uses one core
        env["POLARS_MAX_THREADS"] = "1"
    stats = measure(cmd, out.parent / f"log-{executor}-{workers}.txt", env, limit)
    m = json.loads((out / "manifest.json").read_text())
    stats["docs"] = m["read"]["records"]
    stats["kept"] = m["curated"]["docs"]
    stats["mix_docs"] = sum(s["docs"] for s in m["splits"].values())
    return stats


def digest(out: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    for p in sorted(out.rglob("*.parquet")):
        if "_work" not in p.parts:
            h.update(str(p.relative_to(out)).encode() + p.read_bytes())
    return h.hexdigest()[:16]


def table(rows: list[dict]) -> None:
    print(
        f"\n{'corpus':>7} {'executor':>8} {'workers':>7} {'docs':>9} {'seconds':>8} {'docs/s':>7} "
        f"{'scaling':>7} {'driver MB':>9} {'worker MB':>9} {'ray MB':>7} {'tree MB':>8} {'outputs':>16}"
    )
    base: dict[tuple, float] = {}
    for r in rows:
        rate = r["docs"] / r["wall"]
        key = (r["size"], r["executor"])
        if r["workers"] == 1:
            base[key] = rate
        eff = f"{rate / (r['workers'] * base[key]):.0%}" if key in base and r["workers"] > 1 else "-"
        print(
            f"{r['size']:>7} {r['executor']:>8} {r['workers']:>7} {r['docs']:>9,} {r['wall']:>8.1f} {rate:>7.0f} "
            f"{eff:>7} {r['driver_mb']:>9.0f} {r['worker_mb']:>9.0f} {r['other_mb']:>7.0f} {r['tree_mb']:>8.0f} "
            f"{r['digest']:>16}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description="curation throughput and memory vs workers and corpus size")
    ap.add_argument("--sizes", default="100MB,1GB", help="corpus sizes (default 100MB,1GB)")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--executors", default="local,ray")
    ap.add_argument(
        "--shard-docs", type=int, default=20_000, help="documents per shard (execution.shard_docs)"
    )
    ap.add_argument("--worker-limit", help="memory limit per worker process, e.g. 1.5GB (a cgroup each)")
    ap.add_argument("--driver-growth", help="size N: driver peak for N and 8×N of documents, 2 local workers")
    ap.add_argument("--work", type=Path, help="keep the work here (default: a temporary directory)")
    args = ap.parse_args()
    if not available():
        print(f"scale bench skipped: the real text it is built from is not at {DATA} (../shared/data)")
        return
    try:
        import psutil  # noqa: F401
    except ImportError:
        print("scale bench skipped: it samples memory with psutil (pip install psutil)")
        return
    limit = parse_size(args.worker_limit) if args.worker_limit else None
    if limit and not Cgroups.usable():
        print(f"note: {CGROUP} is not writable: --worker-limit is not enforced, peaks are only measured")
        limit = None
    tmp = None if args.work else tempfile.TemporaryDirectory(prefix="mixloom-scale-")
    work = args.work or Path(tmp.name)
    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (shared: timings are noisy)"
    )
    if args.driver_growth:
        n = parse_size(args.driver_growth)
        for ex in args.executors.split(","):
            got = []
            for size in (n, 8 * n):
                d = work / f"growth-{size}"
                info = _corpus(d / "corpus", size)
                r = run_curate(write_recipe(d / "corpus", d, args.shard_docs), d / "out", ex, 2, limit)
                got.append(r)
                print(
                    f"{ex:>5}, 2 workers, {info['docs']:>9,} docs ({size / 1e6:,.0f} MB): driver peak "
                    f"{r['driver_mb']:.0f} MB, largest worker {r['worker_mb']:.0f} MB, {r['wall']:.1f} s",
                    flush=True,
                )
                shutil.rmtree(d)
            growth = got[1]["driver_mb"] / got[0]["driver_mb"] - 1
            print(
                f"{ex:>5}: driver peak growth for 8x the documents: {growth:+.1%} (bar: <= +5%)", flush=True
            )
    else:
        rows = []
        for size_s in args.sizes.split(","):
            size = parse_size(size_s)
            d = work / f"corpus-{size_s}"
            t0 = time.perf_counter()
            info = _corpus(d / "corpus", size)
            print(
                f"{size_s}: {info['docs']:,} documents, {info['bytes'] / 1e6:,.0f} MB ({time.perf_counter() - t0:.0f} s to build)"
            )
            recipe = write_recipe(d / "corpus", d, args.shard_docs)
            for ex in args.executors.split(","):
                for w in map(int, args.workers.split(",")):
                    print(f"  running {ex} with {w} worker(s)", flush=True)
                    r = run_curate(recipe, d / f"out-{ex}-{w}", ex, w, limit)
                    r.update(size=size_s, executor=ex, workers=w, digest=digest(d / f"out-{ex}-{w}"))
                    if r["cgroup"]:
                        cg = r["cgroup"]
                        print(
                            f"    {cg['groups']} worker cgroups limited to {limit / 2**30:.2f} GiB: peak usage "
                            f"{cg['max_usage_mb']:.0f} MB (RSS + page cache), limit hits {cg['failcnt']}; completed"
                            + (f"; NOT limited: {cg['failed']}" if cg["failed"] else "")
                        )
                    rows.append(r)
                    shutil.rmtree(d / f"out-{ex}-{w}")
            if not args.work:
                shutil.rmtree(d)
        table(rows)
        same = all(len({r["digest"] for r in rows if r["size"] == s}) == 1 for s in {r["size"] for r in rows})
        print(f"\noutputs identical across executors and worker counts, per corpus: {same}")
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
