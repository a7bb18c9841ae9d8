"""The intervention batch: schedules, required records, recommenders, per-student processing.

Plain functions with no Dagster import; ``alt42_pipeline.defs.interventions`` wraps them.
"""
