"""Every asset has a check of its own, every check says what it checks, and every warehouse
asset carries the metadata Dagster users expect (its table and columns)."""

import dagster as dg

from alt42_pipeline import definitions

defs = definitions.defs()
GRAPH = defs.resolve_asset_graph()
#: Assets that are not a warehouse table (the weekly report is one too: its pages are rows of weekly_reports).
NOT_A_TABLE: set[str] = set()


def test_every_asset_has_a_check_of_its_own():
    checked = {k.asset_key for k in GRAPH.asset_check_keys}
    unchecked = sorted(k.to_user_string() for k in set(GRAPH.materializable_asset_keys) - checked)
    assert not unchecked, f"assets with no asset check of their own: {unchecked}"


def test_every_check_has_a_description():
    undescribed = sorted(str(k) for k in GRAPH.asset_check_keys if not GRAPH.get_check_spec(k).description)
    assert not undescribed, undescribed


def test_every_warehouse_asset_names_its_table_and_columns():
    for key in GRAPH.materializable_asset_keys:
        if key.to_user_string() in NOT_A_TABLE:
            continue
        metadata = GRAPH.get(key).metadata
        assert metadata.get("dagster/table_name"), key
        schema = metadata.get("dagster/column_schema")
        schema = schema.schema if isinstance(schema, dg.TableSchemaMetadataValue) else schema
        assert isinstance(schema, dg.TableSchema) and schema.columns, key


def test_table_names_carry_the_table_prefix(monkeypatch):
    from alt42_pipeline import settings
    from alt42_pipeline.defs.shared import table_metadata

    monkeypatch.setenv("ALT42_TABLE_PREFIX", "mdl_alt42_")
    settings.load.cache_clear()
    metadata = table_metadata("events")
    assert metadata["dagster/table_name"] == "mdl_alt42_events"
    columns = {c.name: c for c in metadata["dagster/column_schema"].columns}
    assert columns["event_id"].constraints.unique and not columns["event_id"].constraints.nullable
    assert columns["occurred_at"].type == "datetime"
