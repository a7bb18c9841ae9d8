"""Consistency checks over what a heartbeat wrote (each returns the number of offending
rows; the Dagster asset checks report them)."""

from __future__ import annotations

import sqlalchemy as sa

from ..warehouse import Warehouse
from .machine import STATES
from .rules import RuleSet


def invalid_states(wh: Warehouse) -> int:
    """Cache rows whose state is not one of the machine's states."""
    cache = wh.table("student_state_cache")
    return wh.count("student_state_cache", sa.or_(cache.c.state.not_in(STATES), cache.c.state.is_(None)))


def changes_not_in_cache(wh: Warehouse, heartbeat_id: str) -> int:
    """State changes of ``heartbeat_id`` whose new state is not the student's cached state."""
    log, cache = wh.table("state_change_log"), wh.table("student_state_cache")
    stmt = (
        sa.select(sa.func.count())
        .select_from(log.outerjoin(cache, cache.c.user_id == log.c.user_id))
        .where(log.c.heartbeat_id == heartbeat_id, sa.or_(cache.c.state.is_(None), cache.c.state != log.c.to_state))
    )
    return int(wh.scalar(stmt))


def firings_off_rules(wh: Warehouse, heartbeat_id: str, rules: RuleSet) -> int:
    """Scenario firings of ``heartbeat_id`` not naming a loaded rule at the loaded version."""
    log = wh.table("scenario_evaluation_log")
    bad = sa.or_(log.c.rules_version != rules.version, log.c.scenario.not_in(rules.ids))
    return wh.count("scenario_evaluation_log", sa.and_(log.c.heartbeat_id == heartbeat_id, bad))


def consumed_events_missing(wh: Warehouse, heartbeat_id: str) -> int:
    """Events ``heartbeat_id`` recorded as consumed that are not in the events table."""
    log, events = wh.table("event_processing_log"), wh.table("events")
    stmt = (
        sa.select(sa.func.count())
        .select_from(log.outerjoin(events, events.c.event_id == log.c.event_id))
        .where(log.c.heartbeat_id == heartbeat_id, events.c.event_id.is_(None))
    )
    return int(wh.scalar(stmt))
