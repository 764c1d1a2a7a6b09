"""Readers (sources → document shards, bad records quarantined) and writers (sharded Parquet/JSONL)."""
