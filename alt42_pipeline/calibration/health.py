"""Health rules of a calibration: parameter bounds, anchor drift, coverage, ability SEs.

Each rule gives a :class:`Verdict`; the Dagster asset checks only report them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..irt.model import item_arrays, response
from ..irt.polymodel import answer_probs, is_polytomous_table, poly_item_arrays

A_RANGE = (0.2, 4.0)
B_LIMIT = 4.0
DRIFT_B = 0.5  # |linked b - reference b|
DRIFT_LOG_A = 0.4  # |log(linked a / reference a)|
MIN_COVERAGE = 0.8
RMSD_LIMIT = 0.12  # PISA's limit for an item's RMSD
# RMSD is judged with enough answers only: it is biased upwards by sampling noise (about
# 0.09 for fitting items with 200 answers each, as in the demo; PISA's samples are thousands)
RMSD_MIN_RESPONSES = 1000
PARAMETER_SHIFT = 0.25  # logits: the practical threshold of the calibration-to-calibration drift
MAX_MEDIAN_SE = 0.6


def out_of_bounds(items: pd.DataFrame) -> pd.DataFrame:
    """Items whose slope is outside ``A_RANGE`` or whose |b| exceeds ``B_LIMIT``."""
    bad = (items["a"] < A_RANGE[0]) | (items["a"] > A_RANGE[1]) | (items["b"].abs() > B_LIMIT)
    return items.loc[bad, ["a", "b"]]


def anchor_drift(items: pd.DataFrame, anchors: pd.DataFrame) -> pd.DataFrame:
    """Per anchor: linked a/b against the reference, and whether it drifted."""
    common = items.index.intersection(anchors.index)
    out = pd.DataFrame(
        {
            "a": items.loc[common, "a"],
            "a_ref": anchors.loc[common, "a"],
            "b": items.loc[common, "b"],
            "b_ref": anchors.loc[common, "b"],
        }
    )
    out["delta_b"] = out["b"] - out["b_ref"]
    out["log_a_ratio"] = np.log(out["a"] / out["a_ref"])
    out["drifted"] = (out["delta_b"].abs() > DRIFT_B) | (out["log_a_ratio"].abs() > DRIFT_LOG_A)
    return out


def coverage(calibrated: pd.Index, active_items: pd.Index) -> float:
    """Share of items answered in the window that got parameters."""
    if len(active_items) == 0:
        return 1.0
    return float(len(active_items.intersection(calibrated)) / len(active_items))


def se_summary(abilities: pd.DataFrame) -> dict[str, float]:
    se = abilities["se"].dropna()
    if se.empty:
        return {"n": 0}
    q = se.quantile([0.1, 0.5, 0.9])
    return {"n": int(len(se)), "p10": float(q[0.1]), "median": float(q[0.5]), "p90": float(q[0.9])}


MISFIT_RANGE = (0.5, 1.5)  # an infit mean square outside this range misfits
MISFIT_MIN_RESPONSES = 30


def item_misfit(responses: pd.DataFrame, items: pd.DataFrame, abilities: pd.DataFrame) -> pd.DataFrame:
    """Per item: responses of scored students, observed and expected share correct, infit and
    outfit mean squares of the residuals under the item's parameters, and whether it misfits:
    infit outside ``MISFIT_RANGE`` with at least ``MISFIT_MIN_RESPONSES`` responses (outfit is
    shown, not used: one surprising answer of an extreme student blows it up in small samples).

    ``responses``: user_id, item_id, correct; ``items`` indexed by item_id with a, d or b (c);
    for a mixed items table (partial credit) the response is its ``category`` and the
    expectation and variance those of the item's category distribution;
    ``abilities``: user_id, theta.
    """
    columns = ["n", "observed", "expected", "infit", "outfit", "misfit"]
    r = responses.merge(abilities[["user_id", "theta"]].dropna(), on="user_id")
    r = r[r["item_id"].isin(items.index)]
    if r.empty:
        return pd.DataFrame(columns=columns, index=pd.Index([], name="item_id"))
    j = items.index.get_indexer(r["item_id"])
    if is_polytomous_table(items):  # partial credit: the category against its expected score
        q = poly_item_arrays(items)
        probs = answer_probs(r["theta"].to_numpy(), j, q)  # answers x categories
        k = np.arange(probs.shape[1], dtype=float)
        p = probs @ k
        var = np.maximum(probs @ (k * k) - p * p, 1e-6)
        x = (r["category"] if "category" in r else r["correct"]).to_numpy(dtype=float)
    else:
        a, d, c = item_arrays(items, null_c_is_zero=True)
        p = np.clip(response(r["theta"].to_numpy(), a[j], d[j], c[j]), 1e-6, 1 - 1e-6)
        var = p * (1 - p)
        x = r["correct"].to_numpy(dtype=float)
    work = pd.DataFrame({"item_id": r["item_id"].to_numpy(), "x": x, "p": p, "sq": (x - p) ** 2, "var": var})
    work["z2"] = work["sq"] / work["var"]
    g = work.groupby("item_id")
    out = pd.DataFrame(
        {
            "n": g.size(),
            "observed": g["x"].mean(),
            "expected": g["p"].mean(),
            "infit": g["sq"].sum() / g["var"].sum(),
            "outfit": g["z2"].mean(),
        }
    )
    lo, hi = MISFIT_RANGE
    out["misfit"] = ((out["infit"] < lo) | (out["infit"] > hi)) & (out["n"] >= MISFIT_MIN_RESPONSES)
    return out[columns]


# -- verdicts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """The outcome of one health rule, as an asset check reports it (``table`` is shown as a
    preview; ``severity`` is ``warn`` or ``error``)."""

    check: str
    asset: str
    passed: bool
    severity: str = "warn"
    metadata: dict = field(default_factory=dict)
    table: pd.DataFrame | None = None


def flagged_items(items: pd.DataFrame, anchors: pd.DataFrame) -> pd.DataFrame:
    """Items out of bounds or anchors that drifted (their ICCs are plotted)."""
    drift = anchor_drift(items, anchors)
    flagged = items.index.isin(out_of_bounds(items).index) | items.index.isin(drift.index[drift["drifted"]])
    return items.loc[flagged]


def calibration_verdicts(
    items: pd.DataFrame,
    anchors: pd.DataFrame,
    converged: bool,
    iterations: int | None,
    active_items: pd.Index,
    *,
    spec: dict | None = None,
    pending_review=(),
) -> list[Verdict]:
    """Convergence, parameter bounds, anchor drift, anchors' stability (the linking's
    SE-aware drift tests and the review queue), sparse item fit, drift since the previous
    calibration and coverage of a written calibration (``spec``: its ``model_spec``)."""
    spec = spec or {}
    drift = anchor_drift(items, anchors)
    bounds = out_of_bounds(items)
    cov = coverage(items.index, active_items)
    linking = spec.get("linking_constants") or {}
    stored = spec.get("drift") or {}
    anchors_drift = stored.get("anchors") or {}
    drifting = [d["item_id"] for d in anchors_drift.get("drifting", [])]
    fit = spec.get("item_fit") or {}
    over = fit.get("rmsd_over_limit", [])
    items_drift = stored.get("items") or {}
    return [
        Verdict("calibration_converged", "mirt_fit_meta", bool(converged), "error", {"iterations": iterations or 0}),
        Verdict(
            "item_parameter_bounds",
            "mirt_item_params",
            bounds.empty,
            metadata={"out_of_bounds": len(bounds)},
            table=bounds.reset_index(),
        ),
        _anchor_drift_verdict(drift, anchors_drift),
        Verdict(
            "anchor_review",
            "mirt_fit_meta",
            not list(pending_review),
            metadata={
                "slope": linking.get("slope"),
                "slope_se": linking.get("slope_se"),
                "intercept": linking.get("intercept"),
                "intercept_se": linking.get("intercept_se"),
                "anchors_used": linking.get("anchor_count"),
                "drifting": ", ".join(drifting),
                "pending_review": ", ".join(map(str, pending_review)),
            },
        ),
        Verdict(
            "item_fit_rmsd",
            "mirt_item_params",
            not over,
            metadata={
                "items": fit.get("items", 0),
                "items_judged": fit.get("judged", 0),
                "median_rmsd": fit.get("median_rmsd"),
                "over_limit": len(over),
                "worst": ", ".join(over[:10]),
            },
        ),
        Verdict(
            "parameter_drift",
            "mirt_item_params",
            not items_drift.get("changed"),
            metadata={
                "items_compared": items_drift.get("items_compared", 0),
                "changed": items_drift.get("changed", 0),
                "median_abs_delta_b": items_drift.get("median_abs_delta_b"),
            },
            table=pd.DataFrame(items_drift.get("largest", [])),
        ),
        Verdict(
            "item_coverage",
            "mirt_item_params",
            cov >= MIN_COVERAGE,
            metadata={"coverage": round(cov, 4), "active_items": len(active_items)},
        ),
    ]


def _anchor_drift_verdict(drift: pd.DataFrame, stored: dict) -> Verdict:
    """Anchors that drift: the linking's SE-aware tests when the calibration stored them
    (``model_spec.drift.anchors``), else the fixed thresholds on the linked parameters
    (calibrations written before; at 400 students they flag anchors by sampling noise)."""
    table = drift.round(3).reset_index()
    if stored:
        drifting = [d["item_id"] for d in stored.get("drifting", [])]
        table["drifting"] = table["item_id"].astype(str).isin(drifting)
        return Verdict(
            "anchor_drift",
            "mirt_item_params",
            not drifting,
            metadata={"anchors": int(stored.get("tested", len(drift))), "drifted": len(drifting), "test": "wald"},
            table=table.drop(columns=["drifted"]),
        )
    return Verdict(
        "anchor_drift",
        "mirt_item_params",
        not drift["drifted"].any(),
        metadata={"anchors": len(drift), "drifted": int(drift["drifted"].sum()), "test": "thresholds"},
        table=table,
    )


def ability_verdict(abilities: pd.DataFrame) -> Verdict:
    """The median ability SE is small enough for the abilities to mean something."""
    se = se_summary(abilities)
    return Verdict("ability_se", "mirt_ability", se.get("median", 0) <= MAX_MEDIAN_SE, metadata=se)
