"""Benchmark: the intervention batch for one day over many students (built-in recommender).

Generates a day of platform data for N students (events, state, weekly KPIs, two weeks of
topic features, abilities) in a fresh warehouse, runs the batch once, then re-runs it
(every student is then a duplicate) and prints the wall time of each stage. The goal of
the issue: under 30 s for 100k students.

    python benchmarks/interventions_batch.py [--students 100000] [--url sqlite:///... | postgresql://...]

Without --url a temporary SQLite file is used. The tables are ANALYZEd after the bulk load,
as a production database's are (PostgreSQL's autovacuum does it by itself), so the planner
sees real row counts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from alt42_pipeline.interventions import RuleRecommender, parse_required_records, run_batch
from alt42_pipeline.settings import DEFAULT_REQUIRED_RECORDS
from alt42_pipeline.warehouse import Warehouse

DAY = dt.date(2026, 11, 18)
TOPICS = np.array([f"topic_{i:02d}" for i in range(20)])


def generate(wh: Warehouse, n: int, seed: int = 42) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    users = np.arange(1, n + 1, dtype=np.int64)
    now = dt.datetime(2026, 11, 19, 2, 0)
    # events: 85% of students answer 1-12 questions; 90% of those also have activity events
    answers = np.where(rng.random(n) < 0.85, rng.integers(1, 13, n), 0)
    activity = np.where((answers > 0) & (rng.random(n) < 0.9), rng.integers(1, 4, n), 0)
    answer_users = np.repeat(users, answers)
    activity_users = np.repeat(users, activity)
    m, k = len(answer_users), len(activity_users)
    events = pd.DataFrame(
        {
            "event_id": [f"b{i}" for i in range(m + k)],
            "user_id": np.concatenate([answer_users, activity_users]),
            "verb": np.array(["answered"] * m + list(rng.choice(["viewed", "logged_in", "submitted"], k))),
            "topic_id": rng.choice(TOPICS, m + k),
            "success": np.concatenate([rng.random(m) < 0.7, np.full(k, None)]),
            "duration_s": rng.uniform(5, 120, m + k).round(1),
            "occurred_at": pd.Timestamp(DAY) + pd.to_timedelta(rng.integers(0, 86_400, m + k), unit="s"),
            "event_date": DAY,
            "source": "bench",
        }
    )
    wh.append("events", events)
    wh.append(
        "student_state_cache",
        pd.DataFrame(
            {
                "user_id": users,
                "state": rng.choice(["active", "idle", "at_risk", "inactive"], n, p=[0.6, 0.25, 0.1, 0.05]),
                "since": now,
                "recent_accuracy": rng.uniform(0.2, 1.0, n).round(3),
                "recent_attempts": rng.integers(0, 200, n),
                "theta": rng.normal(0, 1, n).round(3),
                "theta_se": 0.4,
                "active_scenarios": [["low_accuracy"] if i % 7 == 0 else [] for i in range(n)],
                "updated_at": now,
            }
        ),
    )
    week_start = DAY - dt.timedelta(days=DAY.weekday())
    wh.append(
        "weekly_kpi",
        pd.DataFrame(
            {
                "user_id": users,
                "week_start": week_start,
                "kpis": [
                    {"attempts": int(a), "active_days": int(d)} for a, d in zip(answers * 3, rng.integers(1, 6, n))
                ],
                "updated_at": now,
            }
        ),
    )
    # topic features: 3 topics per student on 3 days of the last two weeks
    rows = n * 3
    attempts = rng.integers(1, 10, rows)
    wh.append(
        "features_topic_daily",
        pd.DataFrame(
            {
                "user_id": np.repeat(users, 3),
                "topic_id": np.tile(TOPICS[:3], n),
                "date": [DAY - dt.timedelta(days=int(d)) for d in rng.integers(0, 14, rows)],
                "attempts": attempts,
                "correct": rng.binomial(attempts, 0.65),
                "time_on_task_s": attempts * 40.0,
                "computed_at": now,
            }
        ).drop_duplicates(["user_id", "topic_id", "date"]),
    )
    wh.append(
        "mirt_ability",
        pd.DataFrame(
            {
                "user_id": users[: n // 2],
                "theta": rng.normal(0, 1, n // 2),
                "se": 0.3,
                "method": "eap",
                "fitted_at": now,
            }
        ),
    )
    return {"students": n, "events": m + k}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--url", help="warehouse URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        wh = Warehouse(url)
        wh.migrate()
        started = time.perf_counter()
        sizes = generate(wh, args.students)
        wh.execute(sa.text("ANALYZE"))
        print(
            f"backend {wh.dialect}: generated {sizes['students']:,} students, {sizes['events']:,} events "
            f"in {time.perf_counter() - started:.1f} s"
        )
        groups = parse_required_records(DEFAULT_REQUIRED_RECORDS)
        for label in ("first run", "re-run (all duplicates)"):
            started = time.perf_counter()
            report = run_batch(wh, DAY, RuleRecommender(), groups, run_id="bench")
            total = time.perf_counter() - started
            stages = ", ".join(f"{k} {v:.2f} s" for k, v in report.seconds.items())
            print(f"{label}: {total:.2f} s total ({stages})")
            print(f"  counts: {report.counts}")
            if report.recommendations:
                print(f"  recommendations: {report.recommendations}")
        wh.engine.dispose()


if __name__ == "__main__":
    main()
