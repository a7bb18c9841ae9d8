"""Every setting of the pipeline: one frozen, typed tree, read from the environment once.

Each setting is an environment variable (``ENVIRONMENT`` below maps each one to its place in
the tree) with a default that runs the demo on a laptop with no server: SQLite files under
a local data folder. The README lists them all. :func:`load` reads and validates the whole
tree once; a bad value raises :class:`SettingsError` naming the variable, so the code
location refuses to load (``dagster definitions validate`` fails) instead of a run failing
later. Domains never read the environment: each receives its own section (``settings.state``,
``settings.interventions``, ...), and the Dagster resources in ``defs/resources.py`` are
built from the same tree.

Secrets (tokens) are ``SecretStr``: their value shows in no ``repr``, log or error message.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from . import redaction
from .redaction import SHOWN_MAX, shown
from .warehouse.names import validate_prefix

#: Default required records of a student for a day: one attempt and one other activity.
DEFAULT_REQUIRED_RECORDS = "attempt:answered;activity:!answered"

AtLeastOne = Annotated[int, Field(ge=1)]
Positive = Annotated[int, Field(gt=0)]
PositiveSeconds = Annotated[float, Field(gt=0.0)]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


#: A table prefix: empty or a plain SQL identifier (checked where it enters, once).
TablePrefix = Annotated[str, AfterValidator(validate_prefix)]


class WarehouseSettings(_Section):
    """Where the output tables live."""

    url: str
    table_prefix: TablePrefix = ""


class SourcesSettings(_Section):
    """The source databases (an empty URL means the source is not read)."""

    assessment_url: str
    moodle_url: str
    moodle_prefix: TablePrefix = "mdl_"


class IrtSettings(_Section):
    """Who calibrates: the in-process engine, the remote IRT service, or the service with
    the engine as fallback; and where the service is."""

    backend: Literal["builtin", "remote", "remote-with-fallback"] = "builtin"
    service_url: str = ""
    service_token: SecretStr = SecretStr("")
    timeout_s: PositiveSeconds = 300.0


class StateSettings(_Section):
    """The student-state domain: heartbeat, inactivity thresholds, watchdog, alerts."""

    idle_after_days: AtLeastOne = 7
    inactive_after_days: AtLeastOne = 30
    recent_window_days: AtLeastOne = 7
    #: How far back the daily full refresh looks; default ``max(inactive, window) + 5`` days.
    lookback_days: AtLeastOne | None = None
    heartbeat_dry_run: bool = False
    heartbeat_stale_minutes: AtLeastOne = 60
    alert_webhook_url: str = ""
    scenarios_file: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> StateSettings:
        if self.inactive_after_days <= self.idle_after_days:
            raise ValueError(
                f"inactive_after_days={self.inactive_after_days} must be greater than "
                f"idle_after_days={self.idle_after_days}"
            )
        if self.lookback_days is None:
            object.__setattr__(self, "lookback_days", max(self.inactive_after_days, self.recent_window_days) + 5)
        return self


class InterventionSettings(_Section):
    """The intervention batch: which recommender, how to call it, who qualifies."""

    recommender: Literal["builtin", "remote"] = "builtin"
    recommender_url: str = ""
    recommender_token: SecretStr = SecretStr("")
    recommender_timeout_s: PositiveSeconds = 10.0
    recommender_attempts: Positive = 3
    recommender_chunk: Positive = 500
    required_records: str = DEFAULT_REQUIRED_RECORDS


#: Shortest bearer token the batch management API accepts (a guessable token is no protection).
API_TOKEN_MIN_LENGTH = 16


def _http_url(value: str) -> str:
    """An http(s) URL with a host (the Dagster webserver's, for its GraphQL API)."""
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL with a host, e.g. http://dagster-webserver:80")
    return value.rstrip("/")


class ApiSettings(_Section):
    """The batch management HTTP API (``alt42 api``) and the Dagster webserver it launches
    runs through."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8042
    #: Bearer token every /api/batch request must carry; the API refuses to start without one.
    token: SecretStr = SecretStr("")
    max_body_bytes: Positive = 64 * 1024
    rate_per_minute: Positive = 120
    dagster_url: Annotated[str, AfterValidator(_http_url)] = "http://127.0.0.1:3000"

    @model_validator(mode="after")
    def _token_long_enough(self) -> ApiSettings:
        length = len(self.token.get_secret_value())
        if 0 < length < API_TOKEN_MIN_LENGTH:  # the value itself is never put in the message
            raise ValueError(f"token must be at least {API_TOKEN_MIN_LENGTH} characters long, not {length}")
        return self


class ReportSettings(_Section):
    """Where the weekly reports go: always the warehouse (``weekly_reports``), and HTML files
    in ``report_dir`` unless ``files`` is off (a pod's files vanish with it)."""

    report_dir: Path
    files: bool = True


class Settings(BaseSettings):
    """The whole tree. Build it with :func:`load`; tests may pass sections directly."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid")

    data_dir: Path = Path("data")
    partitions_start: dt.date = dt.date(2025, 1, 1)
    warehouse: WarehouseSettings
    sources: SourcesSettings
    irt: IrtSettings = IrtSettings()
    state: StateSettings = StateSettings()
    interventions: InterventionSettings = InterventionSettings()
    reports: ReportSettings
    api: ApiSettings = ApiSettings()

    @model_validator(mode="before")
    @classmethod
    def _defaults_under_data_dir(cls, values: Any) -> Any:
        """The embedded default: SQLite files and reports under ``data_dir``."""
        values = dict(values)
        data = Path(values.get("data_dir") or "data").resolve()
        values["data_dir"] = data
        defaults = {
            "warehouse": {"url": f"sqlite:///{data / 'warehouse.db'}"},
            "sources": {
                "assessment_url": f"sqlite:///{data / 'assessment.db'}",
                "moodle_url": f"sqlite:///{data / 'moodle.db'}",
            },
            "reports": {"report_dir": data / "reports"},
        }
        for section, fields in defaults.items():
            given = values.get(section)
            if isinstance(given, BaseModel):
                continue
            values[section] = fields | dict(given or {})
        return values

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, **_others
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _Environment(settings_cls)


#: Every environment variable and its place in the tree (``("state", "idle_after_days")``).
ENVIRONMENT: dict[str, tuple[str, ...]] = {
    "ALT42_DATA_DIR": ("data_dir",),
    "ALT42_PARTITIONS_START": ("partitions_start",),
    "ALT42_WAREHOUSE_URL": ("warehouse", "url"),
    "ALT42_TABLE_PREFIX": ("warehouse", "table_prefix"),
    "ALT42_ASSESSMENT_URL": ("sources", "assessment_url"),
    "ALT42_MOODLE_URL": ("sources", "moodle_url"),
    "ALT42_MOODLE_PREFIX": ("sources", "moodle_prefix"),
    "ALT42_IRT_BACKEND": ("irt", "backend"),
    "ALT42_IRT_SERVICE_URL": ("irt", "service_url"),
    "ALT42_IRT_SERVICE_TOKEN": ("irt", "service_token"),
    "ALT42_IRT_TIMEOUT_S": ("irt", "timeout_s"),
    "ALT42_IDLE_AFTER_DAYS": ("state", "idle_after_days"),
    "ALT42_INACTIVE_AFTER_DAYS": ("state", "inactive_after_days"),
    "ALT42_STATE_WINDOW_DAYS": ("state", "recent_window_days"),
    "ALT42_STATE_LOOKBACK_DAYS": ("state", "lookback_days"),
    "ALT42_HEARTBEAT_DRY_RUN": ("state", "heartbeat_dry_run"),
    "ALT42_HEARTBEAT_STALE_MINUTES": ("state", "heartbeat_stale_minutes"),
    "ALT42_ALERT_WEBHOOK_URL": ("state", "alert_webhook_url"),
    "ALT42_SCENARIOS_FILE": ("state", "scenarios_file"),
    "ALT42_RECOMMENDER": ("interventions", "recommender"),
    "ALT42_RECOMMENDER_URL": ("interventions", "recommender_url"),
    "ALT42_RECOMMENDER_TOKEN": ("interventions", "recommender_token"),
    "ALT42_RECOMMENDER_TIMEOUT_S": ("interventions", "recommender_timeout_s"),
    "ALT42_RECOMMENDER_ATTEMPTS": ("interventions", "recommender_attempts"),
    "ALT42_RECOMMENDER_CHUNK": ("interventions", "recommender_chunk"),
    "ALT42_REQUIRED_RECORDS": ("interventions", "required_records"),
    "ALT42_REPORT_DIR": ("reports", "report_dir"),
    "ALT42_REPORT_FILES": ("reports", "files"),
    "ALT42_API_HOST": ("api", "host"),
    "ALT42_API_PORT": ("api", "port"),
    "ALT42_API_TOKEN": ("api", "token"),
    "ALT42_API_MAX_BODY_BYTES": ("api", "max_body_bytes"),
    "ALT42_API_RATE_PER_MINUTE": ("api", "rate_per_minute"),
    "ALT42_DAGSTER_URL": ("api", "dagster_url"),
}
_NAME_OF = {path: name for name, path in ENVIRONMENT.items()}
#: Variables whose empty value is a value of its own: an empty source URL means "not read"
#: (every other variable falls back to its default when empty).
EMPTY_MEANS_OFF = frozenset({"ALT42_ASSESSMENT_URL", "ALT42_MOODLE_URL"})


class _Environment(PydanticBaseSettingsSource):
    """The ``ALT42_*`` variables, nested into the tree; an empty value means the default."""

    def get_field_value(self, field, field_name):  # pragma: no cover - the whole tree is read in __call__
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        import os

        tree: dict[str, Any] = {}
        for name, path in ENVIRONMENT.items():
            value = os.environ.get(name)
            if value is None or (value == "" and name not in EMPTY_MEANS_OFF):
                continue
            node = tree
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = value
        return tree


class SettingsError(ValueError):
    """A setting with an impossible value; the message names the environment variable."""


@functools.cache
def load() -> Settings:
    """The settings from the environment, read and validated once (``load.cache_clear()``
    makes the next call read the environment again)."""
    try:
        loaded = Settings()
    except ValidationError as exc:
        raise SettingsError("; ".join(_describe(error) for error in exc.errors())) from None
    register_secrets(loaded)
    return loaded


def register_secrets(s: Settings) -> None:
    """Tell the redaction filter what is secret here: tokens, the webhook and service URLs
    (their paths and query strings often carry a token) and database passwords."""
    import sqlalchemy as sa

    passwords = []
    for url in (s.warehouse.url, s.sources.assessment_url, s.sources.moodle_url):
        try:
            passwords.append(sa.engine.make_url(url).password if url else None)
        except Exception:  # noqa: BLE001 - a URL SQLAlchemy cannot parse fails later, with its own error
            continue
    redaction.register(
        s.irt.service_token.get_secret_value(),
        s.interventions.recommender_token.get_secret_value(),
        s.api.token.get_secret_value(),
        s.state.alert_webhook_url,
        s.interventions.recommender_url,
        s.irt.service_url,
        *passwords,
    )


def _describe(error: dict) -> str:
    """One pydantic error in the words of the environment variable it came from."""
    loc = tuple(str(part) for part in error["loc"] if not isinstance(part, int))
    raw = error.get("input")
    name = _NAME_OF.get(loc)
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if name is None:  # a rule over several fields: say it with the variables' names
        message = str(ctx.get("error", error["msg"]))
        for field, env in ((path[-1], env) for path, env in _NAME_OF.items() if path[:-1] == loc):
            message = re.sub(rf"\b{field}\b", env, message)
        return message
    if kind in ("int_parsing", "int_from_float"):
        return f"{name}={shown(raw)} is not an integer"
    if kind == "float_parsing":
        return f"{name}={shown(raw)} is not a number"
    if kind == "bool_parsing":
        return f"{name}={shown(raw)} is not a boolean (true/false)"
    if kind == "greater_than_equal":
        return f"{name}={str(raw)[:SHOWN_MAX]} must be at least {ctx['ge']}"
    if kind == "less_than_equal":
        return f"{name}={str(raw)[:SHOWN_MAX]} must be at most {ctx['le']}"
    if kind == "greater_than":
        noun = "int" if isinstance(ctx.get("gt"), int) else "number"
        return f"{name} must be a positive {noun}, not {shown(raw)}"
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", ctx.get("expected", ""))
        listed = (
            ", ".join(repr(c) for c in choices[:-1]) + f" or {choices[-1]!r}"
            if len(choices) > 1
            else ctx.get("expected")
        )
        return f"{name} must be {listed}, not {shown(raw)}"
    if kind in ("date_parsing", "date_from_datetime_parsing"):
        return f"{name}={shown(raw)} is not a date (YYYY-MM-DD)"
    return f"{name}={shown(raw)}: {ctx.get('error', error['msg'])}"
