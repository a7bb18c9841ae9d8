import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize_scalar
from scipy.special import expit

from alt42_pipeline.irt import calibrate, score, simulate_items, simulate_responses
from alt42_pipeline.irt.estep import quadrature


@pytest.fixture(scope="module")
def items():
    it = simulate_items(12, "3pl", seed=7)
    return it[["a", "d", "c"]]


def _brute(items, x, mask, method, prior_sd=1.0):
    a, d, c = (items[k].to_numpy()[mask] for k in ("a", "d", "c"))
    xx = x[mask]

    def loglik(t):
        p = c + (1 - c) * expit(a * t + d)
        return float(np.sum(xx * np.log(p) + (1 - xx) * np.log1p(-p)))

    if method == "eap":
        z, logw = quadrature(61)
        ll = np.array([loglik(t) for t in z]) + logw
        w = np.exp(ll - ll.max())
        w /= w.sum()
        m = w @ z
        return m, np.sqrt(w @ (z - m) ** 2)
    prior = (lambda t: -0.5 * t * t / prior_sd**2) if method == "map" else (lambda t: 0.0)
    res = minimize_scalar(lambda t: -(loglik(t) + prior(t)), bounds=(-6, 6), method="bounded", options={"xatol": 1e-9})
    return res.x, None


@pytest.mark.parametrize("method", ["eap", "map", "ml"])
def test_scores_match_brute_force(items, method):
    rng = np.random.default_rng(1)
    rows = []
    truth = {}
    for u in range(25):
        x = (rng.random(12) < 0.6).astype(int)
        mask = rng.random(12) < 0.8
        x[mask.nonzero()[0][:2]] = [0, 1]  # not all correct / incorrect
        for j in np.flatnonzero(mask):
            rows.append((f"s{u}", items.index[j], x[j]))
        truth[f"s{u}"] = _brute(items, x, mask, method)
    out = score(pd.DataFrame(rows, columns=["user_id", "item_id", "correct"]), items, method).set_index("user_id")
    for u, (t, sd) in truth.items():
        assert out.loc[u, "theta"] == pytest.approx(t, abs=2e-5)
        if sd is not None:
            assert out.loc[u, "se"] == pytest.approx(sd, abs=1e-6)
        else:
            assert np.isfinite(out.loc[u, "se"]) and out.loc[u, "se"] > 0
    if method == "ml":
        # 3PL likelihoods can peak at the bound; such estimates are flagged
        at_bound = out["flag"] == "at_bound"
        assert set(out["flag"]) <= {"", "at_bound"}
        assert (out.loc[at_bound, "theta"].abs() == 6.0).all()
        assert (out.loc[~at_bound, "theta"].abs() < 6.0).all()
    else:
        assert (out["flag"] == "").all()


def test_ml_extreme_scores_flagged(items):
    ids = list(items.index)
    rows = [("top", j, 1) for j in ids] + [("bottom", j, 0) for j in ids[:5]] + [("mid", ids[0], 1), ("mid", ids[1], 0)]
    df = pd.DataFrame(rows, columns=["user_id", "item_id", "correct"])
    ml = score(df, items, "ml").set_index("user_id")
    assert ml.loc["top", "theta"] == 6.0 and ml.loc["top", "flag"] == "all_correct"
    assert ml.loc["bottom", "theta"] == -6.0 and ml.loc["bottom", "flag"] == "all_incorrect"
    assert np.isnan(ml.loc["top", "se"])
    assert ml.loc["mid", "flag"] in ("", "at_bound")
    eap = score(df, items, "eap").set_index("user_id")
    mp = score(df, items, "map").set_index("user_id")
    for s in (eap, mp):
        assert np.isfinite(s["theta"]).all() and np.isfinite(s["se"]).all()
        assert s.loc["top", "theta"] > 0.5 > s.loc["bottom", "theta"]
    assert (eap["flag"] == "").all()


def test_eap_prior_from_calibration_attrs():
    true = simulate_items(10, "rasch", seed=2)
    df, _ = simulate_responses(true, 300, seed=3)
    fit = calibrate(df, "rasch", se=False)
    a = score(df, fit.items)
    b = score(df, fit.items, prior_sd=fit.latent_sd)
    c = score(df, fit.items, prior_sd=1.0)
    np.testing.assert_allclose(a["theta"], b["theta"])
    assert not np.allclose(a["theta"], c["theta"])


def test_ml_recovers_theta_on_long_test():
    true = simulate_items(200, "2pl", seed=8)
    theta = np.linspace(-2, 2, 50)
    df, _ = simulate_responses(true, 50, seed=9, theta=theta)
    ml = score(df, true[["a", "d"]], "ml")
    z = (ml["theta"].to_numpy() - theta) / ml["se"].to_numpy()
    assert 0.6 < np.sqrt(np.mean(z**2)) < 1.5
