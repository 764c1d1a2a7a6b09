"""`RunLayout`: the one owner of every path in a run directory, the real interface between stages.

Stages, the report and trace ask the layout for paths; none of them spells a run-directory path itself.
References in a recipe (`curate.train`, `generate.pairs`, `train.sft`) resolve here too, so a stage that
reads another's output names it by reference and the run graph can be derived from those references.

    RUN/
      manifest.json  curated/  rejects/  _work/                      curate
      mix/<split>/   (the mix's numbers go into manifest.json too)   mix
      generate/{sft,pairs,samples,quarantine}/  generate/manifest.json generate
      train/<stage>/{model,log.jsonl,loss.png,manifest.json}         train.<stage>
      train/eval/results.json                                        eval
      <stage>/                                                       any stage added later (its own folder)
      report/index.html  DATACARD.md  .mixloom-state.json  .lock     the core
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mixloom import storage

# references whose files do not follow the generic `<stage>/<part>` rule
_SPECIAL = {
    "curate.train": "mix/train",
    "curate.validation": "mix/validation",
    "curate.test": "mix/test",
    "curate.curated": "curated",
    "curate.rejects": "rejects",
    "train.tokenizer": "train/tokenizer",  # the tokenizer files sit in the stage folder, not in model/
}
# older names of references, kept so recipes written before the mix was its own stage still read the same
# files: the mix splits are produced by the `mix` stage
REF_ALIASES = {"curate.train": "mix.train", "curate.validation": "mix.validation", "curate.test": "mix.test"}


def canonical_ref(ref: str) -> str:
    """The current name of a reference (`curate.train` → `mix.train`), used to find its producer."""
    return REF_ALIASES.get(ref, ref)


@dataclass(frozen=True)
class RunLayout:
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", storage.path(self.root))  # a URL stays a URL (object storage)

    # -- the core ------------------------------------------------------------------------------
    @property
    def state(self) -> Path:
        """Cache keys of the stages that finished (what `run` and `plan` compare against)."""
        return self.root / ".mixloom-state.json"

    @property
    def lock(self) -> Path:
        return self.root / ".lock"

    @property
    def report_dir(self) -> Path:
        return self.root / "report"

    @property
    def datacard(self) -> Path:
        return self.root / "DATACARD.md"

    def stage_dir(self, stage: str) -> Path:
        """A stage's own folder: `curate` is the run root (for compatibility), `train.sft` is train/sft."""
        if stage == "curate":
            return self.root
        if stage == "eval":
            return self.eval
        return self.root.joinpath(*stage.split("."))

    # -- curation ------------------------------------------------------------------------------
    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def curated(self) -> Path:
        return self.root / "curated"

    @property
    def rejects(self) -> Path:
        return self.root / "rejects"

    @property
    def mix_root(self) -> Path:
        return self.root / "mix"

    def mix(self, split: str) -> Path:
        return self.mix_root / split

    @property
    def work(self) -> Path:
        return self.root / "_work"

    # -- generation ----------------------------------------------------------------------------
    @property
    def generate(self) -> Path:
        return self.root / "generate"

    # -- training ------------------------------------------------------------------------------
    def train(self, stage: str) -> Path:
        return self.root / "train" / stage

    def model(self, stage: str) -> Path:
        return self.train(stage) / "model"

    @property
    def eval(self) -> Path:
        return self.root / "train" / "eval"

    # -- references ----------------------------------------------------------------------------
    def ref_path(self, ref: str) -> Path:
        """The file or folder a reference names: `curate.train` → mix/train, `generate.sft` → generate/sft,
        `train.sft` → train/sft/model, `train.sft.heldout` → train/sft/heldout, `X.part` → X/part."""
        if ref in _SPECIAL:
            return self.root / _SPECIAL[ref]
        parts = ref.split(".")
        if parts[0] == "train" and len(parts) == 2:
            return self.model(parts[1])
        return self.root.joinpath(*parts)
