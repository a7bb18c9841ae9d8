"""Benchmark of the drop-out risk model: held-out quality against the scenario rules, and
nightly training + scoring time at 100k students.

Issue "At risk, measured" targets: on a 5,000-student, 56-day demo, ROC AUC >= 0.85 on the
held-out days, per-alert precision >= 0.6 at the alert threshold with a median lead time
>= 5 days, against today's rules measured the same way; nightly training + scoring of 100k
students in < 60 s on this machine.

    python benchmarks/risk_model.py                  # both parts
    python benchmarks/risk_model.py --students 1000  # a smaller demo for a smoke run

Part 1 generates the demo (the generator's engagement hazard, seeded), builds the daily
table straight from the generated sources (what ingestion makes of clean rows) and prints
one table: the shipped model (logistic regression + Platt scaling, fitted on "a drop-out
starts within the alert's window"), the same model fitted on the label, gradient boosting on
the same features and split, the logistic model with the calendar-bound cumulative features
the model leaves out (tenure, topic coverage so far), the scenario rules, and the shipped
model at other thresholds.

Part 2 tiles the demo's daily table to 100k students (ids shifted, same days) and times
what the nightly run does after reading the daily table from the warehouse: features,
fit, calibration, threshold, evaluation of model and rules, scoring and explanations of
the last day. Reading the table is not timed (one GROUP BY in the database). Prints the
figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from dataclasses import replace

import numpy as np

from alt42_pipeline.demo.events import canonical_events
from alt42_pipeline.demo.platform import DemoConfig, generate
from alt42_pipeline.risk import build_grid, daily_from_events, explain, topics_from_events
from alt42_pipeline.risk.daily import FEATURES, Grid, population, topic_coverage
from alt42_pipeline.risk.model import (
    Dataset,
    TrainingConfig,
    choose_threshold,
    evaluate_model,
    evaluate_rules,
    fit,
    split_days,
)
from alt42_pipeline.state.rules import load_rules

END = dt.date(2026, 11, 30)
COLUMNS = [
    ("roc_auc", "ROC AUC", "{:.3f}"),
    ("average_precision", "AP", "{:.3f}"),
    ("brier", "Brier", "{:.4f}"),
    ("threshold", "thresh", "{:.3f}"),
    ("precision", "precision", "{:.2f}"),
    ("recall", "recall", "{:.2f}"),
    ("median_lead_days", "lead d", "{:.1f}"),
    ("median_days_ahead_of_idle_rule", "ahead idle d", "{:.1f}"),
    ("alerted_share", "flagged/day", "{:.3f}"),
    ("alerts", "alerts", "{:d}"),
]


class Boosted:
    """Gradient boosting with the same calibration and threshold choice as the shipped model."""

    def __init__(self, ds: Dataset, split, cfg: TrainingConfig) -> None:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.frozen import FrozenEstimator
        from threadpoolctl import threadpool_limits

        x, y, _ = ds.rows(split.train, target=True)
        xc, yc, _ = ds.rows(split.calibration, target=True)
        with threadpool_limits(limits=1):
            base = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, random_state=0)
            base.fit(np.nan_to_num(x), y)
            self.model = CalibratedClassifierCV(FrozenEstimator(base), method="sigmoid").fit(np.nan_to_num(xc), yc)
        self.threshold = 0.5
        self.threshold = choose_threshold(self, ds, split.calibration, cfg)

    def columns(self, names) -> list[int]:
        return list(range(len(names)))

    def probability(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(np.nan_to_num(x))[:, 1]


def with_cumulative(ds: Dataset) -> Dataset:
    """The dataset plus tenure (capped at 28 days) and topic coverage so far."""
    active = ds.grid.active
    first = np.where(active.any(axis=1), active.argmax(axis=1), active.shape[1])[:, None]
    t = np.arange(active.shape[1])[None, :]
    tenure = np.where(t >= first, np.minimum(t - first, 28), 0.0)
    extra = np.stack([tenure, topic_coverage(ds.grid)], axis=2)
    return Dataset(
        ds.grid,
        np.concatenate([ds.cube, extra], axis=2),
        ds.label,
        ds.scored,
        [*FEATURES, "tenure_days", "topics_touched"],
        ds.target,
    )


def row(name: str, metrics: dict) -> str:
    cells = []
    for key, _, fmt in COLUMNS:
        v = metrics.get(key)
        cells.append("-" if v is None else fmt.format(v))
    return f"{name:28s}" + "".join(f"{c:>13s}" for c in cells)


def quality(students: int, days: int, cfg: TrainingConfig) -> Grid:
    started = time.perf_counter()
    platform = generate(DemoConfig(students=students, days=days, end_date=END, seed=42))
    events = canonical_events(platform)
    grid = build_grid(daily_from_events(events), topics_from_events(events), platform.config.first_day, END)
    truth = platform.students
    print(
        f"demo: {students} students x {days} days, {len(events):,} events, "
        f"{int((truth.dropout_day >= 0).sum())} true drop-outs in the period "
        f"(patterns {truth.pattern.value_counts().to_dict()}), built in {time.perf_counter() - started:.1f} s"
    )
    ds = Dataset.from_grid(grid, cfg)
    on_label = Dataset.from_grid(grid, replace(cfg, training_target="dropped"))
    split = split_days(grid.days, cfg)
    g = grid.day
    print(
        f"split (day ranges, inclusive): train {g(split.train[0])}..{g(split.train[1])}, calibration "
        f"{g(split.calibration[0])}..{g(split.calibration[1])}, test {g(split.test[0])}..{g(split.test[1])} "
        f"(horizon {cfg.horizon_days} d, purge gap {cfg.purge_days or cfg.horizon_days} d, precision target {cfg.precision_target})"
    )
    timings, results = {}, {}
    for name, build in (
        ("logistic (shipped)", lambda: fit(ds, split, cfg)),
        ("logistic on the label", lambda: fit(on_label, split, cfg)),
        ("gradient boosting", lambda: Boosted(ds, split, cfg)),
        ("logistic + cumulative", lambda: fit(with_cumulative(ds), split, cfg)),
    ):
        started = time.perf_counter()
        model = build()
        timings[name] = time.perf_counter() - started
        data = with_cumulative(ds) if "cumulative" in name else on_label if "label" in name else ds
        results[name] = evaluate_model(model, data, split, cfg)
    results["scenario rules (today)"] = evaluate_rules(load_rules(), ds, split, cfg)
    shipped = fit(ds, split, cfg)
    for threshold in (0.3, 0.4, 0.5, 0.6, 0.7):  # what another threshold buys: lead time for precision
        shipped.threshold = threshold
        results[f"logistic at {threshold:.2f}"] = evaluate_model(shipped, ds, split, cfg)
    print()
    print(f"{'':28s}" + "".join(f"{label:>13s}" for _, label, _ in COLUMNS))
    for name, metrics in results.items():
        print(row(name, metrics))
    print()
    print("fit + calibrate + threshold: " + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()))
    print(
        "precision: correct / decided alerts (an alert = first day of a run of alerted days; correct when the "
        "drop-out - last activity, then horizon days silent - starts at most horizon days after it and no more "
        "than idle-1 days before it); recall: drop-outs alerted within [L - horizon, L + idle - 1]; lead: L - first "
        "alert; ahead idle: L + idle - first alert"
    )
    return grid


def tiled(grid: Grid, copies: int) -> Grid:
    """``copies`` copies of a grid's students (new ids), same days."""
    n = len(grid.users)

    def rep(m):
        return np.tile(m, (copies, 1))

    return Grid(
        users=np.arange(1, n * copies + 1, dtype=np.int64),
        first_day=grid.first_day,
        events=rep(grid.events),
        sessions=rep(grid.sessions),
        answers=rep(grid.answers),
        correct=rep(grid.correct),
        answer_time_s=rep(grid.answer_time_s),
        new_topics=rep(grid.new_topics),
    )


