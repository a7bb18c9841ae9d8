"""Dagster definitions of the interventions domain."""

import dagster as dg

defs = dg.Definitions()
