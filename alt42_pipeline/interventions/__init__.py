"""The intervention batch: schedules, required records, recommenders, per-student processing.

Plain functions with no Dagster import; ``alt42_pipeline.defs.interventions`` wraps them.
This face chooses the recommender: it is the one module that knows both the built-in
(:mod:`.recommender`, which also holds the types) and the remote one (:mod:`.remote`,
which builds on those types), so neither of the two has to import the other back.
"""

from __future__ import annotations

from ..settings import InterventionSettings
from .recommender import Recommendation, Recommender, RuleRecommender
from .remote import RemoteRecommender

__all__ = ["Recommendation", "Recommender", "RemoteRecommender", "RuleRecommender", "build_recommender"]


def build_recommender(settings: InterventionSettings) -> Recommender:
    """The recommender the settings choose (``ALT42_RECOMMENDER``: builtin or remote)."""
    if settings.recommender == "remote":
        return RemoteRecommender(
            settings.recommender_url,
            settings.recommender_token,
            timeout_s=settings.recommender_timeout_s,
            attempts=settings.recommender_attempts,
        )
    return RuleRecommender()
