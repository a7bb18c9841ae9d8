"""Dagster definitions of the ingest domain."""

import dagster as dg

defs = dg.Definitions()
