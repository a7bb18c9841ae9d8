"""Train, calibrate, evaluate and explain the drop-out risk model.

The model is a regularised logistic regression on standardised features (scikit-learn),
calibrated with Platt scaling on held-out days (``CalibratedClassifierCV`` over the frozen
model). Logistic regression was chosen over gradient boosting because it measured about as
well on the demo (see ``benchmarks/risk_model.py``), trains in a fraction of the time, and
its contributions (coefficient x standardised value) are an exact, readable explanation
per student. What is stored is plain numbers (:class:`RiskModel`): scaler, coefficients and
the calibration's sigmoid, so a stored model scores identically with any library version.

The model is fitted on the training target (:func:`.daily.leaves_within`: a drop-out starts
within the window an alert on day ``t`` is judged by), not on the label, which is 1 only
from the last activity on; ranking metrics are measured on the label.

Time-based split (never random), for the labelled days ``d0 .. E`` (``E = last_day - H``):

* **test**: the most recent ``eval_days`` labelled days ``S .. E``;
* a **purge gap** of ``H`` days before ``S``: the labels of those days read activity inside the
  test days, so no training or calibration row may use them;
* **calibration**: the ``calibration_days`` before the gap (Platt scaling and the threshold);
* **training**: the days before that, at most ``window_days`` back (the rolling window).

Metrics on the test days (see :func:`alert_metrics` for the alert-level definitions):
ROC AUC, average precision and Brier score on the labelled (student, day) rows; precision
per alert, recall per drop-out, median lead time and median days ahead of the idle rule.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from .daily import FEATURE_TEXT, FEATURES, Grid, feature_cube, labels, leaves_within, population, silent_after


class TooLittleHistory(ValueError):
    """Not enough labelled history to train and evaluate (a young platform, or days without a
    single drop-out or without a single stay): no model, the rules decide."""


@dataclass(frozen=True)
class Split:
    train: tuple[int, int]  # day indexes, inclusive
    calibration: tuple[int, int]
    test: tuple[int, int]


@dataclass(frozen=True)
class TrainingConfig:
    horizon_days: int = 14
    idle_days: int = 7
    window_days: int = 56
    eval_days: int = 7
    calibration_days: int = 7
    precision_target: float = 0.6
    #: what the model learns: ``"leaves"`` = a drop-out starts within the window an alert is
    #: judged by (:func:`.daily.leaves_within`); ``"dropped"`` = the label itself (no activity
    #: in the next H days), which only turns 1 after the last activity
    training_target: str = "leaves"
    #: days between calibration and test; None: ``horizon_days`` (the label's reach). The
    #: "leaves" target of a day reads up to 2 H days ahead, so with H the calibration days'
    #: targets see the test week's first outcomes; 2 H removes that but needs 14 more days
    purge_days: int | None = None
    regularisation: float = 1.0  # inverse strength C of the L2 penalty
    #: a candidate is not promoted when its test AP or AUC falls more than this below the
    #: promoted model's on the same test days
    promotion_tolerance: float = 0.01
    #: training rows at most (a seeded sample of the rest); keeps nightly time bounded
    max_training_rows: int = 400_000
    seed: int = 0


def split_days(days: int, cfg: TrainingConfig) -> Split:
    """The day-index ranges of the split for a grid of ``days`` days; ``ValueError`` when the
    history is too short to train at all."""
    end = days - 1 - cfg.horizon_days
    start = end - cfg.eval_days + 1
    cal_end = start - (cfg.horizon_days if cfg.purge_days is None else cfg.purge_days) - 1
    cal_start = cal_end - cfg.calibration_days + 1
    train_end = cal_start - 1
    train_start = max(0, train_end - cfg.window_days + 1)
    if train_end < train_start or cal_start < 1 or start < 0:
        purge = cfg.horizon_days if cfg.purge_days is None else cfg.purge_days
        need = cfg.eval_days + cfg.horizon_days + purge + cfg.calibration_days + 2
        raise TooLittleHistory(f"{days} days of history are too few to train and evaluate: at least {need} are needed")
    return Split(train=(train_start, train_end), calibration=(cal_start, cal_end), test=(start, end))


@dataclass
class RiskModel:
    """A fitted model as plain numbers: ``p = 1 / (1 + exp(a * f + b))`` with
    ``f = coef . (x - mean) / scale + intercept``."""

    features: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    calib_a: float
    calib_b: float
    threshold: float = 0.5
    horizon_days: int = 14

    def columns(self, names) -> list[int]:
        """Where this model's features sit in an array whose last axis is ``names`` (a model
        stored before features were added keeps scoring on its own ones)."""
        names = list(names)
        missing = [f for f in self.features if f not in names]
        if missing:
            raise ValueError(f"the features {missing} of this model are not computed any more")
        return [names.index(f) for f in self.features]

    def _z(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=float) - np.asarray(self.mean)) / np.asarray(self.scale)

    def decision(self, x: np.ndarray) -> np.ndarray:
        return self._z(x) @ np.asarray(self.coef) + self.intercept

    def probability(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(self.calib_a * self.decision(x) + self.calib_b))

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Per feature: coefficient x standardised value (positive raises the risk)."""
        return self._z(x) * np.asarray(self.coef)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict) -> RiskModel:
        return cls(**doc)


