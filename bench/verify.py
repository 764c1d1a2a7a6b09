"""Math answer checking throughput: `verification.answers.check_math` against Math-Verify called directly.

    python -m bench.verify                # the 500 MATH-500 pairs from ../shared/data/math500/test.jsonl
    python -m bench.verify --rounds 3

For each MATH-500 problem, two checks: the solution (its last `\\boxed{}`) against its own reference
answer, which must verify, and against another problem's answer, which must not. `check_math` runs
them with its plain-number fast path and its Math-Verify worker process (fresh, its parse cache empty);
"direct" is the usual in-process call, `verify(parse("\\boxed{answer}"), parse(solution))`, its SymPy
cache cleared before each round (our worker starts each round fresh, so both start cold). Prints
checks/s for both and the overhead (our seconds / direct seconds; the target is <= 1.2), in one run.
Falls back to the project's 70-problem sample, and says so, when ../shared is absent.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "math500" / "test.jsonl"
SAMPLE = ROOT / "data" / "math500" / "test_sample.jsonl"


def pairs(rows: list[dict]) -> list[tuple[str, str, bool]]:
    """(solution, reference answer, expected verdict): each problem right, and with another's answer."""
    from verification.answers import _plain_text

    out = []
    for i, r in enumerate(rows):
        j = (i + 1) % len(rows)
        while _plain_text(rows[j]["answer"]) == _plain_text(r["answer"]):
            j = (j + 1) % len(rows)
        out += [(r["solution"], r["answer"], True), (r["solution"], rows[j]["answer"], False)]
    return out


def ours(items: list[tuple[str, str, bool]]) -> tuple[float, list[bool], int]:
    from verification import answers

    answers._worker._kill()  # a fresh worker: nothing parsed yet
    answers.check_math("\\boxed{x+1}", "x+1")  # start-up is not a check
    t0 = time.perf_counter()
    verdicts = [answers.check_math(s, a) for s, a, _ in items]
    secs = time.perf_counter() - t0
    return secs, [bool(v) for v in verdicts], sum("(numeric;" in v.reason for v in verdicts)


def direct(items: list[tuple[str, str, bool]]) -> tuple[float, list[bool]]:
    from math_verify import parse, verify
    from sympy.core.cache import clear_cache

    clear_cache()  # as cold as our fresh worker: SymPy's caches would favour later rounds
    verify(parse("\\boxed{x+1}"), parse("$x+1$"))
    t0 = time.perf_counter()
    out = [bool(verify(parse("\\boxed{" + a + "}"), parse(s))) for s, a, _ in items]
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2, help="best of N rounds, each side")
    args = ap.parse_args()
    try:
        import math_verify  # noqa: F401
    except ImportError:
        raise SystemExit("skipped: math-verify is not installed (pip install math-verify)") from None
    path = SHARED if SHARED.exists() else SAMPLE
    if path == SAMPLE:
        print(f"note: {SHARED} is absent; using the project's sample {SAMPLE.relative_to(ROOT)}")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    items = pairs(rows)
    expected = [e for _, _, e in items]
    best_ours = best_direct = float("inf")
    for _ in range(args.rounds):
        secs, got, numeric = ours(items)
        best_ours = min(best_ours, secs)
        dsecs, dgot = direct(items)
        best_direct = min(best_direct, dsecs)
    wrong = [i for i, (g, e) in enumerate(zip(got, expected, strict=True)) if g != e]
    dwrong = [i for i, (g, e) in enumerate(zip(dgot, expected, strict=True)) if g != e]
    n = len(items)
    print(
        f"{len(rows)} problems, {n} checks ({n // 2} own answers, {n // 2} perturbed); best of {args.rounds}"
    )
    print(f"{'checker':<28}{'seconds':>9}{'checks/s':>10}{'wrong':>7}")
    print(f"{'check_math (ours)':<28}{best_ours:>9.2f}{n / best_ours:>10.1f}{len(wrong):>7}")
    print(f"{'math-verify direct':<28}{best_direct:>9.2f}{n / best_direct:>10.1f}{len(dwrong):>7}")
    print(
        f"overhead (ours / direct): {best_ours / best_direct:.2f}x (target <= 1.2x); fast path took {numeric} checks"
    )
    own_ok = sum(got[0::2])
    print(
        f"own answers verified: {own_ok}/{n // 2}; perturbed answers rejected: {n // 2 - sum(got[1::2])}/{n // 2}"
    )


if __name__ == "__main__":
    main()
