"""The run graph, derived from what each stage reads: no dependency is written by hand.

A stage's `reads` lists references (`curate.train`, `generate.pairs`, `train.sft`, `train.sft.heldout`) and
data files. A reference's producer is the registered stage whose name is its longest prefix, so adding a stage
that reads `review.pairs` makes it depend on the `review` stage without touching any other file.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path

from mixloom.errors import RecipeError
from mixloom.layout import canonical_ref
from mixloom.plugins import STAGES
from mixloom.recipe import Recipe
from mixloom.stage import Stage


@dataclass
class Node:
    stage: Stage
    refs: list[str] = field(default_factory=list)  # references it reads
    deps: list[str] = field(default_factory=list)  # the stages producing them
    files: list[Path] = field(default_factory=list)  # data files it reads (expanded)

    @property
    def name(self) -> str:
        return self.stage.name


def producer(ref: str) -> str | None:
    """The registered stage whose name is the longest prefix of `ref` (`train.sft.heldout` → `train.sft`)."""
    ref = canonical_ref(ref)
    best = None
    for name in STAGES:
        if (ref == name or ref.startswith(name + ".")) and (best is None or len(name) > len(best)):
            best = name
    return best


def expand(recipe: Recipe, pattern: str) -> list[Path]:
    """A path, glob or directory of a recipe → the files behind it, sorted (missing paths give none)."""
    p = recipe.resolve(pattern)
    if glob.has_magic(str(p)):
        return sorted(Path(x) for x in glob.glob(str(p), recursive=True) if Path(x).is_file())
    if p.is_dir():
        return sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
    return [p] if p.is_file() else []


def build_graph(recipe: Recipe) -> list[Node]:
    """The enabled stages in run order (producers first; ties keep the registry's order)."""
    nodes = {name: Node(stage) for name, stage in STAGES.items() if stage.enabled(recipe)}
    for node in nodes.values():
        for item in node.stage.reads(recipe):
            prod = producer(item)
            if prod is None or recipe.resolve(item).exists():
                node.files += [f for f in expand(recipe, item) if f not in node.files]
                continue
            if prod not in nodes:
                raise RecipeError(
                    str(recipe.path),
                    node.name,
                    f"reads '{item}', which the stage '{prod}' produces, but this recipe does not configure it",
                    f"add a `{prod}` section or give a path instead of '{item}'",
                )
            if prod == node.name:
                continue
            node.refs.append(item)
            if prod not in node.deps:
                node.deps.append(prod)
    order: list[Node] = []
    done: set[str] = set()
    pending = list(nodes.values())
    while pending:
        ready = next((n for n in pending if all(d in done for d in n.deps)), None)
        if ready is None:
            cycle = ", ".join(f"{n.name} ← {'/'.join(n.deps)}" for n in pending)
            raise RecipeError(str(recipe.path), "(stages)", f"the stages read each other in a cycle: {cycle}")
        order.append(ready)
        done.add(ready.name)
        pending.remove(ready)
    return order
