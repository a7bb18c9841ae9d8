"""Dagster definitions, one module per domain; ``alt42_pipeline.definitions`` merges them."""
