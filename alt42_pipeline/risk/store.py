"""The risk domain's work against the warehouse: nightly training with promotion, daily
scoring, and what the heartbeat and the report read back."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa

from .daily import FEATURES, build_grid, population
from .model import (
    Dataset,
    RiskModel,
    TooLittleHistory,
    TrainingConfig,
    decide_promotion,
    evaluate_model,
    explain,
    split_days,
    train,
)
from .queries import activity_days, read_daily

ALGORITHM = "logistic-regression+platt"
#: History read before the scored day for its features: the widest window is 28 days, and
#: a student's first day must be seen as in training (a return after a long silence).
FEATURE_HISTORY_DAYS = 56


@dataclass(frozen=True)
class TrainingRecord:
    version: int
    promoted: bool
    decision: str
    metrics: dict
    rules_metrics: dict
    incumbent_metrics: dict | None
    split: dict


def history_days(cfg: TrainingConfig) -> int:
    """Days of history a nightly training reads (rolling window, calibration, purge, test,
    horizon, and the features' own look-back)."""
    return cfg.window_days + cfg.calibration_days + cfg.eval_days + 2 * cfg.horizon_days + FEATURE_HISTORY_DAYS


def dataset(wh, as_of: dt.date, cfg: TrainingConfig) -> Dataset:
    known = activity_days(wh)
    if known is None:
        raise TooLittleHistory("no events in the warehouse: nothing to train on")
    first = max(known[0], as_of - dt.timedelta(days=history_days(cfg) - 1))
    daily, topics = read_daily(wh, first, as_of)
    return Dataset.from_grid(build_grid(daily, topics, first, as_of), cfg)


def promoted_model(wh) -> tuple[int, RiskModel] | None:
    t = wh.table("risk_models")
    rows = wh.read(
        sa.select(t.c.version, t.c.params).where(t.c.promoted.is_(True)).order_by(t.c.version.desc()).limit(1)
    )
    if not len(rows):
        return None
    params = rows["params"].iloc[0]
    return int(rows["version"].iloc[0]), RiskModel.from_json(json.loads(params) if isinstance(params, str) else params)


def train_nightly(wh, cfg: TrainingConfig, rules, as_of: dt.date, now: dt.datetime, run_id: str | None = None):
    """Train on the warehouse's history up to ``as_of``, measure the promoted model on the
    same test days, store the candidate as a new version, promoted unless it is worse."""
    ds = dataset(wh, as_of, cfg)
    result = train(ds, cfg, rules)
    incumbent = promoted_model(wh)
    incumbent_metrics = None
    if incumbent is not None:
        incumbent_metrics = evaluate_model(incumbent[1], ds, split_days(ds.grid.days, cfg), cfg)
        incumbent_metrics["version"] = incumbent[0]
    promote, decision = decide_promotion(result.metrics, incumbent_metrics, cfg.promotion_tolerance)
    row = {
        "trained_at": now,
        "as_of": as_of,
        "algorithm": ALGORITHM,
        "horizon_days": cfg.horizon_days,
        "threshold": result.model.threshold,
        "params": result.model.to_json(),
        "metrics": result.metrics,
        "rules_metrics": result.rules,
        "incumbent_metrics": incumbent_metrics,
        "split": {**result.split_dates, "config": asdict(cfg)},
        "promoted": promote,
        "decision": decision,
        "run_id": run_id,
    }
    with wh.transaction() as tx:
        if promote:
            tx.execute(sa.update(tx.table("risk_models")).values(promoted=False))
        version = tx.execute(sa.insert(tx.table("risk_models")).values(**_plain(row))).inserted_primary_key[0]
    return TrainingRecord(
        int(version), promote, decision, result.metrics, result.rules, incumbent_metrics, row["split"]
    )


def _plain(row: dict) -> dict:
    """JSON documents with plain floats (numpy scalars and NaN made JSON-safe)."""

    def clean(v):
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, float) and not np.isfinite(v):
            return None
        return v

    return {k: clean(v) if isinstance(v, dict) else v for k, v in row.items()}


def score(wh, as_of: dt.date, now: dt.datetime, idle_days: int = 7) -> dict:
    """Score every active student as of the end of ``as_of`` with the promoted model and
    store the rows of that day (replacing a previous scoring of the same day)."""
    current = promoted_model(wh)
    if current is None:
        return {"scored": 0, "at_risk": 0, "model_version": None, "problem": "no promoted risk model yet"}
    version, model = current
    first = as_of - dt.timedelta(days=FEATURE_HISTORY_DAYS)
    daily, topics = read_daily(wh, first, as_of)
    grid = build_grid(daily, topics, first, as_of)
    from .daily import feature_cube

    cube = feature_cube(grid, idle_days)
    mask = population(grid, idle_days)[:, -1]
    x = np.nan_to_num(cube[mask, -1, :][:, model.columns(FEATURES)])
    p = model.probability(x) if len(x) else np.zeros(0)
    reasons = explain(model, x) if len(x) else []
    rows = pd.DataFrame(
        {
            "user_id": grid.users[mask],
            "date": as_of,
            "probability": p,
            "at_risk": p >= model.threshold,
            "reasons": reasons,
            "model_version": version,
            "computed_at": now,
        }
    )
    wh.replace("student_risk", rows, {"date": as_of})
    return {"scored": int(len(rows)), "at_risk": int(rows["at_risk"].sum()), "model_version": version}


def latest_scores(wh, as_of: dt.date, max_age_days: int = 2) -> pd.DataFrame:
    """Each student's latest score dated within ``max_age_days`` before ``as_of`` (user_id,
    probability, at_risk, reasons, date); the heartbeat's input."""
    t = wh.table("student_risk")
    since = as_of - dt.timedelta(days=max_age_days)
    latest = sa.select(sa.func.max(t.c.date)).where(t.c.date >= since, t.c.date <= as_of).scalar_subquery()
    rows = wh.read(
        sa.select(t.c.user_id, t.c.date, t.c.probability, t.c.at_risk, t.c.reasons).where(t.c.date == latest)
    )
    return rows


def latest_model_record(wh) -> dict | None:
    """The newest model row (promoted or not) as a dict, for the promotion check and the report."""
    t = wh.table("risk_models")
    rows = wh.read(sa.select(t).order_by(t.c.version.desc()).limit(1))
    if not len(rows):
        return None
    rec = rows.iloc[0].to_dict()
    for key in ("params", "metrics", "rules_metrics", "incumbent_metrics", "split"):
        if isinstance(rec.get(key), str):
            rec[key] = json.loads(rec[key])
    return rec


def invalid_probabilities(wh) -> int:
    """Rows of the latest scored day whose probability is outside [0, 1] (or missing)."""
    t = wh.table("student_risk")
    latest = sa.select(sa.func.max(t.c.date)).scalar_subquery()
    bad = sa.or_(t.c.probability.is_(None), t.c.probability < 0, t.c.probability > 1)
    return int(wh.scalar(sa.select(sa.func.count()).select_from(t).where(t.c.date == latest, bad)))
