"""The demo's real-world cases (about 1 % of the rows: repeated ids, timeless attempts,
impossible response times, regrades, partial credit, negative marks, give-ups, previews,
a teacher, too-long actions, Moodle 4.x): the warehouse holds exactly what the generator's
truth says, and every day balances."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from alt42_pipeline.demo import DemoConfig, generate
from alt42_pipeline.demo.write import write_assessment, write_moodle
from alt42_pipeline.sources import Sources
from alt42_pipeline.spine import ingest_day, refresh_catalogue
from alt42_pipeline.spine.accounting import accounted
from alt42_pipeline.warehouse import Warehouse, make_engine

CFG = DemoConfig(students=120, days=6, end_date=dt.date(2026, 3, 6), seed=7, real_world_share=0.01, moodle_version=4)
NOW = dt.datetime(2026, 3, 7, 2, 10)


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    platform = generate(CFG)
    folder = tmp_path_factory.mktemp("real_world")
    asmt, mdl = make_engine(f"sqlite:///{folder / 'a.db'}"), make_engine(f"sqlite:///{folder / 'm.db'}")
    write_assessment(platform, asmt)
    write_moodle(platform, mdl)
    wh = Warehouse(f"sqlite:///{folder / 'wh.db'}")
    sources = Sources(asmt, mdl, "mdl_")
    refresh_catalogue(wh, sources, NOW)
    results, day = [], CFG.first_day
    while day <= CFG.last_day:
        results.append(ingest_day(wh, sources, day, NOW))
        day += dt.timedelta(days=1)
    yield platform.real_world, results, wh
    wh.engine.dispose()
    asmt.dispose()
    mdl.dispose()


def _total(results, source: str, kind: str) -> int:
    return sum(r.accounting.get(source, {}).get(kind, 0) for r in results)


def test_every_day_balances_and_the_totals_are_the_truth(ingested):
    truth, results, wh = ingested
    for r in results:
        for source, kinds in r.accounting.items():
            assert accounted(kinds) == kinds["read"], (r.day, source, kinds)
    assert _total(results, "assessment", "read") == truth["assessment_read"]
    assert _total(results, "assessment", "events") == truth["assessment_events"]
    assert _total(results, "moodle", "read") == truth["moodle_read"]
    assert _total(results, "moodle", "events") == truth["moodle_events"]
    assert _total(results, "moodle", "updated") == truth["moodle_updated"] > 0
    assert {k: _total(results, "moodle", f"apart:{k}") for k in truth["apart"]} == truth["apart"]
    assert [r.without_time.get("assessment") for r in results] == [truth["without_time"]] * len(results)
    notes = Counter()
    for r in results:
        for kinds in r.accounting.values():
            notes.update({k[5:]: n for k, n in kinds.items() if k.startswith("note:")})
    assert dict(notes) == truth["notes"]


def test_the_warehouse_holds_the_truth(ingested):
    truth, _, wh = ingested
    assert wh.read("rejected_events")["reason"].value_counts().to_dict() == truth["rejects"]
    events = wh.read("events").set_index("event_id")
    assert len(events) == truth["assessment_events"] + truth["moodle_events"]
    assert "9001" not in set(events["user_id"].astype(str))  # the teacher is no student
    regraded = events.loc[truth["regraded"]]
    assert regraded["success"].astype(bool).all() and (regraded["score"] == 1.0).all()
    for event_id, (score, raw) in truth["scores"].items():
        assert (events.loc[event_id, "score"], events.loc[event_id, "raw_score"]) == pytest.approx((score, raw))
    problems = wh.read("catalogue_problems")
    assert dict(zip(problems["question_id"], problems["problem"])) == truth["catalogue_problems"]
    assert set(wh.read("questions")["topic_id"].dropna().str.startswith(("mdl-cat:", "topic-"))) == {True}