@dataclass
class Dataset:
    """Rows of (student, day) with features and labels, cut from a grid."""

    grid: Grid
    cube: np.ndarray
    label: np.ndarray
    scored: np.ndarray  # population mask (users, days)
    features: list[str] = field(default_factory=lambda: list(FEATURES))  # the cube's last axis
    target: np.ndarray | None = None  # what the model is fitted on; None: the label

    @classmethod
    def from_grid(cls, grid: Grid, cfg: TrainingConfig) -> Dataset:
        label = labels(grid, cfg.horizon_days)
        if cfg.training_target == "leaves":
            target = leaves_within(grid, cfg.horizon_days, cfg.idle_days)
        elif cfg.training_target == "dropped":
            target = label
        else:
            raise ValueError(f"unknown training_target {cfg.training_target!r} (expected 'leaves' or 'dropped')")
        return cls(grid, feature_cube(grid, cfg.idle_days), label, population(grid, cfg.idle_days), target=target)

    def rows(
        self, days: tuple[int, int], labelled: bool = True, target: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(X, y, (user index, day index)) of the population rows in the day range; ``y`` is the
        label, or the training target with ``target=True``."""
        y_all = self.target if target and self.target is not None else self.label
        lo, hi = days
        mask = np.zeros_like(self.scored)
        mask[:, lo : hi + 1] = self.scored[:, lo : hi + 1]
        if labelled:
            mask &= ~np.isnan(y_all)
        u, d = np.nonzero(mask)
        return self.cube[u, d, :], y_all[u, d], np.column_stack([u, d])


def _limit_threads():
    from threadpoolctl import threadpool_limits

    # one BLAS thread: the machine is shared, and these matrices are too small to gain from more
    return threadpool_limits(limits=1)


def fit(ds: Dataset, split: Split, cfg: TrainingConfig) -> RiskModel:
    """Fit on the training days, calibrate on the calibration days; threshold from the
    calibration days (:func:`choose_threshold`)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y, _ = ds.rows(split.train, target=True)
    if len(np.unique(y)) < 2:
        raise TooLittleHistory(f"the training days {split.train} have only one class ({len(y)} rows): nothing to learn")
    if len(y) > cfg.max_training_rows:
        keep = np.random.default_rng(cfg.seed).choice(len(y), cfg.max_training_rows, replace=False)
        x, y = x[keep], y[keep]
    xc, yc, _ = ds.rows(split.calibration, target=True)
    if len(np.unique(yc)) < 2:
        raise TooLittleHistory(f"the calibration days {split.calibration} have only one class: cannot calibrate")
    with _limit_threads():
        base = make_pipeline(StandardScaler(), LogisticRegression(C=cfg.regularisation, max_iter=1000))
        base.fit(np.nan_to_num(x), y)
        calibrated = CalibratedClassifierCV(FrozenEstimator(base), method="sigmoid")
        calibrated.fit(np.nan_to_num(xc), yc)
    scaler, lr = base[0], base[-1]
    sig = calibrated.calibrated_classifiers_[0].calibrators[0]
    model = RiskModel(
        features=list(ds.features),
        mean=[float(v) for v in scaler.mean_],
        scale=[float(v) if v > 0 else 1.0 for v in scaler.scale_],
        coef=[float(v) for v in lr.coef_[0]],
        intercept=float(lr.intercept_[0]),
        calib_a=float(sig.a_),
        calib_b=float(sig.b_),
        horizon_days=cfg.horizon_days,
    )
    model.threshold = choose_threshold(model, ds, split.calibration, cfg)
    return model


def score_days(model: RiskModel, ds: Dataset, days: tuple[int, int]) -> np.ndarray:
    """Probabilities ``(users, days)`` over the day range (NaN outside the population)."""
    out = np.full(ds.scored.shape, np.nan)
    lo, hi = days
    lo = max(lo, 0)
    block = ds.cube[:, lo : hi + 1, :][:, :, model.columns(ds.features)]
    p = model.probability(np.nan_to_num(block.reshape(-1, block.shape[2]))).reshape(block.shape[:2])
    out[:, lo : hi + 1] = np.where(ds.scored[:, lo : hi + 1], p, np.nan)
    return out


# -- alert-level metrics --------------------------------------------------------------------


@dataclass
class AlertMetrics:
    """Alert-level measures over a range of days (definitions in :func:`alert_metrics`)."""

    alerts: int = 0
    alerts_decided: int = 0
    correct_alerts: int = 0
    precision: float | None = None
    dropouts: int = 0
    detected: int = 0
    recall: float | None = None
    median_lead_days: float | None = None
    median_days_ahead_of_idle_rule: float | None = None
    alerted_share: float | None = None  # share of scored student-days under alert


def _dropout_starts(ds: Dataset, horizon_days: int) -> np.ndarray:
    """``(users, days)``: 1 where day ``t`` is a drop-out start (active on ``t``, then ``H``
    silent days), 0 where it is not, NaN where not known yet."""
    s = silent_after(ds.grid, horizon_days)
    return np.where(ds.grid.active, s, 0.0)


def alert_metrics(flags: np.ndarray, ds: Dataset, days: tuple[int, int], cfg: TrainingConfig) -> AlertMetrics:
    """Alert-level measures of a ``(users, days)`` boolean alert matrix over ``days``.

    * an **alert** is the first day of a run of alerted days (a student newly flagged);
      it is **correct** when the student's drop-out (the last activity before ``H`` silent
      days) starts no earlier than ``idle_days - 1`` days before the alert and no later than ``H``
      days after it, i.e. the alert comes before the idle rule would have said anything
      and at most ``H`` days ahead; alerts whose outcome is not known yet are not counted;
    * **precision** = correct / decided alerts;
    * a **drop-out** is a drop-out start ``L`` inside ``days``; it is **detected** when some
      day in ``[L - H, L + idle_days - 1]`` is alerted (scores before the range count:
      they are out of sample for the same reason as the test days);
    * **lead time** of a detected drop-out = ``L`` - its first alert day in that range
      (days between the first alert and the last activity; negative when the alert came
      after the last activity); **days ahead of the idle rule** = ``L + idle_days`` - that day;
    * **recall** = detected / drop-outs.
    """
    lo, hi = days
    h, idle = cfg.horizon_days, cfg.idle_days
    f = np.nan_to_num(np.asarray(flags, dtype=float)) > 0
    f = f & ds.scored
    n_days = f.shape[1]
    starts = _dropout_starts(ds, h)
    onset = f & ~np.concatenate([np.zeros((f.shape[0], 1), bool), f[:, :-1]], axis=1)
    out = AlertMetrics()
    n_users = f.shape[0]

    def prefix(m: np.ndarray) -> np.ndarray:  # counts over day ranges by differences
        return np.concatenate([np.zeros((n_users, 1)), np.cumsum(m, axis=1)], axis=1)

    confirmed, unknown = prefix(starts == 1.0), prefix(np.isnan(starts))
    # precision per alert: a confirmed drop-out start in [a - idle + 1, a + H]
    u, a = np.nonzero(onset[:, lo : hi + 1])
    a = a + lo
    w_lo, w_hi = np.maximum(0, a - idle + 1), np.minimum(n_days, a + h + 1)
    correct = (confirmed[u, w_hi] - confirmed[u, w_lo]) > 0
    decided = correct | (((unknown[u, w_hi] - unknown[u, w_lo]) == 0) & (a + h <= n_days - 1))
    out.alerts, out.alerts_decided, out.correct_alerts = int(len(u)), int(decided.sum()), int(correct.sum())
    out.precision = out.correct_alerts / out.alerts_decided if out.alerts_decided else None
    # recall and lead time per drop-out: the first alerted day in [L - H, L + idle - 1]
    days_idx = np.arange(n_days)
    next_alert = np.where(f, days_idx[None, :], n_days)
    next_alert = np.minimum.accumulate(next_alert[:, ::-1], axis=1)[:, ::-1]  # first alerted day >= d
    su, sl = np.nonzero(starts[:, lo : hi + 1] == 1.0)
    sl = sl + lo
    first = next_alert[su, np.maximum(0, sl - h)] if len(su) else np.zeros(0, dtype=int)
    hit = first <= np.minimum(n_days - 1, sl + idle - 1)
    leads, ahead = (sl - first)[hit], (sl + idle - first)[hit]
    out.dropouts, out.detected = int(len(su)), int(hit.sum())
    out.recall = out.detected / out.dropouts if out.dropouts else None
    out.median_lead_days = float(np.median(leads)) if len(leads) else None
    out.median_days_ahead_of_idle_rule = float(np.median(ahead)) if len(ahead) else None
    scored = ds.scored[:, lo : hi + 1]
    out.alerted_share = float(f[:, lo : hi + 1][scored].mean()) if scored.any() else None
    return out


def choose_threshold(model: RiskModel, ds: Dataset, days: tuple[int, int], cfg: TrainingConfig) -> float:
    """The lowest threshold whose per-alert precision on ``days`` reaches the target (the most
    recall at that precision); without one, the threshold of the best precision."""
    p = score_days(model, ds, (max(0, days[0] - cfg.horizon_days), days[1]))
    best, best_precision = 0.5, -1.0
    for threshold in np.round(np.arange(0.05, 0.96, 0.025), 3):
        m = alert_metrics(p >= threshold, ds, days, cfg)
        if m.precision is None or m.alerts_decided < 5:
            continue
        if m.precision >= cfg.precision_target:
            return float(threshold)
        if m.precision > best_precision:
            best, best_precision = float(threshold), m.precision
    return best


# -- evaluation -----------------------------------------------------------------------------


def _ranking(y: np.ndarray, p: np.ndarray) -> dict:
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    if len(np.unique(y)) < 2:
        return {"roc_auc": None, "average_precision": None, "brier": None}
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "average_precision": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
    }


