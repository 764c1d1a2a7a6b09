"""Word splitting compatible with spaCy's blank English tokenizer, without spaCy.

The published quality rules (Gopher, FineWeb) count words as the reference implementation splits them, and
datatrove splits English with `spacy.blank("en")`. To agree with it on close calls, this module replays the
same algorithm (whitespace chunks → prefix/suffix stripping with special cases → URL match → infix splits →
special-case re-merging) with the same regular expressions, exported from spaCy into `spacy_en_rules.json`
by `make_spacy_rules.py`.

Speed comes from never running a regex whose answer is already known: a chunk's tokenization never depends
on its neighbours (callers cache it per distinct chunk); the prefix rules only look at the first few
characters and the suffix rules at the last few, so their answers are cached per head / tail; infix and URL
rules only run when the string contains a character they could match. One known difference: spaCy also
re-merges special cases across a single space (": ((" can block "):"), which this per-chunk replay ignores.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import cache
from pathlib import Path
from re import _constants as C  # the regex parser behind `re` (the deprecated `sre_parse` modules' home)
from re import _parser as sre_parse

RULES_PATH = Path(__file__).with_name("spacy_en_rules.json")
_NONE: dict[str, tuple[str, ...]] = {}
MAX_AFFIX_CACHE = 50_000  # prefix and suffix lookups cached per process (each ~100 bytes)
DOTS = "\\.\\.+"  # the one unbounded prefix/suffix branch


class ChunkTokenizer:
    """Tokenizes one whitespace-free chunk the way spaCy's `Tokenizer` does (English defaults)."""

    def __init__(self, rules_path: Path = RULES_PATH) -> None:
        data = json.loads(rules_path.read_text(encoding="utf-8"))
        self._prefix_re = re.compile(data["prefix"])
        self._suffix_re = re.compile(data["suffix"])
        self._infix_re = re.compile(data["infix"])
        self._url = re.compile(data["url"], data["url_flags"]).match
        # how many leading / trailing characters decide the prefix / suffix match (branch width + lookaround)
        self._head = _bounded_width(data["prefix"], "^" + DOTS) + 1
        self._tail = _bounded_width(data["suffix"], DOTS + "$") + 2
        self._infix_chars = _consumed_chars(data["infix"])
        self._infix_trigger = re.compile(_char_class(self._infix_chars)).search
        self._pcache: dict[str, int] = {}
        self._scache: dict[str, int] = {}
        self.specials: dict[str, tuple[str, ...]] = {
            k: tuple(v) for k, v in data["rules"].items() if not any(c.isspace() for c in k)
        }
        self.punct_chars: frozenset[str] = frozenset(data["punct_chars"])
        # spaCy re-merges special cases that its affix rules would split (e.g. ":)" inside a chunk)
        self._patterns: dict[tuple[str, ...], str] = {}
        for key in self.specials:
            if self._prefix_len(key) or self._suffix_len(key) or any(self._infix(key)):
                toks = tuple(self._split(key, with_specials=False))
                if len(toks) > 1:
                    self._patterns[toks] = key
        self._by_pair: dict[tuple[str, str], list[tuple[tuple[str, ...], str]]] = {}
        for toks, key in self._patterns.items():
            self._by_pair.setdefault(toks[:2], []).append((toks, key))
        self._pairs = frozenset(self._by_pair)

    def _prefix_len(self, s: str) -> int:
        if s.startswith(".."):
            m = self._prefix_re.match(s)
            return m.end() if m else 0
        head = s[: self._head]
        n = self._pcache.get(head)
        if n is None:
            if len(self._pcache) > MAX_AFFIX_CACHE:
                self._pcache.clear()
            m = self._prefix_re.match(head)
            n = self._pcache[head] = m.end() if m else 0
        return n

    def _suffix_len(self, s: str) -> int:
        if s.endswith(".."):
            m = self._suffix_re.search(s)
            return (m.end() - m.start()) if m else 0
        tail = s[-self._tail :]
        n = self._scache.get(tail)
        if n is None:
            if len(self._scache) > MAX_AFFIX_CACHE:
                self._scache.clear()
            m = self._suffix_re.search(tail)
            n = self._scache[tail] = (m.end() - m.start()) if m else 0
        return n

    def _infix(self, string: str):
        """`infix.finditer(string)`, trying only positions holding a character some branch consumes first
        (every branch opens with a lookbehind, so the regex engine itself cannot skip ahead)."""
        pos = 0
        trigger, match = self._infix_trigger, self._infix_re.match
        while True:
            t = trigger(string, pos)
            if t is None:
                return
            m = match(string, t.start())
            if m is None:
                pos = t.start() + 1
            else:
                yield m
                pos = m.end() if m.end() > m.start() else m.end() + 1

    def _tokenize(self, chunk: str) -> tuple[str, ...]:
        special = self.specials.get(chunk)
        if special is not None:
            return special
        toks = self._split(chunk, with_specials=True)
        if len(toks) > 1 and not self._pairs.isdisjoint(zip(toks, toks[1:], strict=False)):
            toks = self._merge_specials(toks)
        return tuple(toks)

    def _attach(self, string: str) -> list[str]:
        """What spaCy does with the string left after affixes: URL, else infix splits."""
        if self._infix_chars.isdisjoint(string) or ("." in string and self._url(string)):
            return [string]  # nothing to split, or a URL (it has a dot before its top-level domain)
        out = []
        start = 0
        for m in self._infix(string):
            s, e = m.start(), m.end()
            if s == 0:
                continue
            if s != start:
                out.append(string[start:s])
            if s != e:
                out.append(string[s:e])
            start = e
        if string[start:]:
            out.append(string[start:])
        return out

    def _split(self, string: str, with_specials: bool) -> list[str]:
        """spaCy's `_split_affixes` + `_attach_tokens` for one chunk (hot loop: cache lookups inlined)."""
        specials = self.specials if with_specials else _NONE
        pget, sget, head, tail = self._pcache.get, self._scache.get, self._head, self._tail
        prefixes: list[str] = []
        suffixes: list[str] = []
        last = -1
        n = len(string)
        while n and n != last:
            if string in specials:
                break
            last = n
            if string.startswith(".."):
                pre = self._prefix_len(string)
            else:
                pre = pget(string[:head])
                if pre is None:
                    pre = self._prefix_len(string)
            if pre and n > pre and string[pre:] in specials:
                prefixes.append(string[:pre])
                string = string[pre:]
                break
            if n <= pre:
                suf = 0
            elif string.endswith(".."):
                suf = self._suffix_len(string[pre:])
            else:
                suf = sget(string[n - tail :] if n - pre > tail else string[pre:])
                if suf is None:
                    suf = self._suffix_len(string[pre:])
            if suf and n > suf and string[:-suf] in specials:
                suffixes.append(string[-suf:])
                string = string[:-suf]
                break
            if pre and suf and pre + suf <= n:
                prefixes.append(string[:pre])
                suffixes.append(string[-suf:])
                string = string[pre:-suf]
            elif pre:
                prefixes.append(string[:pre])
                string = string[pre:]
            elif suf:
                suffixes.append(string[-suf:])
                string = string[:-suf]
            n = len(string)
        out = prefixes
        if string:
            if string in specials:
                out.extend(specials[string])
            else:
                out.extend(self._attach(string))
        out.extend(reversed(suffixes))
        return out

    def _merge_specials(self, toks: list[str]) -> list[str]:
        """Replace token runs equal to a special case's affix split by the special case (longest first)."""
        matches = []
        for i, pair in enumerate(zip(toks, toks[1:], strict=False)):
            for pat, key in self._by_pair.get(pair, ()):
                if tuple(toks[i : i + len(pat)]) == pat:
                    matches.append((i, i + len(pat), key))
        if not matches:
            return toks
        matches.sort(key=lambda m: (-(m[1] - m[0]), m[0]))
        seen: set[int] = set()
        chosen = []
        for s, e, key in matches:
            if s not in seen and e - 1 not in seen:
                chosen.append((s, e, key))
            seen.update(range(s, e))
        chosen.sort()
        out: list[str] = []
        i = 0
        for s, e, key in chosen:
            out.extend(toks[i:s])
            out.extend(self.specials[key])
            i = e
        out.extend(toks[i:])
        return out


