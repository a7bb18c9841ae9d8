"""Calibrate the item bank from the warehouse's events and put it on the anchor scale.

Steps of a full calibration:

1. responses: the *first* answer of each student to each item among the ``answered``
   events of the window (default 90 days) — repeated tries would otherwise count a
   learning effect as item difficulty;
2. calibration by the configured backend (the in-process engine, or the remote IRT
   service, optionally falling back to the engine); items with too few responses or with
   all answers correct/incorrect are excluded and listed with the reason;
3. linking to the anchor items' reference parameters from ``questions`` (Stocking-Lord by
   default), then item parameters and abilities rescaled to the reference scale;
4. one transaction writes the new ``mirt_item_params`` rows (previous ones stay, only
   losing ``is_current``), the ``mirt_fit_meta`` row and the scored ``mirt_ability`` rows.

Between full calibrations :func:`rescore` re-scores students with new answers using the
current item parameters (no recalibration).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Annotated, Literal

import numpy as np
import pandas as pd
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from .. import irt
from ..irt.drift import calibration_drift, drift_summary, link_purified
from ..irt.model import b_from_d, exclusion_reasons
from ..settings import IrtSettings
from ..warehouse import Warehouse
from . import partial_credit as pc
from .anchors import queue_drifting
from .health import RMSD_LIMIT, RMSD_MIN_RESPONSES
from .partial_credit import polytomous_spec
from .remote import IrtServiceClient, IrtServiceError

log = logging.getLogger(__name__)


class CalibrationSettings(BaseModel):
    """How to calibrate (the run configuration of ``irt_calibration``; defaults are the
    nightly calibration's)."""

    model_config = ConfigDict(frozen=True)

    model: Literal["rasch", "1pl", "2pl", "3pl"] = "2pl"
    window_days: Annotated[int, Field(ge=1, description="days of answers, the last one included")] = 90
    min_item_responses: Annotated[int, Field(ge=1)] = 30
    linking_method: Literal["stocking-lord", "haebara", "mean-mean", "mean-sigma"] = "stocking-lord"
    score_method: Literal["eap", "map", "ml"] = "eap"
    quadpts: Annotated[int, Field(ge=5)] = 41
    # Partial credit (built-in engine): answers' canonical scores become categories (rule in
    # irt/categories.py) and items with more than two are calibrated with polytomous_model
    # next to the binary ones; false = every answer 0/1 by its success, as before.
    polytomous: bool = True
    polytomous_model: Literal["gpcm", "pcm", "grm"] = "gpcm"
    min_category_responses: Annotated[int, Field(ge=1)] = 10


@dataclass
class CalibrationOutcome:
    items: pd.DataFrame  # indexed by item_id, on the reference scale: a, d, b, c?, se_*, n, is_anchor
    abilities: pd.DataFrame  # user_id, theta, se, n, flag (reference scale)
    linking: dict  # constants, their SEs, drifting and kept-out anchors (drift.PurifiedLinking.summary)
    fit: dict
    excluded: pd.DataFrame
    anchors: pd.DataFrame  # reference parameters of the anchors used (item_id index: a, d, b)
    backend_used: str
    fallback_reason: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    # drift statistics of every calibrated anchor (irt.drift.anchor_drift columns + used, kept_out)
    anchor_drift: pd.DataFrame = field(default_factory=pd.DataFrame)
    # parameter changes of the non-anchor items against the previous calibration
    drift: pd.DataFrame = field(default_factory=pd.DataFrame)
    # sparse item fit per item: rmsd, infit, outfit, n
    item_fit: pd.DataFrame = field(default_factory=pd.DataFrame)

    categories: pd.DataFrame | None = None  # partial credit: the categories rule's outcome per item

    def fit_summary(self) -> dict:
        """Plain values of the sparse item fit for ``model_spec`` and metadata."""
        f = self.item_fit
        if f.empty:
            return {"items": 0}
        judged = f[f["n"] >= RMSD_MIN_RESPONSES]
        bad = judged[judged["rmsd"] > RMSD_LIMIT]
        return {
            "items": int(len(f)),
            "judged": int(len(judged)),
            "min_responses": RMSD_MIN_RESPONSES,
            "median_rmsd": round(float(f["rmsd"].median()), 4),
            "rmsd_limit": RMSD_LIMIT,
            "rmsd_over_limit": [str(i) for i in bad.sort_values("rmsd", ascending=False).index[:20]],
            "infit_median": round(float(f["infit"].median()), 3),
            "outfit_median": round(float(f["outfit"].median()), 3),
        }

    def drift_summary(self) -> dict:
        """Plain values of the anchor drift and the calibration-to-calibration drift."""
        d = self.anchor_drift
        drifting = d[d["drifting"]] if not d.empty else d
        return {
            "anchors": {
                "tested": int(len(d)),
                "drifting": [
                    {
                        "item_id": str(i),
                        "delta_b": round(float(r["delta_b"]), 3),
                        "z_b": None if not np.isfinite(r["z_b"]) else round(float(r["z_b"]), 2),
                    }
                    for i, r in drifting.iterrows()
                ],
                "kept_out_for_review": list(self.linking.get("excluded_anchors", [])),
            },
            "items": drift_summary(self.drift),
        }

    def model_spec(self, settings: CalibrationSettings, window: tuple[dt.date, dt.date]) -> dict:
        return {
            "model": settings.model,
            "quadrature": {"points": settings.quadpts, "range": [-6, 6], "per_person": "nested finer grids"},
            "window": {"days": settings.window_days, "from": window[0].isoformat(), "to": window[1].isoformat()},
            "items": int(len(self.items)),
            "users": int(len(self.abilities)),
            "excluded_items": int(len(self.excluded)),
            "converged": bool(self.fit.get("converged")),
            "iterations": self.fit.get("iterations"),
            "warm_start": bool(self.fit.get("warm_start")),
            "loglik": self.fit.get("loglik"),
            "aic": self.fit.get("aic"),
            "bic": self.fit.get("bic"),
            "backend": self.backend_used,
            "fallback_reason": self.fallback_reason,
            "linking_constants": self.linking,
            # the calibrated latent distribution on the reference scale: the prior of every
            # later score with these items (the Rasch model's latent SD is not 1)
            "latent": {
                "mean": float(self.items.attrs.get("theta_mean", 0.0)),
                "sd": float(self.items.attrs.get("theta_sd", 1.0)),
            },
            "drift": self.drift_summary(),
            "item_fit": self.fit_summary(),
            "score_method": settings.score_method,
            "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
            "polytomous": polytomous_spec(self.items, self.categories, settings),
        }


def load_responses(wh: Warehouse, first: dt.date, last: dt.date, users: pd.Index | None = None) -> pd.DataFrame:
    """First answer per (student, item) among answered events with first <= date <= last."""
    e = wh.table("events")
    stmt = sa.select(
        e.c.user_id, e.c.question_id.label("item_id"), e.c.success, e.c.score, e.c.occurred_at, e.c.event_id
    ).where(e.c.verb == "answered", e.c.event_date >= first, e.c.event_date <= last, e.c.question_id.is_not(None))
    frame = wh.read(stmt)
    if users is not None:
        frame = frame[frame["user_id"].isin(users)]
    first = first_answers(frame)
    return pd.DataFrame(
        {
            "user_id": first["user_id"].astype("int64").to_numpy(),
            "item_id": first["item_id"].astype(str).to_numpy(),
            "correct": first["success"].astype(bool).astype("int8").to_numpy(),
            # the canonical score in [0, 1] (partial credit); an event without one scores its success
            "score": pd.to_numeric(first["score"], errors="coerce")
            .fillna(first["success"].astype(bool).astype(float))
            .clip(0.0, 1.0)
            .to_numpy(),
        }
    )


def first_answers(frame: pd.DataFrame) -> pd.DataFrame:
    """The earliest answer of each (user_id, item_id); equal times are broken by event_id,
    so the choice does not depend on the order the database returned rows in."""
    if frame.empty:
        return frame
    codes, _ = pd.factorize(frame["item_id"], sort=True)
    t = frame["occurred_at"].to_numpy().astype("datetime64[us]").astype(np.int64)
    work = pd.DataFrame({"u": frame["user_id"].to_numpy(), "i": codes, "t": t}, index=frame.index)
    earliest = work.groupby(["u", "i"], sort=False)["t"].transform("min")
    cand = work[work["t"] == earliest]
    tied = cand.duplicated(["u", "i"], keep=False)
    if tied.any():  # rare: several answers at the same instant
        ties = frame.loc[cand.index[tied]].sort_values("event_id")
        keep = cand.index[~tied].append(ties.drop_duplicates(["user_id", "item_id"]).index)
    else:
        keep = cand.index
    return frame.loc[keep]


def load_anchors(wh: Warehouse) -> pd.DataFrame:
    """Reference parameters of anchor items (``questions`` with tag anchor), by item_id."""
    q = wh.read("questions", {"is_anchor": True}, columns=["question_id", "ref_a", "ref_d", "ref_b", "ref_c"])
    q = q.dropna(subset=["ref_a", "ref_d"])
    out = pd.DataFrame(
        {"a": q["ref_a"].astype(float).to_numpy(), "d": q["ref_d"].astype(float).to_numpy()},
        index=pd.Index(q["question_id"].astype(str), name="item_id"),
    )
    out["b"] = b_from_d(out["a"], out["d"])
    return out


def warm_start(previous: pd.DataFrame | None, linking: dict | None) -> pd.DataFrame | None:
    """Starting values for the engine from the current calibration: its items (reference
    scale) taken back to that calibration's own scale with its linking constants
    (``a * slope``, ``(b - intercept) / slope``), where the new calibration's scale will be
    close. None when there is nothing to start from."""
    if previous is None or previous.empty or not linking or not linking.get("slope"):
        return None
    A, B = float(linking["slope"]), float(linking.get("intercept", 0.0))
    if "n_categories" in previous:  # partial-credit items: the engine's own rescale, inverted
        start, _ = irt.rescale(previous, None, irt.LinkingConstants(1.0 / A, -B / A, "warm start", 0))
        return start[np.isfinite(start["a"].to_numpy(float)) & (start["a"] > 0)]
    a = previous["a"].to_numpy(float) * A
    b = (previous["b"].to_numpy(float) - B) / A
    start = pd.DataFrame({"a": a, "d": -a * b}, index=previous.index)
    if "c" in previous:
        start["c"] = previous["c"].fillna(0.0).clip(0.0, 0.5).to_numpy()
    ok = np.isfinite(start[["a", "d"]]).all(axis=1) & (start["a"] > 0)
    return start[ok]


def _builtin(
    responses: pd.DataFrame,
    s: CalibrationSettings,
    start: pd.DataFrame | None = None,
    categories: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict, pd.DataFrame, dict | None]:
    if categories is not None:  # partial credit: the mixed-format engine (partial_credit.py)
        fit = irt.calibrate(
            responses,
            model=pc.item_models(categories, s.model, s.polytomous_model),
            default="2pl",
            n_categories=categories["n_categories"],
            quadpts=s.quadpts,
            min_item_responses=s.min_item_responses,
            on_invalid="exclude",
            start=start,
        )
    else:
        fit = irt.calibrate(
            responses,
            model=s.model,
            quadpts=s.quadpts,
            min_item_responses=s.min_item_responses,
            on_invalid="exclude",
            start=_binary_start(start),
        )
    summary = {
        "warm_start": start is not None,
        "converged": fit.converged,
        "iterations": fit.iterations,
        "loglik": fit.loglik,
        "aic": fit.aic,
        "bic": fit.bic,
        "latent_mean": fit.latent_mean,
        "latent_sd": fit.latent_sd,
        "se_method": fit.se_method,
    }
    return fit.items, summary, fit.excluded, None


def _remote(responses: pd.DataFrame, anchors: pd.DataFrame, s: CalibrationSettings, client: IrtServiceClient):
    # the service gets the same item filter the engine applies, so both see the same bank
    n = responses.groupby("item_id")["correct"].agg(["size", "sum"])
    n["reason"] = exclusion_reasons(n["size"].to_numpy(), n["sum"].to_numpy(), s.min_item_responses)
    bad = n[n["reason"] != ""]
    excluded = pd.DataFrame(
        {
            "item_id": bad.index,
            "reason": bad["reason"].to_numpy(),
            "n": bad["size"].to_numpy(),
            "n_correct": bad["sum"].to_numpy(),
        }
    )
    kept = responses[~responses["item_id"].isin(bad.index)]
    result = client.calibrate(
        kept, s.model, anchors.loc[anchors.index.intersection(kept["item_id"].unique())], s.quadpts
    )
    items = result.items.copy()
    items["b"] = b_from_d(items["a"], items["d"])
    if "n" not in items:
        items["n"] = kept.groupby("item_id").size().reindex(items.index).to_numpy()
    summary = {
        "converged": result.converged,
        "iterations": result.iterations,
        "loglik": result.loglik,
        "aic": None,
        "bic": None,
    }
    return items, summary, excluded, result.linking


def calibrate_and_link(
    responses: pd.DataFrame,
    anchors: pd.DataFrame,
    settings: CalibrationSettings,
    service: IrtSettings | None = None,
    client: IrtServiceClient | None = None,
    *,
    kept_out=(),
    previous: pd.DataFrame | None = None,
    previous_linking: dict | None = None,
) -> CalibrationOutcome:
    """Calibrate with the backend ``service`` names (default: the built-in engine), link to
    the anchors and score; nothing is written. ``client`` talks to the IRT service (default:
    one built from ``service``).

    The linking is purified (:func:`..irt.drift.link_purified`): anchors that drift are
    left out and reported, as are the anchors in ``kept_out`` (waiting for review). The
    parameters of the items ``previous`` (the current calibration, reference scale) shares
    with this one, anchors aside, are compared in ``outcome.drift``; the sparse item fit is
    in ``outcome.item_fit``. With ``previous_linking`` (its linking constants) the engine
    starts from the current calibration (:func:`warm_start`)."""
    service = service or IrtSettings()
    if responses.empty:
        raise ValueError("no answered events in the calibration window: nothing to calibrate")
    timings: dict[str, float] = {}
    t = time.perf_counter()
    start = warm_start(previous, previous_linking)
    backend, fallback = service.backend, None
    # --- partial credit: categories from the scores (built-in engine only) ---
    binary_responses, categories, dropped = responses, None, None
    if settings.polytomous and backend != "remote" and "score" in responses:
        if pc.has_partial_credit(responses):  # else: 0/1 answers only, the binary calibration as before
            responses, categories, dropped = pc.categorise(responses, settings.min_category_responses)
    # --- end of partial credit ---
    if backend == "builtin":
        items, fit, excluded, remote_linking = _builtin(responses, settings, start, categories)
    else:
        if client is None and not service.service_url:
            raise ValueError(f"backend {backend!r} needs the IRT service URL (ALT42_IRT_SERVICE_URL)")
        try:
            with client or IrtServiceClient.from_settings(service) as remote:
                responses, categories, dropped = binary_responses, None, None  # the service takes 0/1 answers
                items, fit, excluded, remote_linking = _remote(responses, anchors, settings, remote)
        except IrtServiceError as exc:
            if backend != "remote-with-fallback":
                raise
            fallback = str(exc)
            log.warning("IRT service failed, calibrating with the built-in engine instead: %s", exc)
            backend = "builtin"
            items, fit, excluded, remote_linking = _builtin(responses, settings, start)
    if dropped is not None and len(dropped):
        excluded = pd.concat([dropped, excluded], ignore_index=True)
    timings["calibrate"] = time.perf_counter() - t

    t = time.perf_counter()
    common = items.index.intersection(anchors.index)
    purified = None
    # the anchors' reference parameters are binary: with partial credit, link on the binary items
    link_items = _binary(items)
    common = common.intersection(link_items.index)
    if remote_linking is not None:
        constants = irt.LinkingConstants(remote_linking["slope"], remote_linking["intercept"], "service", len(common))
    else:
        try:
            purified = link_purified(link_items, anchors, method=settings.linking_method, exclude=kept_out)
            constants = purified.constants
        except ValueError as exc:
            log.warning("the scale is not linked (identity): %s", exc)
            constants = irt.LinkingConstants(1.0, 0.0, "none", 0)
    if purified is not None:
        linking = purified.summary()
        drift_stats = purified.anchors
        if len(purified.drifting):
            log.warning(
                "anchors drifting, left out of the linking and queued for review: %s",
                ", ".join(map(str, purified.drifting)),
            )
    else:
        linking = {
            "slope": constants.slope,
            "intercept": constants.intercept,
            "method": constants.method,
            "anchor_count": int(constants.n_anchors),
        }
        drift_stats = pd.DataFrame()
    timings["link"] = time.perf_counter() - t

    t = time.perf_counter()
    kept = responses[responses["item_id"].isin(items.index)]
    scored = irt.score(kept, items, method=settings.score_method)
    timings["score"] = time.perf_counter() - t
    t = time.perf_counter()
    # sparse item fit (RMSD, infit, outfit) is for binary items; partial-credit items' fit is in their curves
    fit_items = link_items
    item_fit = _sparse_fit(kept[kept["item_id"].isin(fit_items.index)], fit_items, scored)
    timings["item_fit"] = time.perf_counter() - t
    linked_items, linked_abilities = irt.rescale(items, scored, constants)
    linked_items["is_anchor"] = linked_items.index.isin(anchors.index)
    drift = pd.DataFrame()
    if previous is not None and not previous.empty:
        # parameter drift of the binary items (a partial-credit item has no single intercept)
        drift = calibration_drift(_binary(previous), _binary(linked_items), exclude=anchors.index)
    return CalibrationOutcome(
        items=linked_items,
        abilities=linked_abilities,
        linking=linking,
        fit=fit,
        excluded=excluded,
        anchors=anchors.loc[common],
        backend_used=backend,
        fallback_reason=fallback,
        timings=timings,
        anchor_drift=drift_stats,
        drift=drift,
        item_fit=item_fit,
        categories=categories,
    )


def anchor_drift_table(outcome: CalibrationOutcome) -> pd.DataFrame:
    """The anchors' drift statistics as shown in the calibration's metadata."""
    d = outcome.anchor_drift
    if d.empty:
        return pd.DataFrame(columns=["item_id"])
    cols = ["delta_b", "se_delta_b", "z_b", "delta_log_a", "z_a", "p_value", "robust_z", "drifting", "used", "kept_out"]
    out = d[[c for c in cols if c in d]].copy()
    order = out["p_value"].fillna(1.0).sort_values().index
    return out.loc[order].round(4).reset_index(names="item_id")


def item_fit_table(outcome: CalibrationOutcome) -> pd.DataFrame:
    """The worst-fitting items first (by RMSD) as shown in the calibration's metadata."""
    f = outcome.item_fit
    if f.empty:
        return pd.DataFrame(columns=["item_id"])
    return f.sort_values("rmsd", ascending=False).round(4).reset_index(names="item_id")


def _binary_start(start: pd.DataFrame | None) -> pd.DataFrame | None:
    """Starting values for the binary engine: the binary items of a (possibly mixed) start."""
    if start is None or "n_categories" not in start:
        return start
    binary = start[start["n_categories"].to_numpy() == 2]
    return binary[[c for c in ("a", "d", "c") if c in binary]]


def _binary(items: pd.DataFrame) -> pd.DataFrame:
    """The binary items of an items table (all of them unless partial-credit items are in it)."""
    return items if "n_categories" not in items else items[items["n_categories"].to_numpy() == 2]


def _sparse_fit(responses: pd.DataFrame, items: pd.DataFrame, scored: pd.DataFrame) -> pd.DataFrame:
    """RMSD, infit and outfit per item; a failure is logged, it never stops the calibration."""
    if "a" not in items or items.empty:
        return pd.DataFrame()
    try:
        return irt.sparse_item_fit(responses, items, abilities=scored)
    except (ValueError, KeyError) as exc:
        log.warning("item fit not computed: %s", exc)
        return pd.DataFrame()


def write_calibration(
    wh: Warehouse,
    outcome: CalibrationOutcome,
    settings: CalibrationSettings,
    window: tuple[dt.date, dt.date],
    calibration_id: str,
    run_id: str | None,
    fitted_at: dt.datetime,
) -> None:
    """Write a calibration in one transaction (history kept, ``is_current`` moved)."""
    it = outcome.items
    params = pd.DataFrame(
        {
            "calibration_id": calibration_id,
            "run_id": run_id,
            "item_id": it.index.astype(str),
            "model": it["model"].to_numpy() if "model" in it else settings.model,
            "a": it["a"].to_numpy(),
            "d": pc.summary_d(it),
            "b": it["b"].to_numpy(),
            "c": it["c"].to_numpy() if "c" in it else np.nan,
            "se_a": it["se_a"].to_numpy() if "se_a" in it else np.nan,
            "se_d": it["se_d"].to_numpy() if "se_d" in it else np.nan,
            "se_b": it["se_b"].to_numpy() if "se_b" in it else np.nan,
            "se_c": it["se_c"].to_numpy() if "se_c" in it else np.nan,
            "n_responses": it["n"].astype("int64").to_numpy(),
            "is_anchor": it["is_anchor"].to_numpy(),
            "is_current": True,
            "fitted_at": fitted_at,
            "categories": pc.categories_json(it, outcome.categories),
        }
    )
    meta = pd.DataFrame(
        [
            {
                "calibration_id": calibration_id,
                "run_id": run_id,
                "backend": outcome.backend_used,
                "model_spec": outcome.model_spec(settings, window),
                "fitted_at": fitted_at,
            }
        ]
    )
    abilities = _ability_rows(outcome.abilities, settings.score_method, calibration_id, run_id, fitted_at)
    t = wh.table("mirt_item_params")
    with wh.transaction() as tx:
        claim_current(tx, calibration_id, fitted_at)  # first: overlapping calibrations take turns here
        tx.execute(sa.update(t).where(t.c.is_current.is_(True)).values(is_current=False))
        tx.insert("mirt_item_params", params)
        tx.insert("mirt_fit_meta", meta)
        _replace_abilities(tx, abilities)
        queue_drifting(tx, outcome.anchor_drift, calibration_id, fitted_at)


def claim_current(tx, calibration_id: str, at: dt.datetime) -> None:
    """Make ``calibration_id`` the current calibration in ``mirt_current_calibration``, as the
    first write of the calibration's transaction.

    The update takes the one row's lock (a row lock on PostgreSQL and MariaDB, the database
    lock on SQLite) until the transaction ends: a second calibration writing at the same
    time waits here, and its ``is_current`` update then sees the first one's rows, so
    exactly one calibration stays current. Warehouses built without the migration's row get
    it inserted.
    """
    lock = tx.table("mirt_current_calibration")
    done = tx.execute(sa.update(lock).where(lock.c.id == 1).values(calibration_id=calibration_id, updated_at=at))
    if done.rowcount == 0:
        tx.execute(sa.insert(lock).values(id=1, calibration_id=calibration_id, updated_at=at))


def _ability_rows(
    scored: pd.DataFrame, method: str, calibration_id: str | None, run_id: str | None, fitted_at: dt.datetime
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": scored["user_id"].astype("int64").to_numpy(),
            "theta": scored["theta"].to_numpy(),
            "se": scored["se"].to_numpy(),
            "method": method,
            "calibration_id": calibration_id,
            "run_id": run_id,
            "fitted_at": fitted_at,
        }
    )


