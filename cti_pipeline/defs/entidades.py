"""APCI's registry of entities: every `.csv`/`.xlsx` of `landing/entidades/` → raw, staging and quarantine (not yearly)."""

import dagster as dg

from cti_pipeline.contracts.entidades import ENTIDADES
from cti_pipeline.contracts.tables import SourceTables, registry_raw_columns, staging_columns
from cti_pipeline.defs.ingestion import SourceWrite
from cti_pipeline.defs.metadata import IngestionAssets, StagedTable, check_result, ingestion_results
from cti_pipeline.defs.resources import CtiConfig, WarehouseResource
from cti_pipeline.domain import quality
from cti_pipeline.domain.entidades import ORIGEN, process_entidades
from cti_pipeline.domain.ledger import first_seen
from cti_pipeline.warehouse import replace_partitions

RAW = dg.AssetKey(["raw", "entidades"])
STAGING = dg.AssetKey(["staging", "entidades"])
QUARANTINE = dg.AssetKey(["quarantine", "entidades"])
RAW_COLUMNS = registry_raw_columns(ENTIDADES)
STAGING_COLUMNS = staging_columns(ENTIDADES)
TABLES = SourceTables("raw.entidades", ("staging.entidades",), (ORIGEN,), yearly=False)
ASSETS = IngestionAssets(RAW, TABLES.raw, RAW_COLUMNS, (StagedTable(STAGING, "staging.entidades", STAGING_COLUMNS, ORIGEN),), QUARANTINE)
PREVIEW = {"staging.entidades": ["ruc_entidad", "nombre_entidad", "tipo_entidad", "fecha_inscripcion", "fecha_baja"]}

_common = dict(group_name="entidades", kinds={"duckdb", "pandas"}, owners=["team:apci"])


@dg.multi_asset(
    name="entidades",
    specs=[
        dg.AssetSpec(
            RAW,
            description="Cada fila leída del registro de entidades de APCI (`landing/entidades/`), como texto, con su "
            "estado_fila; de las columnas extra (representante legal, correo) solo se guardan sus nombres.",
            **_common,
        ),
        dg.AssetSpec(
            STAGING,
            description="Entidades registradas que deben presentar la Declaración Anual (ENIEX, ONGD, IPREDA, entidades "
            "públicas), con su fecha de inscripción y de baja; el archivo del registro visto más recientemente cuenta.",
            deps=[RAW],
            **_common,
        ),
        dg.AssetSpec(
            QUARANTINE,
            description="Filas y archivos rechazados del registro de entidades, con un mensaje en español para APCI.",
            deps=[RAW],
            **_common,
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec("filas_conciliadas", asset=RAW, description="Por archivo: filas leídas = staged + quarantined + superseded."),
        dg.AssetCheckSpec("sin_claves_duplicadas", asset=STAGING, description="Ningún ruc_entidad repetido en el registro."),
    ],
    pool="duckdb",
    can_subset=False,
)
def entidades(context: dg.AssetExecutionContext, cti: CtiConfig, warehouse: WarehouseResource):
    with warehouse.get_connection() as conn:
        seen = first_seen(conn)
    result = process_entidades(cti.paths.landing_dir / ORIGEN, seen)
    for warning in result.warnings:
        context.log.warning(warning)
    for rejected in result.rejected_files.itertuples():
        context.log.warning(f"entidades: file {rejected.archivo} rejected: {rejected.motivo}")
    write = SourceWrite(ORIGEN, None, TABLES, (RAW_COLUMNS, result.raw), {"staging.entidades": (STAGING_COLUMNS, result.staged)},
                        result.quarantined, result.rejected_files, result.files, None, result.transient_rejections, result.contents)
    with warehouse.get_connection() as conn:
        replace_partitions(conn, write.writes())
        summary = quality.summarize(conn, ORIGEN, TABLES, None, PREVIEW)
        problems = quality.ledger_problems(conn, ORIGEN, TABLES)
        duplicates = quality.duplicate_keys(conn, "staging.entidades", ENTIDADES.key)
    if summary.staged.get("staging.entidades", 0) == 0:
        context.log.warning("entidades: no registry staged (landing/entidades/ is empty or every row was rejected): "
                            "the filing tracker cannot tell who must file")
    yield from ingestion_results(ASSETS, summary, {})
    yield check_result("filas_conciliadas", RAW, problems, "archivos_descuadrados")
    yield check_result("sin_claves_duplicadas", STAGING, duplicates, "claves_repetidas")


entidades_job = dg.define_asset_job(
    name="entidades_job",
    selection=dg.AssetSelection.groups("entidades"),
    description="Lee el registro de entidades de APCI (sin año): la base del seguimiento de quién debe presentar.",
)
