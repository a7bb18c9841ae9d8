"""Benchmark: the mixed-format engine (2PL + GPCM) against python ``mirt`` 1.2.

One seeded design, the issue's: 2M responses, 20% of the items GPCM with 4 categories,
the rest 2PL (default 20,000 persons x 100 items, everyone answers everything, since
python mirt needs a dense persons x items matrix).  Both engines go from their natural
input to item parameters *with standard errors* plus EAP abilities:

* alt42: long-format DataFrame -> ``calibrate(model={...}, default="2pl")`` (Louis SEs)
  + ``score(method="eap")`` (data coding inside the timing);
* mirt: the dense matrix (built outside the timing) -> ``fit_mirt(model=[...],
  compute_standard_errors=True)`` + ``fscores(method="EAP")``.

Both use python mirt's quadrature (21 Gauss-Hermite nodes; ``--quadpts``) and its
default tolerance; the table also gives our default grid (41 rectangular nodes).  Wall
time is the best of ``--repeats``; the agreement columns compare the two engines'
estimates (slopes, b-form thresholds, EAP).  If python mirt is too slow for the full
size, ``--mirt-persons`` runs both engines on fewer persons for the ratio and says so.

    python benchmarks/irt_poly_vs_mirt.py                 # 20,000 x 100 = 2M responses
    python benchmarks/irt_poly_vs_mirt.py --persons 2000  # a smoke run
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from alt42_pipeline.irt import calibrate, score  # noqa: E402
from alt42_pipeline.irt.poly import score_mixed, steps_table  # noqa: E402
from alt42_pipeline.irt.polysim import simulate_mixed_items, simulate_mixed_responses  # noqa: E402


def make_data(persons, items, share, seed):
    n_poly = int(round(items * share))
    models = ["2pl"] * (items - n_poly) + ["gpcm"] * n_poly
    true = simulate_mixed_items(models, 4, seed=seed)
    df, theta = simulate_mixed_responses(true, persons, seed=seed + 1)
    return models, true, df, theta


def best_of(repeats, fn):
    best, out = float("inf"), None
    for _ in range(repeats):
        gc.collect()
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def ours(df, models, quadpts, rule):
    def run():
        fit = calibrate(df, dict(enumerate(models)), quadpts=quadpts, quadrature_rule=rule)
        if rule == "gauss-hermite":
            ab = score_mixed(df, fit.items, "eap", quadpts=49, quadrature_rule=rule)
        else:
            ab = score(df, fit.items, "eap")
        return fit, ab

    return run


def theirs(X, models, quadpts):
    import mirt

    spec = ["2PL" if m == "2pl" else "GPCM" for m in models]

    def run():
        fit = mirt.fit_mirt(X, model=spec, n_quadpts=quadpts, compute_standard_errors=True)
        eap = mirt.fscores(fit, X, method="EAP")
        return fit, np.asarray(eap.theta).ravel()

    return run


def mirt_b(coef, models):
    rows = []
    for j, m in enumerate(models):
        r = coef.iloc[j]
        if m == "2pl":
            rows.append([r["difficulty"], np.nan, np.nan])
        else:
            rows.append([r["steps_1"], r["steps_2"], r["steps_3"]])
    return np.array(rows, dtype=float)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=20_000)
    ap.add_argument("--items", type=int, default=100)
    ap.add_argument("--poly-share", type=float, default=0.2)
    ap.add_argument("--mirt-persons", type=int, default=None, help="persons for the comparison with mirt")
    ap.add_argument("--quadpts", type=int, default=21)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--seed", type=int, default=2024)
    args = ap.parse_args()

    models, true, df, theta = make_data(args.persons, args.items, args.poly_share, args.seed)
    print(
        f"design: {args.persons:,} persons x {args.items} items = {len(df):,} responses; "
        f"{models.count('gpcm')} GPCM items (4 categories), {models.count('2pl')} 2PL"
    )
    rows = []
    t_ours, (fit, ab) = best_of(args.repeats, ours(df, models, args.quadpts, "gauss-hermite"))
    rows.append((f"alt42 ({args.quadpts} GH nodes)", len(df), t_ours, fit.iterations, fit.se_method))
    t_def, (fit41, _) = best_of(args.repeats, ours(df, models, 41, "rectangular"))
    rows.append(("alt42 (41 rectangular, default)", len(df), t_def, fit41.iterations, fit41.se_method))

    n_m = args.mirt_persons or args.persons
    sub = df[df["user_id"] < n_m]
    X = sub.pivot(index="user_id", columns="item_id", values="category").to_numpy().astype(np.int64)
    if n_m != args.persons:
        t_sub, (fit, ab) = best_of(args.repeats, ours(sub, models, args.quadpts, "gauss-hermite"))
        rows.append((f"alt42 ({args.quadpts} GH nodes), mirt's size", len(sub), t_sub, fit.iterations, fit.se_method))
    else:
        t_sub = t_ours
    t_mirt, (mfit, meap) = best_of(args.repeats, theirs(X, models, args.quadpts))
    rows.append(
        (
            f"python mirt {__import__('mirt').__version__} ({args.quadpts} GH)",
            X.size,
            t_mirt,
            mfit.n_iterations,
            mfit.se_method,
        )
    )

    print(f"\n{'engine':42s} {'responses':>10s} {'seconds':>9s} {'x alt42':>8s} {'EM iter':>8s}  SEs")
    for name, n, t, it, se in rows:
        ref = t_sub if n == len(sub) else t_ours
        print(f"{name:42s} {n:>10,d} {t:9.2f} {t / ref:8.2f} {it!s:>8s}  {se}")
    print(f"\nspeed-up over python mirt on the same {X.size:,} responses: {t_mirt / t_sub:.1f}x")

    coef = mfit.coef()
    a_m = coef["discrimination"].to_numpy(float)
    b_m = mirt_b(coef, models)
    b_o = steps_table(fit.items).to_numpy()
    mask = np.isfinite(b_m)
    print(
        "agreement with python mirt: "
        f"max |a diff| {np.max(np.abs(fit.items['a'].to_numpy() - a_m)):.4f}, "
        f"max |b diff| {np.max(np.abs(b_o[mask] - b_m[mask])):.4f}, "
        f"max |EAP diff| {np.max(np.abs(ab['theta'].to_numpy() - meap)):.4f}, "
        f"loglik {fit.loglik:.2f} vs {mfit.log_likelihood:.2f}"
    )
    se_m = mfit.coef_with_se()["discrimination_se"].to_numpy(float)
    ratio = fit.items["se_a"].to_numpy() / se_m
    print(
        f"SE(a) alt42 (louis) / mirt ({mfit.se_method}): median {np.median(ratio):.3f}, range {ratio.min():.3f}..{ratio.max():.3f}"
    )


if __name__ == "__main__":
    main()
