"""What Dagster costs around our work, through the real command line.

Three figures against the goals of the issue "Operable in Dagster" (each the median of
``--repeats`` runs, with the load average of the machine):

1. import of the code location: ``python -c "from alt42_pipeline.definitions import defs; defs()"``
   (goal <= 2 s), next to ``python -c "import dagster"``, the floor, measured in the same run;
2. ``dagster job execute -j state_refresh_job`` on the demo (goal <= 5 s);
3. one light partition through ``dagster asset materialize --select interventions
   --partition <day>`` on the demo (goal <= 6 s).

    python benchmarks/run_cost.py                      # builds the demo in a temporary folder first
    python benchmarks/run_cost.py --home .dagster_home --data data   # the demo of `make demo`

Times are wall clock of the whole command (process start to exit). Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
GOALS = {"code location import": 2.0, "state_refresh_job": 5.0, "one light partition": 6.0}


def _env(home: Path, data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALT42_", "DAGSTER_"))}
    env |= {"DAGSTER_HOME": str(home), "ALT42_DATA_DIR": str(data)}
    demo_env = data / "demo.env"  # the demo's partitions start
    if demo_env.exists():
        for line in demo_env.read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                key, value = line.split("=", 1)
                env[key] = value
    return env


def _timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return seconds


def _build_demo(home: Path, data: Path, students: int, days: int) -> None:
    print(f"building a demo ({students} students, {days} days) in {home.parent} ...", flush=True)
    home.mkdir(parents=True, exist_ok=True)
    env = _env(home, data)
    args = ["--students", str(students), "--days", str(days)]
    _timed([sys.executable, "-m", "alt42_pipeline", "demo", *args], env)


def _last_day(env: dict[str, str]) -> str:
    code = (
        "import dagster as dg; from alt42_pipeline.definitions import defs;"
        "print(defs().resolve_assets_def('interventions').partitions_def.get_last_partition_key())"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, help="DAGSTER_HOME of an existing demo (default: build one)")
    parser.add_argument("--data", type=Path, help="ALT42_DATA_DIR of that demo")
    parser.add_argument("--students", type=int, default=400)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="alt42-run-cost-") as tmp:
        home = (args.home or Path(tmp) / "home").resolve()
        data = (args.data or Path(tmp) / "data").resolve()
        if args.home is None:
            _build_demo(home, data, args.students, args.days)
        env = _env(home, data)
        day = _last_day(env)
        module = ["-m", "alt42_pipeline.definitions"]
        commands = {
            "import dagster (floor)": [sys.executable, "-c", "import dagster"],
            "code location import": [
                sys.executable,
                "-c",
                "from alt42_pipeline.definitions import defs; defs()",
            ],
            "state_refresh_job": [str(BIN / "dagster"), "job", "execute", "-j", "state_refresh_job", *module],
            "one light partition": [
                str(BIN / "dagster"),
                "asset",
                "materialize",
                "--select",
                "interventions",
                "--partition",
                day,
                *module,
            ],
        }
        load_before = os.getloadavg()
        results: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeats):  # interleaved, so a burst of load hits every figure alike
            for name, command in commands.items():
                results[name].append(_timed(command, env))
        load_after = os.getloadavg()

    print(f"\nload average before {load_before[0]:.2f} / after {load_after[0]:.2f} (1 min), {os.cpu_count()} cores")
    print(f"{'':28s} {'median s':>9s} {'min s':>7s} {'goal s':>7s}  verdict")
    floor = statistics.median(results["import dagster (floor)"])
    for name, times in results.items():
        median = statistics.median(times)
        goal = GOALS.get(name)
        verdict = "" if goal is None else ("meets the goal" if median <= goal else "OVER the goal")
        extra = f"  ({median / floor:.1f}x import dagster)" if name == "code location import" else ""
        goal_text = f"{goal:7.1f}" if goal else f"{'':7s}"
        print(f"{name:28s} {median:9.2f} {min(times):7.2f} {goal_text}  {verdict}{extra}")
    print(f"(state_refresh_job and the partition: `dagster ... -m alt42_pipeline.definitions`, partition {day})")


if __name__ == "__main__":
    main()
