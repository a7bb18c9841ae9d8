"""Accuracy defects of the engine's second round (issue: exact for heavy users, observed
information, shared parameters, identification, latent distribution, 3PL convergence, item fit
on sparse data). Each test failed before its fix."""

import numpy as np
import pytest
from scipy.special import expit

from alt42_pipeline.irt import calibrate, item_fit, score, simulate_items, simulate_responses, sparse_item_fit


def _loglik3(items, x, t):
    a, d, c = (items[k].to_numpy() for k in ("a", "d", "c"))
    p = c + (1 - c) * expit(a * t + d)
    return float(np.sum(x * np.log(p) + (1 - x) * np.log1p(-p)))


def test_map_se_under_3pl_is_from_observed_information():
    items = simulate_items(15, "3pl", seed=3)[["a", "d", "c"]]
    df, _ = simulate_responses(items, 40, seed=4)
    out = score(df, items, "map").set_index("user_id")
    worst = 0.0
    for u, g in df.groupby("user_id"):
        x = g.set_index("item_id")["correct"].reindex(items.index).to_numpy()
        t = out.loc[u, "theta"]
        h = 1e-4

        def f(tt, x=x):
            return _loglik3(items, x, tt) - 0.5 * tt * tt

        second = (f(t + h) - 2 * f(t) + f(t - h)) / h**2
        worst = max(worst, abs(out.loc[u, "se"] - 1 / np.sqrt(-second)))
    assert worst < 1e-4


@pytest.mark.parametrize("n_items", [1, 2])
def test_unidentified_2pl_is_refused(n_items):
    items = simulate_items(n_items, "2pl", seed=1)
    df, _ = simulate_responses(items, 500, seed=2)
    with pytest.raises(ValueError, match="not identified"):
        calibrate(df, "2pl")
    # the 1PL with two items is identified (3 parameters, 3 pattern probabilities)
    if n_items == 2:
        assert calibrate(df, "1pl").converged


def _three_pl_with_zero_asymptotes(n_users, seed):
    items = simulate_items(20, "3pl", seed=1)
    items.loc[::3, "c"] = 0.0
    df, _ = simulate_responses(items, n_users, seed=seed)
    return df


def test_3pl_without_prior_converges_when_asymptotes_go_to_zero():
    df = _three_pl_with_zero_asymptotes(2000, 2)
    fit = calibrate(df, "3pl", c_prior=None, se=False, max_iter=3000)
    # logit c of the c = 0 items drifted towards -37 for 1958 iterations before
    assert fit.converged and fit.iterations < 200
    assert (fit.items["flag"] == "").all()


def test_3pl_small_data_converges_and_flags_near_separating_items():
    df = _three_pl_with_zero_asymptotes(150, 3)
    fit = calibrate(df, "3pl", c_prior=None, max_iter=3000)
    # before: not converged in 3000 iterations, slopes 105 and 191, only a log warning
    assert fit.converged
    flagged = fit.items.index[fit.items["flag"].str.startswith("near-separating")]
    assert len(flagged) >= 1
    assert (fit.items.loc[flagged, "a"] >= 10).all()
    assert (fit.items.drop(index=flagged)["a"] < 10).all()


def test_students_with_many_answers_get_converged_quadrature():
    # 250 answers per student: with 41 fixed nodes the slopes were off by 0.026 and the
    # log-likelihood by 0.2 against the converged quadrature (here 321 nodes for everyone)
    items = simulate_items(250, "2pl", seed=5)
    df, _ = simulate_responses(items, 500, seed=6)
    fit = calibrate(df, "2pl", se=False)
    ref = calibrate(df, "2pl", quadpts=321, se=False)
    assert np.abs(fit.items["a"] - ref.items["a"]).max() < 0.005
    assert np.abs(fit.items["d"] - ref.items["d"]).max() < 0.005
    assert fit.loglik == pytest.approx(ref.loglik, abs=0.01)


