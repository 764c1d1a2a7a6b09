"""A planted PII corpus, built at run time: real paragraphs with PII and secrets of every type inserted in
many formats, and look-alikes that must stay (versions, dates, prices, ISBNs, hashes, UUIDs, documentation
IPs, numbers failing their checksum). Seeded, so the same text gives the same corpus.

Used by bench/pii.py (precision and recall) and by the tests (nothing planted may survive a run).
"""

from __future__ import annotations

import base64
import json
import random
import string
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"


@dataclass
class Doc:
    text: str
    spans: list[tuple[int, int, str]] = field(default_factory=list)  # planted (start, end, type)
    lookalikes: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end, what)


def real_paragraphs(limit: int | None = None, shared: bool = True) -> list[str]:
    """WikiText-2 paragraphs and financial posts from ../shared/data, else (or with shared=False) the
    samples in data/."""
    wiki = SHARED / "wikitext2" / "valid.txt"
    fiqa = SHARED / "finance" / "fiqa_posts.json"
    if not shared or not wiki.exists():
        wiki = ROOT / "data" / "wikitext2" / "wiki_valid_sample.txt"
        fiqa = ROOT / "data" / "finance" / "fiqa_posts.json"
    paras = [p.strip() for p in wiki.read_text(encoding="utf-8").split("\n") if len(p.split()) >= 20]
    posts = [r["sentence"] for r in json.loads(fiqa.read_text(encoding="utf-8")).values()]
    out = [
        x for pair in zip(paras, posts * (len(paras) // max(1, len(posts)) + 1), strict=False) for x in pair
    ]
    return out[:limit] if limit else out


# --- generators of valid values -----------------------------------------------------------------------


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    for check in string.digits:
        digits = body + check
        total = sum(
            (d * 2 - 9 if d * 2 > 9 else d * 2) if i % 2 else d
            for i, d in enumerate(int(c) for c in reversed(digits))
        )
        if total % 10 == 0:
            return digits
    raise AssertionError


def card(rng: random.Random) -> str:
    kind = rng.choice(["visa", "mc", "mc2", "amex", "discover", "jcb"])
    if kind == "amex":
        d = _luhn_complete(rng.choice(["34", "37"]), 15, rng)
        return rng.choice([f"{d[:4]} {d[4:10]} {d[10:]}", f"{d[:4]}-{d[4:10]}-{d[10:]}", d])
    prefix = {"visa": "4", "mc": str(rng.randint(51, 55)), "mc2": str(rng.randint(2221, 2720)),
              "discover": "6011", "jcb": str(rng.randint(3528, 3589))}[kind]  # fmt: skip
    d = _luhn_complete(prefix, 16, rng)
    sep = rng.choice([" ", "-", ""])
    return sep.join(d[i : i + 4] for i in range(0, 16, 4))


def iban(rng: random.Random) -> str:
    country, bban = rng.choice(
        [
            ("DE", "n18"),
            ("GB", "a4n14"),
            ("FR", "n23"),
            ("NL", "a4n10"),
            ("ES", "n20"),
            ("IT", "a1n22"),
            ("CH", "n17"),
        ]
    )
    letters = int(bban[1]) if bban[0] == "a" else 0
    n = int(bban.split("n")[1])
    body = "".join(rng.choice(string.ascii_uppercase) for _ in range(letters)) + "".join(
        rng.choice(string.digits) for _ in range(n)
    )
    num = int("".join(str(int(c, 36)) for c in body + country + "00"))
    s = f"{country}{98 - num % 97:02d}{body}"
    return " ".join(s[i : i + 4] for i in range(0, len(s), 4)) if rng.random() < 0.6 else s


def _verhoeff_complete(body: str) -> str:
    from curation.pii.checks import verhoeff

    return next(body + c for c in string.digits if verhoeff(body + c))


def national_id(rng: random.Random) -> tuple[str, str]:
    """(carrier text with {}, value)."""
    kind = rng.choice(["ssn", "ssn_bare", "sin", "nino", "aadhaar", "dni"])
    if kind in ("ssn", "ssn_bare"):
        area = rng.choice([x for x in range(1, 900) if x != 666])
        v = f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
        if kind == "ssn_bare":
            return "SSN: {}", v.replace("-", "")
        return rng.choice(["social security number {}", "SSN {} on file", "her number, {}, was"]), v
    if kind == "sin":
        d = _luhn_complete(str(rng.randint(1, 7)), 9, rng)
        return "SIN: {}", f"{d[:3]} {d[3:6]} {d[6:]}"
    if kind == "nino":
        a = rng.choice("ABCEHJKLMNPRSTWXYZ") + rng.choice("ABCEHJKLMNPRSTWXYZ")
        while a in ("BG", "GB", "NK", "KN", "TN", "NT", "ZZ"):
            a = "AB"
        d = "".join(rng.choice(string.digits) for _ in range(6))
        return "NI number {}", rng.choice(
            [f"{a} {d[:2]} {d[2:4]} {d[4:]} {rng.choice('ABCD')}", f"{a}{d}{rng.choice('ABCD')}"]
        )
    if kind == "aadhaar":
        d = _verhoeff_complete(str(rng.randint(2, 9)) + "".join(rng.choice(string.digits) for _ in range(10)))
        return "Aadhaar {}", f"{d[:4]} {d[4:8]} {d[8:]}"
    n = rng.randint(10_000_000, 99_999_999)
    return "DNI {}", f"{n}{'TRWAGMYFPDXBNJZSQVHLCKE'[n % 23]}"


def phone(rng: random.Random) -> str:
    d = lambda k: "".join(rng.choice(string.digits) for _ in range(k))  # noqa: E731
    a = str(rng.randint(2, 9)) + d(2)
    e = str(rng.randint(2, 9)) + d(2)
    return rng.choice([
        f"+1 {a}-{e}-{d(4)}", f"+1 ({a}) {e}-{d(4)}", f"({a}) {e}-{d(4)}", f"{a}-{e}-{d(4)}", f"{a}.{e}.{d(4)}",
        f"1-800-{e}-{d(4)}", f"+1{a}{e}{d(4)}", f"+44 20 {d(4)} {d(4)}", f"+44 (0)20 {d(4)} {d(4)}",
        f"020 {d(4)} {d(4)}", f"07700 {d(6)}", f"+49 30 {d(8)}", f"030 {d(8)}", f"+49 (0)89 {d(3)} {d(4)}",
        f"+33 1 {d(2)} {d(2)} {d(2)} {d(2)}", f"01 {d(2)} {d(2)} {d(2)} {d(2)}", f"+91 98{d(3)} {d(5)}",
        f"98{d(3)} {d(5)}", f"+81-3-{d(4)}-{d(4)}", f"03-{d(4)}-{d(4)}", f"+61 412 {d(3)} {d(3)}",
        f"0412 {d(3)} {d(3)}", f"+86 138 {d(4)} {d(4)}", f"138 {d(4)} {d(4)}", f"+34 612 {d(3)} {d(3)}",
    ])  # fmt: skip


def ipv4(rng: random.Random) -> str:
    while True:
        parts = [
            rng.choice([10, 172, 192, rng.randint(11, 223)]),
            rng.randint(0, 255),
            rng.randint(0, 255),
            rng.randint(1, 254),
        ]
        if parts[0] == 192:
            parts[1] = 168
        if parts[0] in (127, 203, 198) or all(p < 10 for p in parts):
            continue
        return ".".join(map(str, parts)) + rng.choice(["", "", ":8080", "/24"])


def ipv6(rng: random.Random) -> str:
    h = lambda: f"{rng.randint(1, 0xFFFF):x}"  # noqa: E731
    return rng.choice([
        f"2a03:2880:{h()}:{h()}:face:b00c:0:{h()}", f"2001:4860:{h()}::{h()}", f"fe80::{h()}:{h()}:{h()}:{h()}",
        f"fd00:{h()}:{h()}::{h()}", f"{rng.randint(0x2001, 0x3FFF):x}:" + ":".join(h() for _ in range(7)), f"2606:4700:{h()}::{h()}:{h()}",
    ])  # fmt: skip


def email(rng: random.Random) -> str:
    first = rng.choice(["john", "maria", "li.wei", "o'neil", "anna-lena", "jörg", "s.khan", "dev+ci", "x_y"])
    first = first.replace("'", "")
    local = rng.choice([first, f"{first}.{rng.randint(1, 99)}", f"{first}_{rng.choice(['work', 'mail'])}"])
    dom = rng.choice(
        [
            "gmail.com",
            "corp.acme.co.uk",
            "uni-bonn.de",
            "mail.ru",
            "posteo.net",
            "müller.de",
            "fin.bank.com.au",
        ]
    )
    return f"{local}@{dom}"


def _rand(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def secret(rng: random.Random) -> tuple[str, str]:
    """(carrier with {}, value); the value is what must be redacted."""
    b32 = string.ascii_uppercase + "234567"
    return rng.choice([
        ("aws_access_key_id = {}", "AKIA" + _rand(rng, 16, b32)),
        ("export AWS_ACCESS_KEY_ID={}", "ASIA" + _rand(rng, 16, b32)),
        ('aws_secret_access_key = "{}"', _rand(rng, 40, string.ascii_letters + string.digits + "+/")),
        ("key={} in the maps config", "AIza" + _rand(rng, 35, string.ascii_letters + string.digits + "_-")),
        ("GITHUB_TOKEN: {}", "ghp_" + _rand(rng, 36)),
        ("token {}", "github_pat_" + _rand(rng, 22) + "_" + _rand(rng, 59)),
        ("slack bot {}", f"xoxb-{rng.randint(10**10, 10**11)}-{rng.randint(10**10, 10**11)}-{_rand(rng, 24)}"),
        ("stripe.api_key = '{}'", "sk_live_" + _rand(rng, 24)),
        ("OPENAI_API_KEY={}", "sk-proj-" + _rand(rng, 48, string.ascii_letters + string.digits + "_-")),
        ("client = OpenAI(api_key=\"{}\")", "sk-" + _rand(rng, 20) + "T3BlbkFJ" + _rand(rng, 20)),
        ("HF_TOKEN={}", "hf_" + _rand(rng, 34, string.ascii_letters)),
        ("Authorization: Bearer {}", _rand(rng, 40, string.ascii_letters + string.digits + "._-")),
        ("curl -H 'Authorization: Basic {}'", base64.b64encode(_rand(rng, 18).encode()).decode()),
        ("DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={};EndpointSuffix=core.windows.net",
         _rand(rng, 86, string.ascii_letters + string.digits + "+/") + "=="),
        ('api_key: "{}"', _rand(rng, 32, string.ascii_letters + string.digits)),
        ("SECRET_KEY = '{}'", _rand(rng, 50, string.ascii_letters + string.digits + "!@#%^&*-_")),
        ('"client_secret": "{}"', _rand(rng, 30)),
        ("jwt: {}", "eyJ" + _rand(rng, 30) + ".eyJ" + _rand(rng, 60) + "." + _rand(rng, 43, string.ascii_letters + string.digits + "_-")),
        ("npm config set //registry.npmjs.org/:_authToken {}", "npm_" + _rand(rng, 36)),
        ("GET /v1/data?access_token={} HTTP/1.1", _rand(rng, 32)),
        ("DB_PASSWORD={}", _rand(rng, 12) + "!9"),
    ])  # fmt: skip


def private_key(rng: random.Random) -> str:
    kind = rng.choice(["RSA ", "EC ", "OPENSSH ", ""])
    body = "\n".join(
        _rand(rng, 64, string.ascii_letters + string.digits + "+/") for _ in range(rng.randint(3, 12))
    )
    return f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----"


def url_credentials(rng: random.Random) -> tuple[str, str]:
    user = rng.choice(["admin", "deploy", "postgres", "jenkins", "u"])
    pw = _rand(rng, rng.randint(8, 20), string.ascii_letters + string.digits + "!$%*")
    scheme, host = rng.choice([("postgres", "db.internal:5432/app"), ("https", "git.acme.io/repo.git"),
                               ("mongodb+srv", "cluster0.mongo.net/"), ("ftp", "files.acme.org/pub"),
                               ("redis", "cache:6379/0")])  # fmt: skip
    return f"{scheme}://{{}}@{host}", f"{user}:{pw}"


CARRIERS = {
    "email": ["Contact {} for details.", "Mail me at <{}>.", "mailto:{}", "sent by {} yesterday"],
    "phone": ["Call {} today.", "Tel: {}", "phone {} (office)", "reach us on {}."],
    "ipv4": ["server at {} responded", "Host: {}", "ssh root@{}", "from IP {}."],
    "ipv6": ["listening on [{}]:443", "addr {} dev eth0", "client {} connected"],
    "credit_card": ["card {} exp 04/27", "Card number: {}", "paid with {}."],
    "iban": ["IBAN {}", "transfer to {} please", "Account: {}."],
}

# look-alikes: (text, what); none of these may be redacted
LOOKALIKES = [
    ("version 1.2.3.4", "version"), ("v10.0.0.1", "version"), ("release 2.10.3.1 is out", "version"),
    ("requires numpy>=1.21.0.2", "version"), ("Python 3.11.7", "version"), ("on 2023-01-15", "date"),
    ("at 15.01.2023", "date"), ("due 01/15/2023", "date"), ("12:30:45 UTC", "time"), ("costs $1,234.56", "price"),
    ("EUR 12.345,67", "price"), ("ISBN 978-0-306-40615-7", "isbn"), ("ISBN 0-306-40615-2", "isbn"),
    ("ISBN 9780306406157", "isbn"), ("commit 3f786850e387550fdab836ed7e6dc881de23001b", "hash"),
    ("sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "hash"),
    ("id 123e4567-e89b-12d3-a456-426614174000", "uuid"), ("docs IP 192.0.2.44", "doc_ip"),
    ("example 198.51.100.7", "doc_ip"), ("see 2001:db8::1", "doc_ip"), ("localhost 127.0.0.1", "loopback"),
    ("card 4111 1111 1111 1112", "bad_luhn"), ("IBAN DE89 3704 0044 0532 0130 01", "bad_iban"),
    ("Order #1234567", "order"), ("at 48.8566, 2.3522", "coords"), ("pp. 123-145", "pages"),
    ("std::vector<int> v;", "code"), ("x = a[1::2]", "code"), ('api_key = os.environ["API_KEY"]', "code"),
    ("token = get_token()", "code"), ('password = "<PASSWORD>"', "code"), ("population 1,234,567", "number"),
    ("SSN 000-12-3456 is invalid", "bad_ssn"), ("mask 255.255.255.0", "netmask"), ("MAC 00:1A:2B:3C:4D:5E", "mac"),
    ("chapter 3.2.1.4", "section"), ("phone model 1000", "number"), ("in 1998 2000 people", "number"),
    ("user@localhost", "no_tld"), ("@username mentioned", "handle"), ("a @-@ b @,@ c", "wikitext"),
    ("token_type = 'encoded-word'", "code"), ("password = getpass.getpass('Password: ')", "code"),
    ("Decimal('+35236450.6')", "number"), ("Decimal('1.38435736E+12')", "number"),
    ('secret_name = "prod-db-password-v2"', "code"), ('see sections "8.2.4.44 Bogus"', "section"),
    ("phone model 1000 1992", "number"), ("call them. Order #1234567", "order"), ("Ring. Host: 192.0.2.1", "doc_ip"),
    ("card 501803485596", "bad_luhn"), ("ring 000-12-3456", "bad_ssn"), ('digits = "0123456789"', "code"),
]  # fmt: skip


def planted_value(kind: str, rng: random.Random) -> tuple[str, str]:
    """(carrier with {}, value) for a type."""
    if kind == "national_id":
        return national_id(rng)
    if kind == "secret":
        return secret(rng)
    if kind == "url_credentials":
        return url_credentials(rng)
    if kind == "private_key":
        return "key file:\n{}\n", private_key(rng)
    gen = {"email": email, "phone": phone, "ipv4": ipv4, "ipv6": ipv6, "credit_card": card, "iban": iban}[
        kind
    ]
    return rng.choice(CARRIERS[kind]), gen(rng)


TYPES = (
    "email",
    "phone",
    "ipv4",
    "ipv6",
    "credit_card",
    "iban",
    "national_id",
    "url_credentials",
    "secret",
    "private_key",
)


def build(
    paragraphs: list[str], per_type: int = 300, seed: int = 0, lookalike_share: float = 0.5
) -> list[Doc]:
    """Documents from `paragraphs`, each with one planted value (cycling through the types) inserted at a
    sentence boundary, and every other one with a look-alike too; `per_type` values of each type."""
    rng = random.Random(seed)
    items = []
    for i in range(per_type * len(TYPES)):
        kind = TYPES[i % len(TYPES)]
        carrier, value = planted_value(kind, rng)
        items.append((kind, carrier, value))
    return plant(paragraphs, items, rng, lookalike_share)


def plant(
    paragraphs: list[str], items: list[tuple[str, str, str]], rng: random.Random, lookalike_share: float = 0.5
) -> list[Doc]:
    """One document per (type, carrier with {}, value): a paragraph with the value inserted at a sentence
    boundary and, with probability `lookalike_share`, a look-alike too."""
    docs = []
    for i, (kind, carrier, value) in enumerate(items):
        base = paragraphs[i % len(paragraphs)]
        pieces: list[tuple[str, str | None]] = [(carrier.replace("{}", "\x01"), kind)]
        if rng.random() < lookalike_share:
            la, what = rng.choice(LOOKALIKES)
            pieces.append((la, "~" + what))
        rng.shuffle(pieces)
        cuts = [j + 2 for j in range(len(base) - 2) if base[j : j + 2] == ". "] or [len(base)]
        doc = Doc("")
        text = ""
        pos = 0
        for piece, tag in pieces:
            cut = rng.choice([c for c in cuts if c >= pos] or [len(base)])
            text += base[pos:cut]
            if text and not text[-1].isspace():
                text += " "  # a post without a final full stop: the insert starts a new sentence
            pos = cut
            if tag == kind:
                pre, post = piece.split("\x01")
                start = len(text) + len(pre)
                doc.spans.append((start, start + len(value), kind))
                text += f"{pre}{value}{post} "
            else:
                doc.lookalikes.append((len(text), len(text) + len(piece), tag[1:]))
                text += piece + " "
        doc.text = text + base[pos:]
        docs.append(doc)
    return docs


def planted_values(docs: list[Doc]) -> set[str]:
    return {d.text[s:e] for d in docs for s, e, _ in d.spans}
