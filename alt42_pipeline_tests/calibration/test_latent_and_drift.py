"""The calibrated latent distribution survives the warehouse; anchors that drift are kept out
of the linking, queued for review and reported."""

import datetime as dt

import numpy as np
import pytest

from alt42_pipeline import settings
from alt42_pipeline.calibration.pipeline import (
    CalibrationSettings,
    calibrate_and_link,
    current_items,
    load_anchors,
    load_responses,
    rescore,
    write_calibration,
)
from alt42_pipeline.warehouse import Warehouse

from .conftest import IRT_DEMO, NOW

LAST = IRT_DEMO.last_day


def _calibrate(wh, settings, calibration_id="cal-1", now=NOW):
    first = LAST - dt.timedelta(days=settings.window_days - 1)
    responses = load_responses(wh, first, LAST)
    outcome = calibrate_and_link(responses, load_anchors(wh), settings)
    write_calibration(wh, outcome, settings, (first, LAST), calibration_id, None, now)
    return outcome


def test_rasch_latent_sd_is_stored_and_used_by_the_rescore(irt_warehouse_url):
    wh = Warehouse(irt_warehouse_url)
    wh.migrate()
    settings = CalibrationSettings(model="rasch", polytomous=False)  # the binary Rasch model: its latent SD is free
    outcome = _calibrate(wh, settings)
    spec = wh.read("mirt_fit_meta").iloc[0]["model_spec"]
    latent = spec["latent"]
    # the Rasch calibration's latent SD is not 1 on its own scale, so not the linking slope
    assert latent["sd"] == pytest.approx(outcome.items.attrs["theta_sd"])
    assert abs(latent["sd"] - spec["linking_constants"]["slope"]) > 1e-3  # EAPs then differ far beyond 1e-6
    items, _ = current_items(wh)
    assert items.attrs["theta_sd"] == pytest.approx(latent["sd"])
    assert items.attrs["theta_mean"] == pytest.approx(latent["mean"])
    before = wh.read("mirt_ability").set_index("user_id")
    since = dt.datetime.combine(LAST, dt.time())
    rescore(wh, settings, LAST, since, "run-x", NOW + dt.timedelta(days=1))
    after = wh.read("mirt_ability").set_index("user_id")
    changed = after.index[after.run_id == "run-x"]
    assert len(changed) > 0
    # same items and answers: the re-score equals the calibration's scores (it used prior
    # SD = linking slope before, which moved EAPs by up to 0.5 for the Rasch model)
    np.testing.assert_allclose(after.loc[changed, "theta"], before.loc[changed, "theta"], atol=1e-6)


def test_a_drifting_anchor_is_left_out_queued_and_kept_out_until_reviewed(irt_warehouse_url, capsys, monkeypatch):
    from alt42_pipeline.calibration.anchors import kept_out, review_queue
    from alt42_pipeline.cli import main

    from .test_irt_assets import _materialize

    wh = Warehouse(irt_warehouse_url)
    wh.migrate()
    anchors = load_anchors(wh)
    victim = anchors.index[0]
    # the reference of one anchor is wrong by 2 logits (as after a key change)
    q = wh.table("questions")
    a_ref = float(anchors.loc[victim, "a"])
    new_b = float(anchors.loc[victim, "b"]) + 2.0
    wh.execute(q.update().where(q.c.question_id == victim).values(ref_b=new_b, ref_d=-a_ref * new_b))

    result = _materialize(irt_warehouse_url)
    assert result.success
    spec = wh.read("mirt_fit_meta").iloc[0]["model_spec"]
    lc = spec["linking_constants"]
    drifting = lc["drifting_anchors"]
    # the planted anchor is found; at most one more by sampling noise (the false-positive rate
    # without any shift is under 5 % of the anchors, irt/test_drift.py), nothing else is left out
    assert victim in drifting and len(drifting) <= 2
    assert lc["anchor_count"] == len(anchors) - len(drifting)
    assert 0 < lc["slope_se"] < 0.2 and 0 < lc["intercept_se"] < 0.2
    assert spec["item_fit"]["items"] > 0 and spec["item_fit"]["median_rmsd"] < 0.12
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not checks["anchor_review"].passed
    assert checks["anchor_review"].metadata["pending_review"].value.split(", ") == drifting
    assert not checks["anchor_drift"].passed and checks["anchor_drift"].metadata["drifted"].value == len(drifting)
    assert checks["item_fit_rmsd"].passed
    md = result.asset_materializations_for_node("irt_calibration")
    meta_md = next(m for m in md if m.asset_key.path == ["mirt_fit_meta"]).metadata
    assert meta_md["linking_constants"].value["slope_se"] > 0
    assert victim in [d["item_id"] for d in meta_md["drift"].value["anchors"]["drifting"]]
    items_md = next(m for m in md if m.asset_key.path == ["mirt_item_params"]).metadata
    assert {"anchor_drift", "item_fit", "parameter_drift", "item_fit_summary"} <= set(items_md)
    queue = review_queue(wh)
    queue = queue.set_index("item_id")
    assert sorted(queue.index) == sorted(drifting) and (queue["status"] == "pending").all()
    assert queue.loc[victim, "delta_b"] < -1.0

    # the next calibration keeps it out without testing it into the linking again, and
    # compares the other items with the previous calibration
    assert _materialize(irt_warehouse_url).success
    specs = wh.read("mirt_fit_meta").sort_values("fitted_at")
    spec2 = specs.iloc[-1]["model_spec"]
    assert sorted(spec2["linking_constants"]["excluded_anchors"]) == sorted(drifting)
    assert spec2["linking_constants"]["drifting_anchors"] == []
    assert spec2["drift"]["items"]["items_compared"] > 0
    assert spec2["drift"]["items"]["changed"] == 0  # same data, same parameters
    # it started from the current calibration: a handful of EM iterations instead of ~25
    assert spec2["warm_start"] and not spec["warm_start"]
    assert spec2["iterations"] <= 6 < spec["iterations"]

    # the review: list, then reinstate through the command line
    monkeypatch.setenv("ALT42_WAREHOUSE_URL", irt_warehouse_url)
    settings.load.cache_clear()
    assert main(["anchors", "list"]) == 0
    assert victim in capsys.readouterr().out
    assert main(["anchors", "reinstate", victim, "--by", "reviewer", "--note", "reference fixed"]) == 0
    assert main(["anchors", "retire", "no-such-item", "--by", "reviewer"]) == 2
    assert "not in the review queue" in capsys.readouterr().err
    assert kept_out(wh) == [d for d in drifting if d != victim]
    assert review_queue(wh).set_index("item_id").loc[victim, "status"] == "reinstated"
