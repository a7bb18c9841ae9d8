"""Benchmark: alt42 IRT engine against python ``mirt`` and ``girth``.

Every engine sees the same seeded 2PL data (theta ~ N(0, 1),
a ~ lognormal(0, 0.25), b ~ N(0, 1)) and is timed from its natural input to
item parameters plus EAP abilities:

* alt42: long-format DataFrame -> ``calibrate(model="2pl", se=False)`` +
  ``score(method="eap")`` (data coding is inside the timing);
* mirt: persons x items float matrix (NaN = missing, built outside the
  timing) -> ``fit_mirt(model="2PL", compute_standard_errors=False)`` +
  ``fscores(method="EAP")``;
* girth: items x persons matrix tagged with ``tag_missing_data`` (outside the
  timing) -> ``twopl_mml`` + ``ability_eap``.  girth runs in a forked child
  process so a time limit (``--girth-timeout``) can stop it.

Wall time is the best of ``--repeats`` runs; ``x alt42`` is the wall time over alt42's
(calibration without SEs + EAP).  RMSE of a, b and theta is against the generating values.
``--se`` adds calibration + SEs + EAP for alt42 and mirt (mirt's SE run is skipped beyond
``MIRT_SE_MAX_RESPONSES``: minutes per run); ``--warm`` the nightly warm start (5% new
responses; EM iterations and the largest difference to a cold start).  The ``heavy-1500``
design has 400 answers per person (finer quadrature grids).  Run
``python benchmarks/irt_vs_peers.py -h``.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import os
import resource
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from alt42_pipeline.irt import calibrate, score, simulate_items, simulate_responses  # noqa: E402
from alt42_pipeline.irt import mstep as _ms  # noqa: E402
from alt42_pipeline.irt.data import prepare_responses  # noqa: E402
from alt42_pipeline.irt.estep import EStep, quadrature  # noqa: E402

# name: (persons, items, design, items per person)
DESIGNS = {
    "dense-2k": (2_000, 40, "dense", None),
    "dense-20k": (20_000, 100, "dense", None),
    "sparse-50k": (50_000, 500, "random", 40),
    "multistage-20k": (20_000, 100, "multistage", None),
    # many answers per person (400 each): persons get finer quadrature grids than 41 nodes
    "heavy-1500": (1_500, 400, "dense", None),
    "huge-100M": (1_000_000, 10_000, "random", 100),
}
DEFAULT_DESIGNS = ["dense-2k", "dense-20k", "sparse-50k", "multistage-20k", "heavy-1500"]
#: python mirt with standard errors is slow on large designs (minutes per run): beyond this
#: many responses its SE run is skipped (and the table says so)
MIRT_SE_MAX_RESPONSES = 1_000_000
PEERS_MAX_CELLS = 2e8  # peers need a dense persons x items matrix


def rmse(x, y):
    return float(np.sqrt(np.mean((np.asarray(x, float) - np.asarray(y, float)) ** 2)))


def make_data(name, quick, seed):
    n_users, n_items, design, k = DESIGNS[name]
    if quick:
        n_users = max(n_users // 10, 500)
    true = simulate_items(n_items, "2pl", seed=seed)
    df, theta = simulate_responses(true, n_users, design=design, items_per_user=k, seed=seed + 1)
    return true, df, theta.to_numpy()


def run_ours(df, quadpts, se=False):
    t0 = time.perf_counter()
    fit = calibrate(df, "2pl", quadpts=quadpts, se=se)
    ab = score(df, fit.items, "eap")
    wall = time.perf_counter() - t0
    return (
        wall,
        fit.items["a"].to_numpy(),
        fit.items["b"].to_numpy(),
        ab["theta"].to_numpy(),
        f"{fit.iterations} it" + ("" if fit.converged else " (not converged)"),
        fit.items.index.to_numpy(),
        ab["user_id"].to_numpy(),
    )


def run_mirt(X, quadpts, se=False):
    import mirt

    t0 = time.perf_counter()
    res = mirt.fit_mirt(X, "2PL", n_quadpts=quadpts, compute_standard_errors=se)
    sc = mirt.fscores(res, X, method="EAP")
    wall = time.perf_counter() - t0
    p = res.model.parameters
    return (
        wall,
        np.asarray(p["discrimination"]).ravel(),
        np.asarray(p["difficulty"]).ravel(),
        np.asarray(sc.theta).ravel(),
        f"{res.n_iterations} it" + ("" if res.converged else " (not converged)"),
    )


def _girth_child(G, quadpts, conn):
    import girth

    t0 = time.perf_counter()
    out = girth.twopl_mml(G, {"quadrature_n": quadpts})
    th = girth.ability_eap(G, out["Difficulty"], out["Discrimination"])
    conn.send(
        (time.perf_counter() - t0, np.asarray(out["Discrimination"]), np.asarray(out["Difficulty"]), np.asarray(th))
    )
    conn.close()


def run_girth(G, quadpts, timeout):
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_girth_child, args=(G, quadpts, send))
    proc.start()
    if recv.poll(timeout):
        wall, a, b, th = recv.recv()
        proc.join()
        return wall, a, b, th, ""
    proc.kill()
    proc.join()
    return None


def estep_throughput(df, true, quadpts, repeats=10):
    """Responses x nodes per second of one E-step (best of ``repeats``)."""
    data, _ = prepare_responses(df)
    z, logw = quadrature(quadpts)
    a = true["a"].to_numpy()[data.item_ids.to_numpy()]
    d = true["d"].to_numpy()[data.item_ids.to_numpy()]
    es = EStep(data, quadpts)
    lt = _ms.log_tables(z, a, d)
    es.run(lt, logw)
    best = min(_timed(lambda: es.run(lt, logw)) for _ in range(repeats))
    return data.n_responses * quadpts / best


def warm_start(df, quadpts, seed):
    """The nightly recalibration: 5% of the responses are new; a cold calibration of all of
    them against one started from the calibration without them. Returns table rows."""
    rng = np.random.default_rng(seed)
    old = df[rng.random(len(df)) >= 0.05]
    previous = calibrate(old, "2pl", quadpts=quadpts, se=False)
    t0 = time.perf_counter()
    cold = calibrate(df, "2pl", quadpts=quadpts, se=False)
    w_cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    warm = calibrate(df, "2pl", quadpts=quadpts, se=False, start=previous.items)
    w_warm = time.perf_counter() - t0
    diff = max(
        float(np.abs(warm.items["a"] - cold.items["a"]).max()), float(np.abs(warm.items["d"] - cold.items["d"]).max())
    )
    return {
        "alt42 cold(+5%)": (w_cold, np.nan, np.nan, np.nan, f"{cold.iterations} it"),
        "alt42 warm(+5%)": (w_warm, np.nan, np.nan, np.nan, f"{warm.iterations} it, max |diff| to cold {diff:.1e}"),
    }


def _timed(f):
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--designs", nargs="+", default=DEFAULT_DESIGNS, choices=list(DESIGNS))
    ap.add_argument("--quick", action="store_true", help="a tenth of the persons per design")
    ap.add_argument("--repeats", type=int, default=3, help="runs per engine; best time is reported")
    ap.add_argument("--peers", nargs="*", default=["mirt", "girth"], choices=["mirt", "girth"])
    ap.add_argument("--quadpts", type=int, default=41)
    ap.add_argument("--girth-timeout", type=float, default=300.0)
    ap.add_argument(
        "--girth-repeats",
        type=int,
        default=None,
        help="runs of girth (default: --repeats); girth takes minutes per run",
    )
    ap.add_argument("--se", action="store_true", help="also time calibration with standard errors")
    ap.add_argument("--warm", action="store_true", help="also time a warm start after 5%% new responses")
    ap.add_argument("--seed", type=int, default=2024)
    args = ap.parse_args(argv)

    rows = []
    # Warm the JIT caches outside the timings.
    t_true, t_df, _ = make_data("dense-2k", True, 0)
    run_ours(t_df, args.quadpts, se=args.se)

    for name in args.designs:
        true, df, theta = make_data(name, args.quick, args.seed)
        n_users, n_items = len(theta), len(true)
        print(f"\n== {name}: {n_users} persons x {n_items} items, {len(df):,} responses", flush=True)
        thr = estep_throughput(df, true, args.quadpts, repeats=10 if len(df) < 10_000_000 else 3)
        print(f"   E-step: {thr / 1e9:.2f} G responses x nodes per second ({args.quadpts} nodes)", flush=True)
        gc.collect()
        res = {}
        best = None
        for _ in range(args.repeats):
            r = run_ours(df, args.quadpts)
            if best is None or r[0] < best[0]:
                best = r
        wall, a, b, th, note, item_ids, user_ids = best
        res["alt42"] = (
            wall,
            rmse(a, true.loc[item_ids, "a"]),
            rmse(b, true.loc[item_ids, "b"]),
            rmse(th, theta[user_ids]),
            note,
        )
        if args.se:
            w = min(run_ours(df, args.quadpts, se=True)[0] for _ in range(args.repeats))
            res["alt42+SE"] = (w, np.nan, np.nan, np.nan, "calibration + Louis SEs + EAP")
        if args.warm:
            res.update(warm_start(df, args.quadpts, args.seed))
        peers_ok = n_users * n_items <= PEERS_MAX_CELLS
        if args.peers and peers_ok:
            X = np.full((n_users, n_items), np.nan)
            X[df["user_id"].to_numpy(), df["item_id"].to_numpy()] = df["correct"].to_numpy()
        if "mirt" in args.peers and peers_ok:
            best = None
            for _ in range(args.repeats):
                r = run_mirt(X, args.quadpts)
                if best is None or r[0] < best[0]:
                    best = r
            wall, a, b, th, note = best
            res["mirt"] = (wall, rmse(a, true["a"]), rmse(b, true["b"]), rmse(th, theta), note)
            if args.se and len(df) <= MIRT_SE_MAX_RESPONSES:
                w = min(_timed(lambda: run_mirt(X, args.quadpts, se=True)) for _ in range(args.repeats))
                res["mirt+SE"] = (w, np.nan, np.nan, np.nan, "calibration + SEs + EAP")
            elif args.se:
                res["mirt+SE"] = (np.nan, np.nan, np.nan, np.nan, f"skipped: > {MIRT_SE_MAX_RESPONSES:,} responses")
        if "girth" in args.peers and peers_ok:
            import girth

            G = girth.tag_missing_data(np.where(np.isnan(X), -1, X).astype(int).T, [0, 1])
            best = None
            for _ in range(args.girth_repeats or args.repeats):
                r = run_girth(G, args.quadpts, args.girth_timeout)
                if r is None:
                    res["girth"] = (np.inf, np.nan, np.nan, np.nan, f"no result in {args.girth_timeout:.0f} s")
                    break
                if best is None or r[0] < best[0]:
                    best = r
            if best is not None:
                wall, a, b, th, note = best
                res["girth"] = (wall, rmse(a, true["a"]), rmse(b, true["b"]), rmse(th, theta), note)
        if "alt42+SE" in res and np.isfinite(res.get("mirt+SE", (np.nan,))[0]):
            print(f"   with SEs + EAP: mirt / alt42 = {res['mirt+SE'][0] / res['alt42+SE'][0]:.1f}", flush=True)
        ours = res["alt42"][0]
        for eng, (wall, ra, rb, rt, note) in res.items():
            ratio = wall / ours if np.isfinite(wall) else np.inf if np.isinf(wall) else np.nan
            rows.append((name, eng, wall, ratio, ra, rb, rt, note))
        print(f"   peak RSS so far {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB", flush=True)

    print()
    hdr = f"{'design':<16}{'engine':<16}{'wall s':>9}{'x alt42':>9}{'RMSE a':>9}{'RMSE b':>9}{'RMSE th':>9}  note"
    print(hdr)
    print("-" * len(hdr))
    for name, eng, wall, ratio, ra, rb, rt, note in rows:
        if np.isfinite(wall):
            w = f"{wall:9.3f}"
        elif np.isnan(wall):
            w = f"{'-':>9}"
        else:
            w = f"{'>' + str(int(args.girth_timeout)):>9}"
        r = f"{ratio:9.2f}" if np.isfinite(ratio) else f"{'-':>9}"
        print(f"{name:<16}{eng:<16}{w}{r}{ra:9.4f}{rb:9.4f}{rt:9.4f}  {note}")
    return rows


if __name__ == "__main__":
    main()
