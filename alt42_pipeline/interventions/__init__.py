"""The intervention batch (no Dagster here): schedules stored in the database, required
records, recommenders, and the per-student processing of a day.

``batch`` reads, recommends and writes one day; ``schedules`` says when each schedule is
due; ``schedule_store`` edits ``batch_schedules``.
"""

from .batch import WEAK_WINDOW_DAYS, BatchReport, BatchSummary, run_batch, run_days
from .recommender import Recommendation, Recommender, RuleRecommender, build_recommender
from .required_records import parse_required_records
from .schedule_store import (
    DEFAULT_SCHEDULE,
    add_schedule,
    delete_schedule,
    init_default_schedule,
    list_schedules,
    update_schedule,
)
from .schedules import FREQUENCIES, TARGET_JOBS, TARGETS, Schedule, ScheduleError, due_slots

__all__ = [
    "DEFAULT_SCHEDULE",
    "FREQUENCIES",
    "TARGETS",
    "TARGET_JOBS",
    "WEAK_WINDOW_DAYS",
    "BatchReport",
    "BatchSummary",
    "Recommendation",
    "Recommender",
    "RuleRecommender",
    "Schedule",
    "ScheduleError",
    "add_schedule",
    "build_recommender",
    "delete_schedule",
    "due_slots",
    "init_default_schedule",
    "list_schedules",
    "parse_required_records",
    "run_batch",
    "run_days",
    "update_schedule",
]