def evaluate_model(model: RiskModel, ds: Dataset, split: Split, cfg: TrainingConfig) -> dict:
    """The test-day metrics of a model (ranking on labelled rows, alerts at its threshold)."""
    _, y, idx = ds.rows(split.test)
    p_all = score_days(model, ds, (split.test[0] - cfg.horizon_days, ds.grid.days - 1))
    p = p_all[idx[:, 0], idx[:, 1]]
    alerts = alert_metrics(p_all >= model.threshold, ds, split.test, cfg)
    return {
        **_ranking(y, p),
        "threshold": model.threshold,
        "rows": int(len(y)),
        "positives": int(y.sum()),
        **asdict(alerts),
    }


def rule_inputs(grid: Grid, window_days: int = 7) -> dict[str, np.ndarray]:
    """The scenario rules' inputs as the heartbeat would have computed them at the end of
    each day, as ``(users, days)`` matrices (no ability history: theta is unknown, so ability
    rules never fire)."""
    from .daily import _last_active, _window

    a = grid.active.astype(float)
    last = _last_active(grid.active)
    answers = _window(grid.answers, window_days)
    correct = _window(grid.correct, window_days)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(answers > 0, correct / answers, np.nan)
    return {
        "recent_accuracy": accuracy,
        "recent_attempts": answers,
        "recent_events": _window(grid.events, window_days),
        "recent_active_days": _window(a, window_days),
        "days_since_activity": np.where(last >= 0, np.arange(grid.days)[None, :] - last, np.nan).astype(float),
    }


