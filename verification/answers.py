"""Math answer extraction and equivalence: the verifier behind `math_cot`, `pal`, GRPO rewards and evaluation.

`check_math(completion, reference)` extracts the final answer of each side and compares them:
- extraction: `#### N`, the last `\\boxed{...}` (all boxes of that line, when several), "the answer is
  ...", and only when the reference is a plain number, the last number standing on its own (never
  digits inside a word or a LaTeX group: `AZYUK2A` has no number, `\\frac{10}{9}` is not 9). No
  extractable answer is a rejection with its reason, never a guess;
- plain numbers on both sides (integers, decimals, thousands separators, `a/b`, `\\frac{a}{b}`,
  percent, a trailing unit word): compared exactly (a relative tolerance for non-integers), in-process;
- everything else (LaTeX expressions, radicals, sets, intervals, tuples, equations, matrices, units,
  text answers): Math-Verify (`math_verify.parse` + `verify`, the checker of open-r1 and TRL's accuracy
  reward), in a long-lived worker process with its own memory cap, killed and restarted on a timeout,
  because parsing and simplifying adversarial input can take unbounded time and memory.
Why the worker and not a direct call: Math-Verify's timeouts use SIGALRM, which only works in the main
thread, and cannot stop a computation stuck in C; the worker's own main thread keeps them working, and
the caller's timeout kills what they cannot stop. Untrusted text is parsed, never evaluated.
"""

from __future__ import annotations

import atexit
import json
import re
import select
import subprocess
import sys
import threading
from dataclasses import dataclass
from fractions import Fraction

SYMBOLIC_TIMEOUT = 5.0
_NUM = r"-?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?|-?\.\d+"
# a number on its own: not part of a word, a LaTeX group (\frac{10}{9}), an exponent or a fraction's side
_LONE = re.compile(r"(?<![\w.{}\\^_/,])(-?\d+(?:,\d{3})*(?:\.\d+)?(?:/\d+)?)(?![\w{}^/]|\.\d|,\d)")


@dataclass
class Verdict:
    """Truthy when the answer is right; `reason` says why either way (kept as provenance)."""

    ok: bool
    reason: str
    predicted: str | None = None
    expected: str | None = None

    def __bool__(self) -> bool:
        return self.ok


# -- extraction -------------------------------------------------------------------------------
def boxes(text: str) -> list[tuple[int, str]]:
    """(position, content) of every \\boxed{...} / \\fbox{...}, braces matched."""
    out = []
    for m in re.finditer(r"\\(?:boxed|fbox)\s*\{", text):
        depth = 0
        for j in range(m.end() - 1, len(text)):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            if depth == 0:
                out.append((m.start(), text[m.end() : j].strip()))
                break
    return out


def _boxed(text: str) -> str | None:
    """The last box's content; several boxes on the last box's line are one answer (`2, 3`)."""
    found = boxes(text)
    if not found:
        return None
    line_start = text.rfind("\n", 0, found[-1][0]) + 1
    same_line = [c for pos, c in found if pos >= line_start]
    return ", ".join(same_line) if len(same_line) > 1 else found[-1][1]


_HASH = re.compile(r"####\s*([^\n]+)")
_SAYS = re.compile(
    r"(?:final answer|answer is)[:\s]*(?:is[:\s]*)?\$?\s*([^\n]+?)\s*\$?(?:\.\s|\.?$|\n)",
    re.IGNORECASE | re.MULTILINE,
)


def extract_answer(text: str, fallback_last_number: bool = True) -> tuple[str | None, str]:
    """(answer, how) from a solution text; `how` names the rule that found it ("none": nothing found)."""
    if m := _HASH.findall(text):
        return m[-1].strip(), "####"
    if (b := _boxed(text)) is not None:
        return b, "boxed"
    if m := _SAYS.findall(text):
        return m[-1].strip().strip("$").strip(), "the answer is"
    if fallback_last_number and (nums := _LONE.findall(text)):
        return nums[-1], "last number"
    return None, "none"


def final_answer(reference: str) -> str:
    """The answer a reference states: its `#### N` or last box, else the reference itself (a bare answer)."""
    found, _ = extract_answer(reference, fallback_last_number=False)
    return (found if found is not None else reference).strip()


# -- plain numbers (the fast path) ---------------------------------------------------------------
def normalize(ans: str) -> str:
    """Light clean-up for number detection and string comparison: no LaTeX spacing, dollars, \\text."""
    s = ans.strip()
    s = re.sub(r"\\(?:text|textnormal|textbf|mathrm|mbox)\{([^{}]*)\}", r"\1", s)
    s = re.sub(r"\\(?:left|right|!|,|;|:|\s)", "", s)
    s = s.replace("{,}", ",").replace("\\$", "").replace("$", "").replace("\\%", "%")
    s = s.replace("dfrac", "frac").replace("tfrac", "frac")
    s = s.rstrip(".").strip()
    return re.sub(r"^[a-zA-Z]\s*=\s*", "", s)  # "x = 5"


