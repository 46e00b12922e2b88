"""The publication assets in Dagster: lineage, real materialisations, the sensor, and the CLI end to end."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest
import sqlalchemy as sa

from cti_pipeline.defs.publishing import (
    BI_COPY,
    MARTS,
    POSTGRES,
    bi_marts_duckdb,
    publicacion_tras_ejecucion,
    publish_postgres,
)
from cti_pipeline.defs.resources import CtiConfig, WarehouseResource
from cti_pipeline.settings import Settings
from cti_pipeline_tests.publishing.conftest import MART_COLUMNS, write_marts


def test_without_a_sql_database_there_is_no_asset_for_it(defs: dg.Definitions):
    graph = defs.resolve_asset_graph()
    assert graph.has(BI_COPY) and not graph.has(POSTGRES)  # nothing in the UI that could never be materialised
    publication_keys = defs.resolve_job_def("publicacion_job").asset_layer.asset_graph.get_all_asset_keys()
    assert BI_COPY in publication_keys and POSTGRES not in publication_keys


def test_the_yearly_job_publishes_after_its_marts(data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    from cti_pipeline.definitions import defs as load_defs

    monkeypatch.setenv("CTI_PUBLISH_URL", "postgresql+psycopg://cti@localhost/cti_bi")
    defs = load_defs()
    graph = defs.resolve_asset_graph()
    assert set(graph.get(BI_COPY).parent_keys) == set(MARTS)
    assert graph.get(POSTGRES).parent_keys == {BI_COPY}
    for key in (BI_COPY, POSTGRES):
        assert graph.get(key).group_name == "publicacion"
        assert graph.get(key).partitions_def is None  # republishes the whole marts schema, in any run
    job_keys = defs.resolve_job_def("pncti_anual_job").asset_layer.asset_graph.get_all_asset_keys()
    assert {BI_COPY, POSTGRES} <= set(job_keys)
    publication_keys = defs.resolve_job_def("publicacion_job").asset_layer.asset_graph.get_all_asset_keys()
    assert {k for k in publication_keys if not graph.get(k).is_external} >= {BI_COPY, POSTGRES}


def materializations(result: dg.ExecuteInProcessResult) -> dict[dg.AssetKey, dg.AssetMaterialization]:
    return {e.asset_key: e.event_specific_data.materialization for e in result.get_asset_materialization_events()}


def _resources(settings: Settings, publish_url: str | None) -> dict:
    return {
        "cti": CtiConfig(data_dir=str(settings.data_dir), pii_salt=settings.pii_salt, publish_url=publish_url),
        "warehouse": WarehouseResource(database=str(settings.warehouse)),
    }


@pytest.mark.slow
def test_materialising_publishes_the_copy_and_postgres(settings: Settings, postgres_url: str, pg_engine: sa.Engine):
    written = write_marts(settings.warehouse)
    result = dg.materialize([bi_marts_duckdb, publish_postgres], resources=_resources(settings, postgres_url),
                            instance=dg.DagsterInstance.get())
    assert result.success
    total = sum(len(frame) for frame in written.values())
    materialized = materializations(result)
    for key in (BI_COPY, POSTGRES):
        assert materialized[key].metadata["dagster/row_count"].value == total
    assert materialized[POSTGRES].metadata["destino"].value == sa.engine.make_url(postgres_url).render_as_string(hide_password=True)
    with duckdb.connect(str(settings.paths.bi_copy), read_only=True) as bi, pg_engine.connect() as pg:
        for table, frame in written.items():
            assert bi.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == len(frame)
            assert pg.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() == len(frame)


@dg.asset(key=["marts", "gpedc_completitud"], group_name="gpedc")
def stand_in_gpedc_mart() -> None:
    """Stands for the GPEDC mart of another job (the sensor only looks at which keys a run materialised)."""


def _success_context(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult) -> dg.RunStatusSensorContext:
    success = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS)[0].dagster_event
    run = instance.get_run_by_id(result.run_id)
    return dg.build_run_status_sensor_context(
        sensor_name="publicacion_tras_ejecucion", dagster_event=success, dagster_instance=instance, dagster_run=run
    )


@pytest.mark.slow
def test_the_sensor_publishes_after_a_run_that_changed_marts_unpublished(settings: Settings):
    instance = dg.DagsterInstance.get()
    write_marts(settings.warehouse)
    resources = _resources(settings, None)

    unpublished = dg.materialize([stand_in_gpedc_mart], instance=instance)
    request = publicacion_tras_ejecucion(_success_context(instance, unpublished))
    assert isinstance(request, dg.RunRequest)
    assert request.run_key == f"publicacion-{unpublished.run_id}"

    published = dg.materialize([stand_in_gpedc_mart, bi_marts_duckdb], resources=resources, instance=instance)
    assert isinstance(publicacion_tras_ejecucion(_success_context(instance, published)), dg.SkipReason)

    no_marts = dg.materialize([bi_marts_duckdb], resources=resources, instance=instance)
    assert isinstance(publicacion_tras_ejecucion(_success_context(instance, no_marts)), dg.SkipReason)


@pytest.mark.slow
def test_cli_materialize_publishes_every_mart_to_bi_and_postgres(data_dir: Path, postgres_url: str, pg_engine: sa.Engine,
                                                                 monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    from cti_pipeline import cli
    from cti_pipeline.sample import write_sample_data

    write_sample_data(data_dir, [2024], 60, 2030)
    monkeypatch.setenv("CTI_PUBLISH_URL", postgres_url)
    code = cli.main(["materialize"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "publicacion_job: OK" in out  # the GPEDC run changed marts; the CLI published them after it

    settings = Settings.from_env()
    with duckdb.connect(str(settings.warehouse), read_only=True) as live:
        marts = [t for (t,) in live.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables WHERE table_schema = 'marts' ORDER BY 1"
        ).fetchall()]
        assert set(MART_COLUMNS) <= set(marts)
        live_rows = {t: sorted(map(repr, live.execute(f"SELECT * FROM {t}").fetchall())) for t in marts}
        live_sums = {t: live.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in marts}
    with duckdb.connect(str(settings.paths.bi_copy), read_only=True) as bi:
        for table in marts:
            assert sorted(map(repr, bi.execute(f"SELECT * FROM {table}").fetchall())) == live_rows[table], table
    with pg_engine.connect() as pg:
        for table in marts:
            assert pg.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() == live_sums[table], table
        pg_total = pg.execute(sa.text("SELECT round(sum(monto_usd), 2) FROM marts.cti_ejecucion")).scalar()
    with duckdb.connect(str(settings.paths.bi_copy), read_only=True) as bi:
        bi_total = bi.execute("SELECT round(sum(monto_usd)::DECIMAL(38, 6), 2) FROM marts.cti_ejecucion").fetchone()[0]
    assert float(pg_total) == pytest.approx(float(bi_total), abs=0.011)
