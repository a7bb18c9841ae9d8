"""Client of the external IRT HTTP service (the legacy R plumber API).

Protocol (JSON over HTTPS, bearer token):

``GET /healthz``
    200 when the service is up.
``POST /calibrate``
    request ``{"model", "quadpts", "responses": {"user_id": [...], "item_id": [...],
    "correct": [...]}, "anchors": [{"item_id", "a", "d"}, ...]}``; response
    ``{"items": [{"item_id", "a", "d", "c"?, "se_a"?, "se_d"?, "n"?}, ...],
    "linking_constants": {"slope", "intercept"}?, "converged", "loglik", "iterations"}``.

Every call goes through :class:`alt42_pipeline.http.JsonClient`: a deadline per attempt and per call, 3 attempts
under the pipeline's one retry policy (transport errors and 408/425/429/500/502/503/504,
exponential backoff; an undecodable or non-JSON body is retried too), the token in a header
and never logged; every failure of the call is an :class:`IrtServiceError`. A response is validated before anything uses it: wrong or
missing item ids, non-finite, impossible or absurd parameters raise
:class:`IrtServiceError` too, so no partial or wrong parameters can reach the warehouse.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import httpx
import pandas as pd

from ..http import HttpCallError, JsonClient
from ..redaction import shown
from ..settings import IrtSettings

#: The documented bounds of what the service may answer, on its own scale (closed ranges).
#: Wider than the health checks' warning ranges (``health.A_RANGE``, ``health.B_LIMIT``):
#: a value outside these is not an unusual item but a broken fit, and would make abilities
#: overflow or every later rescore meaningless. ``b`` is ``-d / a``.
BOUNDS: dict[str, tuple[float, float]] = {
    "a": (0.01, 10.0),
    "b": (-10.0, 10.0),
    "d": (-100.0, 100.0),
    "c": (0.0, 0.5),
    "se": (0.0, 100.0),
    "slope": (0.01, 100.0),
    "intercept": (-10.0, 10.0),
}


def _within(name: str, value: float) -> bool:
    lo, hi = BOUNDS[name]
    return lo <= value <= hi


class IrtServiceError(RuntimeError):
    """The IRT service could not give a usable calibration."""


@dataclass(frozen=True)
class RemoteCalibration:
    items: pd.DataFrame  # indexed by item_id: a, d[, c, se_a, se_d, n] on the service's scale
    linking: dict[str, float] | None
    converged: bool
    loglik: float | None
    iterations: int | None


class IrtServiceClient:
    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 300.0,
        attempts: int = 3,
        backoff: float = 1.0,
        transport: httpx.BaseTransport | None = None,
        sleep=time.sleep,
    ) -> None:
        if not base_url:
            raise ValueError("the IRT service URL is not set (ALT42_IRT_SERVICE_URL)")
        self._http = JsonClient(
            "IRT service",
            base_url,
            token=token,
            timeout_s=timeout,
            attempts=attempts,
            backoff_s=backoff,
            transport=transport,
            sleep=sleep,
        )

    @classmethod
    def from_settings(cls, settings: IrtSettings) -> IrtServiceClient:
        token = settings.service_token.get_secret_value()
        return cls(settings.service_url, token or None, timeout=settings.timeout_s)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> IrtServiceClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, method: str, path: str, json: Any = None) -> Any:
        """The parsed JSON answer; every failure of the service (down, slow past the deadline,
        an undecodable or non-JSON body) is an :class:`IrtServiceError` after the retries."""
        try:
            return self._http.request_json(method, path, json=json)
        except HttpCallError as exc:
            raise IrtServiceError(
                f"IRT service call {method} {path} failed after {exc.attempts} attempts: {_describe(exc)}"
            ) from None

    def health(self) -> bool:
        self._call("GET", "/healthz")
        return True

    def calibrate(
        self, responses: pd.DataFrame, model: str, anchors: pd.DataFrame, quadpts: int = 41
    ) -> RemoteCalibration:
        payload = {
            "model": model,
            "quadpts": quadpts,
            "responses": {
                "user_id": responses["user_id"].astype(str).tolist(),
                "item_id": responses["item_id"].astype(str).tolist(),
                "correct": responses["correct"].astype(int).tolist(),
            },
            "anchors": [{"item_id": str(i), "a": float(r.a), "d": float(r.d)} for i, r in anchors.iterrows()],
        }
        self.health()
        body = self._call("POST", "/calibrate", json=payload)
        return validate_calibration(body, expected_items=set(map(str, responses["item_id"].unique())), model=model)


def _describe(exc: HttpCallError) -> str:
    """The last problem, saying "timeout" first when it was one: a calibration outliving
    the timeout calls for a longer timeout, not for a look at the service."""
    if isinstance(exc.__cause__, httpx.TimeoutException):
        return f"timeout ({type(exc.__cause__).__name__})"
    return exc.problem


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def validate_calibration(body: Any, expected_items: set[str], model: str) -> RemoteCalibration:
    """Check a ``/calibrate`` response; raise :class:`IrtServiceError` naming what is wrong."""
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise IrtServiceError("IRT service response has no 'items' list")
    rows, problems, outside = [], [], []
    for entry in body["items"]:
        if not isinstance(entry, dict) or "item_id" not in entry:
            problems.append(f"malformed item entry {shown(entry)}")
            continue
        item = str(entry["item_id"])
        a, d, c = entry.get("a"), entry.get("d"), entry.get("c", 0.0)
        if not (_finite(a) and _finite(d) and _finite(c)):
            problems.append(
                f"item {shown(item, 40)}: non-numeric or non-finite parameters a={shown(a, 24)} d={shown(d, 24)} c={shown(c, 24)}"
            )
            continue
        b = -d / a if a else math.inf
        out = [f"{k}={v:.4g}" for k, v in (("a", a), ("d", d), ("c", c)) if not _within(k, v)]
        if not (math.isfinite(b) and _within("b", b)):
            out.append(f"b={b:.4g}")
        if out:
            outside.append(f"item {shown(item, 40)}: " + ", ".join(out))
            continue
        row = {"item_id": item, "a": float(a), "d": float(d)}
        if model == "3pl":
            row["c"] = float(c)
        for key in ("se_a", "se_d"):
            if _finite(entry.get(key)):
                if not _within("se", entry[key]):
                    outside.append(f"item {shown(item, 40)}: {key}={entry[key]:.4g}")
                row[key] = float(entry[key])
        if _finite(entry.get("n")):
            row["n"] = float(entry["n"])
        rows.append(row)
    if outside:
        lo_hi = ", ".join(f"{k} in [{lo:g}, {hi:g}]" for k, (lo, hi) in BOUNDS.items())
        problems.append(f"{len(outside)} item(s) outside the documented bounds ({lo_hi}): " + "; ".join(outside[:5]))
    got = {r["item_id"] for r in rows} | {str(e.get("item_id")) for e in body["items"] if isinstance(e, dict)}
    unknown = sorted(got - expected_items)
    missing = sorted(expected_items - got)
    if unknown:
        problems.append(f"unknown item ids {shown(unknown[:10], 200)}")
    if missing:
        problems.append(f"missing item ids {shown(missing[:10], 200)}")
    if len(got) != len(body["items"]):
        problems.append("duplicate item ids")
    linking = body.get("linking_constants")
    if linking is not None:
        if not (
            isinstance(linking, dict)
            and _finite(linking.get("slope"))
            and _finite(linking.get("intercept"))
            and _within("slope", linking["slope"])
            and _within("intercept", linking["intercept"])
        ):
            problems.append(f"linking_constants outside the documented bounds or invalid: {shown(linking, 100)}")
            linking = None
        else:
            linking = {"slope": float(linking["slope"]), "intercept": float(linking["intercept"])}
    if problems:
        raise IrtServiceError("IRT service response rejected: " + "; ".join(problems))
    items = pd.DataFrame(rows).set_index("item_id")
    return RemoteCalibration(
        items=items,
        linking=linking,
        converged=bool(body.get("converged", False)),
        loglik=float(body["loglik"]) if _finite(body.get("loglik")) else None,
        iterations=int(body["iterations"]) if _finite(body.get("iterations")) else None,
    )
