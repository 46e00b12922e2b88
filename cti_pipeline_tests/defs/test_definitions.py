import dagster as dg


def test_every_asset_is_described_grouped_and_kinded(defs: dg.Definitions):
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.is_external:
            continue
        assert node.description, f"{key} has no description"
        assert node.group_name and node.group_name != "default", f"{key} has no group"
        assert node.kinds, f"{key} has no kinds"


def test_warehouse_writers_share_the_duckdb_pool(defs: dg.Definitions):
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.is_external or "duckdb" not in node.kinds:
            continue
        assert node.pools == {"duckdb"}, f"{key} writes the warehouse outside the duckdb pool"
