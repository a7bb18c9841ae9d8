import logging

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit

from alt42_pipeline.irt import calibrate
from alt42_pipeline.irt.estep import quadrature

from .conftest import lsat7_patterns

MIRT_A = [0.988, 1.081, 1.706, 0.765, 0.736]
MIRT_D = [1.856, 0.808, 1.804, 0.486, 1.855]


def test_lsat7_2pl_matches_r_mirt(lsat7):
    fit = calibrate(lsat7, "2pl")
    assert fit.converged
    np.testing.assert_allclose(fit.items["a"], MIRT_A, atol=0.01)
    np.testing.assert_allclose(fit.items["d"], MIRT_D, atol=0.01)
    np.testing.assert_allclose(fit.items["b"], -fit.items["d"] / fit.items["a"])
    # R mirt: logLik -2658.805, AIC 5337.61, BIC 5386.688 for this model
    assert fit.loglik == pytest.approx(-2658.805, abs=0.01)
    assert fit.aic == pytest.approx(5337.61, abs=0.02)
    assert fit.bic == pytest.approx(5386.688, abs=0.02)
    assert fit.n_parameters == 10
    assert (fit.items["n"] == 1000).all()


def _marginal_loglik(pats, counts, a, d, c, logw, z):
    P = c[:, None] + (1 - c[:, None]) * expit(a[:, None] * z + d[:, None])
    like = np.exp(pats @ np.log(P) + (1 - pats) @ np.log1p(-P))
    return counts @ np.log(like @ np.exp(logw))


def _num_hessian(f, x, h=1e-4):
    n = x.size
    H = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            ei = np.zeros(n)
            ej = np.zeros(n)
            ei[i] = h
            ej[j] = h
            H[i, j] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4 * h * h)
    return H


def test_lsat7_2pl_se_equal_numerical_observed_information(lsat7):
    fit = calibrate(lsat7, "2pl")
    pats, counts = lsat7_patterns()
    z, logw = quadrature(41)
    x = np.column_stack([fit.items["a"], fit.items["d"]]).ravel()
    f = lambda v: _marginal_loglik(pats, counts, v[0::2], v[1::2], np.zeros(5), logw, z)  # noqa: E731
    cov = np.linalg.inv(-_num_hessian(f, x))
    se = np.sqrt(np.diag(cov))
    assert fit.se_method == "louis"
    np.testing.assert_allclose(fit.items["se_a"], se[0::2], rtol=2e-3)
    np.testing.assert_allclose(fit.items["se_d"], se[1::2], rtol=2e-3)
    # delta method for b
    a, d = x[0::2], x[1::2]
    cad = np.array([cov[2 * i, 2 * i + 1] for i in range(5)])
    vb = (d / a**2) ** 2 * se[0::2] ** 2 + se[1::2] ** 2 / a**2 - 2 * d / a**3 * cad
    np.testing.assert_allclose(fit.items["se_b"], np.sqrt(vb), rtol=2e-3)


def test_lsat7_3pl_with_prior_se_equal_numerical_information(lsat7):
    fit = calibrate(lsat7, "3pl", c_prior=(5, 17))
    assert fit.converged
    pats, counts = lsat7_patterns()
    z, logw = quadrature(41)
    it = fit.items
    x = np.column_stack([it["a"], it["d"], logit(it["c"])]).ravel()

    def logpost(v):
        c = expit(v[2::3])
        return _marginal_loglik(pats, counts, v[0::3], v[1::3], c, logw, z) + np.sum(4 * np.log(c) + 16 * np.log1p(-c))

    H = _num_hessian(logpost, x)
    # the estimate is a stationary point of the log-posterior
    eps = 1e-5
    grad = np.array([(logpost(x + eps * e) - logpost(x - eps * e)) / (2 * eps) for e in np.eye(15)])
    assert np.abs(grad).max() < 0.05
    se = np.sqrt(np.diag(np.linalg.inv(-H)))
    np.testing.assert_allclose(it["se_a"], se[0::3], rtol=5e-3)
    np.testing.assert_allclose(it["se_d"], se[1::3], rtol=5e-3)
    np.testing.assert_allclose(it["se_c"], it["c"] * (1 - it["c"]) * se[2::3], rtol=5e-3)


