"""The remote IRT service backend: a real local HTTP server, and failure modes through
httpx transports. In every failure no partial or wrong parameters are written."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pandas as pd
import pytest

from alt42_pipeline import irt
from alt42_pipeline.calibration.remote import IrtServiceClient, IrtServiceError, validate_calibration
from alt42_pipeline.defs.resources import IrtResource
from alt42_pipeline.warehouse import Warehouse

from .test_irt_assets import _materialize

TOKEN = "s3cret-token"


class _Service(BaseHTTPRequestHandler):
    """A stand-in for the legacy R plumber service, calibrating with our own engine."""

    seen_auth: list[str] = []

    def log_message(self, *args):  # keep test output quiet
        pass

    def _send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.seen_auth.append(self.headers.get("Authorization", ""))
        self._send(200, {"status": "ok"}) if self.path == "/healthz" else self._send(404, {})

    def do_POST(self):
        self.seen_auth.append(self.headers.get("Authorization", ""))
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        responses = pd.DataFrame(req["responses"])
        fit = irt.calibrate(responses, model=req["model"], on_invalid="exclude")
        anchors = pd.DataFrame(req["anchors"]).set_index("item_id")
        constants = irt.link(fit.items, anchors)
        items = [{"item_id": i, "a": r.a, "d": r.d, "se_a": r.se_a, "n": int(r.n)} for i, r in fit.items.iterrows()]
        self._send(
            200,
            {
                "items": items,
                "converged": fit.converged,
                "loglik": fit.loglik,
                "iterations": fit.iterations,
                "linking_constants": {"slope": constants.slope, "intercept": constants.intercept},
            },
        )


@pytest.fixture
def service_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Service)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Service.seen_auth = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_remote_backend_against_a_local_service(irt_warehouse_url, service_url):
    backend = IrtResource(backend="remote", service_url=service_url, service_token=TOKEN)
    assert _materialize(irt_warehouse_url, backend=backend).success
    wh = Warehouse(irt_warehouse_url)
    meta = wh.read("mirt_fit_meta").iloc[0]
    assert meta.backend == "remote" and meta.model_spec["linking_constants"]["method"] == "service"
    assert set(_Service.seen_auth) == {f"Bearer {TOKEN}"}
    remote_params = wh.read("mirt_item_params").set_index("item_id")
    # the built-in engine on the same data (the service's: 0/1 answers, no partial credit)
    # gives the same linked parameters
    assert _materialize(irt_warehouse_url, calibration={"polytomous": False}).success
    builtin = wh.read("mirt_item_params", {"is_current": True}).set_index("item_id").loc[remote_params.index]
    pd.testing.assert_series_equal(remote_params.b, builtin.b, atol=1e-3, check_names=False)


def _failing(kind: str):
    """An httpx transport that fails in one way (healthz answers unless the kind says not)."""
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if kind == "timeout":
            raise httpx.ReadTimeout("read timed out", request=request)
        if request.url.path == "/healthz":
            return httpx.Response(200, json={"status": "ok"})
        if kind == "5xx":
            return httpx.Response(503, text="unavailable")
        if kind == "malformed":
            return httpx.Response(200, text="{not json")
        if kind == "wrong_ids":
            body = json.loads(request.content)
            ids = sorted(set(body["responses"]["item_id"]))
            items = [{"item_id": f"x{i}", "a": 1.0, "d": 0.0} for i in ids]
            return httpx.Response(200, json={"items": items, "converged": True})
        raise AssertionError(kind)

    return httpx.MockTransport(handler), calls


class _TransportResource(IrtResource):
    """The resource with an injected transport (the HTTP layer is the only fake)."""

    kind: str = "timeout"

    def client(self):
        transport, self._calls = _failing(self.kind)  # noqa: SLF001
        return IrtServiceClient(self.service_url, self.service_token, transport=transport, backoff=0.0)


@pytest.mark.parametrize(
    "kind,message",
    [
        ("timeout", "failed after 3 attempts: timeout"),
        ("5xx", "failed after 3 attempts"),
        ("malformed", "failed after 3 attempts: undecodable body"),
        ("wrong_ids", "unknown item ids"),
    ],
)
def test_remote_failures_write_nothing(irt_warehouse_url, kind, message):
    backend = _TransportResource(backend="remote", service_url="http://irt.invalid", service_token=TOKEN, kind=kind)
    result = _materialize(irt_warehouse_url, backend=backend)
    assert not result.success
    assert message in str(result.failure_data_for_node("irt_calibration").error)
    wh = Warehouse(irt_warehouse_url)
    for table in ("mirt_item_params", "mirt_fit_meta", "mirt_ability"):
        assert wh.count(table) == 0


def test_remote_with_fallback_uses_the_engine_and_records_why(irt_warehouse_url):
    backend = _TransportResource(
        backend="remote-with-fallback", service_url="http://irt.invalid", service_token=TOKEN, kind="5xx"
    )
    result = _materialize(irt_warehouse_url, backend=backend)
    assert result.success
    spec = Warehouse(irt_warehouse_url).read("mirt_fit_meta").model_spec.iloc[0]
    assert spec["backend"] == "builtin" and "failed after 3 attempts" in spec["fallback_reason"]
    meta_md = next(
        m for m in result.asset_materializations_for_node("irt_calibration") if m.asset_key.path == ["mirt_fit_meta"]
    )
    assert "failed after 3 attempts" in meta_md.metadata["fallback_reason"].value


def test_retry_counts_backoff_and_token_never_logged(caplog):
    transport, calls = _failing("5xx")
    slept = []
    client = IrtServiceClient("http://irt.invalid", TOKEN, transport=transport, backoff=0.5, sleep=slept.append)
    responses = pd.DataFrame({"user_id": [1, 2], "item_id": ["a", "a"], "correct": [0, 1]})
    with caplog.at_level("DEBUG"), pytest.raises(IrtServiceError, match="failed after 3 attempts"):
        client.calibrate(responses, "2pl", pd.DataFrame(columns=["a", "d"]))
    assert slept == [0.5, 1.0]  # exponential backoff between the three attempts
    assert calls["n"] == 1 + 3  # healthz, then three POSTs
    assert TOKEN not in caplog.text


@pytest.mark.parametrize(
    "body,problem",
    [
        ({"items": [{"item_id": "a", "a": -1, "d": 0}]}, "outside the documented bounds"),
        ({"items": [{"item_id": "a", "a": 1, "d": float("nan")}]}, "non-finite parameters"),
        ({"items": [{"item_id": "a", "a": 1, "d": 0}, {"item_id": "a", "a": 1, "d": 0}]}, "duplicate"),
        ({"items": []}, "missing item ids"),
        ({"nothing": 1}, "no 'items' list"),
        ({"items": [{"item_id": "a", "a": 1, "d": 0}], "linking_constants": {"slope": 0}}, "linking_constants outside"),
    ],
)
def test_response_validation(body, problem):
    with pytest.raises(IrtServiceError, match=problem):
        validate_calibration(body, {"a"}, "2pl")
