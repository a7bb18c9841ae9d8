"""Secrets planted in the settings never reach an output of a real run: the demo run's
stderr and stdout, Dagster's storage (event logs with metadata, compute logs), the weekly
report, the status screen, and a sensor posting to the webhook."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from alt42_pipeline import redaction, settings

from .faults import fault_server, send, send_json

PLANTED = {
    "webhook_token": "wh-tok-7f3a9c2e41",
    "webhook_path": "T0SECRETPATH42",
    "irt_token": "irt-tok-5b8d0a6e93",
    "irt_password": "irtpw-2c4e6a8b0d",
    "recommender_token": "rec-tok-9e1f3b5d77",
    "recommender_key": "reckey-4a6c8e0f12",
}


def routes():
    def hook(handler, body):
        send_json(handler, 200, {"ok": True})

    def irt_down(handler, body):
        send(handler, 503, b"down")

    def recommend(handler, body):
        students = json.loads(body)["students"]
        recs = [
            {"user_id": s["user_id"], "code": "keep_going", "message": "Keep going.", "priority": 3} for s in students
        ]
        send_json(handler, 200, {"version": "r1", "recommendations": recs})

    return {
        f"/hook/{PLANTED['webhook_path']}": hook,
        "/irt/healthz": irt_down,
        "/irt/calibrate": irt_down,
        "/rec": recommend,
    }


def environment(server_url: str, tmp_path: Path) -> dict[str, str]:
    host = server_url.removeprefix("http://")
    return {
        "ALT42_DATA_DIR": str(tmp_path / "data"),
        "DAGSTER_HOME": str(tmp_path / "home"),
        "ALT42_ALERT_WEBHOOK_URL": f"{server_url}/hook/{PLANTED['webhook_path']}?token={PLANTED['webhook_token']}",
        "ALT42_IRT_BACKEND": "remote-with-fallback",
        "ALT42_IRT_SERVICE_URL": f"http://alt42:{PLANTED['irt_password']}@{host}/irt",
        "ALT42_IRT_SERVICE_TOKEN": PLANTED["irt_token"],
        "ALT42_IRT_TIMEOUT_S": "5",
        "ALT42_RECOMMENDER": "remote",
        "ALT42_RECOMMENDER_URL": f"{server_url}/rec?key={PLANTED['recommender_key']}",
        "ALT42_RECOMMENDER_TOKEN": PLANTED["recommender_token"],
        "ALT42_RECOMMENDER_ATTEMPTS": "1",
    }


def leaks(text: str) -> list[str]:
    return [name for name, secret in PLANTED.items() if secret in text]


def files_leaking(folder: Path) -> dict[str, list[str]]:
    found = {}
    for path in folder.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", "replace")
            if leaks(text):
                found[str(path.relative_to(folder))] = leaks(text)
    return found


def test_a_real_run_leaks_no_planted_secret(tmp_path, monkeypatch):
    with fault_server(routes()) as server:
        env = {**os.environ, **environment(server.url, tmp_path), "PYTHONUNBUFFERED": "1"}
        demo = subprocess.run(
            [sys.executable, "-m", "alt42_pipeline", "demo", "--students", "200", "--days", "7"],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        status = subprocess.run(
            [sys.executable, "-m", "alt42_pipeline", "status"], env=env, capture_output=True, text=True, timeout=300
        )
        # a sensor posting to the webhook, in this process, every log captured
        for key, value in environment(server.url, tmp_path).items():
            monkeypatch.setenv(key, value)
        settings.load.cache_clear()
        sensor_logs = _run_health_sensor(tmp_path)
    # the subject is what the run prints and stores, not whether a small platform calibrates
    assert demo.returncode in (0, 1) and "warehouse tables:" in demo.stdout, demo.stderr[-3000:]
    assert status.returncode == 0, status.stderr[-3000:]
    # the run really used the services: the webhook got alerts, the recommender answered,
    # the IRT service was tried (then the fallback calibrated)
    assert server.hits(f"/hook/{PLANTED['webhook_path']}") >= 1
    assert server.hits("/rec") >= 1 and server.hits("/irt/healthz") >= 1
    assert "HTTP Request" in demo.stderr  # httpx's request lines are there, masked
    assert leaks(demo.stdout) == [] and leaks(demo.stderr) == []
    assert leaks(status.stdout) == [] and leaks(status.stderr) == []
    assert leaks(sensor_logs) == []
    assert files_leaking(tmp_path / "home") == {}  # event logs, metadata, compute logs
    assert files_leaking(tmp_path / "data") == {}  # the warehouse (errors, reports), report files


def _run_health_sensor(tmp_path: Path) -> str:
    from alt42_pipeline.defs.resources import build_resources
    from alt42_pipeline.defs.state import pipeline_health_sensor

    records: list[str] = []

    class Keep(logging.Handler):
        def handle(self, record):  # through the filters, as any real handler
            return super().handle(record)

        def emit(self, record):
            records.append(self.format(record))

    keep = Keep(level=logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(keep)
    redaction.install()
    level = root.level
    root.setLevel(logging.DEBUG)
    try:
        with dg.instance_for_test() as instance:
            resources = build_resources(settings.load())
            context = dg.build_sensor_context(instance=instance, resources=resources, cursor=None)
            pipeline_health_sensor(context)
            for record in getattr(context.log, "get_logs", lambda: [])() or []:
                records.append(str(record))
    finally:
        root.removeHandler(keep)
        root.setLevel(level)
    return "\n".join(records)
