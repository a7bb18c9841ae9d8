"""Dagster definitions, one module per domain, autoloaded by ``alt42_pipeline.definitions``."""
