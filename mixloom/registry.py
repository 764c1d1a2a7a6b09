"""One registry style for stages, steps, tasks, engines and commands: a name → "module:attr", loaded lazily.

Lazy loading keeps `import mixloom` cheap (no torch for a curation-only recipe) and keeps the core free of
imports of stage packages: the core names them only as strings.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any


class Registry:
    """Names mapped to `"package.module:attribute"` strings; `get(name)` imports on first use."""

    def __init__(self, kind: str, entries: dict[str, str]):
        self.kind = kind
        self._entries = dict(entries)
        self._loaded: dict[str, Any] = {}

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def names(self) -> list[str]:
        return list(self._entries)

    def register(self, name: str, target: str) -> None:
        """Add (or replace) an entry at run time, e.g. a plugin or a test; the usual way is a line in source."""
        self._entries[name] = target
        self._loaded.pop(name, None)

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)
        self._loaded.pop(name, None)

    def target(self, name: str) -> str:
        return self._entries[name]

    def get(self, name: str) -> Any:
        """The registered object; a KeyError naming the known entries when `name` is not one."""
        if name not in self._entries:
            raise KeyError(f"unknown {self.kind} {name!r}; known: {', '.join(self._entries)}")
        if name not in self._loaded:
            module, _, attr = self._entries[name].partition(":")
            obj: Any = importlib.import_module(module)
            for part in attr.split(".") if attr else []:
                obj = getattr(obj, part)
            self._loaded[name] = obj
        return self._loaded[name]

    def items(self) -> Iterator[tuple[str, Any]]:
        for name in self._entries:
            yield name, self.get(name)
