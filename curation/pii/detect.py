"""Find PII and secrets in text: one compiled regex per family, validators only on its candidates.

Speed comes from patterns whose first character is rare (`@`, `:`, `-----`, `?`/`&`) or that cannot start
inside a word (a look-behind rejects most positions at once), and from scanning a whole batch of documents
joined by NUL separators, so the per-call overhead is paid once per batch, not once per document.
Every pattern has bounded repetition: no input makes a scan super-linear.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from curation.pii import checks

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
PRIORITY = {t: i for i, t in enumerate(TYPES)}  # on overlap the earlier type wins (then the longer span)
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


# --- patterns ---------------------------------------------------------------------------------------------

EMAIL = re.compile(
    r"[\w%+\-](?<![\w.%+\-].)(?:[\w.%+\-]{0,63}+)@"
    r"(?:[^\W_](?:[\w\-]{0,62}[^\W_])?\.){1,8}[^\W\d_]{2,24}(?![\w\-]|\.[^\W\d_])"
)
PRIVATE_KEY = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----"
    r"(?:[A-Za-z0-9+/=\s\\:,.]|-(?!----)){0,20000}+"
    r"(?:-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----)?"
)
URL_CREDENTIALS = re.compile(
    r"://(?<=[A-Za-z0-9]://)([^\s/@:?#\"'<>\x00]{1,128}:[^\s/@?#\"'<>\x00]{1,256})@(?=[\w\[])"
)
# secrets by their published formats; the group name is the kind, the group is what gets redacted
_SECRET_FORMATS = {
    "aws_access_key": r"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z2-7]{16}"
    r"(?![A-Za-z0-9])",
    "gcp_api_key": r"(?<![\w\-])AIza[0-9A-Za-z_\-]{35}(?![\w\-])",
    "gcp_oauth_secret": r"(?<![\w\-])GOCSPX-[0-9A-Za-z_\-]{28}(?![\w\-])",
    "github_token": r"(?<![\w\-])(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{82})(?![\w\-])",
    "gitlab_token": r"(?<![\w\-])glpat-[A-Za-z0-9_\-]{20}(?![\w\-])",
    "slack_token": r"(?<![\w\-])xox[abposre]-[A-Za-z0-9\-]{10,250}(?![\w\-])",
    "slack_webhook": r"(?<=hooks\.slack\.com/services/)T[A-Z0-9]{6,12}/B[A-Z0-9]{6,12}/[A-Za-z0-9]{20,32}",
    "stripe_key": r"(?<![\w\-])(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,247}(?![\w\-])",
    "stripe_webhook_secret": r"(?<![\w\-])whsec_[A-Za-z0-9+/=]{32,}(?![\w\-])",
    "anthropic_key": r"(?<![\w\-])sk-ant-(?:api|admin)\d\d-[A-Za-z0-9_\-]{80,120}(?![\w\-])",
    "openai_key": r"(?<![\w\-])sk-(?:(?:proj|svcacct|admin|None)-)?[A-Za-z0-9_\-]{20,200}T3BlbkFJ[A-Za-z0-9_\-]{20,200}"
    r"(?![\w\-])|(?<![\w\-])sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40,250}(?![\w\-])"
    r"|(?<![\w\-])sk-[A-Za-z0-9]{48}(?![\w\-])",
    "huggingface_token": r"(?<![\w\-])hf_[A-Za-z]{34}(?![\w\-])",
    "npm_token": r"(?<![\w\-])npm_[A-Za-z0-9]{36}(?![\w\-])",
    "sendgrid_key": r"(?<![\w\-])SG\.[\w\-]{22}\.[\w\-]{43}(?![\w\-])",
    "azure_storage_key": r"(?<=AccountKey=)[A-Za-z0-9+/]{86}==",
    "azure_sas_signature": r"(?<=[?&;]sig=)[A-Za-z0-9%+/]{30,120}(?:=|%3D){0,2}",
    "azure_client_secret": r"(?<![\w~.\-])[A-Za-z0-9_~.\-]{3}\dQ~[A-Za-z0-9_~.\-]{31,34}(?![\w~.\-])",
    "jwt": r"(?<![\w\-])eyJ[A-Za-z0-9_\-]{10,2000}\.eyJ[A-Za-z0-9_\-]{10,4000}\.[A-Za-z0-9_\-]{10,1000}"
    r"(?![\w\-])",
}
SECRET_FORMATS = re.compile("|".join(f"(?P<{k}>{v})" for k, v in _SECRET_FORMATS.items()))
# every format above contains one of these; tokens of 16+ token characters that contain one are checked
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_\-+/=.~%]{16,}")
SECRET_PREFIX = re.compile(
    r"A(?:KIA|SIA|BIA|CCA|GPA|IDA|ROA|IPA|NPA|NVA|PKA|Iza|ccountKey=)|GOCSPX-|gh[pousr]_|github_pat_|glpat-|xox"
    r"|hooks\.slack|[sr]k_(?:live|test)_|whsec_|sk-|hf_|npm_|SG\.|sig=|\dQ~|eyJ"
)
# key words are found case-sensitively in their usual spellings, one regex per case (each has few first
# characters, so it is fast), then matched in full, case-insensitively, where they occur
KEY_WORDS = [
    re.compile(
        r"api[_.\-]?[Kk]ey|apikey|secret|token|passw(?:or)?d|pwd|access[_.\-]?[Kk]ey|credential"
        r"|private[_.\-]?[Kk]ey|signing[_.\-]?[Kk]ey|auth[_.\-]?[Kk]ey|client[_.\-]?[Ss]ecret|auth[Tt]oken"
    ),
    re.compile(
        r"API[_.\-]?KEY|APIKEY|SECRET|TOKEN|PASSW(?:OR)?D|PWD|ACCESS[_.\-]?KEY|CREDENTIAL|PRIVATE[_.\-]?KEY"
        r"|SIGNING[_.\-]?KEY|AUTH[_.\-]?KEY"
    ),
    re.compile(
        r"Api[_.\-]?Key|ApiKey|Secret|Token|Passw(?:or)?d|Pwd|AccessKey|Credential|PrivateKey|AuthKey"
    ),
]
BEARER_WORD = re.compile(r"[Bb]earer|BEARER|[Aa]uthorization|AUTHORIZATION")
BEARER = re.compile(
    r"(?i:bearer|authorization:\s*(?:basic|token|digest|bearer))\s+([A-Za-z0-9._~+/\-]{12,4000}=*)"
)
QUERY_TOKEN = re.compile(
    r"[?&](?i:access_token|auth_token|token|api_key|apikey|key|secret|client_secret|password|passwd|pwd)"
    r"=([^&\s#\"'<>\x00]{8,512})"
)
ASSIGNMENT = re.compile(
    r"(?i:api[_.\-]?key|apikey|secret|token|passw(?:or)?d|passwd|pwd|access[_.\-]?key|credentials?|"
    r"private[_.\-]?key|signing[_.\-]?key|auth[_.\-]?key|client[_.\-]?secret|auth[_.\-]?token)"
    r"[\w.\-]{0,30}[\"'\]]?\s{0,3}(?:=|:=|=>|:|\s=\s)\s{0,3}"
    r"(?:\"([^\"\s\x00]{6,256})\"|'([^'\s\x00]{6,256})'|`([^`\s\x00]{6,256})`|([A-Za-z0-9_\-+/=.~!@#$%^&*]{12,256}))"
)
_PASSWORD_KEY = re.compile(r"(?i)passw|pwd")
IBAN = re.compile(r"[A-Z](?<!\w.)[A-Z]\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?!\w)")
# digit runs with separators: phone numbers, cards, national ids
NUMBER = re.compile(
    r"(?:\+(?<![\w+@/.\-,].)\d{1,3}(?:[ .\-]?\(\d{1,4}\))?(?:[ .\-]?\d{1,8}){1,7}+"
    r"|\((?<![\w+@/.\-,].)\d{2,5}\)[ .\-]?\d{2,5}(?:[ .\-]?\d{2,5}){0,3}+"
    r"|\d(?<![\w+@/.\-,].)\d{0,18}+(?:[ .\-/]\d{1,8}){0,7}+)"
    r"(?![\w@]|[.,\-/]\d)"
)
NINO = re.compile(r"[A-CEGHJ-PR-TW-Z](?<!\w.)[A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D](?!\w)")
_NINO_BAD_PREFIX = {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"}
DNI = re.compile(r"([XYZ\d](?<![\w\-].)\d{6,7})-?([A-Z])(?![\w\-])")
SSN_CONTEXT = re.compile(r"(?i:ssn|social security(?: number| no\.?)?|\bss#)\W{0,5}(\d{9})(?!\w)")
SSN_WORD = re.compile(r"SSN|ssn|Ssn|[Ss]ocial [Ss]ecurity|SOCIAL SECURITY|SS#")
SIN_CONTEXT = re.compile(r"(?i:\bsin\b|social insurance)")
IPV4 = re.compile(r"\d(?<![\w.:\-/].)\d{0,2}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\w\-]|\.\d)")
IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?:%[\w]{1,15})?"
    r"(?![\w:.])"
)
IPV6_FULL = re.compile(
    r"[0-9A-Fa-f](?<![\w:.].)[0-9A-Fa-f]{0,3}(?::[0-9A-Fa-f]{1,4}){7}(?:%\w{1,15})?(?![\w:.])"
)


# A Rust regex (run by Polars over a whole column, no look-around) that every document with a possible
# match contains: documents without it skip the Python scan. Each part is a necessary condition of a family.
TRIGGER = "|".join(
    [
        r"[\w%+\-.]@\w",  # email
        r"PRIVATE KEY|://",  # key blocks, URL credentials
        SECRET_PREFIX.pattern,  # secrets by format
        r"(?i:bearer|authorization|api.?key|apikey|secret|token|passw|pwd|access.?key|credential|private.?key"
        r"|signing.?key|auth.?key)",  # bearer tokens, assignments, query tokens
        r"[A-Z]{2}\d{2}|[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]",  # IBAN, NINO
        r"\d(?:[ ().\-/]{0,3}\d){6}",  # 7+ digits: phones, cards, national ids
        r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|::|[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){7}",  # IPs
    ]
)


# --- detectors --------------------------------------------------------------------------------------------


def _emails(text: str) -> Iterator[Span]:
    """Each `@` with a word character on both sides is searched in a window around it (cheap: `@`
    is rare, and WikiText's ` @,@ ` has spaces around it)."""
    p = text.find("@")
    last = 0
    while p >= 0:
        if (
            0 < p < len(text) - 1
            and (text[p - 1].isalnum() or text[p - 1] in "._%+-")
            and text[p + 1].isalnum()
        ):
            m = EMAIL.search(text, max(last, p - 65), min(len(text), p + 260))
            while m and m.end() <= p:
                m = EMAIL.search(text, m.end(), min(len(text), p + 260))
            if m and m.start() < p:
                yield Span(m.start(), m.end(), "email", "email")
                last = m.end()
                p = text.find("@", m.end())
                continue
        p = text.find("@", p + 1)


def _private_keys(text: str) -> Iterator[Span]:
    if "PRIVATE KEY" in text:
        for m in PRIVATE_KEY.finditer(text):
            yield Span(m.start(), m.end(), "private_key", "pem")


def _url_credentials(text: str) -> Iterator[Span]:
    if "://" in text:
        for m in URL_CREDENTIALS.finditer(text):
            yield Span(m.start(1), m.end(1), "url_credentials", "userinfo")


def _secrets(text: str) -> Iterator[Span]:
    for t in SECRET_TOKEN.finditer(text):
        if SECRET_PREFIX.search(t.group()):
            for m in SECRET_FORMATS.finditer(text, t.start(), t.end()):
                kind = m.lastgroup or "secret"
                yield Span(m.start(kind), m.end(kind), "secret", kind)
    for w in BEARER_WORD.finditer(text):
        m = BEARER.match(text, w.start())
        if m and not checks.placeholder(m.group(1)):
            yield Span(m.start(1), m.end(1), "secret", "bearer_token")
    if "=" in text:
        for m in QUERY_TOKEN.finditer(text):
            if not checks.placeholder(m.group(1)):
                yield Span(m.start(1), m.end(1), "secret", "url_token")
    if "=" in text or ":" in text:
        for w in (w for kw in KEY_WORDS for w in kw.finditer(text)):
            m = ASSIGNMENT.match(text, w.start())
            if not m:
                continue
            g = m.lastindex or 1
            password = bool(_PASSWORD_KEY.search(m.group(0)[: m.start(g) - m.start()]))
            if checks.secret_value(m.group(g), password or g < 4):
                yield Span(m.start(g), m.end(g), "secret", "password" if password else "assigned_secret")


def _ibans(text: str) -> Iterator[Span]:
    for m in IBAN.finditer(text):
        cand = m.group()
        while not checks.iban(cand) and " " in cand[4:]:  # a number after the IBAN may have joined it
            cand = cand.rsplit(" ", 1)[0]
        if checks.iban(cand):
            yield Span(m.start(), m.start() + len(cand), "iban", "iban")


_IBAN_HEAD = re.compile(r"[A-Z]{2}\d\d ?$")  # the rest of an IBAN-like run (one that failed its check)
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
        groups = [g.end() for g in _GROUP.finditer(s)]
        for end in reversed(groups[:-1]):
            found = _classify(s[:end], text, m.start(), want)
            if found:
                yield Span(m.start(), m.start() + end, *found)
                break


def _classify(s: str, text: str, start: int, want: frozenset[str]) -> tuple[str, str] | None:
    d = checks.digits_of(s)
    if "credit_card" in want and 13 <= len(d) <= 19 and not s.startswith(("+", "(")) and checks.card(d):
        return "credit_card", "card"
    if "national_id" in want:
        kind = _national_number(s, d, text, start)
        if kind:
            return "national_id", kind
    if "phone" in want and 7 <= len(d) <= 15 and checks.phone(s):
        return "phone", "phone"
    return None


def _national_number(s: str, d: str, text: str, start: int) -> str | None:
    if re.fullmatch(r"\d{3}([ \-])\d{2}\1\d{4}", s) and checks.us_ssn(d[:3], d[3:5], d[5:]):
        return "us_ssn"
    if (
        re.fullmatch(r"\d{3}([ \-])\d{3}\1\d{3}", s)
        and d[0] not in "08"
        and checks.luhn(d)
        and SIN_CONTEXT.search(_before(text, start, 40))
    ):
        return "ca_sin"
    if re.fullmatch(r"[2-9]\d{3}([ \-])\d{4}\1\d{4}", s) and checks.verhoeff(d):
        return "in_aadhaar"
    return None


def _national_ids(text: str) -> Iterator[Span]:
    for w in SSN_WORD.finditer(text):
        m = SSN_CONTEXT.match(text, w.start())
        if not m:
            continue
        d = m.group(1)
        if checks.us_ssn(d[:3], d[3:5], d[5:]):
            yield Span(m.start(1), m.end(1), "national_id", "us_ssn")
    for m in NINO.finditer(text):
        if m.group()[:2] not in _NINO_BAD_PREFIX:
            yield Span(m.start(), m.end(), "national_id", "uk_nino")
    for m in DNI.finditer(text):
        if checks.es_dni(m.group(1), m.group(2)):
            yield Span(m.start(), m.end(), "national_id", "es_dni")


def _ipv4(text: str) -> Iterator[Span]:
    for m in IPV4.finditer(text):
        if checks.ipv4(m.group(), _before(text, m.start())):
            yield Span(m.start(), m.end(), "ipv4", "ipv4")


def _ipv6(text: str) -> Iterator[Span]:
    """Compressed addresses around each `::`; full eight-group ones only where a text has 7+ colons."""
    seen: set[int] = set()
    p = text.find("::")
    while p >= 0:
        for m in IPV6.finditer(text, max(0, p - 40), min(len(text), p + 60)):
            if m.start() <= p < m.end() and m.start() not in seen and checks.ipv6(m.group()):
                seen.add(m.start())
                yield Span(m.start(), m.end(), "ipv6", "ipv6")
        p = text.find("::", p + 2)
    if text.count(":") >= 7:
        for m in IPV6_FULL.finditer(text):
            if m.start() not in seen and checks.ipv6(m.group()):
                yield Span(m.start(), m.end(), "ipv6", "ipv6")


DETECTORS: dict[str, Callable[[str], Iterator[Span]]] = {
    "private_key": _private_keys,
    "url_credentials": _url_credentials,
    "secret": _secrets,
    "email": _emails,
    "iban": _ibans,
    "national_id": _national_ids,
    "ipv6": _ipv6,
    "ipv4": _ipv4,
}


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
    """All PII and secret spans of `text` (one document, or a batch joined by SEP), resolved."""
    found: list[Span] = []
    for t, fn in DETECTORS.items():
        if t in types:
            found.extend(fn(text))
    if types & {"credit_card", "national_id", "phone"}:
        found.extend(_numbers(text, types))
    found = [s for s in found if "\x00" not in text[s.start : s.end]]
    return resolve(found) if len(found) > 1 else found
