"""The first calibration in a fresh container compiles nothing: the image's build step
compiled the numba kernels (the Dockerfile's RUN line, run here the same way), and a process
of the image's user, with a read-only package directory and an empty writable cache
directory, loads them instead of compiling.

No Docker engine runs here, so the container is imitated with what makes it one for numba:
a copy of the package owned by root, a process of user 10001 (the image's USER) that cannot
write there, ``HOME`` pointing nowhere, an empty ``NUMBA_CACHE_DIR`` (the pod's emptyDir) and
the image's ``NUMBA_CPU_NAME``. Counting compilations uses numba's own compile events.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from . import chart

RUN_AS = 10001
FIRST_CALIBRATION = """
import numba.core.event as ev
compiled = []
ev.register("numba:compile", type("L", (ev.Listener,), {
    "on_start": lambda self, e: compiled.append(e.data["dispatcher"].py_func.__qualname__),
    "on_end": lambda self, e: None})())
from alt42_pipeline import irt
from alt42_pipeline.calibration import CalibrationSettings, calibrate_and_link
items = irt.simulate_items(20, seed=11)
responses = irt.simulate_responses(items, 500, seed=12)[0].astype({"item_id": str})
anchors = items.iloc[:4][["a", "d"]].set_axis(items.index[:4].astype(str))
anchors["b"] = -anchors["d"] / anchors["a"]
outcome = calibrate_and_link(responses, anchors, CalibrationSettings())
assert len(outcome.items) == 20 and outcome.abilities["theta"].notna().all()
import alt42_pipeline
print("PACKAGE", alt42_pipeline.__file__)
print("COMPILED", len(compiled), sorted(set(compiled)))
"""


def dockerfile_env() -> dict[str, str]:
    """The final stage's ENV values the kernels depend on."""
    text = (chart.REPO / "Dockerfile").read_text()
    return dict(re.findall(r"\b(NUMBA_CPU_NAME)=(\S+)", text))


def build_command() -> str:
    """The Dockerfile's build step that compiles the kernels."""
    text = (chart.REPO / "Dockerfile").read_text().replace("\\\n", " ")
    (line,) = [line for line in text.splitlines() if "alt42_pipeline.irt.precompile" in line]
    return line


@pytest.fixture
def image(tmp_path_factory):
    """A package directory as the image has it (root's, read-only for the run user)."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run a process as the image's user")
    root = Path(tempfile.mkdtemp(prefix="alt42-image-"))
    os.chmod(root, 0o755)
    shutil.copytree(
        chart.REPO / "alt42_pipeline",
        root / "site" / "alt42_pipeline",
        ignore=shutil.ignore_patterns("__pycache__", "_compiled"),
    )
    for path in [root, *root.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _run_as_image_user(image: Path, env_extra: dict[str, str]) -> str:
    cache = Path(tempfile.mkdtemp(prefix="alt42-pod-tmp-"))
    os.chown(cache, RUN_AS, RUN_AS)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": "/nonexistent",
        "PYTHONPATH": str(image / "site"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "NUMBA_CACHE_DIR": str(cache / "numba"),
        "MPLCONFIGDIR": str(cache / "matplotlib"),
        **env_extra,
    }
    try:
        out = subprocess.run(
            [
                "setpriv",
                f"--reuid={RUN_AS}",
                f"--regid={RUN_AS}",
                "--clear-groups",
                sys.executable,
                "-c",
                FIRST_CALIBRATION,
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            cwd=cache,
        )
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_the_first_calibration_in_a_fresh_container_compiles_nothing(image):
    env = dockerfile_env()
    assert env.get("NUMBA_CPU_NAME") == "generic"
    # the build step, as the Dockerfile runs it (as root, before USER)
    baked = image / "site" / "alt42_pipeline" / "irt" / "_compiled"
    build = subprocess.run(
        [sys.executable, "-c", "from alt42_pipeline.irt.precompile import main; main()"],
        env={
            **os.environ,
            **env,
            "PYTHONPATH": str(image / "site"),
            "NUMBA_CACHE_DIR": str(baked),
            "PYTHONDONTWRITEBYTECODE": "1",
        },
        capture_output=True,
        text=True,
        timeout=600,
        cwd=image,  # not the repository: `python -c` imports from its working directory first
    )
    assert build.returncode == 0, build.stderr[-3000:]
    assert str(baked) in build.stdout
    for path in [baked, *baked.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    assert "alt42_pipeline.irt.precompile" in build_command()
    out = _run_as_image_user(image, env)
    assert f"PACKAGE {image / 'site'}" in out  # the image's copy, not the repository's
    assert "COMPILED 0 []" in out, out


def test_without_the_build_step_the_first_calibration_compiles(image):
    """The control: the same container without the baked kernels compiles them (the check sees it)."""
    out = _run_as_image_user(image, dockerfile_env() or {"NUMBA_CPU_NAME": "generic"})
    count = int(re.search(r"COMPILED (\d+)", out).group(1))
    assert count > 0, out
