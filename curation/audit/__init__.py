"""The bias audit of a curation run (`mixloom audit`, the `audit:` recipe section, the `audit` stage)."""
