"""Human review of generated data: a local web app, an append-only decision log, agreement, and the export
of decisions into SFT corrections and preference pairs (`review.sft`, `review.pairs`)."""

from reasoning.review.export import export
from reasoning.review.store import DecisionLog

__all__ = ["DecisionLog", "export"]
