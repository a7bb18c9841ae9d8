"""The polytomous/mixed engine: recovery, layouts, the binary special case, anchors,
standard errors, scoring and bad input."""

import numpy as np
import pandas as pd
import pytest

from alt42_pipeline.irt import calibrate, poly, score
from alt42_pipeline.irt.polymodel import (
    category_probs,
    expected_score,
    item_information,
    log_category_probs,
    poly_item_arrays,
)
from alt42_pipeline.irt.polysim import simulate_mixed_items, simulate_mixed_responses
from alt42_pipeline.irt.simulate import simulate_items, simulate_responses


def _rmse(x, y):
    return float(np.sqrt(np.mean((np.asarray(x) - np.asarray(y)) ** 2)))


def _dcols(items):
    return [c for c in items.columns if c[0] == "d" and c[1:].isdigit()]


@pytest.mark.parametrize(
    "models, tol_a, tol_d",
    [
        (["gpcm"] * 20, 0.08, 0.12),
        (["pcm"] * 20, 0.03, 0.12),
        (["grm"] * 20, 0.08, 0.12),
        (["2pl"] * 10 + ["gpcm"] * 6 + ["grm"] * 4, 0.10, 0.15),
    ],
    ids=["gpcm", "pcm", "grm", "mixed"],
)
def test_parameter_recovery(models, tol_a, tol_d):
    true = simulate_mixed_items(models, 4, seed=31)
    df, theta = simulate_mixed_responses(true, 4000, seed=32)
    fit = calibrate(df, dict(enumerate(models)))
    assert fit.converged
    est = fit.items.loc[true.index]
    assert _rmse(est["a"], true["a"]) < tol_a
    dc = _dcols(true)
    mask = true[dc].notna().to_numpy()
    assert _rmse(est[dc].to_numpy()[mask], true[dc].to_numpy()[mask]) < tol_d
    if "pcm" in models:
        assert est["a"].nunique() == 1
    # standard errors of the size of the actual errors
    se = est[[f"se_{c}" for c in dc]].to_numpy()[mask]
    zz = (est[dc].to_numpy()[mask] - true[dc].to_numpy()[mask]) / se
    assert 0.6 < float(np.sqrt(np.mean(zz**2))) < 1.5
    ab = score(df, fit.items)
    assert np.corrcoef(ab["theta"], theta.loc[ab["user_id"]])[0, 1] > 0.9


def test_sparse_and_dense_layouts_identical():
    true = simulate_mixed_items(["2pl"] * 6 + ["gpcm"] * 6 + ["grm"] * 3, 4, seed=7)
    df, _ = simulate_mixed_responses(true, 1500, seed=4, missing=0.3)
    wide = df.pivot(index="user_id", columns="item_id", values="category")
    from_wide = wide.stack(future_stack=True).dropna().rename("category").reset_index()
    shuffled = df.sample(frac=1.0, random_state=6)
    shuffled = shuffled.assign(user_id="u" + shuffled["user_id"].astype(str))
    models = dict(zip(true.index, true["model"]))
    f1 = calibrate(from_wide, models)
    f2 = calibrate(shuffled, models)
    cols = ["a", *_dcols(f1.items), "se_a", "se_d1", "se_d2", "n"]
    np.testing.assert_allclose(f1.items[cols].to_numpy(float), f2.items[cols].to_numpy(float), rtol=1e-10)
    assert f1.loglik == pytest.approx(f2.loglik, rel=1e-12)
    assert f1.iterations == f2.iterations
    s1 = score(from_wide, f1.items, "map").set_index("user_id")["theta"]
    s2 = score(shuffled, f2.items, "map").set_index("user_id")["theta"]
    np.testing.assert_allclose(s1.to_numpy(), s2.loc["u" + s1.index.astype(str)].to_numpy(), rtol=1e-9)


