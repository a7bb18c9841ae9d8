"""Finding 7: no traps for a newcomer. Dagster commands from the repository root work
without DAGSTER_HOME; every command of ours turns a configuration or connection error into
one line naming the setting (password masked) and exit code 2; a bad setting fails
``dagster definitions validate``.

The commands run as a newcomer runs them: real processes from the repository root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE = "postgresql+psycopg2://alt42:s3cret-pw@127.0.0.1:1/analytics"


def _run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ALT42_", "DAGSTER_"))}
    clean |= {"ALT42_DATA_DIR": str(tmp_path / "data"), **env}
    return subprocess.run(args, cwd=ROOT, env=clean, capture_output=True, text=True, timeout=300)


def _alt42(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    return _run([sys.executable, "-m", "alt42_pipeline", *args], tmp_path, **env)


def _one_line(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_no_production_instance_config_at_the_root():
    assert not (ROOT / "dagster.yaml").exists()
    assert (ROOT / "deploy" / "dagster.yaml").exists()


def test_dagster_from_the_root_without_dagster_home_works(tmp_path):
    proc = _run([sys.executable, "-m", "dagster", "asset", "list", "-m", "alt42_pipeline.definitions"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "events" in proc.stdout.split()
    assert "DAGSTER_PG" not in proc.stderr


@pytest.mark.parametrize(
    "command", [["status", "--no-runs"], ["migrate"], ["schedules", "list"], ["batch-status"]], ids=" ".join
)
def test_an_unreachable_warehouse_is_one_line_naming_the_setting_without_the_password(command, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    proc = _alt42(*command, tmp_path=tmp_path, ALT42_WAREHOUSE_URL=UNREACHABLE, DAGSTER_HOME=str(home))
    # (batch-status reads the schedules and the rows each run left from the warehouse too)
    assert proc.returncode == 2
    line = _one_line(proc)
    assert "ALT42_WAREHOUSE_URL" in line and "127.0.0.1:1" in line
    assert "s3cret-pw" not in proc.stderr + proc.stdout


def test_a_bad_setting_is_one_line_naming_the_variable(tmp_path):
    proc = _alt42("status", "--no-runs", tmp_path=tmp_path, ALT42_IDLE_AFTER_DAYS="abc")
    assert proc.returncode == 2
    assert "ALT42_IDLE_AFTER_DAYS='abc' is not an integer" in _one_line(proc)


def test_batch_status_without_dagster_home_says_what_to_set(tmp_path):
    (tmp_path / "data").mkdir()  # the warehouse (batch-status reads the schedules) can be made
    proc = _alt42("batch-status", tmp_path=tmp_path)  # no DAGSTER_HOME and no .dagster_home in a fresh folder
    if (ROOT / ".dagster_home" / "dagster.yaml").exists():  # the demo's instance, which it then reads
        assert proc.returncode == 0, proc.stderr
    else:
        assert proc.returncode == 2
        assert "DAGSTER_HOME" in _one_line(proc)


def test_batch_status_reads_the_demo_instance_without_dagster_home(tmp_path):
    """As the README shows it, after make demo: the demo's .dagster_home is the instance."""
    (tmp_path / ".dagster_home").mkdir()
    (tmp_path / ".dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    (tmp_path / "data").mkdir()  # the demo's warehouse folder (batch-status reads the schedules there)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALT42_", "DAGSTER_"))}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(
        [sys.executable, "-m", "alt42_pipeline", "batch-status"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "no runs yet" in proc.stdout


def test_a_bad_setting_fails_dagster_definitions_validate(tmp_path):
    proc = _run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        tmp_path,
        DAGSTER_HOME=str(tmp_path),
        ALT42_IDLE_AFTER_DAYS="abc",
    )
    assert proc.returncode != 0
    assert "ALT42_IDLE_AFTER_DAYS='abc' is not an integer" in proc.stderr + proc.stdout
