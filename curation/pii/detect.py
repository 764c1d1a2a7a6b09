"""Find PII and secrets in text: families of regexes (curation/pii/patterns.py), validators only on their
candidates (curation/pii/checks.py).

Speed, in three layers: one Rust regex (Polars, over the whole column) picks the documents that can hold
anything at all; per family, another picks the documents that family scans; those are joined by NUL
separators and scanned by Python `re` once per batch, so the per-call cost is paid once, not per document.
Patterns anchor on rare characters (`@`, `::`, `://`) or on long tokens, and have bounded repetition: no
input makes a scan super-linear (a test doubles hostile inputs).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from curation.pii import checks
from curation.pii.patterns import (
    ASSIGNMENT,
    BEARER,
    BEARER_WORD,
    DNI,
    EMAIL,
    IBAN,
    IPV4,
    IPV6,
    IPV6_FULL,
    KEY_WORDS,
    NINO,
    NINO_BAD_PREFIX,
    NUMBER,
    PASSWORD_KEY,
    PRIVATE_KEY,
    QUERY_TOKEN,
    SECRET_FORMATS,
    SECRET_PREFIX,
    SECRET_TOKEN,
    SIN_CONTEXT,
    SSN_CONTEXT,
    SSN_WORD,
    URL_CREDENTIALS,
)

TYPES = (
    "private_key",
    "url_credentials",
    "secret",
    "email",
    "iban",
    "credit_card",
    "national_id",
    "phone",
    "ipv6",
    "ipv4",
)
# on overlap the earlier type wins (then the longer span); the NER types come last
PRIORITY = {t: i for i, t in enumerate((*TYPES, "name", "address"))}
SEP = "\n\x00\n"  # joins documents of a batch; no pattern matches across it


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    type: str
    kind: str  # finer label (e.g. aws_access_key, us_ssn): says what was found, never the value


def _before(text: str, start: int, n: int = 32) -> str:
    """Up to n characters before `start`, not reaching into the previous document of a batch."""
    lo = max(0, start - n)
    cut = text.rfind("\x00", lo, start)
    return text[cut + 1 if cut >= 0 else lo : start]


# --- detectors --------------------------------------------------------------------------------------------


_LOCAL = frozenset("._%+-")


def _emails(text: str) -> Iterator[Span]:
    """One anchored match per `@` that has a word character on both sides: the local part is found by
    walking left (at most 64 characters), so a text full of `@` costs a bounded amount per `@`."""
    p = text.find("@")
    n = len(text)
    while p >= 0:
        if 0 < p < n - 1 and text[p + 1].isalnum():
            s0 = p
            while s0 > p - 65 and s0 > 0 and (text[s0 - 1].isalnum() or text[s0 - 1] in _LOCAL):
                s0 -= 1
            while s0 < p and text[s0] == ".":
                s0 += 1
            m = EMAIL.match(text, s0, min(n, p + 260)) if s0 < p else None
            if m:
                yield Span(m.start(), m.end(), "email", "email")
                p = text.find("@", m.end())
                continue
        p = text.find("@", p + 1)


def _private_keys(text: str) -> Iterator[Span]:
    for m in PRIVATE_KEY.finditer(text):
        yield Span(m.start(), m.end(), "private_key", "pem")


def _url_credentials(text: str) -> Iterator[Span]:
    for m in URL_CREDENTIALS.finditer(text):
        yield Span(m.start(1), m.end(1), "url_credentials", "userinfo")


def _secret_formats(text: str) -> Iterator[Span]:
    """Long tokens that contain a known prefix; the formats are tried anchored at a few positions around
    each prefix (a prefix-anchored format starts at it, a look-behind one right after it, Azure's `\\dQ~`
    four characters before), so a huge base64 blob costs little per prefix it happens to contain."""
    for t in SECRET_TOKEN.finditer(text):
        done = t.start()
        for q in SECRET_PREFIX.finditer(text, t.start(), t.end()):
            if q.start() < done:
                continue
            for pos in range(max(done, q.start() - 4), q.end() + 1):
                m = SECRET_FORMATS.match(text, pos, t.end())
                if m:
                    kind = m.lastgroup or "secret"
                    yield Span(m.start(kind), m.end(kind), "secret", kind)
                    done = m.end()
                    break


def _bearer_tokens(text: str) -> Iterator[Span]:
    for w in BEARER_WORD.finditer(text):
        m = BEARER.match(text, w.start())
        if m and not checks.placeholder(m.group(1)):
            yield Span(m.start(1), m.end(1), "secret", "bearer_token")


def _query_tokens(text: str) -> Iterator[Span]:
    for m in QUERY_TOKEN.finditer(text):
        if not checks.placeholder(m.group(1)):
            yield Span(m.start(1), m.end(1), "secret", "url_token")


def _assignments(text: str) -> Iterator[Span]:
    for w in (w for kw in KEY_WORDS for w in kw.finditer(text)):
        m = ASSIGNMENT.match(text, w.start())
        if not m:
            continue
        g = m.lastindex or 1
        key = m.group(0)[: m.start(g) - m.start()]
        password = bool(PASSWORD_KEY.search(key))
        rest = _KEY_WORD_SPLIT.split(key.split("=")[0].split(":")[0])
        if checks.secret_key(rest[-1].strip(" \"'`]")) and checks.secret_value(m.group(g), password, g < 4):
            yield Span(m.start(g), m.end(g), "secret", "password" if password else "assigned_secret")


def _ibans(text: str) -> Iterator[Span]:
    for m in IBAN.finditer(text):
        cand = m.group()
        while not checks.iban(cand) and " " in cand[4:]:  # a number after the IBAN may have joined it
            cand = cand.rsplit(" ", 1)[0]
        if checks.iban(cand):
            yield Span(m.start(), m.start() + len(cand), "iban", "iban")


_KEY_WORD_SPLIT = re.compile(r"(?i)key|secret|token|passw(?:or)?d|pwd|credentials?")
_IBAN_HEAD = re.compile(r"[A-Z]{2}\d\d ?$")  # the rest of an IBAN-like run (one that failed its check)
_SSN_SHAPE = re.compile(r"\d{3}([ \-])\d{2}\1\d{4}")
_SIN_SHAPE = re.compile(r"\d{3}([ \-])\d{3}\1\d{3}")
_AADHAAR_SHAPE = re.compile(r"[2-9]\d{3}([ \-])\d{4}\1\d{4}")
_CARD_SHAPE = re.compile(r"\d+(?:[ \-]\d+)*")  # cards group digits by spaces or dashes only
_EXTENSION = re.compile(r" ?(?:x|ext\.?|#) ?\d{1,6}$")
_GROUP = re.compile(r"[+(]?\d+\)?")


def _numbers(text: str, want: frozenset[str]) -> Iterator[Span]:
    """One pass over digit runs; each candidate is tried as card, national id, then phone. When the whole
    run fails, its shorter prefixes are tried, longest first (a count after a number joins its run)."""
    for m in NUMBER.finditer(text):
        s = m.group()
        if len(s) < 7 or _IBAN_HEAD.search(_before(text, m.start(), 6)):
            continue
        found = _classify(s, text, m.start(), want)
        if found:
            yield Span(m.start(), m.end(), *found)
            continue
        groups = [g.end() for g in _GROUP.finditer(s) if s[g.end() : g.end() + 1] == " "]
        for end in reversed(groups):
            found = _classify(s[:end], text, m.start(), want)
            if found:
                yield Span(m.start(), m.start() + end, *found)
                break


def _classify(s: str, text: str, start: int, want: frozenset[str]) -> tuple[str, str] | None:
    core = _EXTENSION.sub("", s)
    d = checks.digits_of(core)
    if core == s:
        if "national_id" in want and len(d) == 12:  # Aadhaar before 12-digit Maestro
            kind = _national_number(s, d, text, start)
            if kind:
                return "national_id", kind
        if "credit_card" in want and 12 <= len(d) <= 19 and _CARD_SHAPE.fullmatch(s) and checks.card(d):
            return "credit_card", "card"
        if "national_id" in want:
            kind = _national_number(s, d, text, start)
            if kind:
                return "national_id", kind
    if "phone" not in want or not 7 <= len(d) <= 15:
        return None
    if checks.phone(core) or checks.phone(core, checks.phone_context(_before(text, start, 30))):
        return "phone", "phone"
    return None


def _national_number(s: str, d: str, text: str, start: int) -> str | None:
    if _SSN_SHAPE.fullmatch(s) and checks.us_ssn(d[:3], d[3:5], d[5:]):
        return "us_ssn"
    if (
        _SIN_SHAPE.fullmatch(s)
        and d[0] not in "08"
        and checks.luhn(d)
        and SIN_CONTEXT.search(_before(text, start, 40))
    ):
        return "ca_sin"
    if _AADHAAR_SHAPE.fullmatch(s) and checks.verhoeff(d):
        return "in_aadhaar"
    return None


def _ssn_in_context(text: str) -> Iterator[Span]:
    for w in SSN_WORD.finditer(text):
        m = SSN_CONTEXT.match(text, w.start())
        if m and checks.us_ssn(m.group(1)[:3], m.group(1)[3:5], m.group(1)[5:]):
            yield Span(m.start(1), m.end(1), "national_id", "us_ssn")


def _ninos(text: str) -> Iterator[Span]:
    for m in NINO.finditer(text):
        if m.group()[:2] not in NINO_BAD_PREFIX:
            yield Span(m.start(), m.end(), "national_id", "uk_nino")


def _dnis(text: str) -> Iterator[Span]:
    for m in DNI.finditer(text):
        if checks.es_dni(m.group(1), m.group(2)):
            yield Span(m.start(), m.end(), "national_id", "es_dni")


def _ipv4(text: str) -> Iterator[Span]:
    for m in IPV4.finditer(text):
        if checks.ipv4(m.group(), _before(text, m.start())):
            yield Span(m.start(), m.end(), "ipv4", "ipv4")


def _ipv6(text: str) -> Iterator[Span]:
    """Compressed addresses in windows around each `::` (overlapping windows merged, so each character is
    scanned once); full eight-group ones only where a text has 7+ colons."""
    seen: set[int] = set()
    p = text.find("::")
    while p >= 0:
        lo, hi = max(0, p - 40), min(len(text), p + 60)
        q = text.find("::", p + 2)
        while 0 <= q < hi:  # merge the windows of nearby `::`
            hi = min(len(text), q + 60)
            q = text.find("::", q + 2)
        for m in IPV6.finditer(text, lo, hi):
            if "::" in m.group() and m.start() not in seen and checks.ipv6(m.group()):
                seen.add(m.start())
                yield Span(m.start(), m.end(), "ipv6", "ipv6")
        p = q
    if text.count(":") >= 7:
        for m in IPV6_FULL.finditer(text):
            if m.start() not in seen and checks.ipv6(m.group()):
                yield Span(m.start(), m.end(), "ipv6", "ipv6")


@dataclass(frozen=True)
class Family:
    """A detector, the types it finds, and a Rust regex (run by Polars, no look-around) that every text
    it can match contains: texts without it skip the Python scan of this family."""

    name: str
    types: frozenset[str]
    trigger: str
    find: Callable[[str, frozenset[str]], Iterator[Span]]


def _only(fn: Callable[[str], Iterator[Span]]) -> Callable[[str, frozenset[str]], Iterator[Span]]:
    return lambda text, want: fn(text)


_ONE = frozenset
FAMILIES = [
    Family("private_key", _ONE({"private_key"}), "PRIVATE KEY", _only(_private_keys)),
    Family("url_credentials", _ONE({"url_credentials"}), "://", _only(_url_credentials)),
    Family("secret_formats", _ONE({"secret"}), SECRET_PREFIX.pattern, _only(_secret_formats)),
    Family("bearer", _ONE({"secret"}), "(?i:bearer|authorization)", _only(_bearer_tokens)),
    Family("query_token", _ONE({"secret"}), "[?&][A-Za-z_]+=", _only(_query_tokens)),
    Family(
        "assignment",
        _ONE({"secret"}),
        r"(?i:api.?key|apikey|secret|token|passw|pwd|access.?key|credential|private.?key|signing.?key"
        r"|auth.?key)",
        _only(_assignments),
    ),
    Family("email", _ONE({"email"}), r"[\w%+\-.]@\w", _only(_emails)),
    Family("iban", _ONE({"iban"}), r"[A-Z]{2}\d{2}", _only(_ibans)),
    Family("ssn", _ONE({"national_id"}), r"(?i:ssn|social security|ss#)", _only(_ssn_in_context)),
    Family("nino", _ONE({"national_id"}), r"[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]", _only(_ninos)),
    Family("dni", _ONE({"national_id"}), r"\d{7}-?[A-Z]", _only(_dnis)),
    Family("numbers", _ONE({"credit_card", "national_id", "phone"}), r"\d(?:[ ().\-/]{0,3}\d){6}", _numbers),
    Family("ipv6", _ONE({"ipv6"}), r"::|[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){7}", _only(_ipv6)),
    Family("ipv4", _ONE({"ipv4"}), r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}", _only(_ipv4)),
]
# every text with a possible match of any type contains this: the step scans only such documents
TRIGGER = "|".join(f"(?:{f.trigger})" for f in FAMILIES)


def _wins(a: Span, b: Span) -> bool:
    return (PRIORITY[a.type], -(a.end - a.start), a.start) < (PRIORITY[b.type], -(b.end - b.start), b.start)


def resolve(spans: list[Span]) -> list[Span]:
    """Non-overlapping spans in text order: on overlap the higher-priority type wins, then the longer.
    One sweep in start order (O(n log n)), so a document with many matches stays cheap."""
    out: list[Span] = []
    for s in sorted(spans, key=lambda s: (s.start, -s.end)):
        while out and s.start < out[-1].end:
            if _wins(out[-1], s):
                break
            out.pop()
        else:
            out.append(s)
    return out


def scan(text: str, types: frozenset[str] = frozenset(TYPES)) -> list[Span]:
    """All PII and secret spans of one text, resolved (every family runs: no triggers)."""
    found = [s for f in FAMILIES if f.types & types for s in f.find(text, types) if s.type in types]
    return resolve(found) if len(found) > 1 else found


def scan_batch(texts: list[str], types: frozenset[str] = frozenset(TYPES)) -> list[list[Span]]:
    """The spans of each text, as `scan` gives them; each family runs once over the texts its trigger
    selects, joined by SEP (texts must hold no NUL), so the per-call cost is paid once per batch."""
    import polars as pl

    per_doc: list[list[Span]] = [[] for _ in texts]
    col = pl.Series(texts, dtype=pl.String)
    for fam in FAMILIES:
        if not fam.types & types:
            continue
        idx = col.str.contains(fam.trigger).arg_true().to_list()
        if not idx:
            continue
        starts, off = [], 0
        for i in idx:
            starts.append(off)
            off += len(texts[i]) + len(SEP)
        joined = SEP.join(texts[i] for i in idx)
        k = 0
        for s in sorted(fam.find(joined, types), key=lambda s: s.start):
            if s.type not in types:
                continue
            while k + 1 < len(starts) and s.start >= starts[k + 1]:
                k += 1
            base = starts[k]
            if s.end - base <= len(texts[idx[k]]):  # never across a separator
                per_doc[idx[k]].append(Span(s.start - base, s.end - base, s.type, s.kind))
    return [resolve(sp) if len(sp) > 1 else sp for sp in per_doc]