def _replace_abilities(tx, abilities: pd.DataFrame) -> None:
    tx.delete_in("mirt_ability", "user_id", abilities["user_id"])
    tx.insert("mirt_ability", abilities)


def current_items(wh: Warehouse) -> tuple[pd.DataFrame, dict | None]:
    """The current item parameters (reference scale) and the linking of their calibration."""
    p = wh.read("mirt_item_params", {"is_current": True})
    if p.empty:
        return p, None
    cal = p["calibration_id"].iloc[0]
    meta = wh.read("mirt_fit_meta", {"calibration_id": cal})
    rows = p.set_index(p["item_id"].astype(str))
    items, values = pc.items_from_rows(rows)  # partial-credit items carry their categories
    items = items.copy()
    for col in ("se_a", "se_b"):
        items[col] = rows[col]
    spec = meta["model_spec"].iloc[0] if len(meta) else {}
    linking = {"calibration_id": cal, **(spec.get("linking_constants") or {}), "category_values": values}
    mean, sd = latent_distribution(spec)
    items.attrs["theta_mean"], items.attrs["theta_sd"] = mean, sd
    return items, linking


def latent_distribution(spec: dict) -> tuple[float, float]:
    """The calibrated latent ``(mean, sd)`` on the reference scale from a ``model_spec``.
    Calibrations stored before the latent distribution was kept have only the linking
    constants: their calibration scale was N(0, 1) (2PL/3PL/1PL), so the linking's
    ``(intercept, slope)`` is that distribution on the reference scale."""
    latent = spec.get("latent")
    if latent and latent.get("sd"):
        return float(latent.get("mean", 0.0)), float(latent["sd"])
    lc = spec.get("linking_constants") or {}
    return float(lc.get("intercept", 0.0)), float(lc.get("slope", 1.0))


