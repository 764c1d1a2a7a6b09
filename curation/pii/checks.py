"""Validators that run only on regex candidates: checksums, number plans, context, entropy.

Each returns True when the candidate is what its pattern claims. They are pure functions of the candidate
(and for context checks, the few characters before it), so redaction is deterministic.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter

# --- checksums --------------------------------------------------------------------------------------------


_NON_DIGIT = re.compile(r"\D")


def digits_of(s: str) -> str:
    """Only the digits, as ASCII (any script: `int()` reads full-width and other decimal digits)."""
    d = _NON_DIGIT.sub("", s)
    return d if d.isascii() else "".join(str(int(c)) for c in d)


def luhn(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = ord(c) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


_VERHOEFF_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]
_VERHOEFF_P = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]


def verhoeff(digits: str) -> bool:
    """The Verhoeff check (Aadhaar's last digit)."""
    c = 0
    for i, ch in enumerate(reversed(digits)):
        c = _VERHOEFF_D[c][_VERHOEFF_P[i % 8][ord(ch) - 48]]
    return c == 0


# IBAN length per country (ISO 13616 registry, SWIFT release 2024)
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27,
    "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25,
    "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18,
    "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33,
    "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip


def iban(candidate: str) -> bool:
    s = candidate.replace(" ", "").upper()
    if IBAN_LENGTHS.get(s[:2]) != len(s) or not s.isascii() or not s.isalnum():
        return False
    n = "".join(str(int(c, 36)) for c in s[4:] + s[:4])
    return int(n) % 97 == 1


def card(digits: str) -> bool:
    """Payment card: a known network's prefix and length, and the Luhn check."""
    n = len(digits)
    if not 12 <= n <= 19 or len(set(digits)) < 2 or not luhn(digits):
        return False
    p2, p4, p6 = int(digits[:2]), int(digits[:4]), int(digits[:6])
    if n == 12 and not (p2 in (50, 56, 57, 58, 63, 67) or p4 == 604):
        return False  # only Maestro has 12 digits
    if digits[0] == "4":
        return n in (13, 16, 19)  # Visa
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:
        return n == 16  # Mastercard
    if p2 in (34, 37):
        return n == 15  # American Express
    if p4 == 6011 or p2 == 65 or 644 <= int(digits[:3]) <= 649 or 622126 <= p6 <= 622925:
        return 16 <= n <= 19  # Discover
    if p2 == 35:
        return 16 <= n <= 19  # JCB (3528-3589 assigned; the rest of 35 is JCB's too)
    if p4 in (1800, 2131):
        return n == 15  # JCB, 15-digit
    if p2 in (36, 38, 39) or 300 <= int(digits[:3]) <= 305:
        return 14 <= n <= 19  # Diners Club
    if p2 == 62:
        return 16 <= n <= 19  # UnionPay
    if p2 in (50, 56, 57, 58, 63, 67) or p4 == 604:
        return 12 <= n <= 19  # Maestro
    return False


def us_ssn(area: str, group: str, serial: str) -> bool:
    """SSA rules: area not 000, 666 or 900-999; group not 00; serial not 0000; not the famous samples."""
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    return f"{area}{group}{serial}" not in ("078051120", "219099999", "123456789")


_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def es_dni(number: str, letter: str) -> bool:
    """Spanish DNI / NIE: the control letter is the number mod 23 (NIE: X, Y, Z read as 0, 1, 2)."""
    if number[0] in "XYZ":
        number = str("XYZ".index(number[0])) + number[1:]
    return _DNI_LETTERS[int(number) % 23] == letter.upper()


# --- phone numbers ----------------------------------------------------------------------------------------


_PHONE_WORDS = re.compile(
    r"(?i)\b(?:phone|tel|telephone|mobile|cell|fax|call|dial|contact|whatsapp|sms|hotline|ph)\b[\s.:#]{0,3}"
    r"(?:(?:us|me|him|her|them|on|at|to|number|no|nr|num|is|now|today|our|my|the|office|direct|line|free)"
    r"[\s.:#]{1,3}){0,3}$"
)


_NON_DIGITS = re.compile(r"[^\d]+")
_BARE_PHONE = re.compile(r"0[1-9]\d{8,9}|00[1-9]\d{7,12}")
_SEPARATOR = re.compile(r"[ .\-/]")
_PAREN_GROUP = re.compile(r"\(\d+\)")
_DATE = re.compile(r"\d{4}([-/.])\d{1,2}\1\d{1,2}|\d{1,2}([-/.])\d{1,2}\2\d{2,4}")


def phone_context(before: str) -> bool:
    """A phone word just before ("call us on", "Tel.:", "phone number:")."""
    return bool(_PHONE_WORDS.search(before))


def phone(candidate: str, context: bool = False) -> bool:
    """International (+CC, 8-15 digits, E.164) or a national plan: NANP, trunk-0 plans (UK, DE, FR, AU, JP,
    ...), Chinese and Indian mobiles. Groups of one digit (ISBN, section numbers) do not pass. After a phone
    word (`context`), any 7-15 digits in groups of two or more pass (local numbers, fictional area codes)."""
    d = digits_of(candidate)
    groups = [g for g in _NON_DIGITS.split(candidate) if g]
    if len(groups[-1]) < 2:
        return False  # +35236450.6: a decimal, not a number plan
    dotted = "." in candidate and all(len(g) <= 3 for g in groups)  # an IP address or a version
    ssn_shape = [len(g) for g in groups] == [3, 2, 4] or bool(_DATE.fullmatch(candidate))
    if context and 7 <= len(d) <= 15 and all(len(g) >= 2 for g in groups[1:]) and not (dotted or ssn_shape):
        return True
    if candidate.startswith("+"):  # a "(0)" trunk in an international number is no group of its own
        singles = sum(len(g) == 1 for g in _NON_DIGITS.split(candidate.replace("(0)", ""))[2:])
        return (
            8 <= len(d) <= 15
            and d[0] != "0"
            and singles <= 1
            and (len(groups) == 1 or max(map(len, groups)) >= 2)
        )
    if len(groups) < 2 and not candidate.startswith("("):  # bare digits: trunk 0 or international 00
        counting = d in "01234567890123456789" or d in "98765432109876543210"  # "0123456789" in code
        return bool(_BARE_PHONE.fullmatch(d)) and not counting and len(set(d)) >= 4
    if d[0] == "1" and len(d) == 11 and [len(g) for g in groups] == [1, 3, 3, 4]:
        candidate, groups, d = candidate[2:], groups[1:], d[1:]  # NANP with its trunk 1
    seps = set(_SEPARATOR.findall(_PAREN_GROUP.sub("", candidate)))
    if len(seps) > 1 and not candidate.startswith("("):
        return False  # 2021-01-05 12:00 style mixtures
    body = groups[1:] if candidate.startswith("(") else groups
    if any(len(g) < 2 for g in groups[1:]) or any(len(g) < 2 for g in body):
        return False
    if [len(g) for g in groups] == [3, 3, 4] and d[0] in "23456789" and d[3] in "23456789":
        return True  # NANP
    if d[0] == "0" and d[1] != "0":
        return 9 <= len(d) <= 12  # trunk prefix 0
    if d[:2] == "00" and d[2] != "0":
        return 10 <= len(d) <= 15  # international prefix 00
    if [len(g) for g in groups] == [3, 4, 4] and d[0] == "1" and d[1] in "3456789":
        return True  # Chinese mobile
    return [len(g) for g in groups] == [5, 5] and d[0] in "6789"  # Indian mobile


# --- IP addresses -----------------------------------------------------------------------------------------

# text before a dotted quad that makes it a version, a section or an OID, not an address
_VERSION_CONTEXT = re.compile(
    r"(?:(?:\bver|version|versions|release|\brel|build|\brev|revision|update|firmware|kernel|python|java|node|"
    r"chapter|section|sections|\bsec|\bfig|figure|table|\beq|equation|appendix|\boid|isbn|\bstep)\.?\s*[:#]?\s*"
    r"|[=<>~^!]=?\s*|§\s*|\bv)[\s\"'(\[]*$",
    re.IGNORECASE,
)
_V4_DOC = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]
_V6_DOC = ipaddress.ip_network("2001:db8::/32")


