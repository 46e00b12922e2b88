"""Publication of the marts for BI: the read-only DuckDB copy, its Parquet files and, with CTI_PUBLISH_URL, PostgreSQL.

How "after every successful run" is wired (shared contract warehouse.md, "How BI connects"):
- both assets are in group `publicacion`, which `pncti_anual_job` selects: a yearly run publishes in the
  same run, after its marts (a failed mart skips them, so a failed run publishes nothing new). They are
  unpartitioned (they republish the whole `marts` schema), which Dagster 1.13 allows inside a
  partitioned run;
- runs that materialise a mart without publishing it (the GPEDC jobs, UI subsets) are followed by
  `publicacion_job`: the run-status sensor below requests it when the daemon runs, and
  `cti-pipeline materialize` runs it in-process (the CLI has no daemon).
"""

from pathlib import Path

import duckdb
import sqlalchemy as sa

import dagster as dg

from cti_pipeline.defs.metadata import markdown_table
from cti_pipeline.defs.resources import CtiConfig, WarehouseResource
from cti_pipeline.publishing import (
    BI_COPY_KEY,
    MART_NAMES,
    POSTGRES_KEY,
    needs_publication,
    publish_marts,
    redact_url,
)
from cti_pipeline.warehouse import publish_bi_copy, publish_parquet

BI_COPY = dg.AssetKey.from_user_string(BI_COPY_KEY)
POSTGRES = dg.AssetKey.from_user_string(POSTGRES_KEY)
MARTS = [dg.AssetKey(["marts", name]) for name in MART_NAMES]
GROUP = "publicacion"


@dg.asset(
    key=BI_COPY,
    deps=MARTS,
    group_name=GROUP,
    kinds={"duckdb", "parquet"},
    owners=["team:apci"],
    pool="duckdb",
    description="Copia del esquema marts en $CTI_DATA_DIR/warehouse/bi.duckdb (archivo temporal y renombrado "
    "atómico, en formato legible por DuckDB 1.0 o posterior) que Power BI, Metabase o Superset abren en solo "
    "lectura; nunca abren el almacén vivo. Los mismos marts, como archivos Parquet (uno por año en los marts "
    "anuales), en $CTI_DATA_DIR/warehouse/parquet/, reemplazados como un conjunto.",
)
def bi_marts_duckdb(context: dg.AssetExecutionContext, cti: CtiConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.get_connection() as conn:
        counts = publish_bi_copy(conn, cti.paths.bi_copy)
        files = publish_parquet(conn, cti.paths.bi_parquet)
    context.log.info(f"BI copy published to {cti.paths.bi_copy}: {len(counts)} tables, {sum(counts.values())} rows")
    context.log.info(f"Parquet published to {cti.paths.bi_parquet}: {sum(len(f) for f in files.values())} files")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(sum(counts.values())),
            "ruta": dg.MetadataValue.path(str(cti.paths.bi_copy)),
            "ruta_parquet": dg.MetadataValue.path(str(cti.paths.bi_parquet)),
            "tablas": dg.MetadataValue.md(markdown_table(_publication_frame(counts, files))),
        }
    )


