"""The jobs the Kubernetes tests check: every real job of the code location, and throwaway ones."""

from __future__ import annotations

from typing import Any

import dagster as dg

from alt42_pipeline import definitions

defs = definitions.defs()


def real_jobs() -> list[dg.JobDefinition]:
    """Every job of the code location but Dagster's implicit ones (names starting with ``__``,
    like ``__ASSET_JOB``: their runs carry no job tags and get the launcher's default size)."""
    return [job for job in defs.resolve_all_job_defs() if not job.name.startswith("__")]


@dg.asset
def probe() -> None:
    """A throwaway asset for the throwaway jobs."""


def throwaway_job(name: str, tags: dict[str, Any], **kwargs: Any) -> dg.JobDefinition:
    job = dg.define_asset_job(name, selection=[probe], tags=tags, **kwargs)
    return dg.Definitions(assets=[probe], jobs=[job]).resolve_job_def(name)
