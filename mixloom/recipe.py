"""The recipe: one YAML file that describes sources, curation steps, mix, splits, generation and training.

`load_recipe` parses and validates the schema; errors name the recipe file, the key path and the fix.
Relative paths in a recipe resolve against `base_dir`, itself relative to the recipe file
(default: the recipe's own directory), so a recipe runs the same from any working directory.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from mixloom import storage
from mixloom.errors import RecipeError, UserError
from mixloom.manifest import stable_hash
from mixloom.schema import Strict
from mixloom.sections.curate import Execution, Mix, Source, check_curation
from mixloom.sections.generate import GenerateSection
from mixloom.sections.train import TrainSection


class Recipe(Strict):
    model_config = ConfigDict(extra="allow")  # top-level keys of later stages: checked against SECTIONS
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    seed: int = 0
    base_dir: str = "."
    output: str | None = None
    sources: dict[str, Source] = {}
    steps: list[dict[str, Any]] = []
    mix: Mix | None = None
    splits: dict[str, float] = {"train": 1.0}
    execution: Execution = Execution()
    generate: GenerateSection | None = None
    train: TrainSection | None = None

    _path: Path = PrivateAttr(default=Path("recipe.yaml"))
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _curation(self) -> Recipe:
        check_curation(self.sources, self.steps, self.mix, self.splits)
        return self

    @model_validator(mode="after")
    def _stage_sections(self) -> Recipe:
        """Top-level keys that no core field knows belong to a stage package (`mixloom.plugins.SECTIONS`)."""
        from mixloom.plugins import SECTIONS

        for key, value in list((self.__pydantic_extra__ or {}).items()):
            if key not in SECTIONS:
                raise ValueError(
                    f"{key}: unknown key (check the spelling; top-level keys are "
                    f"{', '.join([*type(self).model_fields, *SECTIONS.names()])})"
                )
            self.__pydantic_extra__[key] = (
                SECTIONS.get(key).model_validate(value) if value is not None else None
            )
        return self

    # -- sections ------------------------------------------------------------------------------
    def get(self, dotted: str) -> Any:
        """The parsed section at a dotted key (`train.sft`, `generate`, `audit`), or None."""
        obj: Any = self
        for part in dotted.split("."):
            if obj is None:
                return None
            extra = getattr(obj, "__pydantic_extra__", None) or {}
            obj = extra[part] if part in extra else getattr(obj, part, None)
        return obj

    def dump(self, dotted: str) -> Any:
        """The JSON form of a section (what a stage's cache key covers)."""
        obj = self.get(dotted)
        return obj.model_dump(mode="json") if hasattr(obj, "model_dump") else obj

    # -- paths -------------------------------------------------------------------------------
    @property
    def path(self) -> Path:
        return self._path

    @property
    def root(self) -> Path:
        return (self._path.parent / self.base_dir).resolve()

    def resolve(self, p: str | Path) -> Path:
        """A recipe path made absolute (relative paths are taken from `base_dir`)."""
        p = Path(p).expanduser()
        return p if p.is_absolute() else self.root / p

    def output_dir(self, override: str | Path | None = None) -> Path:
        if override is not None:
            p = storage.path(override)  # a URL stays a URL; file:///x is the local /x
            return p if storage.is_url(p) else p.resolve()
        if self.output and storage.is_url(self.output):
            return storage.path(self.output)
        return self.resolve(self.output or f"runs/{self.name}")

    # -- hashing -----------------------------------------------------------------------------
    def section(self, *keys: str) -> dict[str, Any]:
        """The raw recipe values for these top-level keys (what a stage's cache key covers)."""
        dumped = self.model_dump(mode="json")
        return {k: dumped.get(k) for k in keys}

    def hash(self, *keys: str) -> str:
        return stable_hash(self.section(*keys) if keys else self.model_dump(mode="json"))


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(x) for x in loc) or "(top level)"


def parse_recipe(data: Any, path: str | Path = "recipe.yaml") -> Recipe:
    """Validate an already-parsed recipe mapping (used by tests and by `load_recipe`)."""
    path = Path(path)
    if not isinstance(data, dict):
        raise RecipeError(str(path), "(top level)", "a recipe must be a YAML mapping", "see recipes/*.yaml")
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as e:
        lines = []
        for err in e.errors():
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key (check the spelling; see recipes/*.yaml for the keys each section takes)"
            elif err["type"] == "missing":
                msg = "required key is missing"
            lines.append(f"{path}: {_where(err['loc'])}: {msg}" if err["loc"] else f"{path}: {msg}")
        raise RecipeError(str(path), "schema", f"{len(lines)} problem(s): " + "; ".join(lines)) from None
    recipe._path = path.resolve()
    recipe._raw = data
    return recipe


_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def apply_overrides(data: dict[str, Any], overrides: list[str], where: str = "--set") -> dict[str, Any]:
    """A copy of a parsed recipe with `key.path=value` overrides applied (`train.sft.max_steps=5`).

    Values are read as YAML (`5` is a number, `true` a boolean, `[a, b]` a list, `null` removes nothing but
    sets None); a list element is addressed by its index (`steps.0.sql=...`). The result is validated like
    the recipe itself, so a misspelt key or a wrong type fails with the key path and the fix.
    """
    import copy

    out = copy.deepcopy(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key or any(not p for p in key.split(".")):
            raise UserError(f"{where} {item!r}: expected KEY.PATH=VALUE, e.g. train.sft.max_steps=5")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):  # YAML 1.1 reads `1e-4` as text
            value = float(value)
        parts = key.split(".")
        node: Any = out
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            here = ".".join(parts[: i + 1])
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise UserError(
                        f"{where} {item!r}: {here}: not an index of this list (0..{len(node) - 1})"
                    )
                idx: Any = int(part)
            elif isinstance(node, dict):
                idx = part
            else:
                raise UserError(
                    f"{where} {item!r}: {'.'.join(parts[:i])} is a {type(node).__name__}, not a section"
                )
            if last:
                node[idx] = value
            else:
                if isinstance(node, dict) and node.get(idx) is None:
                    node[idx] = {}
                node = node[idx]
    return out


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read and validate a recipe file (schema only; `mixloom.validate` checks files, steps and SQL).

    `overrides` (`["train.sft.max_steps=5"]`, the CLI's `--set`) are applied before validation."""
    path = Path(path)
    if not path.exists():
        raise RecipeError(
            str(path), "(file)", "recipe file not found", "check the path; recipes live in recipes/"
        )
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(yaml)"
        raise RecipeError(str(path), where, f"not valid YAML: {getattr(e, 'problem', e)}") from None
    if overrides:
        if not isinstance(data, dict):
            raise RecipeError(
                str(path), "(top level)", "a recipe must be a YAML mapping", "see recipes/*.yaml"
            )
        data = apply_overrides(data, overrides)
    return parse_recipe(data, path)