def test_rasch_equals_1pl_reparametrised(lsat7):
    r = calibrate(lsat7, "rasch")
    p = calibrate(lsat7, "1pl")
    assert r.loglik == pytest.approx(p.loglik, abs=1e-6)
    assert (r.items["a"] == 1).all()
    assert p.items["a"].nunique() == 1
    assert r.latent_sd == pytest.approx(p.items["a"].iloc[0], abs=1e-5)
    np.testing.assert_allclose(r.items["d"], p.items["d"], atol=1e-5)
    assert r.items.attrs["theta_sd"] == pytest.approx(r.latent_sd)
    assert r.n_parameters == 6 and p.n_parameters == 6
    # the 2PL nests the 1PL
    assert calibrate(lsat7, "2pl", se=False).loglik > p.loglik


def test_em_progress_logging(lsat7, caplog):
    with caplog.at_level(logging.DEBUG, logger="alt42_pipeline.irt"):
        fit = calibrate(lsat7, "2pl", se=False)
    iters = [r for r in caplog.records if r.getMessage().startswith("EM iteration ")]
    assert len(iters) == fit.iterations
    assert "loglik" in iters[0].getMessage() and "max parameter change" in iters[0].getMessage()
    summary = [r for r in caplog.records if r.levelno == logging.INFO and "calibrated 2pl" in r.getMessage()]
    assert len(summary) == 1


def test_acceleration_reaches_same_optimum_faster(lsat7):
    fast = calibrate(lsat7, "2pl", se=False, tol=1e-6)
    plain = calibrate(lsat7, "2pl", se=False, tol=1e-6, accelerate=False)
    np.testing.assert_allclose(fast.items[["a", "d"]], plain.items[["a", "d"]], atol=1e-4)
    assert fast.iterations < plain.iterations


def test_lognormal_prior_shrinks_slopes(lsat7):
    free = calibrate(lsat7, "2pl", se=False)
    shrunk = calibrate(lsat7, "2pl", se=False, a_prior=(0.0, 0.1))
    dist_free = np.abs(np.log(free.items["a"])).sum()
    dist_shrunk = np.abs(np.log(shrunk.items["a"])).sum()
    assert dist_shrunk < 0.5 * dist_free


def test_bad_model_and_fixed():
    df = pd.DataFrame({"user_id": [1], "item_id": [1], "correct": [1]})
    with pytest.raises(ValueError, match="model must be one of"):
        calibrate(df, "4pl")


@pytest.mark.parametrize("model", ["2pl", "1pl"])
def test_blockdiag_se_close_to_dense_on_sparse_design(model, monkeypatch):
    from alt42_pipeline.irt import se as se_mod
    from alt42_pipeline.irt import simulate_items, simulate_responses

    true = simulate_items(40, model, seed=3)
    df, _ = simulate_responses(true, 3000, design="random", items_per_user=10, seed=4)
    dense = calibrate(df, model)
    monkeypatch.setattr(se_mod, "MAX_DENSE", 10)
    block = calibrate(df, model)
    assert dense.se_method == "louis" and block.se_method == "louis-blockdiag"
    ratio = block.items["se_d"] / dense.items["se_d"]
    assert ratio.between(0.8, 1.05).all()
    assert dense.covariance is not None and block.covariance is None


@pytest.mark.parametrize("has_c", [False, True])
def test_compiled_mstep_matches_numpy_reference(has_c):
    from alt42_pipeline.irt import mstep as ms

    rng = np.random.default_rng(5)
    z, _ = quadrature(41)
    J = 6
    a0 = rng.uniform(0.6, 2.0, J)
    d0 = rng.normal(0, 1, J)
    g0 = np.full(J, logit(0.2)) if has_c else None
    P, _ = ms.probabilities(z, a0, d0, g0)
    n = rng.uniform(5, 50, (J, z.size))
    r = n * np.clip(P + rng.normal(0, 0.03, P.shape), 0.01, 0.99)
    priors = ms.Priors(a_lognormal=(0.0, 0.5), c_beta=(5, 17) if has_c else None)
    free = np.array([True] * 5 + [False])
    cols = [0, 1, 2] if has_c else [0, 1]
    start = (np.ones(J), np.zeros(J), np.full(J, logit(0.25)) if has_c else None)
    fast = ms.mstep_items(r, n, z, *start, free, cols, priors)
    ref = ms.mstep_items_numpy(r, n, z, *start, free, cols, priors)
    for x, y in zip(fast, ref):
        if x is not None:
            np.testing.assert_allclose(x, y, atol=1e-6)
    assert fast[0][-1] == 1.0 and fast[1][-1] == 0.0  # fixed item untouched
    # stationary point of the expected complete-data log-posterior
    grad, _ = ms.gradient_information(
        r[:5], n[:5], z, fast[0][:5], fast[1][:5], None if fast[2] is None else fast[2][:5], priors
    )
    assert np.abs(grad).max() < 1e-5
