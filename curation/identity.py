"""The identity-term lexicon: which words name a social group, and three things done with them.

- `find_groups(text)`: the groups a text mentions (the bias audit counts mentions per group);
- `mask(text)`: every mention replaced by one shared token (the toxicity model never sees which group a
  sentence is about, so the group cannot move its score);
- `swap(text, group)`: every mention rewritten as a mention of `group` (counterfactual augmentation and the
  audit's counterfactual sensitivity).

The lexicon is hand-written and documented here: 20 groups (gender, race and ethnicity, religion, sexual
orientation, gender identity, disability, age, migration). Each group lists plural nouns ("Muslims"),
singular nouns ("Muslim"), adjectives that name the group on their own ("Jewish") and ambiguous adjectives
that count only before a person noun ("black people", "white men", "old folks": "a black car" is no mention).
Matching is case-insensitive on whole words. Known limits: it is English only, misses slurs (on purpose:
slurs are toxicity signals, not neutral mentions), and counts "man" and "girl" also where they are
interjections or pets' names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

MASK = "qqidq"
_GENERIC = {
    "people",
    "persons",
    "folks",
    "folk",
    "individuals",
    "community",
    "communities",
    "population",
}  # the shared token; letters only so char n-grams see one stable string
PERSON_NOUNS = (
    "people|persons|person|folks|folk|individuals|men|women|man|woman|guys|girls|boys|kids|children|"
    "community|communities|population|americans|students|workers|families|voters|citizens|neighbors|"
    "neighbours|immigrants|athletes|artists|authors|writers|teenagers|youth"
)


@dataclass(frozen=True)
class Group:
    name: str  # the audit's label, plural ("black people", "Muslims")
    plural: tuple[str, ...]  # plural nouns (first: the form used when swapping into this group)
    singular: tuple[str, ...] = ()
    adjectives: tuple[str, ...] = ()  # name the group on their own ("Jewish")
    with_noun: tuple[str, ...] = ()  # only before a person noun ("black people")

    @property
    def adjective(self) -> str:
        return (self.adjectives or self.with_noun or self.singular or self.plural)[0]


GROUPS: tuple[Group, ...] = (
    Group("women", ("women", "ladies", "females", "girls"), ("woman", "lady", "girl"), (), ("female",)),
    Group("men", ("men", "males"), ("man",), (), ("male",)),
    Group(
        "black people",
        ("blacks", "african americans"),
        ("african american",),
        ("african-american",),
        ("black",),
    ),
    Group("white people", ("whites",), (), (), ("white",)),
    Group("Asian people", ("asians",), ("asian",), ("asian",)),
    Group(
        "Latinos",
        ("latinos", "latinas", "hispanics", "latinx", "mexicans"),
        ("latino", "latina", "hispanic", "mexican"),
        ("latino", "latina", "hispanic", "mexican"),
    ),
    Group("Arabs", ("arabs",), ("arab",), ("arab", "arabic")),
    Group("Chinese people", ("chinese",), (), ("chinese",)),
    Group(
        "Indigenous people",
        ("native americans", "aboriginals", "first nations"),
        ("native american", "aboriginal"),
        ("indigenous", "aboriginal"),
        ("native",),
    ),
    Group("Jews", ("jews",), ("jew",), ("jewish",)),
    Group("Muslims", ("muslims", "moslems"), ("muslim",), ("muslim", "islamic")),
    Group("Christians", ("christians", "catholics"), ("christian", "catholic"), ("christian", "catholic")),
    Group("Hindus", ("hindus", "sikhs"), ("hindu", "sikh"), ("hindu", "sikh")),
    Group(
        "immigrants",
        ("immigrants", "migrants", "refugees", "asylum seekers", "foreigners"),
        ("immigrant", "migrant", "refugee", "asylum seeker", "foreigner"),
        ("immigrant", "migrant", "refugee"),
    ),
    Group(
        "gay people",
        ("gays", "lesbians", "homosexuals", "bisexuals"),
        ("lesbian", "homosexual", "bisexual"),
        ("gay", "lesbian", "homosexual", "bisexual", "queer", "lgbt", "lgbtq"),
    ),
    Group(
        "trans people",
        ("transgenders", "transsexuals"),
        ("transgender",),
        ("transgender", "non-binary", "nonbinary", "transsexual"),
        ("trans",),
    ),
    Group(
        "disabled people",
        ("the disabled", "the handicapped", "wheelchair users", "autistics"),
        ("wheelchair user",),
        ("disabled", "handicapped", "autistic"),
        ("blind", "deaf"),
    ),
    Group(
        "elderly people",
        ("the elderly", "seniors", "pensioners", "boomers"),
        ("pensioner",),
        ("elderly",),
        ("old", "older"),
    ),
    Group("atheists", ("atheists",), ("atheist",), ("atheist",)),
    Group("Roma", ("roma", "gypsies", "travellers"), ("gypsy",), ("romani",)),
)
GROUP_NAMES = tuple(g.name for g in GROUPS)


def _trie(words: list[str]) -> str:
    """An alternation written as a prefix tree: Python's regex engine then fails fast at each position
    (3x faster than a flat `a|b|c` over these ~130 words). Spaces match any whitespace, hyphens are optional."""
    root: dict[str, dict] = {}
    for w in set(words):
        node = root
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, dict]) -> str:
        parts = [
            (r"[^\S\n]+" if ch == " " else "[- ]?" if ch == "-" else re.escape(ch)) + emit(sub)
            for ch, sub in sorted(node.items())
            if ch
        ]
        if not parts:
            return ""
        body = parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"
        return f"(?:{body})?" if "" in node else body

    return emit(root)


@lru_cache(maxsize=1)
def _pattern() -> tuple[re.Pattern[str], dict[str, tuple[int, str]]]:
    """One regex for all groups; `kind` of each surface form: pl (plural), sg (singular), adj."""
    forms: dict[str, tuple[int, str]] = {}
    adj_forms: list[str] = []
    for i, g in enumerate(GROUPS):
        for w in g.adjectives + g.with_noun:
            forms.setdefault(w, (i, "adj"))
            adj_forms.append(w)
        for w in g.singular:
            forms[w] = (i, "sg") if w not in g.adjectives else forms[w]
        for w in g.plural:
            forms[w] = (i, "pl")
    nouns = [w for w, (_, k) in forms.items() if k in ("pl", "sg")]
    standalone = [w for g in GROUPS for w in g.adjectives]
    pat = (
        rf"(?:(?P<adj>{_trie(adj_forms)})[^\S\n]+(?P<noun>{_trie(PERSON_NOUNS.split('|'))})"
        rf"|(?P<word>{_trie(nouns + standalone)}))(?![\w-])"  # "man-made" is no mention
    )
    return re.compile(r"\b" + pat, re.IGNORECASE), forms


@lru_cache(maxsize=1)
def _lower_pattern() -> re.Pattern[str]:
    """The same pattern for lower-case text, 4x faster: no case folding, and a look-behind plus a
    first-letter look-ahead let the engine skip most positions without trying the alternation."""
    pat = _pattern()[0].pattern[2:]
    first = sorted({w[0] for g in GROUPS for w in g.plural + g.singular + g.adjectives + g.with_noun})
    return re.compile(rf"(?<![\w])(?=[{''.join(first)}])" + pat)


def _lookup(surface: str) -> tuple[int, str]:
    _, forms = _pattern()
    key = re.sub(r"\s+", " ", surface.lower())
    if key in forms:
        return forms[key]
    return forms[key.replace("-", "")] if key.replace("-", "") in forms else forms[key.replace(" ", "-")]


def find_groups(text: str) -> list[str]:
    """Names of the groups mentioned, once per mention, in order (a person noun alone is no mention)."""
    out = []
    for m in _pattern()[0].finditer(text):
        out.append(GROUPS[_lookup(m.group("adj") or m.group("word"))[0]].name)
        noun = m.group("noun")
        if noun and noun.lower() in ("men", "women", "man", "woman", "girls"):  # "black women": both
            out.append(GROUPS[_lookup(noun)[0]].name)
    return out


def mask(text: str) -> str:
    """Every identity mention (with its person noun) replaced by the shared token `MASK`."""
    return _pattern()[0].sub(MASK, text)


def mask_lower(text: str) -> str:
    """`mask` for text already in lower case (what the toxicity model's featuriser calls)."""
    return _lower_pattern().sub(MASK, text)


def swap(text: str, group: str) -> str:
    """Every identity mention rewritten as a mention of `group` (plural → plural, adjective → adjective)."""
    target = next(g for g in GROUPS if g.name == group)

    def repl(m: re.Match[str]) -> str:
        if m.group("adj"):
            noun = m.group("noun")
            out = target.plural[0] if noun.lower() in _GENERIC else f"{target.adjective} {noun}"
        else:
            kind = _lookup(m.group("word"))[1]
            one = (target.singular or (f"{target.adjective} person",))[0]
            # a standalone adjective ("a Muslim"): into a group whose adjectives need a noun ("white"), the
            # singular noun, so the swapped text still mentions the group
            adj = target.adjectives[0] if target.adjectives else one
            out = {"pl": target.plural[0], "sg": one}.get(kind, adj)
        return out[:1].upper() + out[1:] if m.group(0)[:1].isupper() else out

    return _pattern()[0].sub(repl, text)