def rule_metrics_frame(inputs: dict[str, np.ndarray], day: int) -> pd.DataFrame:
    """The rules' inputs of one day index as the frame :meth:`RuleSet.evaluate` takes."""
    frame = pd.DataFrame({name: m[:, day] for name, m in inputs.items()})
    return frame.assign(theta=np.nan, theta_se=np.nan)


def rule_flags(rules, ds: Dataset, days: tuple[int, int], window_days: int = 7) -> np.ndarray:
    """``(users, days)``: does any at-risk scenario rule fire on each day of the range?"""
    out = np.zeros(ds.scored.shape, bool)
    ids = rules.at_risk_ids
    if not ids:
        return out
    inputs = rule_inputs(ds.grid, window_days)
    for day in range(max(0, days[0]), days[1] + 1):
        fired = rules.evaluate(rule_metrics_frame(inputs, day))
        out[:, day] = fired[ids].any(axis=1).to_numpy()
    return out & ds.scored


def evaluate_rules(rules, ds: Dataset, split: Split, cfg: TrainingConfig, window_days: int = 7) -> dict:
    """The scenario rules measured the same way on the same test days."""
    flags = rule_flags(rules, ds, (split.test[0] - cfg.horizon_days, ds.grid.days - 1), window_days)
    _, y, idx = ds.rows(split.test)
    p = flags[idx[:, 0], idx[:, 1]].astype(float)
    return {
        **_ranking(y, p),
        "threshold": None,
        "rows": int(len(y)),
        "positives": int(y.sum()),
        **asdict(alert_metrics(flags, ds, split.test, cfg)),
    }


