"""The IRT service misbehaving for real (a server on 127.0.0.1): an undecodable answer and
absurd parameters are service failures; nothing they carry is written, and under
remote-with-fallback the built-in engine calibrates instead."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from alt42_pipeline import irt
from alt42_pipeline.calibration import CalibrationSettings, IrtServiceClient, IrtServiceError, calibrate_and_link
from alt42_pipeline.calibration.remote import BOUNDS
from alt42_pipeline.settings import IrtSettings

from ..faults import fault_server, gzip_garbage, healthy, send_json

ITEMS = irt.simulate_items(12, seed=3)
RESPONSES = irt.simulate_responses(ITEMS, 400, seed=4)[0].astype({"item_id": str})
ANCHORS = ITEMS.iloc[:4][["a", "d"]].set_axis(ITEMS.index[:4].astype(str)).rename_axis("item_id")
ANCHORS["b"] = -ANCHORS["d"] / ANCHORS["a"]


def absurd(a: float, b: float):
    """A /calibrate answering every item with slope ``a`` and difficulty ``b``."""

    def route(handler, body: bytes) -> None:
        ids = sorted(set(json.loads(body)["responses"]["item_id"]))
        items = [{"item_id": i, "a": a, "d": -a * b} for i in ids]
        send_json(handler, 200, {"items": items, "converged": True, "loglik": -1.0, "iterations": 5})

    return route


def _calibrate(server, backend: str):
    client = IrtServiceClient(server.url, "tok-abcdef", timeout=10, backoff=0.01)
    service = IrtSettings(backend=backend, service_url=server.url)
    return calibrate_and_link(RESPONSES, ANCHORS, CalibrationSettings(), service, client)


def test_gzip_garbage_is_retried_then_the_builtin_engine_calibrates():
    with fault_server({"/healthz": healthy, "/calibrate": gzip_garbage}) as server:
        outcome = _calibrate(server, "remote-with-fallback")
    assert server.hits("/calibrate") == 3
    assert outcome.backend_used == "builtin" and "undecodable body" in outcome.fallback_reason
    assert len(outcome.items) == len(ITEMS) and outcome.abilities["theta"].notna().all()


@pytest.mark.parametrize(
    "a, b, what",
    [(1e4, 0.0, "a="), (1.0, 1e6, "b="), (1e12, 0.5, "a="), (1e-9, 0.0, "a=")],
    ids=["a=1e4", "b=1e6", "a=1e12", "a=1e-9"],
)
def test_absurd_parameters_are_refused_before_anything_is_used(a, b, what):
    with fault_server({"/healthz": healthy, "/calibrate": absurd(a, b)}) as server:
        with pytest.raises(IrtServiceError, match="outside the documented bounds") as info:
            _calibrate(server, "remote")
        assert what in str(info.value) and len(str(info.value)) < 600
        outcome = _calibrate(server, "remote-with-fallback")
    assert outcome.backend_used == "builtin" and "outside the documented bounds" in outcome.fallback_reason
    lo, hi = BOUNDS["a"]
    assert outcome.items["a"].between(lo, hi).all() and outcome.items["b"].abs().max() <= BOUNDS["b"][1]


def test_parameters_at_the_bounds_pass():
    lo, hi = BOUNDS["a"]
    with fault_server({"/healthz": healthy, "/calibrate": absurd(hi, 0.5)}) as server:
        outcome = _calibrate(server, "remote")
    assert outcome.backend_used == "remote" and pd.Series(outcome.items["a"]).notna().all()
