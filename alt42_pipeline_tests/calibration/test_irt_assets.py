"""The IRT assets on the demo platform: recovery, linking, history, re-scoring, Postgres."""

import datetime as dt

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from alt42_pipeline.calibration.pipeline import CalibrationSettings, rescore
from alt42_pipeline.defs.irt import ABILITY, ITEMS, META, calibration_health, irt_calibration, mirt_ability
from alt42_pipeline.defs.resources import IrtResource, WarehouseResource
from alt42_pipeline.warehouse import Warehouse

from .conftest import IRT_DEMO, NOW, copy_tables

AS_OF = {"config": {"as_of": IRT_DEMO.last_day.isoformat()}}


def _materialize(url, selection=(ITEMS, META, ABILITY), backend=None, instance=None, calibration=None):
    """The calibration (items and meta, with its checks) and/or the abilities, as selected;
    ``calibration``: more run configuration of the calibration."""
    resources = {"warehouse": WarehouseResource(url=url), "irt": backend or IrtResource()}
    ops = {"irt_calibration": {"config": {**AS_OF["config"], **(calibration or {})}}} if ITEMS in selection else {}
    ops |= {"mirt_ability": AS_OF} if ABILITY in selection else {}
    return dg.materialize(
        [irt_calibration, calibration_health, mirt_ability],
        selection=dg.AssetSelection.assets(*selection),
        resources=resources,
        run_config={"ops": ops},
        instance=instance,
        raise_on_error=False,
    )


def _truth(platform) -> pd.DataFrame:
    items = platform.items.copy()
    items["item_id"] = np.where(
        items.source == "assessment", items.question_id.astype(str), "mdl:" + items.question_id.astype(str)
    )
    return items.set_index("item_id")


def test_calibration_recovers_truth_and_links_to_the_anchor_scale(irt_warehouse_url, irt_platform):
    result = _materialize(irt_warehouse_url)
    assert result.success
    wh = Warehouse(irt_warehouse_url)
    params = wh.read("mirt_item_params").set_index("item_id")
    truth = _truth(irt_platform).loc[params.index]
    # the generator's reference scale: theta_ref = slope * theta + intercept, relative to the
    # calibration sample (standardised to N(0, 1) by the engine)
    theta = irt_platform.students["theta"]
    s, i = irt_platform.scale["slope"], irt_platform.scale["intercept"]
    expected_slope, expected_intercept = s * theta.std(), s * theta.mean() + i
    b_ref_truth = s * truth["b"] + i
    assert np.corrcoef(params["b"], b_ref_truth)[0, 1] > 0.95
    meta = wh.read("mirt_fit_meta").iloc[0]
    spec = meta["model_spec"]
    lc = spec["linking_constants"]
    assert lc["method"] == "stocking-lord" and lc["anchor_count"] == IRT_DEMO.anchors
    assert lc["slope"] == pytest.approx(expected_slope, abs=0.1)
    assert lc["intercept"] == pytest.approx(expected_intercept, abs=0.1)
    assert spec["converged"] and spec["model"] == "2pl" and spec["users"] == IRT_DEMO.students
    assert params["is_anchor"].sum() == IRT_DEMO.anchors
    abilities = wh.read("mirt_ability").set_index("user_id")
    true_theta = irt_platform.students.set_index("user_id")["theta"].loc[abilities.index]
    assert np.corrcoef(abilities["theta"], s * true_theta + i)[0, 1] > 0.85
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["calibration_converged"].passed and checks["item_coverage"].passed
    extreme = ((params.a < 0.2) | (params.a > 4) | (params.b.abs() > 4)).sum()
    assert checks["item_parameter_bounds"].metadata["out_of_bounds"].value == extreme
    assert checks["item_parameter_bounds"].passed == (extreme == 0)
    md = result.asset_materializations_for_node("irt_calibration")
    items_md = next(m for m in md if m.asset_key == ITEMS).metadata
    assert items_md["wright_map"].value.startswith("![Wright map](data:image/png;base64,")


def test_rerun_keeps_history_and_moves_current(irt_warehouse_url):
    assert _materialize(irt_warehouse_url).success
    wh = Warehouse(irt_warehouse_url)
    first = wh.read("mirt_item_params").drop(columns=["is_current"]).sort_values("item_id").reset_index(drop=True)
    assert _materialize(irt_warehouse_url).success
    all_rows = wh.read("mirt_item_params")
    assert all_rows.calibration_id.nunique() == 2
    old_id = first.calibration_id.iloc[0]
    old = (
        all_rows[all_rows.calibration_id == old_id]
        .drop(columns=["is_current"])
        .sort_values("item_id")
        .reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(old, first)
    assert not all_rows[all_rows.calibration_id == old_id].is_current.any()
    assert all_rows[all_rows.calibration_id != old_id].is_current.all()
    assert wh.count("mirt_fit_meta") == 2


def test_rescore_only_touches_students_with_new_answers(irt_warehouse_url):
    assert _materialize(irt_warehouse_url).success
    wh = Warehouse(irt_warehouse_url)
    before = wh.read("mirt_ability").set_index("user_id")
    since = dt.datetime.combine(IRT_DEMO.last_day, dt.time())
    result = rescore(wh, CalibrationSettings(), IRT_DEMO.last_day, since, "run-x", NOW + dt.timedelta(days=1))
    after = wh.read("mirt_ability").set_index("user_id")
    active_last_day = wh.read("events", {"event_date": IRT_DEMO.last_day, "verb": "answered"}).user_id.unique()
    assert result.users == len(active_last_day) > 0
    changed = after.index[after.run_id == "run-x"]
    assert set(changed) == set(active_last_day)
    untouched = after.index.difference(changed)
    pd.testing.assert_frame_equal(after.loc[untouched], before.loc[untouched])
    # same items and responses: the re-score equals the calibration's own scores
    np.testing.assert_allclose(after.loc[changed, "theta"], before.loc[changed, "theta"], atol=1e-6)


def test_rescore_alone_through_dagster_and_without_calibration_scores_nothing(irt_warehouse_url):
    result = _materialize(irt_warehouse_url, selection=[ABILITY])
    assert result.success and not result.asset_materializations_for_node("mirt_ability")
    assert _materialize(irt_warehouse_url).success
    again = _materialize(irt_warehouse_url, selection=[ABILITY])
    assert again.success and again.asset_materializations_for_node("mirt_ability")


def test_irt_assets_on_postgres(irt_warehouse_url, pg_url):
    copy_tables(irt_warehouse_url, pg_url)
    assert _materialize(pg_url).success
    wh = Warehouse(pg_url)
    spec = wh.read("mirt_fit_meta").model_spec.iloc[0]
    assert spec["linking_constants"]["anchor_count"] == IRT_DEMO.anchors
    assert wh.count("mirt_item_params", {"is_current": True}) == spec["items"]
    wh.engine.dispose()
