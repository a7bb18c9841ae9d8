"""The alert-level measures on a hand-made history whose answers are known."""

import datetime as dt

import numpy as np
import pandas as pd

from alt42_pipeline.risk import build_grid
from alt42_pipeline.risk.daily import DAILY_COLUMNS, TOPIC_COLUMNS
from alt42_pipeline.risk.model import Dataset, TrainingConfig, alert_metrics, split_days

D0 = dt.date(2026, 1, 5)


def _grid(active: dict[int, list[int]], days: int):
    rows = [
        {"user_id": u, "date": D0 + dt.timedelta(days=d), "events": 3, "sessions": 1, "answers": 1, "correct": 1}
        for u, ds in active.items()
        for d in ds
    ]
    daily = pd.DataFrame(rows).assign(answer_time_s=30.0)[DAILY_COLUMNS]
    return build_grid(daily, pd.DataFrame(columns=TOPIC_COLUMNS), D0, D0 + dt.timedelta(days=days - 1))


def test_precision_per_alert_recall_per_dropout_and_lead_time():
    # student 1: active days 0..10, then never again (drop-out start L = 10); student 2: every day
    grid = _grid({1: list(range(11)), 2: list(range(41))}, days=41)
    cfg = TrainingConfig(horizon_days=14, idle_days=7)
    ds = Dataset.from_grid(grid, cfg)
    flags = np.zeros(ds.scored.shape, bool)
    flags[0, 6:8] = True  # student 1 alerted on days 6 and 7: one alert, 4 days before the last activity
    flags[1, 5] = True  # student 2 alerted on day 5: never drops out, a false alert
    m = alert_metrics(flags, ds, (0, 20), cfg)
    assert (m.alerts, m.alerts_decided, m.correct_alerts, m.precision) == (2, 2, 1, 0.5)
    assert (m.dropouts, m.detected, m.recall) == (1, 1, 1.0)
    assert m.median_lead_days == 4.0 and m.median_days_ahead_of_idle_rule == 11.0


def test_an_alert_after_the_last_activity_but_before_the_idle_rule_counts_with_a_negative_lead():
    grid = _grid({1: list(range(11))}, days=41)
    cfg = TrainingConfig(horizon_days=14, idle_days=7)
    ds = Dataset.from_grid(grid, cfg)
    flags = np.zeros(ds.scored.shape, bool)
    flags[0, 13] = True  # three days after the last activity, four before the idle rule
    m = alert_metrics(flags, ds, (0, 20), cfg)
    assert m.precision == 1.0 and m.median_lead_days == -3.0 and m.median_days_ahead_of_idle_rule == 4.0


def test_alerts_whose_outcome_is_not_known_yet_are_not_counted():
    grid = _grid({1: list(range(30))}, days=35)  # active to day 29; day 29's horizon runs past the end
    cfg = TrainingConfig(horizon_days=14, idle_days=7)
    ds = Dataset.from_grid(grid, cfg)
    flags = np.zeros(ds.scored.shape, bool)
    flags[0, 25] = True
    m = alert_metrics(flags, ds, (20, 29), cfg)
    assert m.alerts == 1 and m.alerts_decided == 0 and m.precision is None


def test_the_split_is_by_time_with_a_purge_gap_of_one_horizon():
    s = split_days(56, TrainingConfig(horizon_days=14, eval_days=7, calibration_days=7))
    assert s.test == (35, 41)  # the most recent fully labelled days: 41 + 14 = 55, the last day
    assert s.calibration == (14, 20)  # 20 + 14 < 35: no calibration label reads a test day
    assert s.train == (0, 13)