@dataclass
class Training:
    model: RiskModel
    split: Split
    metrics: dict  # model's test metrics
    rules: dict  # the rules' test metrics, same days
    days: tuple[dt.date, dt.date]  # the grid's first and last day
    split_dates: dict = field(default_factory=dict)


def train(ds: Dataset, cfg: TrainingConfig, rules=None) -> Training:
    """Split, fit, evaluate; the rules (a :class:`~..state.rules.RuleSet`) beside the model."""
    split = split_days(ds.grid.days, cfg)
    model = fit(ds, split, cfg)
    metrics = evaluate_model(model, ds, split, cfg)
    rule_side = evaluate_rules(rules, ds, split, cfg) if rules is not None else {}
    g = ds.grid
    dates = {name: [g.day(lo).isoformat(), g.day(hi).isoformat()] for name, (lo, hi) in asdict(split).items()}
    return Training(model, split, metrics, rule_side, (g.day(0), g.day(g.days - 1)), dates)


def decide_promotion(candidate: dict, incumbent: dict | None, tolerance: float) -> tuple[bool, str]:
    """Promote unless the candidate's test AP or ROC AUC falls more than ``tolerance`` below
    the promoted model's on the same test days (or the candidate has no ranking metric)."""
    if candidate.get("average_precision") is None or candidate.get("roc_auc") is None:
        return False, "the candidate has no test metrics (one class only on the test days)"
    if incumbent is None or incumbent.get("average_precision") is None:
        return True, "no promoted model to compare with"
    worse = [
        f"{name} {candidate[name]:.3f} < {incumbent[name]:.3f} - {tolerance}"
        for name in ("average_precision", "roc_auc")
        if candidate[name] < incumbent[name] - tolerance
    ]
    if worse:
        return False, "worse than the promoted model on the same test days: " + "; ".join(worse)
    return True, (
        f"AP {candidate['average_precision']:.3f} vs {incumbent['average_precision']:.3f}, "
        f"AUC {candidate['roc_auc']:.3f} vs {incumbent['roc_auc']:.3f} (promoted model, same test days)"
    )


def explain(model: RiskModel, x: np.ndarray, top: int = 3) -> list[list[dict]]:
    """The ``top`` features raising each row's risk most (positive contributions only)."""
    c = model.contributions(np.nan_to_num(np.atleast_2d(x)))
    order = np.argsort(-c, axis=1)[:, :top]
    out = []
    for i, row in enumerate(order):
        out.append(
            [
                {
                    "feature": model.features[j],
                    "text": FEATURE_TEXT.get(model.features[j], model.features[j]),
                    "value": round(float(np.atleast_2d(x)[i, j]), 3),
                    "contribution": round(float(c[i, j]), 3),
                }
                for j in row
                if c[i, j] > 0
            ]
        )
    return out
