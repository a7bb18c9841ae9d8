"""The intervention batch (no Dagster here): schedules stored in the database, required
records, recommenders, and the per-student processing of a day.

``batch`` reads, recommends and writes one day; ``schedules`` says when each schedule is
due; ``schedule_store`` edits ``batch_schedules``. This face also chooses the recommender:
it is the one module that knows both the built-in (:mod:`.recommender`, which also holds the
types) and the remote one (:mod:`.remote`, which builds on those types), so neither of the
two has to import the other back.
"""

from __future__ import annotations

from ..settings import InterventionSettings
from .batch import WEAK_WINDOW_DAYS, BatchReport, BatchSummary, rows_by_run, run_batch, run_days, unresolved_failures
from .recommender import Recommendation, Recommender, RuleRecommender
from .remote import RemoteRecommender
from .required_records import parse_required_records
from .schedule_store import (
    DEFAULT_SCHEDULE,
    add_schedule,
    delete_schedule,
    get_schedule,
    init_default_schedule,
    list_schedules,
    update_schedule,
)
from .schedules import (
    FREQUENCIES,
    TARGET_JOBS,
    TARGETS,
    Outlook,
    Schedule,
    ScheduleConflict,
    ScheduleError,
    ScheduleNotFound,
    due_slots,
    outlook,
)

__all__ = [
    "DEFAULT_SCHEDULE",
    "FREQUENCIES",
    "TARGETS",
    "TARGET_JOBS",
    "WEAK_WINDOW_DAYS",
    "BatchReport",
    "BatchSummary",
    "Outlook",
    "Recommendation",
    "Recommender",
    "RemoteRecommender",
    "RuleRecommender",
    "Schedule",
    "ScheduleConflict",
    "ScheduleError",
    "ScheduleNotFound",
    "add_schedule",
    "build_recommender",
    "delete_schedule",
    "due_slots",
    "get_schedule",
    "init_default_schedule",
    "list_schedules",
    "outlook",
    "parse_required_records",
    "rows_by_run",
    "run_batch",
    "run_days",
    "unresolved_failures",
    "update_schedule",
]


def build_recommender(settings: InterventionSettings) -> Recommender:
    """The recommender the settings choose (``ALT42_RECOMMENDER``: builtin or remote)."""
    if settings.recommender == "remote":
        return RemoteRecommender(
            settings.recommender_url,
            settings.recommender_token.get_secret_value(),
            timeout_s=settings.recommender_timeout_s,
            attempts=settings.recommender_attempts,
        )
    return RuleRecommender()
