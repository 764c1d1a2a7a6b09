"""Process check for chain-of-thought: recompute the arithmetic a solution claims on the way.

A right final answer reached through a false equation is a sample a model should not learn from. The
claims read here are GSM8K's calculator annotations (`<<48/2=24>>`) and inline equations of numbers
(`48 / 2 = 24`, `3 × 4 = 12`, `5 + 7 + 1 = 13`, `$12 * 3 = $36`) that stand whole: one whose left
side continues a longer expression (`60 students x 2/3 = 40`, `M + 4 + 2 = 8`) or whose right side goes
on (`= 1/4`, `= 16 + 20`, `= 3 1/2`, `= 50 cents`) is not read, because its meaning is not certain. Each left side is evaluated exactly
(fractions, Python's operator precedence) by a small arithmetic evaluator over the parsed AST, never by
`eval`; the claim holds when the stated result equals it, or equals it rounded or truncated to the
stated number of decimals (`<<10/3=3.33>>`). Anything that is not plain arithmetic is skipped.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from fractions import Fraction

_ANNOTATION = re.compile(r"<<([^<>=]+)=([^<>]+)>>")
_N = r"\$?\d[\d,]*(?:\.\d+)?"
_OP = r"[-+×x*/÷]"
_INLINE = re.compile(rf"(?<![\w.,)])((?:-\s*)?{_N}(?:\s*{_OP}\s*{_N})+)\s*=\s*(-?{_N})(?![\d.]*[\w(])")
_BEFORE = re.compile(r"(?:[\d)$%\-+×*/÷^]|\b[A-Za-z]|\band|\bof)$")  # the left side goes further back
_AFTER = re.compile(r"\s*(?:[-+×x*/÷^]\s*\$?\d|/\s*\d|\d|%|percent|cents?\b)")  # the result goes on
_OPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b}


@dataclass
class FalseStep:
    claim: str
    value: str  # what the left side really is

    def __str__(self) -> str:
        return f"{self.claim} (is {self.value})"


def _clean(expr: str) -> str:
    s = expr.replace("×", "*").replace("÷", "/").replace("$", "").replace(",", "")
    return re.sub(r"(?<=\d)\s*x\s*(?=\d)", "*", s).strip()


def evaluate(expr: str) -> Fraction | None:
    """Exact value of plain arithmetic (numbers, + - * / and parentheses, ** with a small integer
    exponent); None for anything else, a division by zero or a huge result."""
    try:
        tree = ast.parse(_clean(expr), mode="eval")
    except (SyntaxError, ValueError):
        return None

    def ev(n: ast.AST) -> Fraction:
        if isinstance(n, ast.Constant) and type(n.value) in (int, float):
            return Fraction(str(n.value))
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub | ast.UAdd):
            v = ev(n.operand)
            return -v if isinstance(n.op, ast.USub) else v
        if isinstance(n, ast.BinOp):
            a, b = ev(n.left), ev(n.right)
            if type(n.op) in _OPS:
                return _OPS[type(n.op)](a, b)
            if isinstance(n.op, ast.Div):
                return a / b
            if isinstance(n.op, ast.Pow) and b.denominator == 1 and abs(b) <= 64 and abs(a) < 10**12:
                return a ** int(b)
        raise ValueError("not plain arithmetic")

    try:
        v = ev(tree.body)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None
    return v if abs(v) < 10**30 else None


def _number(text: str) -> Fraction | None:
    s = text.strip().replace("$", "").replace(",", "").rstrip(".")
    if not re.fullmatch(r"-?\d+(?:\.\d+)?", s):
        return None
    return Fraction(s)


def _holds(value: Fraction, stated_text: str) -> bool | None:
    """Does the stated result agree with the value (exactly, or rounded/truncated to its decimals)?"""
    stated = _number(stated_text)
    if stated is None:
        return None
    if stated == value:
        return True
    s = stated_text.strip().replace("$", "").replace(",", "").rstrip(".")
    places = len(s.split(".")[1]) if "." in s else 0
    q = Decimal(1).scaleb(-places)
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return any(exact.quantize(q, rounding=r) == Decimal(s) for r in (ROUND_HALF_UP, ROUND_DOWN))


def false_steps(text: str) -> list[FalseStep]:
    """Every arithmetic claim in `text` whose stated result is wrong (annotations, then inline)."""
    bad: list[FalseStep] = []
    for m in _ANNOTATION.finditer(text):
        v = evaluate(m.group(1))
        if v is not None and _holds(v, m.group(2)) is False:
            bad.append(FalseStep(f"<<{m.group(1)}={m.group(2)}>>", _show(v)))
    plain = _ANNOTATION.sub(" ", text)
    for m in _INLINE.finditer(plain):
        if _BEFORE.search(plain[: m.start()].rstrip()) or _AFTER.match(plain, m.end()):
            continue  # a fraction, mixed number, unit conversion or longer expression we cannot read whole
        v = evaluate(m.group(1))
        if v is not None and _holds(v, m.group(2)) is False:
            bad.append(FalseStep(f"{m.group(1).strip()} = {m.group(2)}", _show(v)))
    return bad


def _show(v: Fraction) -> str:
    return str(v.numerator) if v.denominator == 1 else f"{float(v):.6g}"


def process_reason(text: str) -> str | None:
    """`false step: ...` naming the first false claim, or None when every claim holds."""
    bad = false_steps(text)
    return f"false step: {bad[0]}" if bad else None