def ipv4(candidate: str, before: str) -> bool:
    """A public or private unicast address; documentation ranges, loopback, 0.0.0.0, netmasks, multicast,
    all-single-digit quads (1.2.3.4: versions far more often than hosts) and version-like contexts stay."""
    if _VERSION_CONTEXT.search(before):
        return False
    parts = candidate.split(".")
    if all(len(p) == 1 for p in parts):
        return False
    try:
        ip = ipaddress.IPv4Address(candidate)
    except ValueError:
        return False
    if ip.is_loopback or ip.is_unspecified or ip.is_multicast or parts[0] == "255" or ip.is_reserved:
        return False
    return not any(ip in n for n in _V4_DOC)


def ipv6(candidate: str) -> bool:
    groups = [g for g in candidate.split("%")[0].split(":") if g]
    if len(groups) < 3 and (not groups or len(groups[0]) < 3):
        return False  # a[1::2], std::x, 12:30
    try:
        ip = ipaddress.IPv6Address(candidate.split("%")[0])
    except ValueError:
        return False
    return not (ip.is_loopback or ip.is_unspecified or ip in _V6_DOC or ip.is_multicast)


# --- secrets ----------------------------------------------------------------------------------------------


def entropy(s: str) -> float:
    """Shannon entropy in bits per character."""
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values()) if n else 0.0