def test_two_category_gpcm_is_the_2pl():
    true = simulate_items(15, "2pl", seed=8)
    df, _ = simulate_responses(true, 2000, seed=9)
    binary = calibrate(df, "2pl", tol=1e-7)
    gpcm = calibrate(df, "gpcm", tol=1e-7)
    assert (gpcm.items["n_categories"] == 2).all()
    for col, other in (("a", "a"), ("d", "d1"), ("d", "d"), ("b", "b"), ("se_a", "se_a"), ("se_d", "se_d1")):
        np.testing.assert_allclose(gpcm.items[other], binary.items[col], atol=1e-4, err_msg=col)
    np.testing.assert_allclose(gpcm.items["se_b"], binary.items["se_b"], atol=1e-4)
    assert gpcm.loglik == pytest.approx(binary.loglik, abs=1e-3)
    assert gpcm.n_parameters == binary.n_parameters
    e1 = score(df, binary.items, "map")
    e2 = score(df, gpcm.items, "map")
    np.testing.assert_allclose(e1["theta"], e2["theta"], atol=1e-3)


def test_anchored_calibration_estimates_the_new_groups_scale():
    models = ["2pl"] * 8 + ["gpcm"] * 8 + ["grm"] * 4
    true = simulate_mixed_items(models, 4, seed=41)
    theta = np.random.default_rng(42).normal(0.5, 1.3, 5000)
    df, _ = simulate_mixed_responses(true, 5000, seed=43, theta=theta)
    anchors = true.iloc[::2]
    fit = calibrate(df, dict(enumerate(models)), fixed=anchors)
    assert fit.converged
    assert fit.latent_mean == pytest.approx(0.5, abs=0.08)
    assert fit.latent_sd == pytest.approx(1.3, abs=0.08)
    assert fit.items.loc[anchors.index, "fixed"].all()
    np.testing.assert_allclose(fit.items.loc[anchors.index, "a"], anchors["a"])
    free = true.index.difference(anchors.index)
    assert _rmse(fit.items.loc[free, "a"], true.loc[free, "a"]) < 0.12
    assert fit.items.loc[anchors.index, "se_a"].isna().all()
    assert fit.items.loc[free, "se_a"].notna().all()


def _marginal_loglik(df, models, a, D, ncat):
    """In float64 numpy, persons x nodes (the engine's tables are float32)."""
    from scipy.special import logsumexp

    kind = np.where(models == "grm", 1, 0)
    z, logw = poly.quadrature(41)
    logP = log_category_probs(z, kind, a, D, ncat)
    per = logP[df["item_id"].to_numpy(), df["category"].to_numpy()]  # responses x nodes
    users = df["user_id"].to_numpy()
    tot = np.zeros((users.max() + 1, z.size))
    np.add.at(tot, users, per)
    return float(logsumexp(tot + logw, axis=1).sum())


def test_louis_standard_errors_equal_the_numerical_observed_information():
    models = np.array(["2pl", "2pl", "gpcm", "gpcm", "grm", "grm"], dtype=object)
    true = simulate_mixed_items(models, 3, seed=51)
    df, _ = simulate_mixed_responses(true, 600, seed=52)
    fit = calibrate(df, dict(enumerate(models)), tol=1e-8)
    it = poly_item_arrays(fit.items)
    params = [(j, c) for j in range(len(models)) for c in range(it.ncat[j])]

    def ll(x):
        a, D = it.a.copy(), it.D.copy()
        for (j, c), v in zip(params, x):
            if c == 0:
                a[j] = v
            else:
                D[j, c - 1] = v
        return _marginal_loglik(df, models, a, D, it.ncat)

    x0 = np.array([it.a[j] if c == 0 else it.D[j, c - 1] for j, c in params])
    h = 1e-4
    n = x0.size
    H = np.empty((n, n))
    for i in range(n):
        for k in range(i, n):
            e_i, e_k = np.eye(n)[i] * h, np.eye(n)[k] * h
            H[i, k] = H[k, i] = (ll(x0 + e_i + e_k) - ll(x0 + e_i - e_k) - ll(x0 - e_i + e_k) + ll(x0 - e_i - e_k)) / (
                4 * h * h
            )
    se_num = np.sqrt(np.diag(np.linalg.inv(-H)))
    se_louis = np.array([fit.items[("se_a" if c == 0 else f"se_d{c}")].iloc[j] for j, c in params])
    np.testing.assert_allclose(se_louis, se_num, rtol=0.02)
    assert fit.se_method == "louis"
    assert fit.covariance is not None and fit.covariance.shape == (n, n)


