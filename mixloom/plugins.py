"""What the core knows of the stage packages: names and "module:attr" strings, never imports.

Adding a stage, a recipe section or a command is one line here plus one new module.
"""

from __future__ import annotations

from mixloom.registry import Registry

# Stages in their default order (the run graph orders them by what they read; ties keep this order).
STAGES = Registry(
    "stage",
    {
        "curate": "curation.stage:STAGE",
        "mix": "curation.stage:MIX",
        "generate": "reasoning.stage:STAGE",
        "train.tokenizer": "training.stage:TOKENIZER",
        "train.pretrain": "training.stage:PRETRAIN",
        "train.sft": "training.stage:SFT",
        "train.rm": "training.stage:RM",
        "train.dpo": "training.stage:DPO",
        "train.grpo": "training.stage:GRPO",
        "eval": "training.stage:EVAL",
        "review": "reasoning.review.stage:STAGE",
        "annotate": "reasoning.annotate:STAGE",
        "train.quality_model": "training.quality_model:STAGE",
        "audit": "curation.audit.stage:STAGE",
    },
)

# Top-level recipe sections owned by a stage package: key → its pydantic schema.
SECTIONS = Registry(
    "recipe section",
    {
        "augment": "curation.augment.section:AugmentSection",
        "annotate": "reasoning.annotate_section:AnnotateSection",
        "audit": "curation.audit.run:AuditSection",
        "ablate": "mixloom.experiments.schema:AblateSection",
        "mix_search": "mixloom.experiments.schema:MixSearchSection",
    },
)

# Commands of the stage packages: name → a `register(app: typer.Typer)` function.
COMMANDS = Registry(
    "command",
    {
        "validate": "mixloom.commands.validate:register",
        "run": "mixloom.commands.run:register",  # run, plan, report, trace
        "tiny-model": "mixloom.commands.tiny:register",
        "curate": "curation.cli:register",
        "generate": "reasoning.cli:register",
        "train": "training.cli:register",
        "review": "reasoning.review.cli:register",
        "annotate": "reasoning.annotate_cli:register",
        "quality-model": "training.quality_model_cli:register",
        "audit": "curation.audit.cli:register",
        "toxicity-model": "curation.toxicity_model.cli:register",
        "export": "curation.export_cli:register",
        "ablate": "mixloom.experiments.commands:register_ablate",
        "mix-search": "mixloom.experiments.commands:register_mix_search",
    },
)
