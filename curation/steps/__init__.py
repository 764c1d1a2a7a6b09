"""Curation steps, one module each; see `base.py` for the contract and `registry.py` for the names."""
