"""A warehouse holding two weeks of a small demo platform and a calibration of its items.

The calibration is written from the platform's true parameters put on the reference scale
(no IRT fit: fast and exact), with one anchor moved by ``SHIFT`` logits so that exactly
that anchor drifts.
"""

import datetime as dt
import shutil

import numpy as np
import pandas as pd
import pytest

from alt42_pipeline.demo import DemoConfig, generate
from alt42_pipeline.spine import refresh_kpis
from alt42_pipeline.warehouse import Warehouse
from alt42_pipeline_tests.conftest import build_spine

#: 60 students from Saturday 2026-02-28 to Wednesday 2026-03-11: the report week 2026-03-02
#: is complete and follows a partial week (growth needs both).
REPORT_DEMO = DemoConfig(students=60, days=12, end_date=dt.date(2026, 3, 11), seed=7)
WEEK = dt.date(2026, 3, 2)
NOW = dt.datetime(2026, 3, 12, 4, 0)  # after the last day: no event is in the future
SHIFT = 1.5


@pytest.fixture(scope="session")
def report_platform():
    return generate(REPORT_DEMO)


@pytest.fixture(scope="session")
def report_template(tmp_path_factory, report_platform):
    """Path of a SQLite warehouse with the spine (questions, events, weekly KPIs) and a calibration."""
    folder = tmp_path_factory.mktemp("report_warehouse")
    wh = build_spine(report_platform, folder, NOW)
    for week in (WEEK - dt.timedelta(days=7), WEEK, WEEK + dt.timedelta(days=7)):
        refresh_kpis(wh, week, NOW)
    write_true_calibration(wh, report_platform, NOW - dt.timedelta(hours=1))
    wh.engine.dispose()
    return folder / "template.db"


@pytest.fixture
def report_warehouse(report_template, tmp_path):
    """A private copy of the template warehouse."""
    path = tmp_path / "wh.db"
    shutil.copy(report_template, path)
    wh = Warehouse(f"sqlite:///{path}")
    yield wh
    wh.engine.dispose()


def shifted_anchor(wh: Warehouse) -> str:
    """The anchor whose calibrated b is moved by SHIFT (the first anchor by id)."""
    return str(wh.read("questions", {"is_anchor": True}, columns=["question_id"])["question_id"].astype(str).min())


def write_true_calibration(wh: Warehouse, platform, fitted_at: dt.datetime) -> None:
    """Item parameters and abilities from the platform's truth, on the anchors' reference scale."""
    slope, intercept = platform.scale["slope"], platform.scale["intercept"]
    catalogue = wh.read("questions", columns=["question_id", "is_anchor"])
    ids = platform.items["question_id"].astype(str)
    items = platform.items.assign(item_id=ids.where(platform.items["source"] == "assessment", "mdl:" + ids))
    items = items[items["item_id"].isin(catalogue["question_id"].astype(str))]
    a = items["a"].to_numpy() / slope
    b = items["b"].to_numpy() * slope + intercept
    b = np.where(items["item_id"] == shifted_anchor(wh), b + SHIFT, b)
    params = pd.DataFrame(
        {
            "calibration_id": "cal-1",
            "item_id": items["item_id"].to_numpy(),
            "model": "2pl",
            "a": a,
            "d": -a * b,
            "b": b,
            "n_responses": 100,
            "is_anchor": items["is_anchor"].to_numpy(),
            "is_current": True,
            "fitted_at": fitted_at,
        }
    )
    meta = pd.DataFrame(
        [
            {
                "calibration_id": "cal-1",
                "backend": "builtin",
                "fitted_at": fitted_at,
                "model_spec": {
                    "model": "2pl",
                    "items": len(params),
                    "users": len(platform.students),
                    "converged": True,
                    "linking_constants": {
                        "slope": 1.0213,
                        "intercept": 0.0497,
                        "method": "stocking-lord",
                        "anchor_count": 20,
                    },
                },
            }
        ]
    )
    abilities = pd.DataFrame(
        {
            "user_id": platform.students["user_id"].astype("int64"),
            "theta": platform.students["theta"] * slope + intercept,
            "se": 0.3,
            "method": "eap",
            "calibration_id": "cal-1",
            "fitted_at": fitted_at,
        }
    )
    with wh.transaction() as tx:
        tx.insert("mirt_item_params", params)
        tx.insert("mirt_fit_meta", meta)
        tx.insert("mirt_ability", abilities)
