import numpy as np
import pytest

from alt42_pipeline.irt import calibrate, score, simulate_items, simulate_responses, wide_to_long


def _rmse(x, y):
    return float(np.sqrt(np.mean((np.asarray(x) - np.asarray(y)) ** 2)))


@pytest.mark.parametrize(
    "model, n_users, n_items, tol_a, tol_b",
    [
        ("rasch", 2000, 20, None, 0.08),
        ("1pl", 2000, 20, 0.05, 0.08),
        ("2pl", 3000, 25, 0.12, 0.12),
        ("3pl", 8000, 30, 0.25, 0.25),
    ],
)
def test_parameter_recovery(model, n_users, n_items, tol_a, tol_b):
    true = simulate_items(n_items, model, seed=11)
    df, theta = simulate_responses(true, n_users, seed=12)
    fit = calibrate(df, model, se=model != "3pl")
    assert fit.converged
    est = fit.items.loc[true.index]
    assert _rmse(est["b"], true["b"]) < tol_b
    if tol_a is not None:
        assert _rmse(est["a"], true["a"]) < tol_a
    if model == "rasch":
        assert fit.latent_sd == pytest.approx(1.0, abs=0.06)
    if model == "3pl":
        assert _rmse(est["c"], true["c"]) < 0.06
    else:
        # SEs are of the size of the actual errors
        z = (est["b"] - true["b"]) / est["se_b"]
        assert 0.6 < float(np.sqrt(np.mean(z**2))) < 1.5
    ab = score(df, fit.items)
    th = theta.loc[ab["user_id"]].to_numpy()
    assert np.corrcoef(ab["theta"], th)[0, 1] > 0.85


def test_sparse_and_dense_layouts_identical():
    true = simulate_items(15, "2pl", seed=3)
    df, _ = simulate_responses(true, 800, seed=4)
    rng = np.random.default_rng(5)
    df = df.loc[rng.random(len(df)) < 0.7]  # 30% missing
    wide = df.pivot(index="user_id", columns="item_id", values="correct").astype(float)
    from_wide = wide_to_long(wide)
    shuffled = df.sample(frac=1.0, random_state=6)
    shuffled = shuffled.assign(user_id="u" + shuffled["user_id"].astype(str))
    f1 = calibrate(from_wide, "2pl")
    f2 = calibrate(shuffled, "2pl")
    cols = ["a", "d", "b", "se_a", "se_d", "se_b", "n"]
    np.testing.assert_allclose(f1.items[cols].to_numpy(), f2.items[cols].to_numpy(), rtol=1e-10)
    assert f1.loglik == pytest.approx(f2.loglik, rel=1e-12)
    assert f1.iterations == f2.iterations


def test_random_sparse_design_recovery():
    true = simulate_items(60, "2pl", seed=21)
    df, theta = simulate_responses(true, 6000, design="random", items_per_user=15, seed=22)
    fit = calibrate(df, "2pl", se=False)
    est = fit.items.loc[true.index]
    assert _rmse(est["a"], true["a"]) < 0.12
    assert _rmse(est["b"], true["b"]) < 0.12


def test_multistage_missing_at_random_is_unbiased():
    true = simulate_items(50, "2pl", seed=31)
    df, theta = simulate_responses(true, 6000, design="multistage", seed=32)
    assert len(df) == 6000 * 30
    fit = calibrate(df, "2pl", se=False)
    est = fit.items.loc[true.index]
    assert abs(float((est["b"] - true["b"]).mean())) < 0.05
    assert _rmse(est["b"], true["b"]) < 0.15
    assert _rmse(est["a"], true["a"]) < 0.15


def test_anchored_calibration_recovers_group_and_new_items():
    true = simulate_items(30, "2pl", seed=41)
    rng = np.random.default_rng(42)
    theta = rng.normal(0.5, 1.3, 5000)  # new group, reference scale
    df, _ = simulate_responses(true, 5000, seed=43, theta=theta)
    anchors = true.iloc[:12][["a", "d"]]
    fit = calibrate(df, "2pl", fixed=anchors, se=True)
    assert fit.converged
    assert fit.items["fixed"].sum() == 12
    np.testing.assert_allclose(fit.items.loc[anchors.index, ["a", "d"]], anchors)
    assert fit.items.loc[anchors.index, "se_a"].isna().all()
    assert fit.latent_mean == pytest.approx(0.5, abs=0.08)
    assert fit.latent_sd == pytest.approx(1.3, abs=0.08)
    new = fit.items.loc[true.index[12:]]
    assert _rmse(new["b"], true["b"].iloc[12:]) < 0.1
    assert _rmse(new["a"], true["a"].iloc[12:]) < 0.12
    assert fit.n_parameters == 2 * 18 + 2
    ab = score(df, fit.items)  # prior from the fitted group
    assert float(ab["theta"].mean()) == pytest.approx(0.5, abs=0.06)


def test_rasch_with_anchors():
    true = simulate_items(20, "rasch", seed=51)
    theta = np.random.default_rng(52).normal(-0.3, 0.8, 4000)
    df, _ = simulate_responses(true, 4000, seed=53, theta=theta)
    fit = calibrate(df, "rasch", fixed=true.iloc[:8][["d"]].assign(a=1.0))
    assert fit.latent_mean == pytest.approx(-0.3, abs=0.07)
    assert fit.latent_sd == pytest.approx(0.8, abs=0.07)
    assert _rmse(fit.items["b"].iloc[8:], true["b"].iloc[8:]) < 0.1