@dataclass
class CurrentCalibration:
    """The current calibration as the warehouse holds it (what its health rules look at)."""

    calibration_id: str
    items: pd.DataFrame  # by item_id, reference scale: a, d, b, c, n_responses, is_anchor
    spec: dict  # mirt_fit_meta.model_spec: convergence, window, linking constants, ...
    active_items: pd.Index  # items answered in the calibration's window


def current_calibration(wh: Warehouse) -> CurrentCalibration | None:
    """The current calibration, or None before the first."""
    p = wh.read("mirt_item_params", {"is_current": True})
    if p.empty:
        return None
    calibration_id = p["calibration_id"].iloc[0]
    meta = wh.read("mirt_fit_meta", {"calibration_id": calibration_id})
    spec = meta["model_spec"].iloc[0] if len(meta) else {}
    window = spec.get("window") or {}
    e = wh.table("events")
    answered = sa.select(e.c.question_id).distinct().where(e.c.verb == "answered", e.c.question_id.is_not(None))
    if window.get("from") and window.get("to"):
        first, last = dt.date.fromisoformat(window["from"]), dt.date.fromisoformat(window["to"])
        answered = answered.where(e.c.event_date >= first, e.c.event_date <= last)
    active = pd.Index(wh.read(answered)["question_id"].astype(str), name="item_id")
    items = p.set_index(p["item_id"].astype(str))
    return CurrentCalibration(calibration_id, items, spec, active)


