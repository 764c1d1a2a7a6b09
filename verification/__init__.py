"""Shared verification: answer checking (`verification.answers`) and the code sandbox (`verification.sandbox`).

The one package that stage packages share: reasoning selects samples with it, training scores GRPO rewards
and pass@k with it, so a verdict means the same thing everywhere.
"""