def test_block_diagonal_standard_errors_when_parameters_are_many():
    models = ["2pl"] * 4 + ["gpcm"] * 4 + ["pcm"] * 4 + ["grm"] * 4
    true = simulate_mixed_items(models, 4, seed=61)
    df, _ = simulate_mixed_responses(true, 1500, seed=62)
    dense = calibrate(df, dict(enumerate(models)))
    poly_max = poly.MAX_DENSE
    try:
        poly.MAX_DENSE = 10
        block = calibrate(df, dict(enumerate(models)))
    finally:
        poly.MAX_DENSE = poly_max
    assert dense.se_method == "louis" and block.se_method == "louis-blockdiag"
    for c in ("se_a", "se_d1", "se_d2"):
        ratio = (block.items[c] / dense.items[c]).dropna()
        assert len(ratio) >= 12
        assert ratio.between(0.8, 1.1).all(), c


def test_map_and_ml_scores_maximise_the_posterior_and_likelihood():
    models = ["2pl"] * 5 + ["gpcm"] * 5 + ["grm"] * 5
    true = simulate_mixed_items(models, 4, seed=71)
    df, _ = simulate_mixed_responses(true, 300, seed=72, missing=0.2)
    it = poly_item_arrays(true)
    grid = np.linspace(-6, 6, 24001)
    logP = log_category_probs(grid, it.kind, it.a, it.D, it.ncat)
    for method in ("map", "ml"):
        ab = score(df, true, method).set_index("user_id")
        for u in (0, 1, 2, 3):
            rows = df[df["user_id"] == u]
            f = logP[rows["item_id"].to_numpy(), rows["category"].to_numpy()].sum(axis=0)
            if method == "map":
                f = f - 0.5 * grid**2
            if ab.loc[u, "flag"] == "":
                assert ab.loc[u, "theta"] == pytest.approx(grid[np.argmax(f)], abs=2e-3)
    # ML: all answers in the top category -> +bound, flagged
    top = pd.DataFrame({"user_id": 9, "item_id": true.index, "category": true["n_categories"] - 1})
    ml = score(top, true, "ml")
    assert ml["theta"].iloc[0] == 6.0 and ml["flag"].iloc[0] == "all_correct" and np.isnan(ml["se"].iloc[0])


def test_model_functions_are_consistent():
    true = simulate_mixed_items(["2pl", "gpcm", "grm", "pcm"], 5, seed=5)
    it = poly_item_arrays(true)
    th = np.linspace(-3, 3, 61)
    P = category_probs(th, it.kind, it.a, it.D, it.ncat)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    assert (P[0, 2:] == 0).all()  # the binary item has 2 categories
    E = expected_score(th, it.kind, it.a, it.D, it.ncat)
    assert (np.diff(E, axis=1) > 0).all()
    # information is the derivative of the expected score times a (GPCM) / numerical for all
    info = item_information(th, it.kind, it.a, it.D, it.ncat)
    h = 1e-5
    lp = log_category_probs(th + h, it.kind, it.a, it.D, it.ncat)
    lm = log_category_probs(th - h, it.kind, it.a, it.D, it.ncat)
    valid = P > 0
    score_fn = np.zeros_like(P)
    score_fn[valid] = (lp[valid] - lm[valid]) / (2 * h)
    np.testing.assert_allclose(info, (P * score_fn**2).sum(axis=1), rtol=1e-5)


