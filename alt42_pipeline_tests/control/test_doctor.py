"""``alt42 doctor`` against a healthy deployment and against each broken part: a PostgreSQL
warehouse with the Moodle table prefix, the assessment database on SQLite, Moodle on
MariaDB, a Dagster instance with its daemon's heartbeats, and an IRT service on a loopback port."""

from __future__ import annotations

import json
import time

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster._daemon.types import DaemonHeartbeat

from alt42_pipeline.cli import main
from alt42_pipeline.demo.write import write_assessment, write_moodle
from alt42_pipeline.warehouse import Warehouse, make_engine
from alt42_pipeline_tests.calibration.test_remote_backend import service_url  # noqa: F401 - a fixture

PREFIX = "mdl_alt42_"
CHECKS = [
    "warehouse",
    "warehouse schema",
    "warehouse tables",
    "scenario rules",
    "source assessment",
    "source moodle",
    "dagster instance",
    "dagster daemon",
    "irt service",
    "heartbeat dry run",
]


def _beat(instance: dg.DagsterInstance, age_s: float = 0.0) -> None:
    """The daemon's heartbeats, as ``dagster-daemon run`` writes them, ``age_s`` seconds old."""
    for daemon_type in instance.get_required_daemon_types():
        instance.add_daemon_heartbeat(DaemonHeartbeat(time.time() - age_s, daemon_type, "doctor-test", []))


@pytest.fixture
def deployment(tmp_path, small_platform, pg_url, mysql_url, service_url, monkeypatch):  # noqa: F811
    """A healthy deployment: every check passes."""
    wh = Warehouse(pg_url, PREFIX)
    wh.migrate()
    wh.engine.dispose()
    assessment = f"sqlite:///{tmp_path / 'assessment.db'}"
    write_assessment(small_platform, make_engine(assessment))
    moodle = make_engine(mysql_url)
    write_moodle(small_platform, moodle)
    moodle.dispose()
    for name, value in {
        "ALT42_WAREHOUSE_URL": pg_url,
        "ALT42_TABLE_PREFIX": PREFIX,
        "ALT42_ASSESSMENT_URL": assessment,
        "ALT42_MOODLE_URL": mysql_url,
        "ALT42_IRT_BACKEND": "remote-with-fallback",
        "ALT42_IRT_SERVICE_URL": service_url,
        "ALT42_DATA_DIR": str(tmp_path),
    }.items():
        monkeypatch.setenv(name, value)
    with dg.instance_for_test() as instance:  # DAGSTER_HOME is this instance for the command
        _beat(instance)
        yield {"instance": instance, "warehouse": pg_url, "moodle": mysql_url, "tmp": tmp_path}