def test_eap_of_a_student_with_2000_answers_is_exact():
    items = simulate_items(2000, "2pl", seed=8)
    df, theta = simulate_responses(items, 3, seed=9)
    out = score(df, items, "eap").set_index("user_id")
    a, d = items["a"].to_numpy(), items["d"].to_numpy()
    t = np.linspace(-6, 6, 12001)
    for u, g in df.groupby("user_id"):
        x = g.sort_values("item_id")["correct"].to_numpy()
        eta = a[None, :] * t[:, None] + d[None, :]
        ll = (x * -np.logaddexp(0, -eta) + (1 - x) * -np.logaddexp(0, eta)).sum(axis=1) - 0.5 * t * t
        w = np.exp(ll - ll.max())
        w /= w.sum()
        m = w @ t
        sd = np.sqrt(w @ (t - m) ** 2)
        # 41 nodes: EAP off by up to 0.057, posterior SD 0.007-0.099 against about 0.04
        assert out.loc[u, "theta"] == pytest.approx(m, abs=1e-3)
        assert out.loc[u, "se"] == pytest.approx(sd, abs=1e-3)


def test_s_x2_refuses_incomplete_data_and_sparse_fit_finds_the_misfit():
    true = simulate_items(30, "2pl", seed=11)
    true.loc[5, ["a", "d"]] = [-1.2, 0.3]  # miskeyed: the answer key is reversed
    df, _ = simulate_responses(true, 4000, design="random", items_per_user=18, seed=12)
    fit = calibrate(df, "2pl", se=False)
    # before: S-X2 silently used the 0 or 1 complete persons (df = -1, p = NaN)
    with pytest.raises(ValueError, match="sparse_item_fit"):
        item_fit(df, fit.items)
    # the calibration estimates the miskeyed item's negative slope; against a table that
    # says it is a normal item (as the bank would), the sparse fit points at it
    bank = fit.items.copy()
    bank.loc[5, ["a", "d"]] = [1.2, -0.3]
    out = sparse_item_fit(df, bank)
    assert out.index.equals(bank.index)
    assert (out["n"] > 0).all()
    assert out["rmsd"].idxmax() == 5 and out.loc[5, "rmsd"] > 0.15
    assert out["outfit"].idxmax() == 5 and out.loc[5, "outfit"] > 1.3
    others = out.drop(index=5)
    assert (others["rmsd"] < 0.05).all()
    assert others["infit"].between(0.8, 1.2).all() and others["outfit"].between(0.7, 1.3).all()


@pytest.mark.parametrize("model", ["1pl", "rasch"])
def test_shared_parameter_se_is_exact_beyond_the_dense_limit(model, monkeypatch):
    import importlib

    se_module = importlib.import_module("alt42_pipeline.irt.se")
    items = simulate_items(150, model, seed=1)
    df, _ = simulate_responses(items, 1500, design="random", items_per_user=30, seed=2)
    dense = calibrate(df, model)
    monkeypatch.setattr(se_module, "MAX_DENSE", 10)  # as if there were more than 4000 parameters
    block = calibrate(df, model)
    assert (dense.se_method, block.se_method) == ("louis", "louis-blockdiag")
    shared_dense = dense.covariance.iloc[0, 0] ** 0.5
    if model == "1pl":
        shared_block = block.items["se_a"].iloc[0]
        assert dense.items["se_a"].iloc[0] == pytest.approx(shared_dense)
    else:
        shared_block = block.latent_sd_se
        assert dense.latent_sd_se == pytest.approx(shared_dense)
    # before: 36-43% too small (cross-item terms of the shared parameter ignored)
    assert shared_block == pytest.approx(shared_dense, rel=1e-3)
    # intercepts stay block-diagonal, close to the full inverse
    np.testing.assert_allclose(block.items["se_d"], dense.items["se_d"], rtol=0.05)


def test_s_x2_on_complete_cases_only_when_asked(caplog):
    items = simulate_items(10, "2pl", seed=13)
    df, _ = simulate_responses(items, 800, seed=14)
    df = df[~((df["user_id"] < 50) & (df["item_id"] == 0))]  # 50 persons skipped item 0
    fit = calibrate(df, "2pl", se=False)
    with pytest.raises(ValueError, match="750 of 800 persons answered every item"):
        item_fit(df, fit.items)
    with caplog.at_level("WARNING"):
        out = item_fit(df, fit.items, complete_cases=True)
    assert (out["n_used"] == 750).all() and (out["df"] > 0).all()
    assert "complete cases only" in caplog.text
