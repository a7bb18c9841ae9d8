"""Real servers in tests: processes on a free loopback port (dagster-webserver, ``alt42 api``),
started in a process group of their own, waited for, and stopped with everything they started."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**values: str) -> dict[str, str]:
    """The environment without any ALT42_/DAGSTER_ variable of the caller, plus ``values``
    and the repository on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if not (k.startswith("ALT42_") or k.startswith("DAGSTER_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env | values


def start(args: Sequence[str], env: Mapping[str, str], log: Path) -> subprocess.Popen:
    """``python <args>`` from the repository root, its output in ``log``."""
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=dict(env),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def start_webserver(env: Mapping[str, str], log: Path, port: int) -> subprocess.Popen:
    """dagster-webserver for the code location of workspace.yaml."""
    args = ["-m", "dagster_webserver", "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"]
    return start(args, env, log)


def wait_until_serving(proc: subprocess.Popen, url: str, log: Path, what: str, limit_s: float = 120) -> None:
    """Wait until ``url`` answers 200 (fail the test if the process exits or never does)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{what} did not answer within {limit_s:.0f} s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    """Stop the process and whatever it started (its own process group)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
