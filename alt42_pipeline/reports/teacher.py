"""What a teacher acts on, as of one week: at-risk students per course with their last
activity, risk, top reasons and this week's intervention; the week's interventions; states
as they stood at the end of the week; how good the risk list is (the model's held-out
precision, recall and lead time beside the scenario rules').

Names come from Moodle's ``user`` table (``firstname lastname``) when the caller passes
them; they are shown in the page only, never logged. Without a name a student is shown as
``student #<id>``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ..warehouse import Warehouse

AT_RISK_COLUMNS = ["course", "student", "last activity", "risk", "top reasons", "intervention this week"]
NO_COURSE = "no course"


def states_as_of(wh: Warehouse, end: dt.datetime) -> pd.DataFrame:
    """Each student's state at ``end``: the target of the latest change before it
    (students first seen later are not counted)."""
    t = wh.table("state_change_log")
    latest = (
        sa.select(t.c.user_id, sa.func.max(t.c.id).label("id")).where(t.c.changed_at < end).group_by(t.c.user_id)
    ).subquery()
    stmt = sa.select(t.c.user_id, t.c.to_state.label("state")).join(latest, t.c.id == latest.c.id)
    return wh.read(stmt)


def risk_as_of(wh: Warehouse, first_day: dt.date, last_day: dt.date) -> pd.DataFrame:
    """The drop-out risk scores of the latest scored day in ``[first_day, last_day]``."""
    t = wh.table("student_risk")
    day = sa.select(sa.func.max(t.c.date)).where(t.c.date >= first_day, t.c.date <= last_day).scalar_subquery()
    return wh.read(sa.select(t.c.user_id, t.c.date, t.c.probability, t.c.at_risk, t.c.reasons).where(t.c.date == day))


def last_activity(wh: Warehouse, users: list[int], end: dt.datetime) -> pd.Series:
    if not users:
        return pd.Series(dtype="datetime64[ns]")
    t = wh.table("events")
    stmt = (
        sa.select(t.c.user_id, sa.func.max(t.c.occurred_at).label("last"))
        .where(t.c.user_id.in_(users), t.c.occurred_at < end)
        .group_by(t.c.user_id)
    )
    rows = wh.read(stmt)
    return pd.Series(pd.to_datetime(rows["last"]).to_numpy(), index=rows["user_id"].astype("int64"))


def courses(wh: Warehouse, users: list[int], end: dt.datetime) -> pd.DataFrame:
    """(user_id, course): the student's Moodle courses; a student without one is listed
    under the assessment topic they answered most (``topic <id>``), else ``no course``."""
    if not users:
        return pd.DataFrame(columns=["user_id", "course"])
    access = wh.table("user_last_access")
    moodle = wh.read(sa.select(access.c.user_id, access.c.course_id).where(access.c.user_id.in_(users)))
    moodle = pd.DataFrame(
        {"user_id": moodle["user_id"].astype("int64"), "course": "Moodle course " + moodle["course_id"].astype(str)}
    )
    rest = sorted(set(users) - set(moodle["user_id"]))
    if not rest:
        return moodle
    ev = wh.table("events")
    stmt = (
        sa.select(ev.c.user_id, ev.c.topic_id, sa.func.count().label("n"))
        .where(ev.c.user_id.in_(rest), ev.c.topic_id.is_not(None), ev.c.occurred_at < end)
        .group_by(ev.c.user_id, ev.c.topic_id)
    )
    counts = wh.read(stmt)
    top = counts.sort_values(["user_id", "n", "topic_id"], ascending=[True, False, True]).drop_duplicates("user_id")
    topic = dict(zip(top["user_id"].astype("int64"), "topic " + top["topic_id"].astype(str)))
    others = pd.DataFrame({"user_id": rest, "course": [topic.get(u, NO_COURSE) for u in rest]})
    return pd.concat([moodle, others], ignore_index=True)


def week_interventions(wh: Warehouse, week_start: dt.date) -> pd.DataFrame:
    t = wh.table("interventions")
    stmt = sa.select(t.c.user_id, t.c.date, t.c.recommendation, t.c.message).where(
        t.c.date >= week_start, t.c.date < week_start + dt.timedelta(days=7)
    )
    return wh.read(stmt)


def display_names(users, names: pd.DataFrame | None) -> list[str]:
    """``firstname lastname`` where known, else ``student #<id>``."""
    known = {}
    if names is not None and len(names):
        full = (names["firstname"].fillna("").astype(str) + " " + names["lastname"].fillna("").astype(str)).str.strip()
        known = dict(zip(names["user_id"].astype("int64"), full))
    return [known.get(int(u)) or f"student #{int(u)}" for u in users]


