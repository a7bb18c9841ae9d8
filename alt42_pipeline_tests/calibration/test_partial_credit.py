"""Partial credit through the calibration pipeline: the demo's GPCM questions are
calibrated next to the binary ones, stored, scored, linked and reported."""

import numpy as np
import pandas as pd
import pytest

from alt42_pipeline.calibration import health
from alt42_pipeline.calibration.partial_credit import items_from_rows
from alt42_pipeline.irt import calibrate
from alt42_pipeline.irt.polysim import simulate_mixed_items, simulate_mixed_responses
from alt42_pipeline.reports import plots
from alt42_pipeline.warehouse import Warehouse

from .conftest import IRT_DEMO
from .test_irt_assets import ITEMS, _materialize, _truth


def test_partial_credit_questions_are_calibrated_stored_and_recovered(irt_warehouse_url, irt_platform):
    result = _materialize(irt_warehouse_url)
    assert result.success
    wh = Warehouse(irt_warehouse_url)
    params = wh.read("mirt_item_params").set_index("item_id")
    truth = _truth(irt_platform)
    poly_truth = truth[truth["model"] == "gpcm"]
    assert len(poly_truth) == IRT_DEMO.partial_credit_questions
    poly = params.loc[poly_truth.index]
    assert (poly["model"] == "gpcm").all()
    docs = poly["categories"]
    assert all(d["n_categories"] == 4 and len(d["d"]) == 3 and len(d["b"]) == 3 for d in docs)
    assert all(d["values"] == [[0.0], [0.333333], [0.666667], [1.0]] for d in docs)
    np.testing.assert_allclose(poly["d"], -poly["a"] * poly["b"])  # d: the location's intercept
    np.testing.assert_allclose(poly["b"], [np.mean(d["b"]) for d in docs])
    # recovery on the reference scale: theta_ref = slope * theta + intercept
    s, i = irt_platform.scale["slope"], irt_platform.scale["intercept"]
    est = np.array([d["b"] for d in docs])
    true_b = s * poly_truth[["b1", "b2", "b3"]].to_numpy() + i
    assert np.corrcoef(est.ravel(), true_b.ravel())[0, 1] > 0.9
    assert float(np.sqrt(np.mean((est - true_b) ** 2))) < 0.5
    binary = params[params["model"] == "2pl"]
    assert len(binary) == len(params) - len(poly) and all(d["n_categories"] == 2 for d in binary["categories"])
    spec = wh.read("mirt_fit_meta").iloc[0]["model_spec"]
    assert spec["polytomous"]["items"] == IRT_DEMO.partial_credit_questions
    assert spec["polytomous"]["models"] == {"2pl": len(binary), "gpcm": len(poly)}
    md = next(m for m in result.asset_materializations_for_node("irt_calibration") if m.asset_key == ITEMS).metadata
    assert md["partial_credit_items"].value == IRT_DEMO.partial_credit_questions
    assert "flagged_category_curves" in md
    # the stored parameters read back as the mixed table the engine scores with
    items, values = items_from_rows(params[params["is_current"]])
    assert (items.loc[poly.index, "n_categories"] == 4).all() and values[poly.index[0]][3] == [1.0]


def test_polytomous_false_calibrates_every_answer_as_binary(irt_warehouse_url):
    assert _materialize(irt_warehouse_url, calibration={"polytomous": False}).success
    wh = Warehouse(irt_warehouse_url)
    params = wh.read("mirt_item_params")
    assert (params["model"] == "2pl").all() and params["categories"].isna().all()
    spec = wh.read("mirt_fit_meta").iloc[0]["model_spec"]
    assert spec["polytomous"] == {"enabled": False, "items": 0}


def test_item_misfit_and_plots_of_a_mixed_table():
    models = ["2pl"] * 6 + ["gpcm"] * 4 + ["grm"] * 2
    true = simulate_mixed_items(models, 4, seed=3)
    df, theta = simulate_mixed_responses(true, 1500, seed=4)
    fit = calibrate(df, dict(zip(true.index, true["model"])))
    # at the true abilities the residuals have the model's variance: mean squares near 1
    abilities = theta.rename_axis("user_id").reset_index()
    misfit = health.item_misfit(df.assign(correct=0), fit.items, abilities)
    assert len(misfit) == len(models) and not misfit["misfit"].any()
    assert misfit["infit"].between(0.8, 1.2).all()
    # an item whose answers are shuffled across students misfits
    shuffled = df.copy()
    mask = shuffled["item_id"] == 7
    shuffled.loc[mask, "category"] = shuffled.loc[mask, "category"].sample(frac=1.0, random_state=1).to_numpy()
    assert health.item_misfit(shuffled, fit.items, abilities).loc[7, "infit"] > 1.3
    for png in (
        plots.category_curves(plots.polytomous_items(fit.items)),
        plots.test_information(fit.items),
        plots.iccs(fit.items),
    ):
        assert png.startswith(b"\x89PNG")
    assert len(plots.polytomous_items(fit.items)) == 6
    assert plots.polytomous_items(pd.DataFrame({"a": [1.0], "d": [0.0]})).empty


def test_three_pl_does_not_mix_with_partial_credit(irt_warehouse_url):
    result = _materialize(irt_warehouse_url, calibration={"model": "3pl"})
    assert not result.success
    with pytest.raises(ValueError, match="3PL does not mix with partial credit"):
        from alt42_pipeline.calibration.partial_credit import item_models

        item_models(pd.DataFrame({"n_categories": [4]}, index=["q"]), "3pl", "gpcm")


def test_partial_credit_collapsed_to_two_categories_is_coded_by_the_rule():
    """Thirds with few answers in the middle collapse into two categories: the item is
    binary, its answers coded by the rule (2/3 counts as correct) and the rule recorded."""
    from alt42_pipeline.calibration.pipeline import CalibrationSettings, calibrate_and_link
    from alt42_pipeline.irt.simulate import simulate_items, simulate_responses

    true = simulate_items(8, "2pl", seed=1)
    df, _ = simulate_responses(true, 600, seed=2)
    df["item_id"] = "q" + df["item_id"].astype(str)
    df["score"] = df["correct"].astype(float)
    q0 = np.flatnonzero((df["item_id"] == "q0").to_numpy())
    df.loc[df.index[q0[:2]], "score"] = 1 / 3  # two answers at 1/3, two at 2/3
    df.loc[df.index[q0[2:4]], "score"] = 2 / 3
    df["correct"] = (df["score"] == 1.0).astype("int8")
    anchors = pd.DataFrame(columns=["a", "d", "b"])
    out = calibrate_and_link(df, anchors, CalibrationSettings(min_item_responses=10))
    assert out.categories is not None
    values = out.categories.loc["q0", "values"]
    assert len(values) == 2 and sum(values, []) == [0.0, 0.333333, 0.666667, 1.0]
    assert out.categories.loc["q0", "collapsed"] != ""
    assert (out.items["n_categories"] == 2).all() and (out.items["model"] == "2pl").all()
    # without partial credit the calibration is the binary one
    plain = calibrate_and_link(df.assign(score=df["correct"].astype(float)), anchors, CalibrationSettings())
    assert plain.categories is None and "n_categories" not in plain.items
