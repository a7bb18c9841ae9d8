"""What the web UI shows of every asset: description, owners, kinds, a domain group, checks."""

from alt42_pipeline.definitions import defs

GROUPS = {"ingest", "features", "irt", "state", "interventions", "reports"}


def test_every_asset_is_described_owned_kinded_and_grouped():
    graph = defs.resolve_asset_graph()
    problems = []
    for key in graph.materializable_asset_keys:
        node = graph.get(key)
        missing = [name for name, value in [("description", node.description), ("owners", node.owners), ("kinds", node.kinds)] if not value]
        if node.group_name not in GROUPS:
            missing.append(f"group ({node.group_name!r} is not a domain)")
        if missing:
            problems.append(f"{key.to_user_string()}: {', '.join(missing)}")
    assert not problems, problems


def test_every_asset_has_a_check_besides_freshness():
    graph = defs.resolve_asset_graph()
    checked = {k.asset_key for k in graph.asset_check_keys if k.name != "freshness_check"}
    unchecked = sorted(k.to_user_string() for k in set(graph.materializable_asset_keys) - checked)
    assert not unchecked, f"assets with no asset check of their own: {unchecked}"
