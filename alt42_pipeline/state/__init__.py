"""The student-state domain (no Dagster here): state machine, scenario rules, the
heartbeat's state refresh, inactivity detection, pipeline health and notifications.

Pure logic in ``machine``, ``rules`` and ``refresh``; the SQL in ``queries``; the flow
that reads, computes and writes one heartbeat in ``heartbeat``.
"""

from . import checks, health, inactivity
from .heartbeat import LEGACY_KEYS, HeartbeatConfig, HeartbeatFailed, HeartbeatSummary, run_heartbeat, slot_start
from .machine import STATES, Thresholds
from .notify import NotificationError
from .queries import LatestHeartbeat, latest_heartbeat
from .rules import RuleFileError, RuleSet, load_rules

__all__ = [
    "LEGACY_KEYS",
    "STATES",
    "HeartbeatConfig",
    "HeartbeatFailed",
    "HeartbeatSummary",
    "LatestHeartbeat",
    "NotificationError",
    "RuleFileError",
    "RuleSet",
    "Thresholds",
    "checks",
    "health",
    "inactivity",
    "latest_heartbeat",
    "load_rules",
    "run_heartbeat",
    "slot_start",
]
