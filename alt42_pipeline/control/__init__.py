"""What operators do to the running pipeline, shared by the command line (``cli/``) and the
batch management HTTP API (``api/``): launch and inspect the intervention batch through the
Dagster instance (``batch``), run one heartbeat outside Dagster (``heartbeat``), check every
dependency (``doctor``).

A shell like ``defs/`` and ``cli/``: it may use Dagster, ``defs/`` (the names of jobs,
sensors and tags) and every domain's face; no domain imports it.
"""

from __future__ import annotations

from .instance import InstanceUnavailable, open_instance

__all__ = ["InstanceUnavailable", "open_instance"]
