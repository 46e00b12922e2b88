"""Declaración Anual chain: landing files → raw, staging and quarantine, one transaction per year."""

import time

import dagster as dg

from cti_pipeline.contracts.declaracion import DECLARACION
from cti_pipeline.contracts.reference import DeclarationCatalogs
from cti_pipeline.contracts.tables import DECLARACIONES_DERIVED, SourceTables, raw_columns, staging_columns
from cti_pipeline.defs.ingestion import SourceWrite
from cti_pipeline.defs.metadata import IngestionAssets, StagedTable, check_result, ingestion_results, unchanged_metadata
from cti_pipeline.defs.partitions import partition_year, yearly_partitions
from cti_pipeline.defs.resources import CtiConfig, WarehouseResource
from cti_pipeline.domain import quality
from cti_pipeline.domain.declaraciones import process_declaraciones
from cti_pipeline.domain.ledger import first_seen
from cti_pipeline.landing.read_cache import ReadCache
from cti_pipeline.memory import peak_memory_mb
from cti_pipeline.unchanged import year_fingerprint, year_unchanged
from cti_pipeline.warehouse import replace_partitions

ORIGEN = DECLARACION.origen
TABLES = SourceTables.of(ORIGEN)
RAW = dg.AssetKey(["raw", "declaraciones"])
STAGING = dg.AssetKey(["staging", "declaraciones"])
QUARANTINE = dg.AssetKey(["quarantine", "declaraciones"])
RAW_COLUMNS = raw_columns(DECLARACION)
STAGING_COLUMNS = staging_columns(DECLARACION, DECLARACIONES_DERIVED)
ASSETS = IngestionAssets(RAW, TABLES.raw, RAW_COLUMNS, (StagedTable(STAGING, "staging.declaraciones", STAGING_COLUMNS, ORIGEN),), QUARANTINE)
PREVIEW = {"staging.declaraciones": ["ruc_entidad", "nombre_entidad", "codigo_intervencion", "area_prioritaria", "departamento",
                                     "moneda", "monto_ejecutado", "monto_usd"]}

# What a year's result depends on besides its files and the code.
CATALOGS = ("areas_prioritarias", "departamentos", "tipo_cambio", "paises_iso3", "paises_alc")
UNCHANGED_NOTE = "sin cambios, no se releyó: los archivos, catálogos y código son los de la última escritura"

_common = dict(group_name="declaraciones", kinds={"duckdb", "pandas"}, owners=["team:apci"])


@dg.multi_asset(
    name="declaraciones",
    specs=[
        dg.AssetSpec(
            RAW,
            description="Cada fila leída de los archivos de la Declaración Anual de `landing/declaraciones/{anio}/`, como texto, "
            "con archivo, hoja, fila y estado_fila (staged, quarantined, superseded).",
            **_common,
        ),
        dg.AssetSpec(
            STAGING,
            description="Intervenciones válidas y vigentes de la Declaración Anual, con tipos, monto_usd y es_prioritaria.",
            deps=[RAW],
            **_common,
        ),
        dg.AssetSpec(
            QUARANTINE,
            description="Filas rechazadas (una por regla incumplida) y archivos rechazados de la Declaración Anual, "
            "con un mensaje en español para la entidad declarante.",
            deps=[RAW],
            **_common,
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec("filas_conciliadas", asset=RAW, description="Todos los años: por archivo, filas leídas = staged + quarantined + superseded."),
        dg.AssetCheckSpec("sin_claves_duplicadas", asset=STAGING, description="Todos los años: ningún (ruc_entidad, codigo_intervencion) repetido en staging."),
        dg.AssetCheckSpec("montos_convertidos", asset=STAGING, description="Todos los años: todo monto en staging tiene monto_usd (hay tipo de cambio del año)."),
    ],
    partitions_def=yearly_partitions,
    pool="duckdb",
    can_subset=False,
)
def declaraciones(context: dg.AssetExecutionContext, cti: CtiConfig, warehouse: WarehouseResource):
    anio = partition_year(context)
    paths = cti.paths
    catalogs = DeclarationCatalogs.load(paths.reference_override_dir)
    started = time.perf_counter()
    huella = year_fingerprint(ORIGEN, paths.landing_dir / ORIGEN / str(anio), anio, CATALOGS, paths.reference_override_dir)
    with warehouse.get_connection() as conn:
        unchanged = year_unchanged(conn, ORIGEN, anio, huella, TABLES)
        seen = {} if unchanged else first_seen(conn)
    raw_extra: dict[str, object] = {}
    timings: dict[str, float] = {}
    if unchanged:
        context.log.info(f"declaraciones {anio}: unchanged since the last write (fingerprint {huella}), no file read")
    else:
        cache = ReadCache(paths.read_cache_dir(ORIGEN, anio))
        result = process_declaraciones(paths.landing_dir / ORIGEN / str(anio), anio, catalogs, cache, seen)
        for warning in result.warnings:
            context.log.warning(warning)
        for rejected in result.rejected_files.itertuples():
            context.log.warning(f"declaraciones {anio}: file {rejected.archivo} rejected: {rejected.motivo}")
        year = SourceWrite(
            ORIGEN, anio, TABLES, (RAW_COLUMNS, result.hand_over_raw()), {"staging.declaraciones": (STAGING_COLUMNS, result.staged)},
            result.quarantined, result.rejected_files, result.files, huella, result.transient_rejections, result.contents,
        )
        write_started = time.perf_counter()
        with warehouse.get_connection() as conn:
            replace_partitions(conn, year.writes())
        result.timings["write"] = round(time.perf_counter() - write_started, 4)
        result.peak_mb["write"] = peak_memory_mb()
        raw_extra = {
            "archivos_desde_cache": dg.MetadataValue.int(result.files_from_cache),
            "archivos_leidos_en_paralelo": dg.MetadataValue.int(result.files_by_worker),
            "memoria_pico_proceso_mb": dg.MetadataValue.json(result.peak_mb),
        }
        timings = result.timings
    checks_started = time.perf_counter()
    with warehouse.get_connection() as conn:
        summary = quality.summarize(conn, ORIGEN, TABLES, anio, PREVIEW)
        total, entities = quality.declared_totals(conn, anio)
        problems = quality.ledger_problems(conn, ORIGEN, TABLES)
        duplicates = quality.duplicate_keys(conn, "staging.declaraciones", ("anio", *DECLARACION.key))
        unconverted = quality.unconverted_by_year(conn)
    timings["checks"] = round(time.perf_counter() - checks_started, 4)
    context.log.info(f"declaraciones {anio}: seconds per phase {timings}")
    raw_extra["tiempos_s"] = dg.MetadataValue.json(timings)
    common = {**unchanged_metadata(unchanged, huella, UNCHANGED_NOTE), "segundos": dg.MetadataValue.float(round(time.perf_counter() - started, 3))}
    staged_extra = {"staging.declaraciones": {"monto_usd_total": dg.MetadataValue.float(total), "entidades": dg.MetadataValue.int(entities)}}
    yield from ingestion_results(ASSETS, summary, common, raw_extra, staged_extra)
    yield check_result("filas_conciliadas", RAW, problems, "archivos_descuadrados")
    yield check_result("sin_claves_duplicadas", STAGING, duplicates, "claves_repetidas")
    rates = ", ".join(f"{y}: {r}" for y, r in sorted(catalogs.pen_por_usd.items()))
    yield check_result("montos_convertidos", STAGING, unconverted, "sin_monto_usd_por_anio", tipos_de_cambio=f"PEN por USD — {rates}")
