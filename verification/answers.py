"""Math answer extraction and equivalence: the verifier behind `math_cot` and `pal`.

`check_math(completion, reference)` extracts the final answer of each side (`#### N`, `\\boxed{...}`,
"The answer is ...", else the last number) and compares them: exactly as numbers first (fractions,
decimals, thousands separators, percent), then as normalised strings, then symbolically with sympy.
The symbolic step runs in a separate worker process with its own timeout and memory cap, because
simplification of adversarial input can take unbounded time, and only whitelisted tokens reach sympy.
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
def _boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} (or \\fbox{...}), braces matched."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    i = text.find("{", start)
    if i < 0:
        return None
    depth = 0
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1 : j].strip()
    return None


_HASH = re.compile(r"####\s*([^\n]+)")
_SAYS = re.compile(r"answer is[:\s]*\$?\s*([^\n]+?)(?:\.\s|\.?$|\n)", re.IGNORECASE | re.MULTILINE)


def extract_answer(text: str, fallback_last_number: bool = True) -> tuple[str | None, str]:
    """(answer, how) from a solution text; `how` names the rule that found it."""
    if m := _HASH.findall(text):
        return m[-1].strip(), "####"
    if (b := _boxed(text)) is not None:
        return b, "boxed"
    if m := _SAYS.findall(text):
        return m[-1].strip(), "the answer is"
    if fallback_last_number and (nums := re.findall(_NUM, text)):
        return nums[-1], "last number"
    return None, "none"


# -- comparison -------------------------------------------------------------------------------
def normalize(ans: str) -> str:
    s = ans.strip()
    s = re.sub(r"\\text\{([^}]*)\}", r"\1", s)
    s = re.sub(r"\\(?:left|right|!|,|;|:|\s)", "", s)
    s = (
        s.replace("\\$", "")
        .replace("$", "")
        .replace("\\%", "%")
        .replace("dfrac", "frac")
        .replace("tfrac", "frac")
    )
    s = re.sub(r"(?<=\d),(?=\d{3}\b)", "", s)  # thousands separators
    s = s.rstrip(".").strip()
    s = re.sub(r"^[a-zA-Z]\s*=\s*", "", s)  # "x = 5"
    return s


def to_number(ans: str) -> Fraction | None:
    """The answer as an exact number if it is one (1,234 / 3.5 / -2/3 / \\frac{1}{2} / 50% / 12 apples)."""
    s = normalize(ans).rstrip("%").strip()
    if m := re.fullmatch(r"\\frac\{(-?\d+)\}\{(-?\d+)\}", s):
        s = f"{m.group(1)}/{m.group(2)}"
    if not re.fullmatch(rf"(?:{_NUM})(?:/-?\d+)?", s):
        # a number followed by a unit word ("18 dollars"), nothing else
        m = re.fullmatch(rf"({_NUM})\s*[A-Za-z][A-Za-z ]{{0,20}}", s)
        if not m:
            return None
        s = m.group(1)
    try:
        return Fraction(s.replace(",", ""))
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


_SAFE = re.compile(r"^[\d\s+\-*/^().,a-zA-Z\\{}]*$")
_NAMES = {"sqrt", "pi", "frac", "cdot", "times", "exp", "log", "ln", "sin", "cos", "tan", "infty", "oo"}


def _to_sympy_text(s: str) -> str | None:
    """LaTeX-lite to sympy syntax, or None if anything outside a small whitelist appears."""
    if len(s) > 200 or not _SAFE.match(s) or "__" in s:
        return None
    words = set(re.findall(r"[A-Za-z]{2,}", s))
    if not words <= _NAMES:
        return None
    s = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", r"((\1)/(\2))", s)
    s = re.sub(r"\\sqrt\{([^{}]*)\}", r"sqrt(\1)", s)
    s = s.replace("\\cdot", "*").replace("\\times", "*").replace("\\pi", "pi").replace("\\infty", "oo")
    s = s.replace("\\", "").replace("{", "(").replace("}", ")").replace("^", "**").replace("ln", "log")
    return s


_WORKER = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
from sympy import simplify
from sympy.parsing.sympy_parser import parse_expr, standard_transformations, implicit_multiplication_application
tr = (*standard_transformations, implicit_multiplication_application)
for line in sys.stdin:
    a, b = json.loads(line)
    try:
        out = {"eq": bool(simplify(parse_expr(a, transformations=tr) - parse_expr(b, transformations=tr)) == 0)}
    except Exception as e:
        out = {"error": type(e).__name__}
    sys.stdout.write(json.dumps(out) + "\\n")
    sys.stdout.flush()
"""


class _SympyWorker:
    """One long-lived `python -c` process doing sympy checks; killed and restarted on a timeout.

    A plain subprocess (not multiprocessing) so callers need no `if __name__ == "__main__"` guard.
    """

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
        return self.proc

    def _kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def equal(self, a: str, b: str, timeout: float) -> dict:
        with self.lock:
            proc = self._start()
            assert proc.stdin and proc.stdout
            try:
                proc.stdin.write(json.dumps([a, b]) + "\n")
                proc.stdin.flush()
            except BrokenPipeError:
                self._kill()
                return {"error": "worker died"}
            ready, _, _ = select.select([proc.stdout], [], [], timeout)
            line = proc.stdout.readline() if ready else ""
            if not line:
                self._kill()
                return {"timeout": True} if not ready else {"error": "worker died"}
            return json.loads(line)


_worker = _SympyWorker()
atexit.register(_worker._kill)


def symbolic_equal(a: str, b: str, timeout: float = SYMBOLIC_TIMEOUT) -> tuple[bool | None, str]:
    """(equal, note); equal is None when the check could not be made (unsafe text, parse error, timeout)."""
    sa, sb = _to_sympy_text(normalize(a)), _to_sympy_text(normalize(b))
    if sa is None or sb is None:
        return None, "not a safe symbolic expression"
    res = _worker.equal(sa, sb, timeout)
    if res.get("timeout"):
        return None, f"symbolic check timed out after {timeout:g} s"
    if "error" in res:
        return None, f"symbolic parse failed: {res['error']}"
    return res["eq"], "symbolic"


def answers_equal(pred: str, ref: str, timeout: float = SYMBOLIC_TIMEOUT) -> tuple[bool, str]:
    np_, nr = to_number(pred), to_number(ref)
    if np_ is not None and nr is not None:
        return numbers_equal(np_, nr), "numeric"
    if normalize(pred).replace(" ", "").lower() == normalize(ref).replace(" ", "").lower():
        return True, "string"
    eq, note = symbolic_equal(pred, ref, timeout)
    return bool(eq), note


def check_math(completion: str, reference: str, timeout: float = SYMBOLIC_TIMEOUT) -> Verdict:
    """Does the completion's final answer equal the reference's? GSM8K `#### N` references work as is."""
    expected, _ = extract_answer(reference, fallback_last_number=False)
    if expected is None:
        expected = reference.strip()
    predicted, how = extract_answer(completion)
    if predicted is None:
        return Verdict(False, "no final answer found", None, expected)
    ok, method = answers_equal(predicted, expected, timeout)
    rel = "==" if ok else "!="
    return Verdict(ok, f"{predicted!r} {rel} {expected!r} ({method}; answer via {how})", predicted, expected)
