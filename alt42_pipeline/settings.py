"""Every setting of the pipeline, read from the environment in one place.

Each setting is an environment variable with a default that works on a laptop with no
server: SQLite files under a local data folder. The README lists them all.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def validate_prefix(prefix: str, setting: str = "table prefix") -> str:
    """Return ``prefix`` if it is empty or a plain SQL identifier, else raise ValueError."""
    if prefix and not _IDENTIFIER.match(prefix):
        raise ValueError(
            f"{setting} {prefix!r} is not a plain identifier "
            "(letters, digits and underscores, not starting with a digit)"
        )
    return prefix


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def data_dir() -> Path:
    return Path(_env("ALT42_DATA_DIR", "data")).resolve()


def _sqlite_url(filename: str) -> str:
    return f"sqlite:///{data_dir() / filename}"


@dataclass(frozen=True)
class Settings:
    warehouse_url: str
    table_prefix: str
    assessment_url: str
    moodle_url: str
    moodle_prefix: str
    partitions_start: str


def load() -> Settings:
    """Read the settings from the environment (call at use time, not import time)."""
    return Settings(
        warehouse_url=_env("ALT42_WAREHOUSE_URL", _sqlite_url("warehouse.db")),
        table_prefix=validate_prefix(_env("ALT42_TABLE_PREFIX", ""), "ALT42_TABLE_PREFIX"),
        assessment_url=_env("ALT42_ASSESSMENT_URL", _sqlite_url("assessment.db")),
        moodle_url=_env("ALT42_MOODLE_URL", _sqlite_url("moodle.db")),
        moodle_prefix=validate_prefix(_env("ALT42_MOODLE_PREFIX", "mdl_"), "ALT42_MOODLE_PREFIX"),
        partitions_start=_env("ALT42_PARTITIONS_START", "2025-01-01"),
    )


def irt_settings() -> dict:
    """IRT backend settings: ``ALT42_IRT_BACKEND`` (builtin | remote | remote-with-fallback),
    ``ALT42_IRT_SERVICE_URL``, ``ALT42_IRT_TIMEOUT_S``; the token (``ALT42_IRT_SERVICE_TOKEN``)
    is read by the resource as a secret and never logged."""
    backend = _env("ALT42_IRT_BACKEND", "builtin")
    if backend not in ("builtin", "remote", "remote-with-fallback"):
        raise ValueError(f"ALT42_IRT_BACKEND={backend!r} is not builtin, remote or remote-with-fallback")
    return {
        "backend": backend,
        "url": _env("ALT42_IRT_SERVICE_URL", ""),
        "timeout_s": float(_env("ALT42_IRT_TIMEOUT_S", "300")),
    }
@dataclass(frozen=True)
class InterventionSettings:
    """Settings of the intervention batch (see :func:`load_interventions`)."""

    recommender: str
    recommender_url: str
    recommender_token: str = field(repr=False)
    recommender_timeout_s: float
    recommender_attempts: int
    recommender_chunk: int
    required_records: str


#: Default required records of a student for a day: one attempt and one other activity.
DEFAULT_REQUIRED_RECORDS = "attempt:answered;activity:!answered"


def load_interventions() -> InterventionSettings:
    """Intervention settings from the environment.

    ``ALT42_RECOMMENDER_TOKEN`` is a secret: it is kept out of ``repr`` and never logged.
    """
    recommender = _env("ALT42_RECOMMENDER", "builtin")
    if recommender not in ("builtin", "remote"):
        raise ValueError(f"ALT42_RECOMMENDER must be 'builtin' or 'remote', not {recommender!r}")
    return InterventionSettings(
        recommender=recommender,
        recommender_url=_env("ALT42_RECOMMENDER_URL", ""),
        recommender_token=_env("ALT42_RECOMMENDER_TOKEN", ""),
        recommender_timeout_s=_positive(float, "ALT42_RECOMMENDER_TIMEOUT_S", "10"),
        recommender_attempts=_positive(int, "ALT42_RECOMMENDER_ATTEMPTS", "3"),
        recommender_chunk=_positive(int, "ALT42_RECOMMENDER_CHUNK", "500"),
        required_records=_env("ALT42_REQUIRED_RECORDS", DEFAULT_REQUIRED_RECORDS),
    )


def _positive(kind: type, name: str, default: str):
    raw = _env(name, default)
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{name} must be a positive {kind.__name__}, not {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be a positive {kind.__name__}, not {raw!r}")
    return value



def report_dir() -> Path:
    """Folder the weekly reports are written to: ``ALT42_REPORT_DIR``, by default
    ``<ALT42_DATA_DIR>/reports`` (created on first write)."""
    return Path(_env("ALT42_REPORT_DIR", str(data_dir() / "reports"))).resolve()

def _env_int(name: str, default: int, minimum: int = 1) -> int:
    raw = _env(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ValueError(f"{name}={value} must be at least {minimum}")
    return value


def _env_bool(name: str, default: bool) -> bool:
    raw = _env(name, "true" if default else "false").strip().lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name}={raw!r} is not a boolean (true/false)")


@dataclass(frozen=True)
class StateSettings:
    """Settings of the student-state domain (heartbeat, inactivity, watchdog)."""

    idle_after_days: int
    inactive_after_days: int
    recent_window_days: int
    lookback_days: int
    heartbeat_dry_run: bool
    heartbeat_stale_minutes: int
    alert_webhook_url: str
    scenarios_file: str


def load_state() -> StateSettings:
    """Read the state-domain settings (call at use time, not import time)."""
    idle = _env_int("ALT42_IDLE_AFTER_DAYS", 7)
    inactive = _env_int("ALT42_INACTIVE_AFTER_DAYS", 30)
    if inactive <= idle:
        raise ValueError(
            f"ALT42_INACTIVE_AFTER_DAYS={inactive} must be greater than ALT42_IDLE_AFTER_DAYS={idle}"
        )
    window = _env_int("ALT42_STATE_WINDOW_DAYS", 7)
    return StateSettings(
        idle_after_days=idle,
        inactive_after_days=inactive,
        recent_window_days=window,
        lookback_days=_env_int("ALT42_STATE_LOOKBACK_DAYS", max(inactive, window) + 5),
        heartbeat_dry_run=_env_bool("ALT42_HEARTBEAT_DRY_RUN", False),
        heartbeat_stale_minutes=_env_int("ALT42_HEARTBEAT_STALE_MINUTES", 60),
        alert_webhook_url=_env("ALT42_ALERT_WEBHOOK_URL", ""),
        scenarios_file=_env("ALT42_SCENARIOS_FILE", ""),
    )
