"""Benchmark of the student-state domain: heartbeat refresh and sensor evaluations.

Goal (issue "Student state, heartbeat sensor ..."): a state refresh for 100k students with
a week of events in under 5 s, and each sensor evaluation in under 1 s.

    python benchmarks/state_refresh.py                          # SQLite file in a temp dir
    python benchmarks/state_refresh.py --url postgresql+psycopg2://user@host/empty_db

The database given with --url must be empty (the benchmark creates the schema). Prints
the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from alt42_pipeline import clock as the_clock
from alt42_pipeline import settings
from alt42_pipeline.defs import state as state_defs
from alt42_pipeline.defs.resources import WarehouseResource, build_resources
from alt42_pipeline.state.heartbeat import run_heartbeat
from alt42_pipeline.state.rules import load_rules
from alt42_pipeline.warehouse import Warehouse

NOW = dt.datetime(2026, 3, 10, 12, 0, 0)


def events_frame(
    rng: np.random.Generator, students: int, per_week: float, start: dt.datetime, span: dt.timedelta, first_id: int
) -> pd.DataFrame:
    """Events of ``students`` students spread over ``[start, start + span)``."""
    scale = span / dt.timedelta(days=7)
    counts = rng.poisson(per_week * scale * rng.gamma(2.0, 0.5, students))
    users = np.repeat(np.arange(1, students + 1, dtype=np.int64), counts)
    n = len(users)
    offsets = rng.random(n) * span.total_seconds()
    occurred = pd.Timestamp(start) + pd.to_timedelta((offsets * 1e6).astype(np.int64), unit="us")
    answered = rng.random(n) < 0.7
    skill = rng.beta(4, 2, students + 1)[users]
    success = rng.random(n) < skill
    verbs = np.where(answered, "answered", rng.choice(["viewed", "started", "submitted", "logged_in"], n))
    return pd.DataFrame(
        {
            "event_id": [f"b{first_id + i}" for i in range(n)],
            "user_id": users,
            "verb": verbs,
            "question_id": np.where(answered, "q" + (users % 500).astype(str), None),
            "topic_id": "t" + (users % 20).astype(str),
            "success": pd.array(np.where(answered, success, None), dtype="boolean"),
            "score": np.where(answered, success.astype(float), np.nan),
            "duration_s": rng.exponential(40.0, n),
            "occurred_at": occurred.to_numpy(),
            "event_date": occurred.date,
            "source": "bench",
        }
    )


def vacuum(wh: Warehouse) -> None:
    """After a bulk write, what autovacuum does within a minute in production: statistics
    for the planner and the visibility map that lets per-day counts use index-only scans."""
    if wh.dialect == "postgresql":
        with wh.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")


def timed(fn, repeat: int = 1):
    figures, value = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        figures.append(time.perf_counter() - start)
    return value, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="an empty warehouse database (default: a new SQLite file)")
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--events-per-week", type=float, default=10.0, help="mean events per student per week")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory()
    url = args.url or f"sqlite:///{Path(tmp.name) / 'warehouse.db'}"
    wh = Warehouse(url)
    wh.migrate()
    rng = np.random.default_rng(42)
    rules = load_rules()

    week = events_frame(rng, args.students, args.events_per_week, NOW - dt.timedelta(days=7), dt.timedelta(days=7), 0)
    _, load = timed(lambda: wh.append("events", week))
    vacuum(wh)
    print(
        f"backend: {wh.dialect}; {args.students} students, {len(week)} events over 7 days (loaded in {load[0]:.1f} s)"
    )

    first, t_first = timed(lambda: run_heartbeat(wh, rules, now=NOW))
    print(
        f"first heartbeat (consumes the whole week): {t_first[0]:.2f} s - "
        f"{first.students_processed} students, {first.events_consumed} events, {first.state_changes} state changes"
    )

    vacuum(wh)
    fresh = events_frame(rng, args.students, args.events_per_week, NOW, dt.timedelta(minutes=30), len(week))
    wh.append("events", fresh)
    later = NOW + dt.timedelta(minutes=30)
    steady, t_steady = timed(lambda: run_heartbeat(wh, rules, now=later))
    print(
        f"steady heartbeat (30 min of new events): {t_steady[0]:.2f} s - "
        f"{steady.students_processed} students evaluated, {steady.events_consumed} events consumed, "
        f"{steady.students_updated} rows updated"
    )
    _, t_quiet = timed(lambda: run_heartbeat(wh, rules, now=later + dt.timedelta(minutes=30)), repeat=3)
    print(f"quiet heartbeat (nothing new), 3 runs: {', '.join(f'{t:.2f}' for t in t_quiet)} s")
    next_day = NOW.replace(hour=0, minute=5) + dt.timedelta(days=1)
    daily, t_daily = timed(lambda: run_heartbeat(wh, rules, now=next_day))
    print(
        f"daily full refresh (first heartbeat of a day): {t_daily[0]:.2f} s - "
        f"full={daily.full_refresh}, {daily.students_updated} rows updated, {daily.state_changes} state changes"
    )

    resources = build_resources(settings.load()) | {"warehouse": WarehouseResource(url=url)}
    clock = later + dt.timedelta(days=6, hours=23, minutes=50)  # many students cross 7 days
    the_clock._source = lambda: clock  # the benchmark moves the clock the definitions read
    with dg.instance_for_test() as instance:
        cursor = (clock - dt.timedelta(minutes=10)).isoformat()
        sensors = {
            "heartbeat_sensor": lambda: state_defs.heartbeat_sensor(dg.build_sensor_context(instance=instance)),
            "inactivity_sensor": lambda: state_defs.inactivity_sensor(
                dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
            ),
            "pipeline_health_sensor": lambda: state_defs.pipeline_health_sensor(
                dg.build_sensor_context(instance=instance, resources=resources)
            ),
        }
        for name, evaluate in sensors.items():
            result, figures = timed(evaluate, repeat=5)
            requests = len(getattr(result, "run_requests", None) or [])
            print(
                f"{name}: median {statistics.median(figures) * 1000:.0f} ms, max {max(figures) * 1000:.0f} ms "
                f"over 5 evaluations ({requests} run request(s))"
            )
    tmp.cleanup()


if __name__ == "__main__":
    main()