def test_unobserved_category_is_named_or_excluded():
    true = simulate_mixed_items(["gpcm"] * 6, 4, seed=81)
    df, _ = simulate_mixed_responses(true, 500, seed=82)
    df.loc[(df["item_id"] == 2) & (df["category"] == 1), "category"] = 0
    with pytest.raises(ValueError, match=r"categories \[1\] never observed: 2"):
        calibrate(df, "gpcm")
    fit = calibrate(df, "gpcm", on_invalid="exclude")
    assert 2 not in fit.items.index
    assert fit.excluded["item_id"].tolist() == [2]
    # declaring more categories than observed is the same case
    with pytest.raises(ValueError, match=r"categories \[4\] never observed"):
        calibrate(df[df["item_id"] != 2], "gpcm", n_categories={0: 5})


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda d: d.assign(category=d["category"].astype(float).where(d.index != 3, 1.5)), "categories 0, 1, 2"),
        (lambda d: d.assign(category=d["category"].where(d.index != 3, -1)), "categories 0, 1, 2"),
        (lambda d: pd.concat([d, d.iloc[:1]]), "duplicate"),
    ],
)
def test_bad_responses_raise_clear_errors(mutate, match):
    true = simulate_mixed_items(["gpcm"] * 4, 3, seed=91)
    df, _ = simulate_mixed_responses(true, 200, seed=92)
    with pytest.raises(ValueError, match=match):
        calibrate(mutate(df), "gpcm")


def test_model_mapping_errors():
    true = simulate_mixed_items(["gpcm"] * 4, 3, seed=93)
    df, _ = simulate_mixed_responses(true, 300, seed=94)
    with pytest.raises(ValueError, match="'2pl' but have more than 2 categories"):
        calibrate(df, {0: "gpcm"}, default="2pl")
    with pytest.raises(ValueError, match="item models must be among"):
        calibrate(df, {0: "3pl"}, default="gpcm")
    with pytest.raises(TypeError, match="apply only to polytomous"):
        calibrate(
            df.rename(columns={"category": "correct"}).assign(correct=lambda d: d["correct"].clip(0, 1)),
            "2pl",
            quadrature_rule="gauss-hermite",
        )
    with pytest.raises(ValueError, match="responses on items without parameters: 3"):
        score(df, calibrate(df[df["item_id"] < 3], "gpcm").items)


def test_priors_pull_toward_their_centre():
    true = simulate_mixed_items(["gpcm"] * 6, 4, seed=95)
    df, _ = simulate_mixed_responses(true, 150, seed=96)
    free = calibrate(df, "gpcm", se=False)
    tight = calibrate(df, "gpcm", a_prior=(0.0, 0.05), d_prior=(0.0, 0.1), se=False)
    assert np.abs(np.log(tight.items["a"])).max() < np.abs(np.log(free.items["a"])).max()
    assert np.abs(tight.items[_dcols(tight.items)].to_numpy()).max() < 0.5


def test_louis_term_by_pairs_of_answers_equals_the_term_by_pairs_of_parameters():
    models = ["2pl"] * 5 + ["gpcm"] * 4 + ["pcm"] * 3 + ["grm"] * 3
    true = simulate_mixed_items(models, 4, seed=63)
    df, _ = simulate_mixed_responses(true, 1200, seed=64, missing=0.25)
    by_pairs = calibrate(df, dict(enumerate(models)))
    limit = poly.PAIRS_MAX_BYTES
    try:
        poly.PAIRS_MAX_BYTES = 0
        by_params = calibrate(df, dict(enumerate(models)))
    finally:
        poly.PAIRS_MAX_BYTES = limit
    cols = ["se_a", "se_d1", "se_d2", "se_d3"]
    np.testing.assert_allclose(by_pairs.items[cols], by_params.items[cols], rtol=1e-9)
    np.testing.assert_allclose(by_pairs.covariance, by_params.covariance, rtol=1e-7, atol=1e-12)
