"""IRT calibration inside the pipeline vs the engine alone, on the same 2M responses.

Puts 50k students x 500 items (40 answers each, 2M responses, 20 anchors whose reference
parameters sit on a shifted scale) into a fresh PostgreSQL warehouse as canonical events,
then times the pipeline's calibration (read the window's first answers, calibrate, link
to the anchors, score, write all three tables in one transaction) against the engine
alone (calibrate + EAP scores) on the same responses in the same process.

    python benchmarks/irt_pipeline.py [--users 50000] [--items 500] [--per-user 40] [--pg URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
import uuid

import numpy as np
import pandas as pd
import sqlalchemy as sa

from alt42_pipeline import irt
from alt42_pipeline.calibration import (
    CalibrationSettings,
    calibrate_and_link,
    load_anchors,
    load_responses,
    write_calibration,
)
from alt42_pipeline.warehouse import Warehouse

DAY = dt.date(2026, 3, 4)
SLOPE, INTERCEPT = 1.15, 0.3


def _fill(wh: Warehouse, responses: pd.DataFrame, items: pd.DataFrame, anchors: list) -> None:
    n = len(responses)
    rng = np.random.default_rng(1)
    occurred = pd.Timestamp(DAY) + pd.to_timedelta(rng.integers(0, 86_400_000, n), unit="ms")
    events = pd.DataFrame(
        {
            "event_id": "b:" + pd.RangeIndex(n).astype(str),
            "user_id": responses["user_id"].astype("int64").to_numpy() + 1,
            "verb": "answered",
            "question_id": responses["item_id"].astype(str).to_numpy(),
            "topic_id": "t",
            "success": responses["correct"].astype(bool).to_numpy(),
            "score": responses["correct"].astype(float).to_numpy(),
            "occurred_at": occurred,
            "event_date": DAY,
            "source": "assessment",
        }
    )
    wh.replace("events", events, {"event_date": DAY})
    a_ref = items["a"] / SLOPE
    b_ref = SLOPE * (-items["d"] / items["a"]) + INTERCEPT
    q = pd.DataFrame(
        {
            "question_id": items.index.astype(str),
            "topic_id": "t",
            "source": "assessment",
            "is_anchor": items.index.isin(anchors),
            "ref_a": np.where(items.index.isin(anchors), a_ref, np.nan),
            "ref_d": np.where(items.index.isin(anchors), -a_ref * b_ref, np.nan),
            "meta": [json.dumps({"tags": ["anchor"]}) if i in anchors else None for i in items.index],
            "updated_at": dt.datetime(2026, 3, 1),
        }
    )
    wh.replace("questions", q, None)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=50_000)
    ap.add_argument("--items", type=int, default=500)
    ap.add_argument("--per-user", type=int, default=40)
    ap.add_argument("--pg", default="postgresql+psycopg2://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()

    items = irt.simulate_items(args.items, seed=5)
    responses, _theta = irt.simulate_responses(items, args.users, design="random", items_per_user=args.per_user, seed=6)
    anchors = list(items.index[:20])

    admin = sa.create_engine(args.pg, isolation_level="AUTOCOMMIT")
    name = f"alt42_bench_irt_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        wh = Warehouse(admin.url.set(database=name).render_as_string(hide_password=False))
        wh.migrate()
        _fill(wh, responses, items, anchors)
        settings = CalibrationSettings()
        # warm the compiled kernels once (as a long-lived code server would have them)
        warm, _ = irt.simulate_responses(items.head(10), 300, design="dense", seed=1)
        irt.score(warm, irt.calibrate(warm).items)

        t0 = time.perf_counter()
        loaded = load_responses(wh, DAY, DAY)
        t1 = time.perf_counter()
        outcome = calibrate_and_link(loaded, load_anchors(wh), settings)
        t2 = time.perf_counter()
        write_calibration(wh, outcome, settings, (DAY, DAY), "bench", None, dt.datetime(2026, 3, 5))
        t3 = time.perf_counter()

        e0 = time.perf_counter()
        fit = irt.calibrate(responses, on_invalid="exclude")
        irt.score(responses, fit.items)
        e1 = time.perf_counter()

        print(f"{len(loaded):,} responses, {outcome.items.shape[0]} items, {outcome.abilities.shape[0]:,} students")
        print(f"{'stage':48s} {'seconds':>8s}")
        print(f"{'pipeline: read first answers from events':48s} {t1 - t0:8.2f}")
        print(f"{'pipeline: calibrate + link + score':48s} {t2 - t1:8.2f}")
        print(f"{'pipeline: write params, meta, abilities (1 tx)':48s} {t3 - t2:8.2f}")
        print(f"{'pipeline total':48s} {t3 - t0:8.2f}")
        print(f"{'engine alone: calibrate + EAP scores':48s} {e1 - e0:8.2f}")
        print(f"pipeline / engine: {(t3 - t0) / (e1 - e0):.1f}x")
        print(
            f"linking: slope {outcome.linking['slope']:.3f} (true {SLOPE}), intercept {outcome.linking['intercept']:.3f} (true {INTERCEPT})"
        )
        wh.engine.dispose()
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


if __name__ == "__main__":
    main()