def reasons_text(reasons) -> str:
    if not isinstance(reasons, list) or not reasons:
        return ""
    return "; ".join(f"{r.get('text', r.get('feature'))} ({_value(r.get('value'))})" for r in reasons)


def _value(v) -> str:
    if v is None:
        return "?"
    return f"{v:g}" if isinstance(v, int | float) else str(v)


def at_risk_by_course(
    wh: Warehouse,
    risk: pd.DataFrame,
    interventions: pd.DataFrame,
    end: dt.datetime,
    names: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per at-risk student and course, highest risk first within each course."""
    flagged = risk[risk["at_risk"].astype(bool)] if len(risk) else risk
    if flagged.empty:
        return pd.DataFrame(columns=AT_RISK_COLUMNS)
    users = [int(u) for u in flagged["user_id"]]
    last = last_activity(wh, users, end)
    latest_intervention = (
        interventions.sort_values("date").drop_duplicates("user_id", keep="last").set_index("user_id")
        if len(interventions)
        else pd.DataFrame(columns=["recommendation", "message"])
    )
    rows = pd.DataFrame(
        {
            "user_id": users,
            "student": display_names(users, names),
            "last activity": [
                f"{last[u]:%Y-%m-%d}" if u in last.index and pd.notna(last[u]) else "none" for u in users
            ],
            "probability": flagged["probability"].astype(float).to_numpy(),
            "top reasons": [reasons_text(r) for r in flagged["reasons"]],
            "intervention this week": [
                str(latest_intervention.loc[u, "recommendation"]) if u in latest_intervention.index else "none"
                for u in users
            ],
        }
    )
    out = rows.merge(courses(wh, users, end), on="user_id", how="left").fillna({"course": NO_COURSE})
    out = out.sort_values(["course", "probability"], ascending=[True, False], kind="stable")
    out["risk"] = [f"{p:.0%}" for p in out["probability"]]
    return out[AT_RISK_COLUMNS].reset_index(drop=True)


def model_quality(wh: Warehouse, last_day: dt.date) -> tuple[pd.DataFrame, str]:
    """The promoted risk model in use at ``last_day`` (the latest promoted as of then, else
    the latest promoted): its held-out metrics beside the rules', and a sentence saying what
    they mean. Empty without a model."""
    t = wh.table("risk_models")
    rows = wh.read(sa.select(t).where(t.c.promoted.is_(True)).order_by(t.c.version.desc()))
    if rows.empty:
        return pd.DataFrame(), "No drop-out risk model yet: the scenario rules decide who is at risk."
    before = rows[pd.to_datetime(rows["as_of"]).dt.date <= last_day]
    row = (before if len(before) else rows).iloc[0]
    model, rules = _doc(row["metrics"]), _doc(row["rules_metrics"]) or {}

    def line(name, m):
        return {
            "alerts from": name,
            "precision": _pct(m.get("precision")),
            "recall": _pct(m.get("recall")),
            "median lead time (days)": _num(m.get("median_lead_days")),
            "days ahead of the idle rule": _num(m.get("median_days_ahead_of_idle_rule")),
            "ROC AUC": _num(m.get("roc_auc"), 2),
            "students flagged per day": _pct(m.get("alerted_share")),
        }

    split = _doc(row["split"]) or {}
    test = " to ".join(split.get("test", []))
    text = (
        f"Risk model version {int(row['version'])}, measured on held-out days {test}: precision = share of new "
        "alerts followed by the student's drop-out (last activity, then "
        f"{int(row['horizon_days'])} days without any), recall = share of drop-outs alerted before the idle rule, "
        "lead time = days from the first alert to the last activity."
    )
    return pd.DataFrame([line("risk model", model), line("scenario rules", rules)]), text


def _doc(value):
    import json

    return json.loads(value) if isinstance(value, str) else value


def _pct(v) -> str:
    return "" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{float(v):.0%}"


def _num(v, digits: int = 0) -> str:
    return "" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{float(v):.{digits}f}"
