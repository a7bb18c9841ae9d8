"""Every source row accounted for: the invariant of a day's ingest, per source.

    read = events + rejected + updated + sum(kept apart, by kind)

``read``: rows the readers returned for the day (Moodle: log rows, answers of quiz
attempts finished that day, and changed answers of earlier days); ``events``: canonical
events of the day; ``rejected``: rows in ``rejected_events`` filed under the day;
``updated``: events of earlier days replaced by their changed version (regrades, late
finishes); ``apart:<kind>``: rows kept apart on purpose (``non_student``, ``preview``).
Beside the invariant: ``without_time`` (source rows no day can read, e.g. an attempt with a
NULL or infinite ``answered_at``: counted on every run so none disappears silently),
``moved`` (Moodle answers written on another day before, now replaced where they belong)
and ``note:<reason>`` (values corrected, e.g. an implausible duration made NULL).

Pure: the rows are stored in ``ingest_accounting`` by ``flows.ingest_day``; the asset check
reads them back with :func:`accounting_problems`.
"""

from __future__ import annotations

import pandas as pd

from .events import Canonical

#: Kinds that sum to ``read``.
BALANCE = ("events", "rejected", "updated")


def accounting_rows(
    *, read: int, day_part: Canonical, updated: int = 0, without_time: int = 0, moved: int = 0
) -> dict[str, int]:
    """The accounting of one source for one day (kind -> rows)."""
    rows = {"read": read, "events": len(day_part.events), "rejected": len(day_part.rejected), "updated": updated}
    rows |= {f"apart:{k}": int(n) for k, n in sorted(day_part.apart.items()) if n}
    rows |= {f"note:{k}": int(n) for k, n in sorted(day_part.notes.items()) if n}
    if without_time:
        rows["without_time"] = without_time
    if moved:
        rows["moved"] = moved
    return rows


def accounted(kinds: dict[str, int]) -> int:
    """Rows accounted for: events + rejected + updated + kept apart."""
    return sum(kinds.get(k, 0) for k in BALANCE) + sum(n for k, n in kinds.items() if k.startswith("apart:"))


def accounting_text(source: str, kinds: dict[str, int]) -> str:
    """``assessment: 120 read = 117 events + 2 rejected + 1 kept apart (non_student 1)``."""
    apart = {k[6:]: n for k, n in kinds.items() if k.startswith("apart:")}
    text = (
        f"{source}: {kinds.get('read', 0)} read = {kinds.get('events', 0)} events + {kinds.get('rejected', 0)} rejected"
        f" + {kinds.get('updated', 0)} updated + {sum(apart.values())} kept apart"
    )
    if apart:
        text += " (" + ", ".join(f"{k} {n}" for k, n in sorted(apart.items())) + ")"
    if accounted(kinds) != kinds.get("read", 0):
        text += f"  [DOES NOT BALANCE: {accounted(kinds)} accounted]"
    if kinds.get("without_time"):
        text += f"; {kinds['without_time']} without a usable time (no day can read them)"
    return text


def accounting_problems(book: pd.DataFrame, stored_rejects: dict[tuple, int], days: list) -> list[str]:
    """What breaks the invariant on ``days``: a day without accounting, a source whose rows
    read are not all accounted for, rejects counted that are not the ones stored.

    ``book``: ``ingest_accounting`` rows; ``stored_rejects``: (event_date, source) -> rows
    in ``rejected_events``."""
    problems = []
    book = book.assign(event_date=pd.to_datetime(book["event_date"]).dt.date) if len(book) else book
    stored_rejects = {(pd.Timestamp(d).date(), s): n for (d, s), n in stored_rejects.items()}
    days = [pd.Timestamp(d).date() for d in days]
    for day in days:
        rows = book[book["event_date"] == day]
        if rows.empty:
            problems.append(f"{day}: no accounting recorded (ingested before it existed? materialize it again)")
            continue
        for source, part in rows.groupby("source"):
            kinds = dict(zip(part["kind"], part["rows"].astype(int)))
            if accounted(kinds) != kinds.get("read", 0):
                problems.append(f"{day} {accounting_text(source, kinds)}")
            stored = stored_rejects.get((day, source), 0)
            if stored != kinds.get("rejected", 0):
                problems.append(f"{day} {source}: {kinds.get('rejected', 0)} rejects counted, {stored} stored")
        for (d, source), n in stored_rejects.items():
            if d == day and n and source not in set(rows["source"]):
                problems.append(f"{day} {source}: {n} rejects stored for a source not accounted")
    return problems