_PLACEHOLDER = re.compile(
    r"^(?:<[^>]*>|\$\{?[\w.]+\}?|%\(?\w*\)?s|\{\{?.*\}?\}|\[.*\]|[x*.#_-]+|\.\.\.|"
    r"(?:your|my|the|some|insert|enter|replace|add|put)(?:[_.-][\w.-]*)?|[\w.-]*(?:here|example|placeholder|dummy|"
    r"changeme|redacted|secret|password|token|xxxx)[\w.-]*|none|null|nil|true|false|undefined|"
    r"(?:os\.environ|os\.getenv|process\.env|env|getenv|config|settings|self|this|request|args|kwargs)\b.*)$",
    re.IGNORECASE,
)


_PATH = re.compile(r"^(?:\.{0,2}/[\w.\-]+)+/?$")


def placeholder(value: str) -> bool:
    return bool(_PLACEHOLDER.match(value))


_NOT_SECRET_KEY = re.compile(
    r"[_.\-]?(?:type|name|file|path|dir|url|uri|field|label|hint|len|length|count|size|prompt|policy|format"
    r"|class|kind|id|index|limit|expiry|expires|env|var|header|param|endpoint|prefix|suffix)s?$",
    re.IGNORECASE,
)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z_.]*$")  # a dotted name without digits: code, not a secret


def secret_key(key_rest: str) -> bool:
    """The part of a key after its secret word (`_type` in `token_type`) does not make it metadata."""
    return not _NOT_SECRET_KEY.search(key_rest)


def secret_value(value: str, password: bool, quoted: bool) -> bool:
    """A value assigned to a secret-named key that looks like a real secret: not a placeholder, not code,
    and (unless a quoted password) random-looking: long, mixed, high entropy (as secret scanners)."""
    if placeholder(value) or "(" in value or value.startswith(("http", "<", "$")):
        return False
    if _PATH.match(value) and not (len(value) >= 30 and entropy(value) >= 4.5):
        return False  # a path (a random base64 value with slashes is no path)
    if not quoted and _IDENTIFIER.match(value):
        return False
    if password:
        return len(value) >= 6 and not value.isalpha()
    if len(value) < 16:
        return False
    kinds = sum(
        (any(c.isdigit() for c in value), any(c.islower() for c in value), any(c.isupper() for c in value))
    )
    if value.isalpha():  # random letters have as many capitals as not; CamelCase words a few
        upper = sum(c.isupper() for c in value) / len(value)
        return len(value) >= 20 and 0.25 <= upper <= 0.75 and entropy(value) >= 4.0
    if "_" in value.strip("_") and value.replace("_", "").isalpha():
        return False  # identifiers
    return kinds >= 2 and entropy(value) >= (3.0 if len(value) < 24 else 3.5)
