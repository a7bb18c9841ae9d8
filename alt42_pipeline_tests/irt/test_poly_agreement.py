"""Agreement with python mirt 1.2 on seeded polytomous and mixed data.

The reference values were computed once by ``reference/make_mirt_poly.py`` (data, seeds
and python mirt's estimates in ``reference/mirt_poly.npz``), so the suite does not need
python mirt.  Same quadrature as python mirt (21 Gauss-Hermite nodes for fitting, 49 for
EAP) and tight tolerances on both sides.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alt42_pipeline.irt import calibrate
from alt42_pipeline.irt.poly import score_mixed, steps_table

REF = np.load(Path(__file__).parent / "reference" / "mirt_poly.npz")
META = json.loads(str(REF["meta"]))


def _long(X):
    users, items = np.indices(X.shape)
    return pd.DataFrame({"user_id": users.ravel(), "item_id": items.ravel(), "category": X.ravel().astype(int)})


@pytest.fixture(scope="module", params=sorted(META["cases"]))
def case(request):
    name = request.param
    models = META["cases"][name]["models"]
    df = _long(REF[f"X_{name}"])
    fit = calibrate(df, dict(enumerate(models)), quadpts=21, quadrature_rule="gauss-hermite", tol=1e-7, se=False)
    return name, models, df, fit


def test_parameters_agree_with_python_mirt(case):
    name, models, _, fit = case
    assert fit.converged
    a_ref, b_ref = REF[f"a_{name}"], REF[f"b_{name}"]
    np.testing.assert_allclose(fit.items["a"].to_numpy(), a_ref, atol=0.02)
    b = steps_table(fit.items).to_numpy()
    mask = np.isfinite(b_ref)
    assert np.array_equal(np.isfinite(b), mask)
    np.testing.assert_allclose(b[mask], b_ref[mask], atol=0.02)
    # the same comparison in mirt's intercepts: d_k = -a * cumsum(steps) / -a * threshold_k
    if name != "grm":
        d_ref = np.where(mask, -a_ref[:, None] * np.nancumsum(b_ref, axis=1), np.nan)
    else:
        d_ref = -a_ref[:, None] * b_ref
    d = fit.items[[f"d{k}" for k in range(1, b.shape[1] + 1)]].to_numpy()
    np.testing.assert_allclose(d[mask], d_ref[mask], atol=0.02)
    assert fit.items["model"].tolist() == models


def test_loglik_agrees_with_python_mirt(case):
    name, _, _, fit = case
    assert fit.loglik == pytest.approx(float(REF[f"loglik_{name}"]), abs=0.01)


def test_eap_agrees_with_python_mirt(case):
    name, _, df, fit = case
    ab = score_mixed(df, fit.items, "eap", quadpts=49, quadrature_rule="gauss-hermite").set_index("user_id")
    np.testing.assert_allclose(ab["theta"].to_numpy(), REF[f"eap_{name}"], atol=0.01)
