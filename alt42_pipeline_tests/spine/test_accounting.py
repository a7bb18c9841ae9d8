"""Every source row accounted for: the invariant, its blocking check, and no row raising out
of canonicalisation."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from alt42_pipeline.defs.spine import events, questions
from alt42_pipeline.spine import accounting_problems
from alt42_pipeline.spine import events as ev
from alt42_pipeline.warehouse import Warehouse
from alt42_pipeline_tests.conftest import make_resources

DAY = dt.date(2026, 3, 4)
WINDOW = (dt.datetime(2026, 3, 4), dt.datetime(2026, 3, 5))


def _book(day, source, **kinds):
    return pd.DataFrame([{"event_date": day, "source": source, "kind": k, "rows": n} for k, n in kinds.items()])


def test_the_invariant_names_what_does_not_balance():
    ok = _book(DAY, "moodle", read=10, events=6, rejected=1, updated=1, **{"apart:non_student": 2})
    assert accounting_problems(ok, {(DAY, "moodle"): 1}, [DAY]) == []
    lost = _book(DAY, "moodle", read=10, events=6, rejected=1, updated=0)
    assert "DOES NOT BALANCE" in accounting_problems(lost, {(DAY, "moodle"): 1}, [DAY])[0]
    assert "2 stored" in accounting_problems(ok, {(DAY, "moodle"): 2}, [DAY])[0]
    assert "no accounting" in accounting_problems(ok, {}, [DAY + dt.timedelta(days=1)])[0]


def test_a_row_that_breaks_the_mapping_becomes_a_reject_and_the_others_stay_events():
    raw = pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "user_id": [7, 666, 7, 7],
            "question_id": [11, 11, 11, 11],
            "correct": [1, 0, 1, 0],
            "answered_at": ["2026-03-04 10:00:00"] * 4,
            "response_time_ms": [1000] * 4,
        }
    )

    def fragile(rows: pd.DataFrame) -> pd.DataFrame:
        if (rows["user_id"] == 666).any():
            raise RuntimeError("a value nobody foresaw")
        return ev.map_assessment(rows, pd.Series({"11": "t"}))

    out = ev.canonicalize_safely(
        fragile, raw, source="assessment", known_questions={"11"}, window=WINDOW, now=dt.datetime(2026, 3, 5)
    )
    assert sorted(out.events.event_id) == ["asmt:1", "asmt:3", "asmt:4"]
    (reject,) = out.rejected.itertuples(index=False)
    assert reject.reason == "unexpected_value" and "nobody foresaw" in reject.detail
    assert '"user_id": 666' in reject.raw
    assert out.rows == len(raw)


def test_the_blocking_check_passes_on_every_ingested_day_and_fails_when_rows_go_missing(sqlite_url, demo_sources):
    resources = make_resources(sqlite_url, *demo_sources)
    with dg.DagsterInstance.ephemeral() as instance:
        assert dg.materialize(
            [questions, events], selection=[questions], resources=resources, instance=instance
        ).success
        result = dg.materialize(
            [questions, events],
            selection=[events],
            resources=resources,
            instance=instance,
            partition_key=DAY.isoformat(),
        )
        (check,) = [c for c in result.get_asset_check_evaluations() if c.check_name == "events_accounting"]
        assert check.passed
        md = result.asset_materializations_for_node("events")[0].metadata
        assert " read = " in md["accounting"].value
        # a reject that the accounting does not know of (written behind the pipeline's back)
        wh = Warehouse(sqlite_url)
        wh.append(
            "rejected_events",
            pd.DataFrame(
                [{"event_date": DAY, "source": "moodle", "reason": "x", "rejected_at": dt.datetime(2026, 3, 5)}]
            ),
        )
        alone = dg.materialize(
            [questions, events],
            selection=dg.AssetSelection.checks(dg.AssetCheckKey(dg.AssetKey("events"), "events_accounting")),
            resources=resources,
            instance=instance,
            raise_on_error=False,
        )
        (check,) = alone.get_asset_check_evaluations()
        assert not check.passed and "1 stored" in check.metadata["first_problems"].value
        assert wh.count("ingest_accounting", sa.true()) > 0
        wh.engine.dispose()
