"""The curation engine: read sources, run steps over shards, balance the mix, split, account for every document."""