@dg.asset(
    key=POSTGRES,
    deps=[BI_COPY],
    group_name=GROUP,
    kinds={"postgres"},
    owners=["team:apci"],
    description="Las tablas de marts publicadas en la base SQL de CTI_PUBLISH_URL (PostgreSQL), mismo esquema y "
    "nombres, una transacción por tabla y año. Solo existe cuando CTI_PUBLISH_URL está definida.",
)
def publish_postgres(context: dg.AssetExecutionContext, cti: CtiConfig):
    # Reads the BI copy, not the live warehouse: it holds no DuckDB lock while it talks to the network.
    if not cti.publish_url:
        raise dg.Failure("CTI_PUBLISH_URL is not set: there is no SQL database to publish the marts to")
    if not cti.paths.bi_copy.exists():
        raise dg.Failure(f"The BI copy {cti.paths.bi_copy} does not exist: materialise {BI_COPY_KEY} first")
    target = redact_url(cti.publish_url)
    engine = sa.create_engine(cti.publish_url, pool_pre_ping=True, **_connect_args(cti.publish_url))
    try:
        with duckdb.connect(str(cti.paths.bi_copy), read_only=True) as source:
            publications = publish_marts(source, engine)
    finally:
        engine.dispose()
    for publication in publications:
        years = ", ".join(f"{y}: {n}" if y is not None else f"{n}" for y, n in publication.rows_by_year.items())
        context.log.info(f"published {publication.table} to {target}: {publication.rows} rows ({years or 'empty'})")
    detail = [
        {
            "tabla": p.table,
            "filas": p.rows,
            "anios": ", ".join(str(y) for y in p.rows_by_year if y is not None) or "(tabla entera)",
            "anios_retirados": ", ".join(str(y) for y in p.removed_years),
            "segundos": round(p.seconds, 2),
        }
        for p in publications
    ]
    import pandas as pd

    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(sum(p.rows for p in publications)),
            "destino": target,
            "tablas": dg.MetadataValue.md(markdown_table(pd.DataFrame(detail, columns=["tabla", "filas", "anios", "anios_retirados", "segundos"]))),
        }
    )


def _connect_args(url: str) -> dict:
    if sa.engine.make_url(url).get_backend_name() == "postgresql":
        return {"connect_args": {"application_name": "cti_pipeline publish"}}
    return {}


def _publication_frame(counts: dict[str, int], files: dict[str, dict[str, int]]):
    """One row per mart: rows in bi.duckdb, rows and files in the Parquet set (and the years of its files)."""
    import pandas as pd

    def years(table: str) -> str:
        name = table.split(".", 1)[1]
        stems = [Path(file).stem for file in files.get(table, {})]
        return ", ".join(stem.removeprefix(f"{name}_") for stem in stems if stem != name)

    return pd.DataFrame(
        [
            {
                "tabla": table,
                "filas": rows,
                "filas_parquet": sum(files.get(table, {}).values()),
                "archivos_parquet": len(files.get(table, {})),
                "anios_parquet": years(table),
            }
            for table, rows in counts.items()
        ],
        columns=["tabla", "filas", "filas_parquet", "archivos_parquet", "anios_parquet"],
    )


publicacion_job = dg.define_asset_job(
    name="publicacion_job",
    selection=dg.AssetSelection.groups(GROUP),
    description="Publica los marts: copia bi.duckdb y, con CTI_PUBLISH_URL, la base PostgreSQL.",
)


def materialized_keys(instance: dg.DagsterInstance, run_id: str) -> set[str]:
    records = instance.get_records_for_run(run_id=run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION, limit=10_000)
    return {record.event_log_entry.dagster_event.asset_key.to_user_string() for record in records.records}


@dg.run_status_sensor(
    name="publicacion_tras_ejecucion",
    run_status=dg.DagsterRunStatus.SUCCESS,
    request_job=publicacion_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Tras una ejecución exitosa que materializó algún mart sin publicarlo (jobs GPEDC, selecciones "
    "parciales desde la UI), lanza publicacion_job.",
)
def publicacion_tras_ejecucion(context: dg.RunStatusSensorContext):
    run = context.dagster_run
    if run.job_name == publicacion_job.name:
        return dg.SkipReason("a publication run itself")
    keys = materialized_keys(context.instance, run.run_id)
    if not needs_publication(keys):
        return dg.SkipReason(f"run {run.run_id[:8]} materialised no mart, or already published them")
    return dg.RunRequest(run_key=f"publicacion-{run.run_id}", tags={"cti/publica_run": run.run_id})


# What the defs folder loads from this module (a module-level Definitions replaces the scan of its objects).
# publish/postgres is not in it: definitions.py adds it only when CTI_PUBLISH_URL is set, so that without a
# SQL database the UI shows no asset that could never be materialised.
defs = dg.Definitions(assets=[bi_marts_duckdb], jobs=[publicacion_job], sensors=[publicacion_tras_ejecucion])