def nightly_time(grid: Grid, target: int, cfg: TrainingConfig) -> None:
    big = tiled(grid, -(-target // len(grid.users)))  # at least ``target`` students
    rules = load_rules()
    steps = {}
    started = time.perf_counter()
    t = time.perf_counter()
    ds = Dataset.from_grid(big, cfg)
    steps["features + labels"] = time.perf_counter() - t
    split = split_days(big.days, cfg)
    t = time.perf_counter()
    model = fit(ds, split, cfg)
    steps["fit + calibrate + threshold"] = time.perf_counter() - t
    t = time.perf_counter()
    evaluate_model(model, ds, split, cfg)
    evaluate_rules(rules, ds, split, cfg)
    steps["evaluate model and rules"] = time.perf_counter() - t
    t = time.perf_counter()
    last = big.days - 1
    mask = population(big, cfg.idle_days)[:, last]
    x = ds.cube[mask, last, :]
    p = model.probability(x)
    explain(model, x)
    steps["score + explain last day"] = time.perf_counter() - t
    total = time.perf_counter() - started
    print()
    print(
        f"nightly at {len(big.users):,} students x {big.days} days ({int(ds.scored.sum()):,} scored student-days, "
        f"{int(mask.sum()):,} scored today, {int((p >= model.threshold).sum()):,} flagged):"
    )
    for name, seconds in steps.items():
        print(f"  {name:30s} {seconds:7.2f} s")
    print(f"  {'total':30s} {total:7.2f} s  (target < 60 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=5000)
    parser.add_argument("--days", type=int, default=56)
    parser.add_argument("--nightly-students", type=int, default=100_000)
    parser.add_argument("--purge-days", type=int, default=None, help="gap between calibration and test")
    args = parser.parse_args()
    cfg = TrainingConfig(purge_days=args.purge_days)
    grid = quality(args.students, args.days, cfg)
    nightly_time(grid, args.nightly_students, cfg)


if __name__ == "__main__":
    main()
