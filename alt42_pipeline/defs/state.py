"""Dagster definitions of the state domain."""

import dagster as dg

defs = dg.Definitions()
