"""Every asset has a check of its own, not only the freshness check every asset gets."""

from alt42_pipeline import definitions

defs = definitions.defs()


def test_every_asset_has_a_check_besides_freshness():
    graph = defs.resolve_asset_graph()
    checked = {k.asset_key for k in graph.asset_check_keys if k.name != "freshness_check"}
    unchecked = sorted(k.to_user_string() for k in set(graph.materializable_asset_keys) - checked)
    assert not unchecked, f"assets with no asset check of their own: {unchecked}"
