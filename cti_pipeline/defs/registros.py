"""Administrative records chain: `landing/registros/{anio}/{tipo}*.csv|xlsx` → raw, staging per kind, quarantine."""

import hashlib
import time

import dagster as dg

from cti_pipeline.contracts.reference import load_iso3
from cti_pipeline.contracts.registros import KINDS, REGISTROS
from cti_pipeline.contracts.tables import SourceTables, registros_raw_columns, staging_columns
from cti_pipeline.defs.ingestion import SourceWrite
from cti_pipeline.defs.metadata import IngestionAssets, StagedTable, check_result, ingestion_results, unchanged_metadata
from cti_pipeline.defs.partitions import partition_year, yearly_partitions
from cti_pipeline.defs.resources import CtiConfig, WarehouseResource
from cti_pipeline.domain import quality
from cti_pipeline.domain.registros import ORIGEN, ORIGEN_DESCONOCIDO, RAW_VALUE_COLUMNS, process_registros
from cti_pipeline.unchanged import year_fingerprint, year_unchanged
from cti_pipeline.warehouse import replace_partitions

RAW = dg.AssetKey(["raw", "registros"])
QUARANTINE = dg.AssetKey(["quarantine", "registros"])
STAGING = {kind: dg.AssetKey(["staging", kind]) for kind in KINDS}

RAW_COLUMNS = registros_raw_columns(RAW_VALUE_COLUMNS)
STAGING_COLUMNS = {kind: staging_columns(REGISTROS[kind]) for kind in KINDS}
KEYED_KINDS = [kind for kind in KINDS if REGISTROS[kind].key]
TABLES = SourceTables("raw.registros", tuple(f"staging.{kind}" for kind in KINDS), (*KINDS, ORIGEN_DESCONOCIDO))
ASSETS = IngestionAssets(
    RAW, TABLES.raw, RAW_COLUMNS, tuple(StagedTable(STAGING[k], f"staging.{k}", STAGING_COLUMNS[k], k) for k in KINDS), QUARANTINE
)
# no personal data in previews
PREVIEW = {f"staging.{kind}": [c for c in REGISTROS[kind].names if c != "participante_id"] for kind in KINDS}
CATALOGS = ("paises_iso3", "paises_alc")
UNCHANGED_NOTE = "sin cambios, no se releyó: los archivos, catálogos, sal y código son los de la última escritura"

DESCRIPTIONS = {
    "capacitaciones": "Participantes válidos de las capacitaciones (CTI y CSS), una fila por participante y capacitación; "
    "participante_id seudonimizado (SHA-256 con sal).",
    "accesos_web": "Accesos válidos a las secciones de la web de APCI, por mes y sección.",
    "espacios_coordinacion": "Entidades participantes válidas por espacio de coordinación.",
    "compromisos": "Compromisos válidos asumidos en los espacios de coordinación, con su estado.",
    "asistencia_tecnica": "Asistencias técnicas válidas a entidades para esquemas innovadores de cooperación.",
    "proyectos_css": "Proyectos de Cooperación Sur-Sur válidos en los que participó el Perú, con su rol y país socio.",
    "iniciativas_internacionales": "Iniciativas de cooperación válidas en foros internacionales, lideradas o no por el Perú.",
}

_common = dict(group_name="registros", kinds={"duckdb", "pandas"}, owners=["team:apci"])


@dg.multi_asset(
    name="registros",
    specs=[
        dg.AssetSpec(
            RAW,
            description="Cada fila leída de los registros administrativos de `landing/registros/{anio}/` (siete tipos, "
            "tipo_registro), como texto, con archivo, hoja, fila y estado_fila; participante_id seudonimizado.",
            **_common,
        ),
        *[dg.AssetSpec(STAGING[kind], description=DESCRIPTIONS[kind], deps=[RAW], **_common) for kind in KINDS],
        dg.AssetSpec(
            QUARANTINE,
            description="Filas rechazadas (una por regla incumplida, origen = tipo de registro) y archivos rechazados "
            "de los registros administrativos, con un mensaje en español.",
            deps=[RAW],
            **_common,
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec("filas_conciliadas", asset=RAW, description="Todos los años: por archivo, filas leídas = staged + quarantined."),
        *[
            dg.AssetCheckSpec(
                "sin_claves_duplicadas",
                asset=STAGING[kind],
                description=f"Todos los años: ninguna clave ({', '.join(REGISTROS[kind].key)}) repetida en staging.{kind} (texto normalizado).",
            )
            for kind in KEYED_KINDS
        ],
        dg.AssetCheckSpec(
            "sin_datos_personales",
            asset=STAGING["capacitaciones"],
            description="Ningún participante_id de staging.capacitaciones es un DNI en claro: todos son seudónimos SHA-256.",
        ),
    ],
    partitions_def=yearly_partitions,
    pool="duckdb",
    can_subset=False,
)
def registros(context: dg.AssetExecutionContext, cti: CtiConfig, warehouse: WarehouseResource):
    anio = partition_year(context)
    paths = cti.paths
    year_dir = paths.landing_dir / ORIGEN / str(anio)
    started = time.perf_counter()
    # The salt decides every pseudonym written: a new salt must rewrite the year (its digest, never the salt).
    salt_digest = "pii_salt_sha256=" + hashlib.sha256(cti.pii_salt.encode("utf-8")).hexdigest()
    huella = year_fingerprint(ORIGEN, year_dir, anio, CATALOGS, paths.reference_override_dir, settings=[salt_digest])
    with warehouse.get_connection() as conn:
        unchanged = year_unchanged(conn, ORIGEN, anio, huella, TABLES)
    if unchanged:
        context.log.info(f"registros {anio}: unchanged since the last write (fingerprint {huella}), no file read")
    else:
        result = process_registros(year_dir, anio, cti.pii_salt, load_iso3(paths.reference_override_dir), paths.read_cache_dir(ORIGEN, anio))
        for warning in result.warnings:
            context.log.warning(warning)
        for rejected in result.rejected_files.itertuples():
            context.log.warning(f"registros {anio}: file {rejected.archivo} rejected: {rejected.motivo}")
        staged = {f"staging.{kind}": (STAGING_COLUMNS[kind], result.staged[kind]) for kind in KINDS}
        year = SourceWrite(ORIGEN, anio, TABLES, (RAW_COLUMNS, result.raw), staged, result.quarantined, result.rejected_files,
                         result.files, huella, result.transient_rejections)
        with warehouse.get_connection() as conn:
            replace_partitions(conn, year.writes())
    with warehouse.get_connection() as conn:
        summary = quality.summarize(conn, ORIGEN, TABLES, anio, PREVIEW)
        problems = quality.ledger_problems(conn, ORIGEN, TABLES)
        duplicates = {kind: quality.duplicate_keys(conn, f"staging.{kind}", ("anio", *REGISTROS[kind].key)) for kind in KEYED_KINDS}
        clear_ids = quality.clear_personal_ids(conn)
    common = {**unchanged_metadata(unchanged, huella, UNCHANGED_NOTE), "segundos": dg.MetadataValue.float(round(time.perf_counter() - started, 3))}
    yield from ingestion_results(ASSETS, summary, common)
    yield check_result("filas_conciliadas", RAW, problems, "archivos_descuadrados")
    for kind in KEYED_KINDS:
        yield check_result("sin_claves_duplicadas", STAGING[kind], duplicates[kind], "claves_repetidas")
    yield dg.AssetCheckResult(
        check_name="sin_datos_personales", asset_key=STAGING["capacitaciones"], passed=clear_ids == 0,
        metadata={"participante_id_no_seudonimizados": clear_ids},
    )
