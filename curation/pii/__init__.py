"""PII and secret detection for the `pii` curation step (see curation/steps/pii.py)."""

from curation.pii.detect import SEP, TYPES, Span, scan
from curation.pii.redact import redact_batch

__all__ = ["SEP", "TYPES", "Span", "redact_batch", "scan"]
