"""The heartbeat end to end on a demo platform: sources -> events -> state, through Dagster."""

import dagster as dg
import sqlalchemy as sa

from alt42_pipeline.defs import spine as ingest
from alt42_pipeline.defs import state
from alt42_pipeline.demo import DemoConfig, generate
from alt42_pipeline.demo.write import write_assessment, write_moodle
from alt42_pipeline.warehouse import Warehouse
from alt42_pipeline_tests.conftest import make_resources


def test_heartbeat_on_the_demo_platform(tmp_path):
    cfg = DemoConfig(students=80, days=10, seed=5)  # activity up to yesterday
    platform = generate(cfg)
    asmt, mdl, wh_url = (f"sqlite:///{tmp_path / n}" for n in ("a.db", "m.db", "w.db"))
    write_assessment(platform, sa.create_engine(asmt))
    write_moodle(platform, sa.create_engine(mdl))
    resources = make_resources(wh_url, asmt, mdl)
    assets = [ingest.questions, ingest.events, state.student_state]
    with dg.DagsterInstance.ephemeral() as instance:
        assert dg.materialize(assets, selection=[ingest.questions], resources=resources, instance=instance).success
        tags = {
            "dagster/asset_partition_range_start": cfg.first_day.isoformat(),
            "dagster/asset_partition_range_end": cfg.last_day.isoformat(),
        }
        assert dg.materialize(
            assets, selection=[ingest.events], resources=resources, instance=instance, tags=tags
        ).success
        result = dg.materialize(
            assets, selection=list(state.student_state.keys), resources=resources, instance=instance
        )
        assert result.success
    wh = Warehouse(wh_url)
    beats = wh.read("heartbeat_log")
    assert len(beats) == 1 and bool(beats.success.iloc[0])
    users = wh.read("events", columns=["user_id"]).user_id.nunique()
    assert int(beats.students_processed.iloc[0]) + int(beats.errors.iloc[0]) == users
    cache = wh.read("student_state_cache")
    assert len(cache) == users
    assert set(cache.state) <= {"active", "idle", "inactive", "at_risk"}
    # students of the 'steady' pattern were active yesterday, dropped-out ones were not
    steady = set(platform.students.user_id[platform.students.pattern == "steady"])
    assert (cache[cache.user_id.isin(steady)].state != "inactive").mean() > 0.8
    assert wh.count("event_processing_log") == wh.count("events")
    # a second heartbeat consumes nothing new and changes no state
    with dg.DagsterInstance.ephemeral() as instance:
        assert dg.materialize(
            assets, selection=list(state.student_state.keys), resources=resources, instance=instance
        ).success
    beats = wh.read("heartbeat_log").sort_values("timestamp")
    assert len(beats) == 2 and int(beats.events_consumed.iloc[-1]) == 0 and int(beats.state_changes.iloc[-1]) == 0
