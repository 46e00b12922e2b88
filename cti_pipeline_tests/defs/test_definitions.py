import re

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


def outside_code_spans(text: str) -> str:
    return re.sub(r"`[^`]*`", "", text)


def test_descriptions_render_as_written_and_everything_has_an_owner(defs: dg.Definitions):
    """Markdown would swallow `<anio>` as an HTML tag ("reportado_.csv"): placeholders are written `{anio}` or in code."""
    graph = defs.resolve_asset_graph()
    texts = {f"asset {key.to_user_string()}": graph.get(key).description for key in graph.get_all_asset_keys()}
    for key in graph.get_all_asset_keys():
        assert graph.get(key).owners == ["team:apci"], key
    for check in graph.asset_check_keys:
        texts[f"check {check.name}"] = graph.get_check_spec(check).description
    texts |= {f"job {job.name}": job.description for job in defs.jobs}
    texts |= {f"sensor {sensor.name}": sensor.description for sensor in defs.sensors}
    texts |= {f"schedule {schedule.name}": schedule.description for schedule in defs.schedules}
    for name, text in texts.items():
        assert text, f"{name} has no description"
        assert not re.search(r"<[A-Za-z_][^>]*>", outside_code_spans(text)), f"{name}: {text}"
