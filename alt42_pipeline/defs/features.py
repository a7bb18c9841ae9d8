"""Dagster definitions of the features domain."""

import dagster as dg

defs = dg.Definitions()
