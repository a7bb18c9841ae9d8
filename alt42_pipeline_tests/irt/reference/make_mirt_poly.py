"""Generates ``mirt_poly.npz``: python mirt 1.2 fits of seeded polytomous and mixed data,
the reference of ``test_poly_agreement.py`` (the test suite does not need python mirt).

Run by hand from the repository root, with python mirt installed (``pip install
mirt==1.2.*``)::

    python -m alt42_pipeline_tests.irt.reference.make_mirt_poly

For each case the file holds the dense data ``X_<case>`` (users x items, the category;
every response observed), python mirt's parameters in its b-form (``a_<case>``,
``b_<case>``: GPCM steps, GRM thresholds, 2PL difficulty in column 0), its
log-likelihood and EAP scores.  Fits use 21 Gauss-Hermite nodes (python mirt's default),
a tolerance of 1e-8 and EAP on its default grid of 49 Gauss-Hermite nodes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from alt42_pipeline.irt.polysim import simulate_mixed_items, simulate_mixed_responses

OUT = Path(__file__).with_name("mirt_poly.npz")
N_USERS = 3000
CASES = {
    # case: (item models, seed)
    "gpcm": (["gpcm"] * 20, 101),
    "grm": (["grm"] * 20, 202),
    "mixed": (["2pl"] * 10 + ["gpcm"] * 10, 303),
}
MIRT_NAMES = {"2pl": "2PL", "gpcm": "GPCM", "grm": "GRM"}


def dense_data(models, seed):
    items = simulate_mixed_items(models, 4, seed=seed)
    df, _ = simulate_mixed_responses(items, N_USERS, seed=seed + 1)
    X = df.pivot(index="user_id", columns="item_id", values="category").to_numpy()
    return items, X.astype(np.int8)


def main() -> None:
    import mirt

    out = {}
    meta = {"mirt_version": mirt.__version__, "n_users": N_USERS, "cases": {}}
    for case, (models, seed) in CASES.items():
        _, X = dense_data(models, seed)
        spec = [MIRT_NAMES[m] for m in models]
        fit = mirt.fit_mirt(X, model=spec if len(set(spec)) > 1 else spec[0], tol=1e-8, max_iter=5000)
        K = int(X.max()) + 1
        a = np.empty(X.shape[1])
        b = np.full((X.shape[1], K - 1), np.nan)
        coef = fit.coef()
        for j, m in enumerate(models):
            params = _item_params(coef, j, m)
            a[j] = params[0]
            b[j, : len(params) - 1] = params[1:]
        eap = mirt.fscores(fit, X, method="EAP")
        out[f"X_{case}"] = X
        out[f"a_{case}"] = a
        out[f"b_{case}"] = b
        out[f"loglik_{case}"] = np.array(fit.log_likelihood)
        out[f"eap_{case}"] = np.asarray(eap.theta).ravel()
        meta["cases"][case] = {"models": models, "seed": seed, "converged": bool(fit.converged)}
    out["meta"] = np.array(json.dumps(meta))
    np.savez_compressed(OUT, **out)
    print(f"wrote {OUT.name}: {meta}")


def _item_params(coef, j, model):
    """``(a, b_1, ..)`` of item ``j`` in python mirt's b-form (its ``coef()`` table)."""
    row = coef.iloc[j]
    if model == "2pl":
        return [float(row["discrimination"]), float(row["difficulty"])]
    prefix = "thresholds_" if model == "grm" else "steps_"
    cols = sorted((c for c in coef.columns if str(c).startswith(prefix)), key=lambda c: int(str(c).split("_")[-1]))
    return [float(row["discrimination"]), *(float(row[c]) for c in cols if np.isfinite(row[c]))]


if __name__ == "__main__":
    main()
