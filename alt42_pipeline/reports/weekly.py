"""The weekly report: gather one week from the warehouse, render it as HTML and Markdown.

The first part is for teachers: at-risk students per course (names where Moodle has
them), the week's interventions, KPIs as percentages, states and abilities *as of that
week*, and how good the risk list is (measured on held-out days, beside the rules). The
operators' part (item health, rejects, heartbeats, intervention errors) follows under its
own heading. A week that has not ended yet is flagged as partial.

No Dagster here. :func:`gather` reads everything the report shows into a
:class:`WeeklyReport`; :func:`render_html` makes a self-contained page (plots inlined as
base64 PNGs, no external file or script) and :func:`render_markdown` a short summary for
the asset's metadata. Sections with no rows say so instead of failing.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from .. import irt
from ..calibration import current_items, health, load_anchors, load_responses
from ..calibration.partial_credit import categorised
from ..warehouse import Warehouse
from . import plots, tables, teacher

TREND_WEEKS = 8
#: The operators' section (telemetry), after the teachers' part; item health is the other.
OPERATIONS = "Operations"
OPERATOR_SECTIONS = ("Item health", OPERATIONS)


@dataclass
class WeeklyReport:
    week_start: dt.date
    generated_at: dt.datetime
    kpi_trend: (
        pd.DataFrame
    )  # per week: students, attempts, accuracy, first_attempt_accuracy, active_days, time_on_task_min
    states: pd.DataFrame  # state, students
    transitions: pd.DataFrame  # from_state, to_state, changes in the week
    inactivity: pd.DataFrame  # the week's alerts
    abilities: pd.DataFrame  # current user_id, theta, se
    growth: pd.DataFrame  # user_id, theta_before (previous week), theta_after (this week), growth
    calibration: dict | None  # the current calibration's id, fitted_at, backend, model_spec
    items: pd.DataFrame  # current item parameters, indexed by item_id
    drift: pd.DataFrame  # per anchor: a, a_ref, b, b_ref, delta_b, log_a_ratio, drifted
    misfit: pd.DataFrame  # per item answered this week: n, observed, expected, infit, outfit, misfit
    rejects: pd.DataFrame  # reason, source, rows (events of the week quarantined)
    heartbeats: pd.DataFrame  # the week's heartbeat runs
    intervention_errors: pd.DataFrame  # the week's per-user intervention failures
    at_risk: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=teacher.AT_RISK_COLUMNS))
    interventions: pd.DataFrame = field(default_factory=pd.DataFrame)  # the week's, per student and day
    risk_quality: pd.DataFrame = field(default_factory=pd.DataFrame)  # model and rules, held-out metrics
    risk_text: str = ""
    week_abilities: pd.DataFrame = field(default_factory=pd.DataFrame)  # user_id, theta from the week's answers

    @property
    def partial(self) -> bool:
        """The week had not ended when the report was made."""
        return self.generated_at < dt.datetime.combine(self.week_end, dt.time())

    @property
    def week_end(self) -> dt.date:
        """The first day after the week."""
        return self.week_start + dt.timedelta(days=7)

    @property
    def title(self) -> str:
        last = self.week_end - dt.timedelta(days=1)
        partial = " (partial: the week is not over)" if self.partial else ""
        return f"ALT42 weekly report: week of {self.week_start:%Y-%m-%d} to {last:%Y-%m-%d}{partial}"

    def numbers(self) -> dict[str, float | int | str]:
        """Headline numbers of the week (also the asset's metadata)."""
        week = self.kpi_trend[self.kpi_trend["week_start"] == self.week_start]
        row = week.iloc[0] if len(week) else None
        beats = tables.heartbeat_summary(self.heartbeats)
        return {
            "active_students": int(row["students"]) if row is not None else 0,
            "attempts": int(row["attempts"]) if row is not None else 0,
            "accuracy": _round(row["accuracy"]) if row is not None else "",
            "state_changes": int(self.transitions["changes"].sum()),
            "inactivity_alerts": len(self.inactivity),
            "at_risk_students": int(self.at_risk["student"].nunique()) if len(self.at_risk) else 0,
            "students_with_ability": len(self.abilities),
            "mean_growth": _round(self.growth["growth"].mean()) if len(self.growth) else "",
            "drifted_anchors": int(self.drift["drifted"].sum()) if len(self.drift) else 0,
            "misfitting_items": int(self.misfit["misfit"].sum()) if len(self.misfit) else 0,
            "rejected_events": int(self.rejects["rows"].sum()) if len(self.rejects) else 0,
            "failed_heartbeats": int(beats["failed"].iloc[0]) if len(beats) else 0,
            "intervention_errors": len(self.intervention_errors),
        }


# -- gather -------------------------------------------------------------------------------


def gather(wh: Warehouse, week_start: dt.date, now: dt.datetime, names: pd.DataFrame | None = None) -> WeeklyReport:
    """Everything the report of the week starting ``week_start`` (a Monday) shows; ``names``
    (user_id, firstname, lastname) from Moodle puts names on the at-risk lists."""
    if week_start.weekday() != 0:
        raise ValueError(f"week_start {week_start} is not a Monday")
    start = dt.datetime.combine(week_start, dt.time())
    end = start + dt.timedelta(days=7)
    states = teacher.states_as_of(wh, min(end, now))
    changes = tables.read(wh, tables.STATE_CHANGES, start, end)
    items, _ = current_items(wh)
    abilities = wh.read("mirt_ability", columns=["user_id", "theta", "se"])
    week_responses = load_responses(wh, week_start, week_start + dt.timedelta(days=6))
    last_day = min(week_start + dt.timedelta(days=6), now.date())
    interventions = teacher.week_interventions(wh, week_start)
    risk = teacher.risk_as_of(wh, week_start, last_day)
    quality, quality_text = teacher.model_quality(wh, last_day)
    week_responses = categorised(week_responses, items)  # partial credit: the calibration's categories
    return WeeklyReport(
        week_start=week_start,
        generated_at=now,
        kpi_trend=kpi_trend(wh, week_start),
        states=_count(states, ["state"], "students"),
        transitions=_count(changes, ["from_state", "to_state"], "changes"),
        inactivity=tables.read(wh, tables.INACTIVITY, start, end),
        abilities=abilities,
        growth=ability_growth(wh, items, week_start, week_responses),
        calibration=tables.latest(wh, tables.CALIBRATIONS),
        items=items,
        drift=health.anchor_drift(items, load_anchors(wh)) if len(items) else _empty_drift(),
        misfit=health.item_misfit(week_responses, items, abilities),
        rejects=_rejects(wh, week_start),
        heartbeats=tables.read(wh, tables.HEARTBEATS, start, end),
        intervention_errors=tables.read(wh, tables.INTERVENTION_ERRORS, start, end),
        at_risk=teacher.at_risk_by_course(wh, risk, interventions, min(end, now), names),
        interventions=_intervention_counts(interventions),
        risk_quality=quality,
        risk_text=quality_text,
        week_abilities=week_abilities(items, week_responses),
    )


def _intervention_counts(interventions: pd.DataFrame) -> pd.DataFrame:
    if interventions.empty:
        return pd.DataFrame(columns=["recommendation", "students", "interventions"])
    g = interventions.groupby("recommendation")
    out = pd.DataFrame({"students": g["user_id"].nunique(), "interventions": g.size()}).reset_index()
    return out.sort_values("interventions", ascending=False, kind="stable").reset_index(drop=True)


def week_abilities(items: pd.DataFrame, week_responses: pd.DataFrame) -> pd.DataFrame:
    """Ability of each student who answered in the week, scored (EAP) from that week's
    answers with the current item parameters: the ability as of the week, not today's."""
    if items.empty or week_responses.empty:
        return pd.DataFrame(columns=["user_id", "theta", "se"])
    known = week_responses[week_responses["item_id"].isin(items.index)]
    if known.empty:
        return pd.DataFrame(columns=["user_id", "theta", "se"])
    scored = irt.score(known, items)
    return scored[[c for c in ("user_id", "theta", "se") if c in scored.columns]]


def kpi_trend(wh: Warehouse, week_start: dt.date, weeks: int = TREND_WEEKS) -> pd.DataFrame:
    """Platform-wide KPIs of the ``weeks`` weeks up to ``week_start`` (weeks with no rows left out)."""
    mondays = [week_start - dt.timedelta(days=7 * i) for i in range(weeks - 1, -1, -1)]
    rows = wh.read("weekly_kpi", {"week_start": mondays}, columns=["user_id", "week_start", "kpis"])
    columns = [
        "week_start",
        "students",
        "attempts",
        "accuracy",
        "first_attempt_accuracy",
        "active_days",
        "time_on_task_min",
    ]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    k = pd.json_normalize(rows["kpis"].tolist()).apply(pd.to_numeric, errors="coerce")
    k["week_start"] = [pd.Timestamp(w).date() for w in rows["week_start"]]
    k["correct"] = k["accuracy"].fillna(0) * k["attempts"]
    g = k.groupby("week_start")
    out = pd.DataFrame(
        {
            "students": g.size(),
            "attempts": g["attempts"].sum(),
            "accuracy": g["correct"].sum() / g["attempts"].sum().replace(0, np.nan),
            "first_attempt_accuracy": g["first_attempt_accuracy"].mean(),
            "active_days": g["active_days"].mean(),
            "time_on_task_min": g["time_on_task_s"].mean() / 60,
        }
    ).reset_index()
    return out[columns]


def ability_growth(
    wh: Warehouse, items: pd.DataFrame, week_start: dt.date, week_responses: pd.DataFrame
) -> pd.DataFrame:
    """Ability of each student from this week's first answers against the previous week's,
    both scored (EAP) with the current item parameters, for students who answered in both."""
    columns = ["user_id", "theta_before", "theta_after", "growth"]
    if items.empty:
        return pd.DataFrame(columns=columns)
    before = load_responses(wh, week_start - dt.timedelta(days=7), week_start - dt.timedelta(days=1))
    before = categorised(before, items)
    scored = []
    for responses in (before, week_responses):
        known = responses[responses["item_id"].isin(items.index)]
        scored.append(
            irt.score(known, items)[["user_id", "theta"]] if len(known) else pd.DataFrame(columns=["user_id", "theta"])
        )
    both = scored[0].merge(scored[1], on="user_id", suffixes=("_before", "_after"))
    both["growth"] = both["theta_after"] - both["theta_before"]
    return both[columns].reset_index(drop=True)


def _rejects(wh: Warehouse, week_start: dt.date) -> pd.DataFrame:
    t = wh.table("rejected_events")
    stmt = (
        sa.select(t.c.reason, t.c.source, sa.func.count().label("rows"))
        .where(t.c.event_date >= week_start, t.c.event_date < week_start + dt.timedelta(days=7))
        .group_by(t.c.reason, t.c.source)
        .order_by(sa.func.count().desc())
    )
    return wh.read(stmt)


def _count(frame: pd.DataFrame, by: list[str], name: str) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(columns=[*by, name])
    counts = frame.groupby(by, dropna=False).size().rename(name).reset_index()
    return counts.sort_values(name, ascending=False, kind="stable").reset_index(drop=True)


def _empty_drift() -> pd.DataFrame:
    return pd.DataFrame(columns=["a", "a_ref", "b", "b_ref", "delta_b", "log_a_ratio", "drifted"])


def _round(value) -> float | str:
    return "" if value is None or pd.isna(value) else round(float(value), 3)


# -- plots --------------------------------------------------------------------------------


def figures(report: WeeklyReport) -> dict[str, bytes]:
    """The report's plots (PNG) by section name; sections without data have none."""
    out: dict[str, bytes] = {}
    trend = report.kpi_trend
    if len(trend):
        out["KPI trends"] = _trend_chart(trend)
        out["Active students"] = plots.bar_chart(
            _week_labels(trend), trend["students"].tolist(), "Active students per week"
        )
    if len(report.states):
        out["Students by state"] = plots.bar_chart(
            report.states["state"].astype(str).tolist(), report.states["students"].tolist(), "Students by state"
        )
    if len(report.week_abilities):
        out["Abilities"] = plots.histogram(
            report.week_abilities["theta"].dropna().to_numpy(),
            "Abilities from the week's answers (reference scale)",
            "θ",
        )
    if len(report.growth):
        out["Ability growth"] = plots.histogram(
            report.growth["growth"].to_numpy(), "Ability growth: this week against the previous", "Δθ"
        )
    if len(report.items) and len(report.abilities):
        out["Wright map"] = plots.wright_map(report.items, report.abilities)
    if len(report.drift):
        out["Anchor drift"] = plots.anchor_drift(report.drift)
    flagged = _flagged_items(report)
    if len(flagged):
        out["Flagged items"] = plots.iccs(report.items.loc[flagged], "ICCs of drifted or misfitting items")
        poly = plots.polytomous_items(report.items.loc[flagged])
        if len(poly):  # partial-credit items: their category curves and information
            out["Flagged partial-credit items"] = plots.category_curves(poly, "Category curves of flagged items")
    return out


def _week_labels(trend: pd.DataFrame) -> list[str]:
    # categorical: one week draws as one point, not a year of axis
    return [f"{w:%m-%d}" for w in trend["week_start"]]


def _trend_chart(trend: pd.DataFrame) -> bytes:
    return plots.line_chart(
        trend.assign(
            week=_week_labels(trend),
            accuracy=100 * trend["accuracy"].astype(float),
            first_attempt_accuracy=100 * trend["first_attempt_accuracy"].astype(float),
        ),
        "week",
        ["accuracy", "first_attempt_accuracy"],
        "Accuracy per week",
        "% correct",
        ylim=(0, 100),
    )


def kpi_table(trend: pd.DataFrame) -> pd.DataFrame:
    """The KPI trend as a reader wants it: shares as percentages, minutes and days rounded."""
    if trend.empty:
        return trend
    return pd.DataFrame(
        {
            "week": [f"{w:%Y-%m-%d}" for w in trend["week_start"]],
            "active students": trend["students"],
            "answers": trend["attempts"],
            "accuracy": [teacher._pct(v) for v in trend["accuracy"]],
            "first-attempt accuracy": [teacher._pct(v) for v in trend["first_attempt_accuracy"]],
            "active days per student": trend["active_days"].astype(float).round(1),
            "minutes on task per student": trend["time_on_task_min"].astype(float).round(0),
        }
    )


def kpi_trend_markdown(wh: Warehouse, week_start: dt.date) -> str | None:
    """The accuracy trend up to ``week_start`` as a Markdown image (None: no KPI rows)."""
    trend = kpi_trend(wh, week_start)
    return plots.markdown_image(_trend_chart(trend), "KPI trend") if len(trend) else None


def _flagged_items(report: WeeklyReport) -> list[str]:
    drifted = report.drift.index[report.drift["drifted"].astype(bool)] if len(report.drift) else []
    misfits = report.misfit.index[report.misfit["misfit"].astype(bool)] if len(report.misfit) else []
    return [i for i in dict.fromkeys([*drifted, *misfits]) if i in report.items.index]


# -- render -------------------------------------------------------------------------------


def _sections(report: WeeklyReport) -> list[tuple[str, list[tuple[str, pd.DataFrame | str]], list[str]]]:
    """(section, [(caption, table or text)], [figure names]) in report order: the one outline
    that both renderings follow."""
    cal = report.calibration
    spec = (cal or {}).get("model_spec") or {}
    calibration_text = (
        f"Current calibration {cal['calibration_id']} ({cal['backend']}) fitted {cal['at']:%Y-%m-%d %H:%M} UTC; "
        f"linking constants {tables.linking_text(spec.get('linking_constants'))}; converged: {spec.get('converged')}."
        if cal
        else "No calibration yet."
    )
    misfits = report.misfit[report.misfit["misfit"].astype(bool)] if len(report.misfit) else report.misfit
    drifted = report.drift[report.drift["drifted"].astype(bool)] if len(report.drift) else report.drift
    return [
        (
            "At-risk students",
            [
                (
                    "Per course (Moodle course; the assessment topic answered most where there is none), "
                    "highest risk first",
                    report.at_risk,
                ),
                ("How good is this list", report.risk_text),
                ("Held-out measures of the alerts", report.risk_quality),
            ],
            [],
        ),
        ("Interventions this week", [("Recommendations made this week", report.interventions)], []),
        ("KPI trends", [("Platform KPIs per week", kpi_table(report.kpi_trend))], ["KPI trends", "Active students"]),
        (
            "Students by state",
            [
                ("State of each student at the end of the week", report.states),
                ("State changes this week", report.transitions),
            ],
            ["Students by state"],
        ),
        ("Inactivity alerts", [("Alerts raised this week", report.inactivity)], []),
        (
            "Abilities",
            [
                ("Abilities from the week's answers", _describe(report.week_abilities, ["theta"])),
                (
                    "Growth (students who answered this week and the previous)",
                    _describe(report.growth, ["theta_before", "theta_after", "growth"]),
                ),
            ],
            ["Abilities", "Ability growth", "Wright map"],
        ),
        (
            "Item health",
            [
                ("Calibration", calibration_text),
                (
                    f"Drifted anchors ({len(drifted)} of {len(report.drift)})",
                    drifted.round(3).reset_index(names="item_id"),
                ),
                (
                    f"Misfitting items this week ({len(misfits)} of {len(report.misfit)} answered; infit outside "
                    f"{health.MISFIT_RANGE}, n >= {health.MISFIT_MIN_RESPONSES})",
                    misfits.round(3).reset_index(names="item_id"),
                ),
            ],
            ["Anchor drift", "Flagged items"],
        ),
        (
            OPERATIONS,
            [
                ("Quarantined source rows (rejected_events)", report.rejects),
                ("Heartbeat runs", tables.heartbeat_summary(report.heartbeats)),
                ("Intervention errors", report.intervention_errors),
            ],
            [],
        ),
    ]


def _describe(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame()
    return frame[columns].astype(float).describe().T.round(3).reset_index(names="value")


def render_html(report: WeeklyReport, figs: dict[str, bytes] | None = None) -> str:
    """One self-contained HTML page: inline CSS, plots as base64 PNGs."""
    figs = figures(report) if figs is None else figs
    body = [
        f"<h1>{html.escape(report.title)}</h1>",
        f"<p class=meta>Generated {report.generated_at:%Y-%m-%d %H:%M} UTC.</p>",
    ]
    if report.partial:
        body.append(
            f"<p class=partial>Partial week: data up to {report.generated_at:%Y-%m-%d %H:%M} UTC; "
            "the numbers will change until the week ends.</p>"
        )
    body.append(_html_numbers(report.numbers()))
    operators = False
    for section, parts, fig_names in _sections(report):
        if section in OPERATOR_SECTIONS and not operators:
            operators = True
            body.append("<hr><p class=part>For operators</p>")
        body.append(f"<section><h2>{html.escape(section)}</h2>")
        for caption, content in parts:
            body.append(f"<h3>{html.escape(caption)}</h3>")
            if isinstance(content, str):
                body.append(f"<p>{html.escape(content)}</p>")
            elif content.empty:
                body.append("<p class=empty>No rows.</p>")
            else:
                rows = content if section == "At-risk students" else content.head(50)
                body.append(f"<div class=scroll>{rows.to_html(index=False, border=0, na_rep='')}</div>")
        for name in fig_names:
            if name in figs:
                body.append(
                    f'<figure><img alt="{html.escape(name)}" src="{plots.png_base64(figs[name])}">'
                    f"<figcaption>{html.escape(name)}</figcaption></figure>"
                )
        body.append("</section>")
    return _PAGE.format(title=html.escape(report.title), body="\n".join(body))


#: Headline numbers that are shares: shown as percentages on the page.
PERCENT_NUMBERS = {"accuracy"}


def _html_numbers(numbers: dict) -> str:
    def shown(k, v):
        return f"{v:.0%}" if k in PERCENT_NUMBERS and isinstance(v, float) else str(v)

    cells = "".join(
        f"<div><b>{html.escape(shown(k, v))}</b><span>{html.escape(k.replace('_', ' '))}</span></div>"
        for k, v in numbers.items()
    )
    return f"<div class=numbers>{cells}</div>"


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: sans-serif; margin: 1em auto; padding: 0 .8em; max-width: 960px; color: #222; }}
h1 {{ font-size: 1.4em; }}
.scroll {{ overflow-x: auto; -webkit-overflow-scrolling: touch; }}
.partial {{ background: #fff3cd; border: 1px solid #e0c060; padding: 6px 10px; border-radius: 4px; }}
.part {{ color: #666; text-transform: uppercase; letter-spacing: .05em; font-size: 12px; }}
table {{ border-collapse: collapse; margin: .5em 0; font-size: 13px; }}
th, td {{ padding: 3px 8px; border-bottom: 1px solid #ddd; text-align: right; }}
td {{ vertical-align: top; }}
@media (max-width: 600px) {{ table {{ font-size: 12px; }} th, td {{ padding: 2px 4px; }} }}
.numbers {{ display: flex; flex-wrap: wrap; gap: 8px; }}
.numbers div {{ border: 1px solid #ccc; border-radius: 4px; padding: 6px 10px; }}
.numbers b {{ display: block; font-size: 18px; }}
.numbers span, .meta, .empty, figcaption {{ color: #666; font-size: 12px; }}
img {{ max-width: 100%; }}
</style></head>
<body>
{body}
</body></html>
"""


def render_markdown(report: WeeklyReport) -> str:
    """A short summary: headline numbers, then each section's tables (no images)."""
    lines = [f"**{report.title}**", "", "| number | value |", "|---|---|"]
    lines += [f"| {k.replace('_', ' ')} | {v} |" for k, v in report.numbers().items()]
    for section, parts, _ in _sections(report):
        lines += ["", f"### {section}"]
        for caption, content in parts:
            lines += ["", f"_{caption}_", ""]
            if isinstance(content, str):
                lines.append(content)
            elif content.empty:
                lines.append("no rows")
            else:
                lines.append(content.head(10).to_markdown(index=False))
    return "\n".join(lines)


def report_path(folder: Path, week_start: dt.date) -> Path:
    return Path(folder) / f"weekly-report-{week_start:%Y-%m-%d}.html"


def write_html(page: str, folder: Path, week_start: dt.date) -> Path:
    """Write the page to ``folder`` (created if needed), replacing an earlier one of the week."""
    path = report_path(folder, week_start)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path


# -- one week, end to end --------------------------------------------------------------------


@dataclass
class WrittenReport:
    """A week's report as stored: what it shows, its plots, the page, the warehouse table
    holding it (one row per week) and the file written besides, if any."""

    report: WeeklyReport
    figures: dict[str, bytes]
    page: str
    table: str
    stored_bytes: int
    path: Path | None = None

    @property
    def inlined_images(self) -> int:
        return _inlined_images(self.page)

    @property
    def external_references(self) -> int:
        return _external_references(self.page)

    @property
    def self_contained(self) -> bool:
        """The page is stored whole, every plot is inlined and nothing is fetched from elsewhere."""
        stored = self.stored_bytes == len(self.page.encode()) and (self.path is None or self.path.exists())
        return stored and self.inlined_images == len(self.figures) and self.external_references == 0


def store_week(wh: Warehouse, report: WeeklyReport, page: str, run_id: str | None) -> int:
    """Put the week's report into ``weekly_reports`` (replacing an earlier one of the week);
    returns the bytes stored, read back."""
    row = pd.DataFrame(
        [
            {
                "week_start": report.week_start,
                "title": report.title[:128],
                "html": page,
                "summary_md": render_markdown(report),
                "numbers": {k: (v.item() if isinstance(v, np.generic) else v) for k, v in report.numbers().items()},
                "size_bytes": len(page.encode()),
                "run_id": run_id,
                "generated_at": report.generated_at,
            }
        ]
    )
    wh.replace("weekly_reports", row, {"week_start": report.week_start})
    t = wh.table("weekly_reports")
    stored = wh.scalar(sa.select(t.c.html).where(t.c.week_start == report.week_start))
    return len(stored.encode()) if stored == page else 0


def _inlined_images(page: str) -> int:
    return page.count('src="data:image/png;base64,')


def _external_references(page: str) -> int:
    return page.count('src="http') + page.count('href="http')


def inspect_stored(wh: Warehouse, week_start: dt.date) -> dict[str, int | bool | str]:
    """A stored report read back from ``weekly_reports``: whether the week has one, its images,
    how many are inlined and how many references point elsewhere (self-contained: every image
    inlined, none outside)."""
    t = wh.table("weekly_reports")
    page = wh.scalar(sa.select(t.c.html).where(t.c.week_start == week_start)) or ""
    images, inlined, external = page.count("<img"), _inlined_images(page), _external_references(page)
    return {
        "week": week_start.isoformat(),
        "exists": bool(page),
        "images": images,
        "inlined_images": inlined,
        "external_references": external,
        "self_contained": bool(page) and images == inlined and external == 0,
    }


def write_week(
    wh: Warehouse,
    week_start: dt.date,
    now: dt.datetime,
    folder: Path | None,
    run_id: str | None = None,
    names: pd.DataFrame | None = None,
) -> WrittenReport:
    """Gather, plot, render and store the report of one week: in the warehouse always, as a
    file in ``folder`` too when one is given."""
    report = gather(wh, week_start, now, names)
    figs = figures(report)
    page = render_html(report, figs)
    stored = store_week(wh, report, page, run_id)
    path = write_html(page, folder, week_start) if folder is not None else None
    return WrittenReport(report, figs, page, wh.table("weekly_reports").name, stored, path)