def doctor(capsys) -> tuple[int, dict[str, dict]]:
    from alt42_pipeline import settings

    settings.load.cache_clear()  # the environment as the test has just set it
    code = main(["doctor", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in report["checks"]] == CHECKS
    assert report["ok"] is (code == 0)
    return code, {c["name"]: c for c in report["checks"]}


def failing(checks: dict[str, dict]) -> list[str]:
    return [name for name, c in checks.items() if c["status"] == "fail"]


def test_a_healthy_deployment_passes_every_check_one_line_each(deployment, capsys):
    code, checks = doctor(capsys)
    assert code == 0 and failing(checks) == [] and {c["status"] for c in checks.values()} == {"ok"}
    assert checks["warehouse schema"]["detail"].startswith("at revision ")
    assert "(prefix 'mdl_alt42_')" in checks["warehouse tables"]["detail"]
    assert "Moodle 3.x" in checks["source moodle"]["detail"]
    assert checks["irt service"]["detail"] == "answers /healthz"
    assert checks["heartbeat dry run"]["detail"].startswith("success: 0 students processed, 0 errors")
    assert "***" not in checks["warehouse"]["detail"] or "postgres" in checks["warehouse"]["detail"]

    assert main(["doctor"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(CHECKS) + 1 and lines[-1] == "doctor: all checks passed"
    assert [line.split()[0] for line in lines[:-1]] == ["ok"] * len(CHECKS)
    with sa.create_engine(deployment["warehouse"]).connect() as conn:  # the dry run wrote nothing
        assert conn.exec_driver_sql(f"SELECT COUNT(*) FROM {PREFIX}heartbeat_log").scalar() == 0


def test_a_missing_table_fails_the_tables_check_naming_it(deployment, capsys):
    with sa.create_engine(deployment["warehouse"]).begin() as conn:
        conn.exec_driver_sql(f"DROP VIEW {PREFIX}v_student_state")
        conn.exec_driver_sql(f"DROP TABLE {PREFIX}interventions")
    code, checks = doctor(capsys)
    assert code == 1 and failing(checks) == ["warehouse tables"]
    assert checks["warehouse tables"]["detail"] == f"missing: {PREFIX}interventions, {PREFIX}v_student_state"


def test_a_bad_rule_file_fails_naming_the_line_and_the_dry_run_waits(deployment, capsys, monkeypatch):
    rules = deployment["tmp"] / "rules.yaml"
    rules.write_text("version: 2\nrules:\n  - id: slow\n    when: [recent_speed > 3]\n    at_risk: true\n")
    monkeypatch.setenv("ALT42_SCENARIOS_FILE", str(rules))
    code, checks = doctor(capsys)
    assert code == 1 and failing(checks) == ["scenario rules"]
    assert "rules.yaml:4: rule 'slow': unknown metric 'recent_speed'" in checks["scenario rules"]["detail"]
    assert checks["heartbeat dry run"] == {
        "name": "heartbeat dry run",
        "status": "skip",
        "detail": "the scenario rules do not load",
    }


def test_an_unreachable_source_and_a_missing_source_file_fail_their_check(deployment, capsys, monkeypatch):
    monkeypatch.setenv("ALT42_MOODLE_URL", "mysql+pymysql://root@127.0.0.1:1/moodle")
    monkeypatch.setenv("ALT42_ASSESSMENT_URL", f"sqlite:///{deployment['tmp'] / 'asessment.db'}")  # misspelt
    code, checks = doctor(capsys)
    assert code == 1 and failing(checks) == ["source assessment", "source moodle"]
    assert "OperationalError" in checks["source moodle"]["detail"]
    assert checks["source assessment"]["detail"].endswith("asessment.db does not exist (ALT42_ASSESSMENT_URL)")
    assert not (deployment["tmp"] / "asessment.db").exists()  # looking did not create it


def test_a_source_without_its_tables_fails_naming_them(deployment, capsys):
    with sa.create_engine(deployment["moodle"]).begin() as conn:
        conn.exec_driver_sql("DROP TABLE mdl_question_attempt_steps")
    code, checks = doctor(capsys)
    assert code == 1 and failing(checks) == ["source moodle"]
    assert checks["source moodle"]["detail"].endswith("Moodle 3.x, missing mdl_question_attempt_steps")


def test_moodle_4_is_told_apart_by_its_question_bank_tables(deployment, capsys):
    with sa.create_engine(deployment["moodle"]).begin() as conn:
        conn.exec_driver_sql("CREATE TABLE mdl_question_bank_entries (id BIGINT PRIMARY KEY)")
        conn.exec_driver_sql("CREATE TABLE mdl_question_versions (id BIGINT PRIMARY KEY)")
    _, checks = doctor(capsys)
    assert "Moodle 4.x" in checks["source moodle"]["detail"]


def test_a_stale_daemon_fails_the_daemon_check(deployment, capsys):
    deployment["instance"].wipe_daemon_heartbeats()
    _beat(deployment["instance"], age_s=600)
    code, checks = doctor(capsys)
    assert code == 1 and failing(checks) == ["dagster daemon"]
    detail = checks["dagster daemon"]["detail"]
    assert detail.startswith("not running (`dagster-daemon run`): SENSOR: last heartbeat 6") and " s ago" in detail


def test_no_dagster_home_and_an_unmigrated_warehouse_are_said_plainly(deployment, capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("DAGSTER_HOME")
    monkeypatch.chdir(tmp_path)  # and no demo's .dagster_home here either
    with sa.create_engine(deployment["warehouse"]).begin() as conn:
        conn.exec_driver_sql(f"UPDATE {PREFIX}alembic_version SET version_num = '0003'")
    code, checks = doctor(capsys)
    assert code == 1 and failing(checks) == ["warehouse schema", "dagster instance"]
    assert checks["warehouse schema"]["detail"].startswith("at revision 0003, the code needs ")
    assert checks["warehouse schema"]["detail"].endswith(": run `alt42 migrate`")
    assert checks["dagster instance"]["detail"].startswith("DAGSTER_HOME is not set")
    assert checks["dagster daemon"]["status"] == "skip" and checks["heartbeat dry run"]["status"] == "skip"
    with sa.create_engine(deployment["warehouse"]).connect() as conn:  # the doctor did not migrate it
        assert conn.exec_driver_sql(f"SELECT version_num FROM {PREFIX}alembic_version").scalar() == "0003"


def test_an_irt_service_that_does_not_answer_fails_its_check(deployment, capsys, monkeypatch):
    monkeypatch.setenv("ALT42_IRT_SERVICE_URL", "http://127.0.0.1:1")
    code, checks = doctor(capsys)
    assert code == 1 and failing(checks) == ["irt service"]
    assert "failed after 1 attempts" in checks["irt service"]["detail"]
