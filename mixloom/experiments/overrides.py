"""Variant overrides: dotted keys into the recipe's YAML mapping.

    mix.shares: {financial: 0.6, general: 0.4}      replace a value (any depth; missing mappings are made)
    mix.tokenizer: approx
    steps: []                                      raw: no curation steps at all
    steps.toxicity: null                           a step off (the first step named `toxicity`)
    steps.sql: "length(text) >= 600"               a step's parameters replaced (the step keeps its place)
    steps.dedup#2.threshold: 0.7                   the second `dedup` step's threshold
    steps.3: null                                  the fourth step off (by position)
    steps.+: {toxicity: {backend: profanity}}      a step on (appended)

A list item is addressed by position or, in `steps`, by step name (`name#k` for the k-th of that name); a
step's parameters are under its name, so `steps.language.min_score` means the language step's `min_score`.
`null` removes a key or list item.
"""

from __future__ import annotations

import copy
from typing import Any

from mixloom.errors import UserError

_DELETE = None


def _index(node: list[Any], part: str, where: str) -> int:
    if part.lstrip("-").isdigit():
        i = int(part)
        if not -len(node) <= i < len(node):
            raise UserError(f"{where}: index {i} is out of range (the list has {len(node)} items)")
        return i % len(node)
    name, _, k = part.partition("#")
    nth = int(k) if k.isdigit() else 1
    hits = [i for i, item in enumerate(node) if isinstance(item, dict) and name in item]
    if len(hits) < nth:
        names = [next(iter(x)) for x in node if isinstance(x, dict) and x]
        raise UserError(
            f"{where}: no step '{part}' (the list has {', '.join(names) or 'no named steps'}); "
            "use a name, name#k for the k-th of that name, a position, or + to append"
        )
    return hits[nth - 1]


def _set(node: Any, parts: list[str], value: Any, where: str) -> None:
    head, rest = parts[0], parts[1:]
    if isinstance(node, list):
        if head == "+":
            if rest:
                raise UserError(f"{where}: '+' appends a whole item; give its value, not a key below it")
            node.append(copy.deepcopy(value))
            return
        i = _index(node, head, where)
        if not rest:
            if value is _DELETE:
                del node[i]
            elif head.lstrip("-").isdigit():
                node[i] = copy.deepcopy(value)
            else:  # by name: the value is the step's parameters
                node[i] = {head.partition("#")[0]: copy.deepcopy(value)}
            return
        item = node[i]
        # `steps.language.min_score`: the step's parameters live under its own name
        if isinstance(item, dict) and len(item) == 1 and rest[0] != head.partition("#")[0]:
            name = next(iter(item))
            if name == head.partition("#")[0]:
                if item[name] is None:
                    item[name] = {}
                _set(item[name], rest, value, where)
                return
        _set(item, rest, value, where)
        return
    if not isinstance(node, dict):
        raise UserError(f"{where}: '{head}' is below a value that is not a mapping or list")
    if not rest:
        if value is _DELETE:
            node.pop(head, None)
        else:
            node[head] = copy.deepcopy(value)
        return
    if node.get(head) is None:
        node[head] = {}
    _set(node[head], rest, value, where)


def apply_overrides(doc: dict[str, Any], overrides: dict[str, Any], where: str) -> dict[str, Any]:
    """A copy of the recipe mapping `doc` with the overrides applied in order; errors name `where.key`."""
    out = copy.deepcopy(doc)
    for key, value in overrides.items():
        parts = str(key).split(".")
        if not all(parts):
            raise UserError(f"{where}.{key}: empty part in a dotted key")
        _set(out, parts, value, f"{where}.{key}")
    return out
