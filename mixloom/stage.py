"""The one stage interface: curate, generate, each training stage, eval, and every stage added later.

A stage is an object with a `name` (`curate`, `generate`, `train.sft`, `eval`, `audit`, ...) and four methods:

- `validate(recipe)`: every check that can run before work starts (raises `RecipeError`; may return a short
  summary of what it found, e.g. files per source, for `mixloom validate`);
- `reads(recipe)`: the references (`curate.train`, `generate.pairs`, `train.sft`) and data files it consumes;
- `run(recipe, layout)`: does the work, writes under `layout`, returns a small JSON-able result;
- `report(layout)`: the sections it adds to the HTML report and the data card.

The run graph is derived from `reads`: a reference's producer is the stage whose name is its longest prefix
(`train.sft.heldout` → `train.sft`), so nobody writes dependencies by hand. A stage's cache key covers its own
recipe section (`section`), the checksums of the files it reads and the keys of the stages it reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mixloom.layout import RunLayout
    from mixloom.recipe import Recipe


@dataclass
class Section:
    """A part of the HTML report (`html`, self-contained) and of the data card (`markdown`)."""

    title: str
    html: str = ""
    markdown: str = ""
    order: int = 50  # lower comes first in the report
    figures: dict[str, bytes] = field(default_factory=dict)  # name.png → PNG bytes, written beside the page
    facts: dict[str, str] = field(default_factory=dict)  # key results for the summary at the top


class Stage:
    """Base class with the defaults most stages want; override what differs."""

    name: str = ""
    object_storage: bool = False  # whether its run directory may be a URL (s3://...; see mixloom.storage)

    def enabled(self, recipe: Recipe) -> bool:
        """Whether the recipe configures this stage (by default: its section is present)."""
        return recipe.get(self.name) is not None

    def section(self, recipe: Recipe, layout: RunLayout) -> Any:
        """What of the recipe (and of the run, e.g. a decision log) this stage depends on: its cache key."""
        return {"section": recipe.dump(self.name), "seed": recipe.seed}

    def validate(self, recipe: Recipe) -> dict[str, Any] | None:
        return None

    def reads(self, recipe: Recipe) -> list[str]:
        return []

    def run(self, recipe: Recipe, layout: RunLayout) -> dict[str, Any]:
        raise NotImplementedError

    def report(self, layout: RunLayout) -> list[Section]:
        return []

    def summary(self, result: dict[str, Any]) -> str:
        """One line for the terminal after the stage ran (key results, not a dump)."""
        return ""
