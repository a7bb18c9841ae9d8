"""Every job has a pod size; the sizes are ordered; the opt-in per-step executor is valid."""

from __future__ import annotations

import re

import dagster as dg
import pytest

from alt42_pipeline.defs.shared import (
    DEFAULT_SIZE,
    K8S_CONFIG_TAG,
    SIZES,
    k8s_config,
    k8s_tags,
    size_of,
)

from . import chart
from .jobs import real_jobs, throwaway_job

#: Sizes that specific jobs must have, checked for those of them that exist: the IRT
#: calibration needs the most memory and CPU, the sensor-launched light runs the least.
EXPECTED_SIZES = {
    "irt_calibration_job": "large",
    "state_refresh_job": "small",
    "inactivity_alert_job": "small",
}


def _untagged(jobs: list[dg.JobDefinition]) -> list[str]:
    return [job.name for job in jobs if size_of(job.run_tags) is None]


def test_every_job_has_a_pod_size():
    untagged = _untagged(real_jobs())
    assert not untagged, (
        f"jobs without a pod size: {untagged}; add tags={{**k8s_tags('small'|'medium'|'large'), ...}} "
        "from alt42_pipeline.defs.shared"
    )


def test_the_check_catches_a_job_without_a_size():
    # A job that sets run_tags does not pass its tags to runs: the size must be in run_tags.
    sized = throwaway_job("sized_job", k8s_tags("large"))
    forgot = throwaway_job("forgot_job", {"team": "irt"})
    sized_tags_not_on_runs = throwaway_job("run_tags_job", k8s_tags("large"), run_tags={"team": "irt"})
    hand_written = throwaway_job("hand_written_job", {K8S_CONFIG_TAG: {"container_config": {}}})
    assert _untagged([sized, forgot, sized_tags_not_on_runs, hand_written]) == [
        "forgot_job",
        "run_tags_job",
        "hand_written_job",
    ]


@pytest.mark.parametrize("name,size", sorted(EXPECTED_SIZES.items()))
def test_known_jobs_have_their_size(name, size):
    jobs = {job.name: job for job in real_jobs()}
    if name not in jobs:
        pytest.skip(f"{name} is not defined in this code location")
    assert size_of(jobs[name].run_tags) == size


def _cpu(quantity: str) -> float:
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def _memory(quantity: str) -> int:
    number, unit = re.fullmatch(r"(\d+)(Mi|Gi)", quantity).groups()
    return int(number) * {"Mi": 1, "Gi": 1024}[unit]


def test_sizes_grow_from_small_to_large():
    assert SIZES == ("small", "medium", "large")
    for kind in ("requests", "limits"):
        resources = [k8s_config(size)["container_config"]["resources"][kind] for size in SIZES]
        cpus = [_cpu(r["cpu"]) for r in resources]
        memories = [_memory(r["memory"]) for r in resources]
        assert cpus == sorted(set(cpus)), kind
        assert memories == sorted(set(memories)), kind
    for size in SIZES:
        resources = k8s_config(size)["container_config"]["resources"]
        assert _memory(resources["requests"]["memory"]) <= _memory(resources["limits"]["memory"])
        assert _cpu(resources["requests"]["cpu"]) <= _cpu(resources["limits"]["cpu"])


def test_unknown_size_is_refused():
    with pytest.raises(ValueError, match="huge"):
        k8s_tags("huge")


def test_size_is_read_back_from_stored_run_tags():
    for size in SIZES:
        assert size_of(throwaway_job(f"{size}_job", k8s_tags(size)).run_tags) == size


def test_helm_launcher_default_is_the_default_size(helm_values):
    run_k8s_config = chart.run_launcher_config(helm_values)["run_k8s_config"]
    default = {key: value for key, value in k8s_config(DEFAULT_SIZE).items() if key != "merge_behavior"}
    assert run_k8s_config == default
