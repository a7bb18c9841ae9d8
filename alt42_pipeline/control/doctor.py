"""``alt42 doctor``: is everything the pipeline needs there? (the legacy ``test_heartbeat.php``)

One check per dependency, in the order a heartbeat needs them: the warehouse answers and is
migrated (its revision), its tables and views exist (with the table prefix), the scenario rules
load, each source answers and has its tables (Moodle 3.x or 4.x told apart by its tables),
the Dagster instance opens and its daemon's heartbeats are fresh, the IRT service answers
``/healthz`` when one is configured, and finally a dry-run heartbeat. A check that cannot
run because an earlier one failed is skipped with the reason. Nothing is written to the
warehouse, and nothing is migrated: the doctor only looks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import sqlalchemy as sa

from ..clock import now
from ..settings import Settings
from ..sources.schemas import assessment_tables, moodle_tables
from ..warehouse import Warehouse, build_schema, make_engine, migrate
from .instance import InstanceUnavailable, daemon_statuses, open_instance

OK, FAIL, SKIP = "ok", "fail", "skip"
#: The IRT service's health check gets this long, once (the doctor must not hang on it).
IRT_TIMEOUT_S = 10.0
#: Tables only Moodle 4.0+ has: the question bank moved a question's category there.
MOODLE_4_TABLES = ("question_bank_entries", "question_versions")


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok, fail or skip
    detail: str

    def line(self, width: int = 20) -> str:
        return f"{self.status:<5} {self.name:<{width}} {self.detail}"


@dataclass
class Report:
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(c.status != FAIL for c in self.checks)

    def as_dict(self) -> dict:
        return {"ok": self.ok, "checks": [asdict(c) for c in self.checks]}

    def lines(self) -> list[str]:
        width = max(len(c.name) for c in self.checks)
        failed = sum(c.status == FAIL for c in self.checks)
        verdict = "all checks passed" if not failed else f"{failed} of {len(self.checks)} checks failed"
        return [c.line(width) for c in self.checks] + [f"doctor: {verdict}"]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")


class _Doctor:
    def __init__(self, s: Settings, open_dagster: Callable) -> None:
        self.s = s
        self.open_dagster = open_dagster
        self.checks: list[Check] = []

    def add(self, name: str, status: str, detail: str) -> bool:
        self.checks.append(Check(name, status, detail))
        return status == OK

    def attempt(self, name: str, check: Callable[[], tuple[str, str]]) -> bool:
        """Run one check; any exception is that check failing, never the doctor."""
        try:
            status, detail = check()
        except Exception as exc:
            status, detail = FAIL, _first_line(exc)
        return self.add(name, status, detail)

    # -- the warehouse ---------------------------------------------------------------------
    def warehouse(self) -> tuple[sa.Engine | None, bool]:
        url, prefix = self.s.warehouse.url, self.s.warehouse.table_prefix
        engine = None

        def reachable() -> tuple[str, str]:
            nonlocal engine
            missing = _missing_sqlite_file(url)
            if missing:
                return FAIL, f"{missing} does not exist (ALT42_WAREHOUSE_URL)"
            engine = make_engine(url)
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return OK, f"{_shown(engine)} answers"

        if not self.attempt("warehouse", reachable):
            return None, False

        def revision() -> tuple[str, str]:
            current, head = migrate.current_revision(engine, prefix), migrate.head_revision()
            if current == head:
                return OK, f"at revision {current} (the code's latest)"
            if current is None:
                return FAIL, "not migrated (no revision recorded): run `alt42 migrate`"
            return FAIL, f"at revision {current}, the code needs {head}: run `alt42 migrate`"

        migrated = self.attempt("warehouse schema", revision)

        def tables() -> tuple[str, str]:
            schema = build_schema(prefix)
            insp = sa.inspect(engine)
            present = set(insp.get_table_names()) | set(insp.get_view_names())
            wanted = [schema.name(t) for t in schema.table_names] + [schema.name(v) for v in schema.view_names]
            missing = [name for name in wanted if name not in present]
            if missing:
                return FAIL, f"missing: {', '.join(missing)}"
            n_tables, n_views = len(schema.table_names), len(schema.view_names)
            return OK, f"{n_tables} tables and {n_views} views present (prefix {prefix!r})"

        present = self.attempt("warehouse tables", tables)
        return engine, migrated and present

    # -- rules, sources --------------------------------------------------------------------
    def rules(self):
        from ..state import load_rules

        loaded = None

        def load() -> tuple[str, str]:
            nonlocal loaded
            path = self.s.state.scenarios_file or None
            loaded = load_rules(path)
            return OK, f"{len(loaded.rules)} rules, version {loaded.version} ({path or 'the packaged scenarios.yaml'})"

        self.attempt("scenario rules", load)
        return loaded

    def sources(self) -> None:
        src = self.s.sources
        assessment = [t.name for t in assessment_tables().sorted_tables]
        self._source("source assessment", "ALT42_ASSESSMENT_URL", src.assessment_url, lambda insp: (assessment, ""))
        self._source("source moodle", "ALT42_MOODLE_URL", src.moodle_url, lambda insp: _moodle(insp, src.moodle_prefix))

    def _source(self, name: str, variable: str, url: str, expect: Callable) -> None:
        if not url:
            self.add(name, SKIP, f"not read ({variable} is empty)")
            return

        def check() -> tuple[str, str]:
            missing_file = _missing_sqlite_file(url)
            if missing_file:
                return FAIL, f"{missing_file} does not exist ({variable})"
            engine = make_engine(url)
            try:
                with engine.connect() as conn:
                    conn.execute(sa.text("SELECT 1"))
                insp = sa.inspect(engine)
                wanted, kind = expect(insp)
                present = set(insp.get_table_names()) | set(insp.get_view_names())
                missing = [t for t in wanted if t not in present]
                what = f"{kind}, " if kind else ""
                if missing:
                    return FAIL, f"{_shown(engine)}: {what}missing {', '.join(missing)}"
                return OK, f"{_shown(engine)} answers: {what}{len(wanted)} tables present"
            finally:
                engine.dispose()

        self.attempt(name, check)

    # -- Dagster, the IRT service ------------------------------------------------------------
    def dagster(self):
        instance = None

        def opened() -> tuple[str, str]:
            nonlocal instance
            try:
                instance = self.open_dagster()
            except InstanceUnavailable as exc:
                return FAIL, str(exc)
            instance.get_run_records(limit=1)  # the storage answers
            return OK, f"opened ({type(instance.run_storage).__name__})"

        if not self.attempt("dagster instance", opened):
            self.add("dagster daemon", SKIP, "no Dagster instance")
            return None

        def daemons() -> tuple[str, str]:
            statuses = daemon_statuses(instance)
            if not statuses:
                return SKIP, "an ephemeral instance has no daemon"
            at = now()
            stale = [d for d in statuses if not d.fresh]
            if stale and all(d.last_heartbeat is None for d in stale):
                return FAIL, "not running: no daemon heartbeat at all (start `dagster-daemon run`, or `make dev`)"
            if stale:
                shown = "; ".join(d.describe(at) for d in stale)
                return FAIL, f"not running (`dagster-daemon run`): {shown}"
            newest = max(d.last_heartbeat for d in statuses)
            errors = sum(len(d.errors) for d in statuses)
            noted = f"; {errors} recent daemon error(s), see the UI's Deployment page" if errors else ""
            age = int((at - newest).total_seconds())
            return OK, f"{len(statuses)} daemons with fresh heartbeats (latest {age} s ago){noted}"

        self.attempt("dagster daemon", daemons)
        return instance

    def irt(self) -> None:
        irt = self.s.irt
        if not irt.service_url:
            if irt.backend == "builtin":
                self.add("irt service", SKIP, "not configured (ALT42_IRT_BACKEND=builtin)")
            else:
                self.add("irt service", FAIL, f"ALT42_IRT_BACKEND={irt.backend} needs ALT42_IRT_SERVICE_URL")
            return

        def health() -> tuple[str, str]:
            from ..calibration import IrtServiceClient

            token = irt.service_token.get_secret_value() or None
            with IrtServiceClient(irt.service_url, token, timeout=IRT_TIMEOUT_S, attempts=1) as client:
                client.health()
            return OK, "answers /healthz"

        self.attempt("irt service", health)

    # -- the dry run ---------------------------------------------------------------------------
    def dry_run(self, ready: bool, rules, instance) -> None:
        if not ready or rules is None:
            why = "the warehouse is not ready" if not ready else "the scenario rules do not load"
            self.add("heartbeat dry run", SKIP, why)
            return

        def beat() -> tuple[str, str]:
            from ..state import HeartbeatFailed
            from .heartbeat import run_once

            wh = Warehouse(self.s.warehouse.url, self.s.warehouse.table_prefix)
            try:
                summary = run_once(self.s, wh, dry_run=True, rules=rules, instance=instance)
            except HeartbeatFailed as exc:
                return FAIL, str(exc)
            finally:
                wh.engine.dispose()
            result = summary.legacy()
            return OK, (
                f"success: {result['students_processed']} students processed, {result['errors']} errors, "
                f"{result['duration_ms']} ms (nothing written)"
            )

        self.attempt("heartbeat dry run", beat)


def run_doctor(s: Settings, open_dagster: Callable = open_instance) -> Report:
    """Every check, in order (see the module docstring)."""
    doctor = _Doctor(s, open_dagster)
    engine, ready = doctor.warehouse()
    if engine is not None:
        engine.dispose()
    rules = doctor.rules()
    doctor.sources()
    instance = doctor.dagster()
    doctor.irt()
    doctor.dry_run(ready, rules, instance)
    return Report(doctor.checks)


def _moodle(insp: sa.Inspector, prefix: str) -> tuple[list[str], str]:
    """The Moodle tables the readers need, for the Moodle version the tables say this is."""
    names = set(insp.get_table_names())
    fourth = {f"{prefix}{t}" for t in MOODLE_4_TABLES}
    version = 4 if f"{prefix}{MOODLE_4_TABLES[0]}" in names else 3
    known = {t.name for t in moodle_tables(prefix, version).sorted_tables}
    if version == 4:
        return sorted(known | fourth), "Moodle 4.x"
    return sorted(known), "Moodle 3.x"


def _missing_sqlite_file(url: str) -> str | None:
    """The path of a SQLite URL's file when it does not exist (connecting would create it)."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return None if Path(parsed.database).exists() else parsed.database


def _shown(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


__all__ = ["FAIL", "OK", "SKIP", "Check", "Report", "run_doctor"]