def _bounded_width(pattern: str, unbounded: str) -> int:
    """Widest match of the pattern's branches other than `unbounded` (which callers handle themselves)."""
    if f"|{unbounded}|" not in pattern:
        raise ValueError(f"unexpected affix pattern (no {unbounded}): regenerate with make_spacy_rules.py")
    return int(sre_parse.parse(pattern.replace(f"|{unbounded}|", "|")).getwidth()[1])


def _consumed_chars(pattern: str) -> frozenset[str]:
    """Every character a match of `pattern` can consume (lookarounds excluded): a string with none of
    them cannot match."""
    chars: set[str] = set()

    def walk(node) -> None:
        for op, av in node:
            if op is C.LITERAL:
                chars.add(chr(av))
            elif op is C.IN:
                for iop, iav in av:
                    if iop is C.LITERAL:
                        chars.add(chr(iav))
                    elif iop is C.RANGE:
                        chars.update(map(chr, range(iav[0], iav[1] + 1)))
                    else:  # a negated class or a category: no finite bound
                        raise ValueError(f"unsupported class item {iop} in infix pattern")
            elif op is C.BRANCH:
                for b in av[1]:
                    walk(b)
            elif op is C.SUBPATTERN:
                walk(av[-1])
            elif op in (C.MAX_REPEAT, C.MIN_REPEAT):
                walk(av[2])
            elif op in (C.ASSERT, C.ASSERT_NOT, C.AT):
                continue
            else:
                raise ValueError(f"unsupported regex node {op} in infix pattern")

    walk(sre_parse.parse(pattern))
    return frozenset(chars)


def _char_class(chars: frozenset[str]) -> str:
    """A regex character class for `chars`, written as ranges (a long list of single characters is slow)."""
    cps = sorted(map(ord, chars))
    parts = []
    i = 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        lo, hi = (re.escape(chr(cps[i])), re.escape(chr(cps[j])))
        parts.append(lo if i == j else f"{lo}-{hi}")
        i = j + 1
    return "[" + "".join(parts) + "]"


@cache
def chunk_tokenizer() -> ChunkTokenizer:
    """One shared tokenizer per process."""
    return ChunkTokenizer()


def split_words(text: str) -> list[str]:
    """All tokens of `text`, as datatrove's `split_into_words` returns them for English (uncached)."""
    tok = chunk_tokenizer()
    return [t for chunk in text.split() for t in tok._tokenize(chunk)]


def is_punct(token: str) -> bool:
    """spaCy's `is_punct` lexeme attribute: every character is in a Unicode punctuation category."""
    return all(unicodedata.category(c).startswith("P") for c in token)