@dataclass
class RescoreResult:
    users: int
    calibration_id: str | None
    skipped_items: int = 0


def rescore(
    wh: Warehouse,
    settings: CalibrationSettings,
    today: dt.date,
    since: dt.datetime | None,
    run_id: str | None,
    now: dt.datetime,
) -> RescoreResult:
    """Re-score students with answers since ``since`` (default: the last ability fit) with
    the current item parameters; abilities keep the reference scale of that calibration."""
    items, linking = current_items(wh)
    if linking is None:
        raise ValueError("no calibration yet: run irt_calibration_job before re-scoring")
    if since is None:
        last = wh.scalar(sa.select(sa.func.max(wh.table("mirt_ability").c.fitted_at)))
        since = last or dt.datetime.combine(today - dt.timedelta(days=settings.window_days), dt.time())
    e = wh.table("events")
    active = wh.read(
        sa.select(e.c.user_id)
        .where(e.c.verb == "answered", e.c.occurred_at >= since, e.c.event_date >= since.date())
        .distinct()
    )["user_id"]
    if active.empty:
        return RescoreResult(users=0, calibration_id=linking["calibration_id"])
    first = today - dt.timedelta(days=settings.window_days - 1)
    responses = load_responses(wh, first, today, users=pd.Index(active))
    if linking.get("category_values"):  # partial credit: the calibration's categories rule
        responses = pc.rescore_categories(responses, linking["category_values"])
    known = responses["item_id"].isin(items.index)
    # the prior is the calibrated latent distribution (items.attrs, from model_spec)
    scored = irt.score(responses[known], items, method=settings.score_method)
    rows = _ability_rows(scored, settings.score_method, linking["calibration_id"], run_id, now)
    with wh.transaction() as tx:
        _replace_abilities(tx, rows)
    return RescoreResult(users=len(rows), calibration_id=linking["calibration_id"], skipped_items=int((~known).sum()))
