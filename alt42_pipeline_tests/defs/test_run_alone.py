"""Finding 2: every asset and every check the UI offers runs alone.

On a small demo instance, every asset is materialized on its own, in dependency order
(an asset of a multi-asset that cannot be split is materialized with its siblings: that is
the only combination the UI offers for it), and then every check is executed alone.
"""

from __future__ import annotations

import dagster as dg
import pytest

from alt42_pipeline import definitions
from alt42_pipeline_tests.conftest import SMALL_DEMO, make_resources

DEFS = definitions.defs()
GRAPH = DEFS.resolve_asset_graph()
#: Run configuration where the defaults do not fit a 5-day, 60-student demo (two items get
#: enough answers: the 2PL is not identified on two items, the Rasch model is).
CONFIG = {
    "irt_calibration": {
        "config": {"as_of": SMALL_DEMO.last_day.isoformat(), "min_item_responses": 5, "model": "rasch"}
    },
    "mirt_ability": {"config": {"as_of": SMALL_DEMO.last_day.isoformat()}},
}


def _partition(pdef: dg.TimeWindowPartitionsDefinition) -> str:
    """The demo's last day, or its week."""
    return SMALL_DEMO.last_day.isoformat() if pdef.cron_schedule == "0 0 * * *" else "2026-03-02"


def _run_config(assets_def: dg.AssetsDefinition) -> dict:
    name = assets_def.node_def.name
    return {"ops": {name: CONFIG[name]}} if name in CONFIG else {}


def _materializable() -> list[dg.AssetKey]:
    return [k for k in GRAPH.toposorted_asset_keys if GRAPH.get(k).is_materializable]


@pytest.fixture(scope="module")
def demo(tmp_path_factory, small_platform):
    from alt42_pipeline.demo.write import write_assessment, write_moodle
    from alt42_pipeline.warehouse import make_engine

    folder = tmp_path_factory.mktemp("run_alone")
    asmt, mdl, wh = (f"sqlite:///{folder / n}" for n in ("a.db", "m.db", "wh.db"))
    write_assessment(small_platform, make_engine(asmt))
    write_moodle(small_platform, make_engine(mdl))
    mp = pytest.MonkeyPatch()
    mp.setenv("ALT42_REPORT_DIR", str(folder / "reports"))
    resources = make_resources(wh, asmt, mdl)
    mp.undo()
    assets = [a for a in DEFS.assets if isinstance(a, dg.AssetsDefinition)] + list(DEFS.asset_checks or [])
    with dg.instance_for_test() as instance:
        yield assets, resources, instance


def _run(assets, **kwargs):
    try:
        return dg.materialize(assets, raise_on_error=False, **kwargs)
    except dg.DagsterError as exc:  # e.g. a selection the definitions cannot execute
        return exc


def _materialize_alone(demo, key: dg.AssetKey):
    assets, resources, instance = demo
    node = GRAPH.get(key)
    assets_def = node.assets_def
    if assets_def.can_subset:
        selection = dg.AssetSelection.assets(key)
    else:  # not offered alone: the UI materializes the multi-asset whole
        selection = dg.AssetSelection.assets(*assets_def.keys)
    return _run(
        assets,
        selection=selection,
        resources=resources,
        instance=instance,
        partition_key=_partition(node.partitions_def) if node.partitions_def else None,
        run_config=_run_config(assets_def),
    )


def test_every_asset_and_every_check_runs_alone(demo):
    assets, resources, instance = demo
    failed = []
    for key in _materializable():
        result = _materialize_alone(demo, key)
        if isinstance(result, Exception) or not result.success:
            failed.append(f"materialize {key.to_user_string()}: {str(result)[:200]}")
        elif key not in {e.asset_key for e in result.get_asset_materialization_events()}:
            failed.append(f"materialize {key.to_user_string()}: no materialization reported")
    for check_key in sorted(GRAPH.asset_check_keys, key=str):
        result = _run(assets, selection=dg.AssetSelection.checks(check_key), resources=resources, instance=instance)
        ok = not isinstance(result, Exception) and result.success
        evaluated = [e.check_name for e in result.get_asset_check_evaluations()] if ok else [str(result)[:200]]
        if evaluated != [check_key.name]:
            failed.append(f"execute {check_key.asset_key.to_user_string()}:{check_key.name} -> {evaluated}")
    assert not failed, failed


def test_a_multi_asset_not_offered_alone_is_one_that_writes_its_tables_together():
    """The only multi-assets that cannot be split are the ones whose tables one transaction writes."""
    whole = sorted(
        sorted(k.to_user_string() for k in a.keys)
        for a in DEFS.assets
        if isinstance(a, dg.AssetsDefinition) and len(a.keys) > 1 and not a.can_subset
    )
    assert whole == [
        ["event_processing_log", "heartbeat_log", "scenario_evaluation_log", "state_change_log", "student_state_cache"],
        ["mirt_fit_meta", "mirt_item_params"],
    ]
