"""The new student-state cache from the previous one and what the database aggregated.

A pure function over frames, vectorised over all students at once. Every known student
is re-evaluated (time without activity, rules, abilities); the recent-window metrics come
from the database for the students whose window changed and are kept from the previous
cache for the others. Students whose data failed validation keep their previous row and
come back as errors, so one student's bad data never stops (or silently drops) the others.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import machine
from .rules import RuleSet

CACHE_COLUMNS = [
    "user_id",
    "state",
    "since",
    "last_activity_at",
    "recent_accuracy",
    "recent_attempts",
    "recent_events",
    "recent_active_days",
    "theta",
    "theta_se",
    "active_scenarios",
    "updated_at",
]
#: A row is written only when one of these, or its active scenarios, changed (updated_at
#: says when that was).
CONTENT_COLUMNS = CACHE_COLUMNS[1:-2]
WINDOW_METRICS = ["recent_accuracy", "recent_attempts", "recent_events", "recent_active_days"]
_DAY = pd.Timedelta(days=1)


@dataclass
class Observations:
    """What the database aggregated for one refresh (see :mod:`.queries`)."""

    previous: pd.DataFrame  # the cache rows (active_scenarios as JSON text)
    window: pd.DataFrame  # user_id, recent_events/attempts/correct/active_days, window_last_at, invalid_answers
    consumed: pd.DataFrame  # user_id, consumed, consumed_last_at
    abilities: pd.DataFrame  # user_id, theta, theta_se
    bad: pd.DataFrame  # user_id, invalid_answers, future_events (on the days being consumed)
    recomputed: pd.Index | None = None  # students whose window was recomputed; None: all
    #: the latest drop-out risk scores (user_id, probability, at_risk); empty: rules only
    risk: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["user_id", "probability", "at_risk"]))


@dataclass
class Refresh:
    cache: pd.DataFrame  # every known student: refreshed rows plus kept rows of students in error
    updated: pd.DataFrame  # the rows of ``cache`` that are new or changed
    changes: pd.DataFrame  # state_change_log rows
    evaluations: pd.DataFrame  # scenario_evaluation_log rows (scenarios that started firing)
    errors: list[dict]  # {user_id, error} per student whose row was not refreshed
    students_processed: int

    def counts_by_state(self) -> dict[str, int]:
        counts = self.cache["state"].value_counts()
        return {s: int(counts.get(s, 0)) for s in machine.STATES}


def refresh_state(
    obs: Observations,
    rules: RuleSet,
    now: dt.datetime,
    thresholds: machine.Thresholds,
    heartbeat_id: str,
) -> Refresh:
    now_ts = pd.Timestamp(now)
    previous = _indexed(obs.previous) if len(obs.previous) else _empty_previous()
    window = _indexed(obs.window)
    errors = _bad_data_errors(pd.concat([obs.bad, window.loc[window["invalid_answers"] > 0].reset_index()]))
    bad_ids = pd.Index(sorted({e["user_id"] for e in errors}), dtype="int64")

    known = previous.index.union(window.index).union(_indexed(obs.consumed).index)
    frame = pd.DataFrame(index=known.difference(bad_ids))
    frame.index.name = "user_id"
    frame = (
        frame.join(previous.add_prefix("prev_")).join(window).join(_indexed(obs.consumed)).join(_indexed(obs.abilities))
    )
    last = pd.concat(
        [_ts(frame["prev_last_activity_at"]), _ts(frame["window_last_at"]), _ts(frame["consumed_last_at"])], axis=1
    ).max(axis=1)
    no_time = last.isna().to_numpy()
    for user_id in frame.index[no_time]:
        errors.append({"user_id": int(user_id), "error": "no activity time known for this student"})
    frame, last = frame[~no_time], last[~no_time]

    metrics = _metrics(frame, obs.recomputed)
    metrics["days_since_activity"] = ((now_ts - last) / _DAY).astype(float)
    metrics["theta"] = frame["theta"].astype(float)
    metrics["theta_se"] = frame["theta_se"].astype(float)

    fired = rules.evaluate(metrics)
    by_rules = fired[rules.at_risk_ids].any(axis=1).to_numpy() if rules.at_risk_ids else np.zeros(len(frame), bool)
    overrides = fired[rules.override_ids].any(axis=1).to_numpy() if rules.override_ids else np.zeros(len(frame), bool)
    risk = _indexed(obs.risk).reindex(frame.index) if len(obs.risk) else pd.DataFrame(index=frame.index)
    probability = risk["probability"].to_numpy(dtype=float) if len(obs.risk) else np.full(len(frame), np.nan)
    scored = ~np.isnan(probability)
    by_model = risk["at_risk"].fillna(False).to_numpy(dtype=bool) if len(obs.risk) else np.zeros(len(frame), bool)
    # the model decides for scored students (override rules still apply); the rules for the others
    at_risk = np.where(scored, by_model | overrides, by_rules)
    states = machine.classify(metrics["days_since_activity"].to_numpy(), at_risk, thresholds)
    prev_states = frame["prev_state"].to_numpy(dtype=object)
    is_change = machine.changed(prev_states, states)
    entered = machine.entered_at(states, last, now, thresholds).to_numpy()
    since = np.where(is_change, entered, _ts(frame["prev_since"]).to_numpy())

    ids = rules.ids
    now_codes = _codes(fired.to_numpy())
    prev_codes = _previous_codes(frame["prev_active_scenarios"], ids)

    cache = pd.DataFrame(
        {
            "user_id": frame.index.to_numpy(dtype="int64"),
            "state": states,
            "since": pd.to_datetime(since),
            "last_activity_at": last.to_numpy(),
            **{name: metrics[name].to_numpy() for name in WINDOW_METRICS},
            "theta": metrics["theta"].to_numpy(),
            "theta_se": metrics["theta_se"].to_numpy(),
            "active_scenarios": _scenario_texts(now_codes, ids),
            "updated_at": _ts(frame["prev_updated_at"]).to_numpy(),
        }
    )
    differs = _differs(cache, frame, (prev_codes != now_codes).any(axis=1))
    cache.loc[differs, "updated_at"] = now_ts
    updated = cache.loc[differs, CACHE_COLUMNS]
    kept = previous.loc[previous.index.intersection(bad_ids)].reset_index()
    if len(kept):
        cache = pd.concat([cache, kept[CACHE_COLUMNS]], ignore_index=True)

    changes = _changes(
        frame, metrics, states, is_change, since, now_codes, ids, rules, thresholds, heartbeat_id, now, probability
    )
    evaluations = _onsets(frame.index, metrics, now_codes, prev_codes, rules, heartbeat_id, now)
    return Refresh(
        cache=cache[CACHE_COLUMNS],
        updated=updated,
        changes=changes,
        evaluations=evaluations,
        errors=errors,
        students_processed=len(frame),
    )


def _metrics(frame: pd.DataFrame, recomputed: pd.Index | None) -> pd.DataFrame:
    """Window metrics: fresh where the window was recomputed, else the previous values."""
    attempts = frame["recent_attempts"].fillna(0)
    fresh = pd.DataFrame(
        {
            "recent_accuracy": (frame["recent_correct"].fillna(0) / attempts.where(attempts > 0)).astype(float),
            "recent_attempts": attempts,
            "recent_events": frame["recent_events"].fillna(0),
            "recent_active_days": frame["recent_active_days"].fillna(0),
        },
        index=frame.index,
    )
    if recomputed is not None:
        keep = ~frame.index.isin(recomputed) & frame["prev_state"].notna().to_numpy()
        for name in WINDOW_METRICS:
            previous = frame[f"prev_{name}"].to_numpy(dtype=float, na_value=np.nan)
            fresh[name] = np.where(keep, previous, fresh[name].to_numpy(dtype=float))
    for name in WINDOW_METRICS[1:]:
        fresh[name] = fresh[name].astype("int64")
    return fresh


def _differs(cache: pd.DataFrame, frame: pd.DataFrame, scenarios_differ: np.ndarray) -> np.ndarray:
    """Rows whose content is not what the previous cache holds (new students included)."""
    out = frame["prev_state"].isna().to_numpy() | scenarios_differ
    for name in CONTENT_COLUMNS:
        new = pd.Series(cache[name].to_numpy(), index=frame.index)
        old = frame[f"prev_{name}"]
        if name in ("since", "last_activity_at"):
            new, old = _ts(new), _ts(old)
        elif name != "state":
            new, old = new.astype(float), old.astype(float)
        same = (new == old) | (new.isna() & old.isna())
        out |= ~same.to_numpy(dtype=bool)
    return out


def _changes(frame, metrics, states, is_change, since, codes, ids, rules, thresholds, heartbeat_id, now, probability):
    rows = np.flatnonzero(is_change)
    at_risk = set(rules.at_risk_ids)
    prev = frame["prev_state"].to_numpy(dtype=object)
    days = metrics["days_since_activity"].to_numpy()
    reasons = [
        machine.reason(
            None if pd.isna(prev[i]) else prev[i],
            states[i],
            days[i],
            [r for bit, r in enumerate(ids) if codes[i, bit] and r in at_risk],
            thresholds,
            probability[i],
        )
        for i in rows
    ]
    return pd.DataFrame(
        {
            "user_id": frame.index.to_numpy(dtype="int64")[rows],
            "from_state": [None if pd.isna(prev[i]) else prev[i] for i in rows],
            "to_state": states[rows],
            "reason": reasons,
            "changed_at": pd.to_datetime(since[rows]),
            "heartbeat_id": heartbeat_id,
            "logged_at": pd.Timestamp(now),
        }
    )


def _onsets(users, metrics, now_codes, prev_codes, rules, heartbeat_id, now):
    """A row per scenario that fires now and did not at the previous refresh."""
    started = now_codes & ~prev_codes
    parts = []
    for bit, rule in enumerate(rules.rules):
        rows = np.flatnonzero(started[:, bit])
        if not len(rows):
            continue
        inputs = metrics.iloc[rows][list(rule.inputs)]
        parts.append(
            pd.DataFrame(
                {
                    "user_id": users.to_numpy(dtype="int64")[rows],
                    "scenario": rule.id,
                    "rules_version": rules.version,
                    "inputs": [_json_inputs(r) for r in inputs.to_dict("records")],
                }
            )
        )
    columns = ["user_id", "scenario", "rules_version", "inputs", "heartbeat_id", "evaluated_at"]
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)
    out["heartbeat_id"] = heartbeat_id
    out["evaluated_at"] = pd.Timestamp(now)
    return out[columns]


def _json_inputs(record: dict) -> str:
    clean = {k: (None if v is None or (isinstance(v, float) and np.isnan(v)) else _plain(v)) for k, v in record.items()}
    return json.dumps(clean, sort_keys=True)


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _codes(fired: np.ndarray) -> np.ndarray:
    """Each row's fired rules as a boolean row (column i is rule i): any number of rules,
    any number of rows (none, on a platform without students yet)."""
    codes = np.asarray(fired, dtype=bool)
    return codes if codes.ndim == 2 else codes.reshape(len(codes), -1)


def _previous_codes(active: pd.Series, ids: list[str]) -> np.ndarray:
    """The previous active scenarios (JSON text, decoded once per distinct value) as boolean
    rows over ``ids``; scenarios no longer in the rule file are dropped."""
    position = {rule_id: i for i, rule_id in enumerate(ids)}
    texts = active.where(active.notna(), "").astype(str)
    unique, inverse = np.unique(texts.to_numpy(dtype=object).astype(str), return_inverse=True)
    rows = np.zeros((len(unique), len(ids)), dtype=bool)
    for k, text in enumerate(unique):
        for rule_id in json.loads(text) if text else []:
            if rule_id in position:
                rows[k, position[rule_id]] = True
    return rows[inverse] if len(texts) else np.zeros((0, len(ids)), dtype=bool)


def _scenario_texts(codes: np.ndarray, ids: list[str]) -> np.ndarray:
    """The JSON list of active scenario ids for each row (one dumps per distinct row)."""
    if not len(codes):
        return np.array([], dtype=object)
    keys = np.packbits(codes, axis=1) if codes.shape[1] else np.zeros((len(codes), 1), dtype=np.uint8)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    texts = np.array([json.dumps([r for r, on in zip(ids, codes[i]) if on]) for i in first], dtype=object)
    return texts[inverse.reshape(-1)]


def _bad_data_errors(bad: pd.DataFrame) -> list[dict]:
    """One error per student from the counts of bad events (both scopes may see the same)."""
    if bad.empty:
        return []
    counts = bad.groupby("user_id")[["invalid_answers", "future_events"]].max().fillna(0)
    errors = []
    for user_id, row in counts.iterrows():
        parts = []
        if row.invalid_answers:
            parts.append(f"{int(row.invalid_answers)} answered events without success/score in [0, 1]")
        if row.future_events:
            parts.append(f"{int(row.future_events)} events dated in the future")
        errors.append({"user_id": int(user_id), "error": "; ".join(parts)})
    return errors


def _indexed(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out["user_id"] = out["user_id"].astype("int64")
    return out.set_index("user_id")


def _ts(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series).astype("datetime64[us]")


def _empty_previous() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in CACHE_COLUMNS}).set_index("user_id")
    frame.index = frame.index.astype("int64")
    return frame
