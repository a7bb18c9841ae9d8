"""Finding 5: a second of work does not cost a minute of Dagster. What makes a run cheap,
checked without timing anything (the timings are benchmarks/run_cost.py, run by hand):
runs execute their steps in process, the heartbeat is two steps, and loading the code
location does not import the heavy libraries only some runs need."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from alt42_pipeline import definitions

ROOT = Path(__file__).resolve().parents[2]
DEFS = definitions.defs()
LIGHT_JOBS = [
    "state_refresh_job",
    "inactivity_alert_job",
    "intraday_events_job",
    "irt_rescore_job",
    "interventions_job",
]
#: Imported by the runs that need them (plots, estimation, Kubernetes), never by the code location.
HEAVY = ["matplotlib", "numba", "scipy.stats", "kubernetes", "dagster_k8s"]


@pytest.mark.parametrize("name", [*LIGHT_JOBS, "__ASSET_JOB"])
def test_light_jobs_and_ad_hoc_materializations_run_in_process(name):
    assert DEFS.resolve_job_def(name).executor_def.name == "in_process"


def test_the_heartbeat_is_one_step_and_its_checks_one_more():
    job = DEFS.resolve_job_def("state_refresh_job")
    assert sorted(node.name for node in job.nodes) == ["heartbeat_checks", "student_state"]


def test_loading_the_code_location_imports_no_heavy_library():
    code = (
        "import json, sys\n"
        "from alt42_pipeline.definitions import defs\n"
        "defs().resolve_all_job_defs()\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_the_irt_package_still_exports_its_functions_lazily():
    code = (
        "import sys\n"
        "import alt42_pipeline.irt as irt\n"
        "assert 'numba' not in sys.modules\n"
        "import alt42_pipeline.irt.calibrate\n"  # the submodule named like the function
        "from alt42_pipeline.irt import LinkingConstants, calibrate, score\n"
        "assert callable(irt.calibrate) and irt.calibrate is calibrate and callable(score)\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.stdout.strip() == "ok", proc.stderr[-2000:]
