"""Nightly training on the warehouse: stored with a version and metrics beside the rules',
promoted unless worse than the promoted model on the same held-out days; the daily scores;
the assets and the promotion check materialized in process."""

import datetime as dt

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from alt42_pipeline.demo import DemoConfig, generate
from alt42_pipeline.demo.events import canonical_events
from alt42_pipeline.risk import TrainingConfig, decide_promotion
from alt42_pipeline.risk.store import latest_model_record, promoted_model, score, train_nightly
from alt42_pipeline.state import load_rules
from alt42_pipeline_tests.conftest import make_resources

LAST = dt.date(2026, 3, 29)
NOW = dt.datetime(2026, 3, 30, 3, 0)


@pytest.fixture(scope="module")
def events():
    platform = generate(DemoConfig(students=300, days=56, end_date=LAST, seed=5))
    ev = canonical_events(platform).sort_values("occurred_at", kind="stable").reset_index(drop=True)
    return ev.assign(
        event_id=[f"t:{i}" for i in range(len(ev))],
        object_id=None,
        question_id=None,
        score=np.where(ev["verb"] == "answered", ev["success"].astype(float), np.nan),
        success=ev["success"].where(ev["verb"] == "answered").astype("boolean"),
        event_date=pd.to_datetime(ev["occurred_at"]).dt.date,
        source="test",
    )


@pytest.fixture
def filled(warehouse, events):
    warehouse.append("events", events)
    return warehouse


def test_a_first_model_is_stored_with_metrics_and_promoted_and_scores_students(filled):
    cfg = TrainingConfig()
    record = train_nightly(filled, cfg, load_rules(), LAST, NOW, "run-1")
    assert record.promoted and record.version == 1
    for side in (record.metrics, record.rules_metrics):
        assert {"roc_auc", "average_precision", "brier", "precision", "recall", "median_lead_days"} <= set(side)
    assert record.metrics["roc_auc"] > 0.7  # precursors exist in the demo: better than chance
    assert record.split["test"][1] == (LAST - dt.timedelta(days=cfg.horizon_days)).isoformat()
    stored = latest_model_record(filled)
    assert stored["promoted"] and stored["metrics"]["rows"] == record.metrics["rows"]

    result = score(filled, LAST, NOW)
    rows = filled.read("student_risk")
    assert result["scored"] == len(rows) > 0 and result["model_version"] == 1
    assert rows["probability"].between(0, 1).all()
    flagged = rows[rows["at_risk"]]
    assert (flagged["probability"] >= promoted_model(filled)[1].threshold).all()
    assert all(r and r[0]["contribution"] > 0 for r in flagged["reasons"])


def test_a_model_that_evaluates_worse_is_not_promoted_and_the_previous_keeps_scoring(filled, monkeypatch):
    from alt42_pipeline.risk import model as risk_model

    train_nightly(filled, TrainingConfig(), load_rules(), LAST, NOW)
    fit = risk_model.fit

    def backwards(*args):  # a broken candidate: it ranks the students the wrong way round
        m = fit(*args)
        m.coef = [-c for c in m.coef]
        return m

    monkeypatch.setattr(risk_model, "fit", backwards)
    worse = train_nightly(filled, TrainingConfig(), load_rules(), LAST, NOW)
    assert not worse.promoted and "worse than the promoted model" in worse.decision
    assert worse.incumbent_metrics["version"] == 1
    assert promoted_model(filled)[0] == 1
    assert score(filled, LAST, NOW)["model_version"] == 1


def test_promotion_rule():
    good = {"average_precision": 0.40, "roc_auc": 0.90}
    assert decide_promotion(good, None, 0.01)[0]
    assert decide_promotion(good, {"average_precision": 0.405, "roc_auc": 0.905}, 0.01)[0]
    assert not decide_promotion(good, {"average_precision": 0.45, "roc_auc": 0.90}, 0.01)[0]
    assert not decide_promotion({"average_precision": None, "roc_auc": None}, None, 0.01)[0]


def test_too_short_a_history_is_refused_by_name(warehouse, events):
    warehouse.append("events", events[pd.to_datetime(events["occurred_at"]).dt.date > LAST - dt.timedelta(days=20)])
    with pytest.raises(ValueError, match="too few to train"):
        train_nightly(warehouse, TrainingConfig(), load_rules(), LAST, NOW)


def test_the_assets_and_the_promotion_check_materialize(sqlite_url, events):
    from alt42_pipeline.defs.risk import (
        risk_model,
        risk_model_not_worse,
        student_risk,
        student_risk_probabilities_valid,
    )
    from alt42_pipeline.warehouse import Warehouse

    wh = Warehouse(sqlite_url)
    wh.migrate()
    wh.append("events", events)
    as_of = {"config": {"as_of": LAST.isoformat()}}
    result = dg.materialize(
        [risk_model, student_risk, risk_model_not_worse, student_risk_probabilities_valid],
        resources=make_resources(sqlite_url),
        run_config={"ops": {"risk_model": as_of, "student_risk": as_of}},
    )
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"risk_model_not_worse": True, "student_risk_probabilities_valid": True}
    meta = result.asset_materializations_for_node("risk_model")[0].metadata
    assert meta["promoted"].value is True and "rules_precision" in meta
    wh.engine.dispose()
