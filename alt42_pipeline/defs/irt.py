"""Dagster definitions of the irt domain."""

import dagster as dg

defs = dg.Definitions()