def to_number(ans: str) -> Fraction | None:
    """The answer as an exact number if it is a plain one (1,234 / 3.5 / -2/3 / \\frac{1}{2} / 50% /
    12 apples), else None (a tuple such as `(12,102)` is not a number)."""
    s = normalize(ans).rstrip("%").strip()
    if (m := re.fullmatch(r"(-?)\\frac\{(-?\d+)\}\{(-?\d+)\}", s)) or (
        m := re.fullmatch(r"(-?)\\frac(\d)(\d)", s)
    ):
        s = f"{m.group(1)}{m.group(2)}/{m.group(3)}"
    if m := re.fullmatch(
        r"(-?\d+(?:,\d{3})*(?:\.\d+)?|-?\d*\.\d+|-?\d+(?:\.\d+)?[eE][-+]?\d+)(?:\s*[A-Za-z][A-Za-z ]{0,20})?",
        s,
    ):
        s = m.group(1).replace(",", "")
    elif not re.fullmatch(r"-?\d+/-?\d+", s):
        return None
    try:
        return Fraction(s)
    except (ValueError, ZeroDivisionError):
        return None


def numbers_equal(a: Fraction, b: Fraction, rel: float = 1e-6) -> bool:
    """Exact for integers (a changed digit of a large count must fail); a relative tolerance otherwise,
    for rounded decimals such as 0.333333 against 1/3."""
    if a == b:
        return True
    if a.denominator == 1 and b.denominator == 1:
        return False
    return abs(a - b) <= rel * max(abs(a), abs(b))


# -- Math-Verify worker -----------------------------------------------------------------------------
_WORKER = r"""
import json, logging, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
logging.disable(logging.CRITICAL)
from math_verify import parse, verify
from math_verify.errors import TimeoutException
cache = {}
def boxed(s, t):
    if s not in cache:
        if len(cache) > 20000:
            cache.clear()
        cache[s] = parse("\\boxed{" + s + "}", parsing_timeout=t, raise_on_error=True)
    return cache[s]
sys.stdout.write("ready\n")
sys.stdout.flush()
for line in sys.stdin:
    pred, gold, t = json.loads(line)
    try:
        g, p = boxed(gold, t), boxed(pred, t)
        if not g:
            out = {"error": "reference not parsable"}
        elif not p:
            out = {"error": "answer not parsable"}
        else:
            out = {"eq": bool(verify(g, p, timeout_seconds=t, raise_on_error=True))}
    except TimeoutException:
        out = {"timeout": True}
    except Exception as e:
        out = {"error": type(e).__name__}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
"""


class _Worker:
    """One long-lived `python -c` process running Math-Verify; killed and restarted on a timeout.

    A plain subprocess (not multiprocessing) so callers need no `if __name__ == "__main__"` guard."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.lock = threading.Lock()

    def _start(self) -> subprocess.Popen:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-c", _WORKER],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            assert self.proc.stdout is not None
            if self.proc.stdout.readline().strip() != "ready":
                self._kill()
                raise RuntimeError("the math-verify worker did not start (is math-verify installed?)")
        return self.proc

    def _kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def equal(self, pred: str, gold: str, timeout: float) -> dict:
        with self.lock:
            proc = self._start()
            assert proc.stdin and proc.stdout
            try:
                proc.stdin.write(json.dumps([pred, gold, max(1, int(timeout))]) + "\n")
                proc.stdin.flush()
            except BrokenPipeError:
                self._kill()
                return {"error": "worker died"}
            ready, _, _ = select.select([proc.stdout], [], [], timeout + 1.0)
            line = proc.stdout.readline() if ready else ""
            if not line:
                self._kill()
                return {"timeout": True} if not ready else {"error": "worker died"}
            return json.loads(line)


_worker = _Worker()
atexit.register(_worker._kill)


def symbolic_equal(a: str, b: str, timeout: float = SYMBOLIC_TIMEOUT) -> tuple[bool | None, str]:
    """(equal, note) by Math-Verify, `a` the answer and `b` the reference; equal is None when the check
    could not be made (unparsable text, a timeout)."""
    res = _worker.equal(a, b, timeout)
    if res.get("timeout"):
        return None, f"math-verify timed out after {timeout:g} s"
    if "error" in res:
        return None, f"math-verify: {res['error']}"
    return res["eq"], "math-verify"


def _plain_text(s: str) -> str:
    return re.sub(r"\s+", "", normalize(s)).lower()


def answers_equal(pred: str, ref: str, timeout: float = SYMBOLIC_TIMEOUT) -> tuple[bool, str]:
    """(equal, method): plain numbers in-process, everything else by Math-Verify; when Math-Verify cannot
    read the reference, the two texts must agree after normalisation."""
    np_, nr = to_number(pred), to_number(ref)
    if np_ is not None and nr is not None:
        return numbers_equal(np_, nr), "numeric"
    eq, note = symbolic_equal(pred, ref, timeout)
    if eq is None and _plain_text(pred) == _plain_text(ref) and _plain_text(ref):
        return True, "string"
    return bool(eq), note


def check_math(completion: str, reference: str, timeout: float = SYMBOLIC_TIMEOUT) -> Verdict:
    """Does the completion's final answer equal the reference's? The reference is a solution (GSM8K
    `#### N`, MATH `\\boxed{}`) or a bare answer (MATH's `answer` field)."""
    expected = final_answer(reference)
    plain_reference = to_number(expected) is not None
    predicted, how = extract_answer(completion, fallback_last_number=plain_reference)
    if predicted is None or not predicted.strip():
        rules = "####, \\boxed{}, 'the answer is'" + (", a last number" if plain_reference else "")
        return Verdict(False, f"no final answer found (looked for {rules})", None, expected)
    ok, method = answers_equal(predicted, expected, timeout)
    rel = "==" if ok else "!="
    return Verdict(ok, f"{predicted!r} {rel} {expected!r} ({method}; answer via {how})", predicted, expected)
