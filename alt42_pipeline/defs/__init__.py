"""Dagster definitions, one module per domain, autoloaded by ``alt42_pipeline.definitions``."""

import warnings

import dagster as dg

# Single-run backfills are what we want for daily partitions; the beta notice is noise.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
