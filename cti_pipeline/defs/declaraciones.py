"""Declaración Anual chain: landing files → raw, staging and quarantine, one transaction per year."""

import time

import dagster as dg

from cti_pipeline.contracts.declaracion import DECLARACION
from cti_pipeline.contracts.reference import DeclarationCatalogs
from cti_pipeline.contracts.tables import (
    ARCHIVOS_RECHAZADOS,
    DECLARACIONES_DERIVED,
    FILAS_RECHAZADAS,
    raw_columns,
    staging_columns,
)
from cti_pipeline.defs.metadata import fingerprint_metadata, markdown_table, table_metadata
from cti_pipeline.defs.partitions import partition_year, yearly_partitions
from cti_pipeline.defs.resources import CtiConfig, WarehouseResource
from cti_pipeline.domain import fingerprints, quality
from cti_pipeline.domain.declaraciones import process_declaraciones
from cti_pipeline.domain.read_cache import ReadCache
from cti_pipeline.memory import peak_memory_mb
from cti_pipeline.warehouse import TableWrite, replace_partitions

RAW = dg.AssetKey(["raw", "declaraciones"])
STAGING = dg.AssetKey(["staging", "declaraciones"])
QUARANTINE = dg.AssetKey(["quarantine", "declaraciones"])

RAW_COLUMNS = raw_columns(DECLARACION)
STAGING_COLUMNS = staging_columns(DECLARACION, DECLARACIONES_DERIVED)
PREVIEW_COLUMNS = ["ruc_entidad", "nombre_entidad", "codigo_intervencion", "area_prioritaria", "departamento", "moneda", "monto_ejecutado", "monto_usd"]

# What a year's result depends on besides its files and the code fingerprints.CODE names.
CATALOGS = ("areas_prioritarias", "departamentos", "tipo_cambio", "paises_iso3", "paises_alc")
CODE = ("domain/declaraciones.py", "defs/declaraciones.py")
UNCHANGED_NOTE = "sin cambios, no se releyó: los archivos, catálogos y código son los de la última escritura"

_common = dict(group_name="declaraciones", kinds={"duckdb", "pandas"}, owners=["team:apci"])


@dg.multi_asset(
    name="declaraciones",
    specs=[
        dg.AssetSpec(
            RAW,
            description="Cada fila leída de los archivos de la Declaración Anual de landing/declaraciones/<anio>/, como texto, "
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
        dg.AssetCheckSpec("filas_conciliadas", asset=RAW, description="Por archivo: filas leídas = staged + quarantined + superseded."),
        dg.AssetCheckSpec("sin_claves_duplicadas", asset=STAGING, description="Ningún (ruc_entidad, codigo_intervencion) repetido en staging."),
        dg.AssetCheckSpec("montos_convertidos", asset=STAGING, description="Todo monto en staging tiene monto_usd (hay tipo de cambio del año)."),
    ],
    partitions_def=yearly_partitions,
    pool="duckdb",
    can_subset=False,
)
def declaraciones(context: dg.AssetExecutionContext, cti: CtiConfig, warehouse: WarehouseResource):
    anio = partition_year(context)
    catalogs = DeclarationCatalogs.load(cti.reference_override_dir)
    year_dir = cti.landing_dir / "declaraciones" / str(anio)
    started = time.perf_counter()
    huella = fingerprints.year_fingerprint(DECLARACION.origen, year_dir, anio, CATALOGS, cti.reference_override_dir, CODE)
    with warehouse.get_connection() as conn:
        if fingerprints.unchanged(conn, DECLARACION.origen, anio, huella):
            yield from _unchanged_results(context, conn, anio, huella, catalogs, started)
            return
    cache = ReadCache(cti.read_cache_dir(DECLARACION.origen, anio))
    result = process_declaraciones(year_dir, anio, catalogs, cache=cache)
    for warning in result.warnings:
        context.log.warning(warning)
    for rejected in result.rejected_files.itertuples():
        context.log.warning(f"declaraciones {anio}: file {rejected.archivo} rejected: {rejected.motivo}")

    counts = result.file_counts()
    raw_rows = len(result.raw)
    huella_frame = huella_row(anio, huella, result)
    write_started = time.perf_counter()
    where = {"anio": anio}
    quarantine_where = {"anio": anio, "origen": DECLARACION.origen}
    with warehouse.get_connection() as conn:
        replace_partitions(
            conn,
            [
                TableWrite("raw.declaraciones", RAW_COLUMNS, result.hand_over_raw(), where),
                TableWrite("staging.declaraciones", STAGING_COLUMNS, result.staged, where),
                TableWrite("quarantine.filas_rechazadas", FILAS_RECHAZADAS, result.quarantined, quarantine_where),
                TableWrite("quarantine.archivos_rechazados", ARCHIVOS_RECHAZADOS, result.rejected_files, quarantine_where),
                TableWrite(fingerprints.TABLE, fingerprints.HUELLAS, huella_frame, quarantine_where),
            ],
        )
        result.timings["write"] = round(time.perf_counter() - write_started, 4)
        result.peak_mb["write"] = peak_memory_mb()
        unreconciled, duplicates, unconverted = year_quality(conn, anio)

    result.timings["checks"] = round(time.perf_counter() - write_started - result.timings["write"], 4)
    context.log.info(f"declaraciones {anio}: seconds per phase {result.timings}")
    yield dg.MaterializeResult(
        asset_key=RAW,
        metadata=table_metadata(
            "raw.declaraciones",
            RAW_COLUMNS,
            raw_rows,
            archivos_leidos=len(counts),
            archivos_desde_cache=dg.MetadataValue.int(result.files_from_cache),
            archivos_leidos_por_ayudante=dg.MetadataValue.int(result.files_by_helper),
            tiempos_s=dg.MetadataValue.json(result.timings),
            memoria_pico_proceso_mb=dg.MetadataValue.json(result.peak_mb),
            **fingerprint_metadata(False, huella, UNCHANGED_NOTE),
            filas_por_archivo=dg.MetadataValue.md(markdown_table(counts, max_rows=50)),
        ),
    )
    yield dg.MaterializeResult(
        asset_key=STAGING,
        metadata=table_metadata(
            "staging.declaraciones",
            STAGING_COLUMNS,
            len(result.staged),
            result.staged[PREVIEW_COLUMNS],
            monto_usd_total=dg.MetadataValue.float(float(result.staged["monto_usd"].sum())),
            entidades=int(result.staged["ruc_entidad"].nunique()),
        ),
    )
    by_rule = result.quarantined.groupby("regla").size().rename("filas").reset_index().sort_values("filas", ascending=False)
    yield dg.MaterializeResult(
        asset_key=QUARANTINE,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(result.quarantined)),
            "filas_en_cuarentena": int(result.quarantined.drop_duplicates(["archivo", "fila"]).shape[0]),
            "reglas_incumplidas": dg.MetadataValue.int(len(result.quarantined)),
            "archivos_rechazados": dg.MetadataValue.int(len(result.rejected_files)),
            "por_regla": dg.MetadataValue.md(markdown_table(by_rule)),
            "archivos_rechazados_detalle": dg.MetadataValue.md(markdown_table(result.rejected_files[["archivo", "motivo"]], max_chars=160)),
            "preview": dg.MetadataValue.md(markdown_table(result.quarantined[["archivo", "fila", "columna", "regla", "mensaje"]], max_chars=120)),
        },
    )
    yield from _check_results(anio, catalogs, unreconciled, duplicates, unconverted)


def _check_results(anio, catalogs, unreconciled, duplicates, unconverted):
    yield dg.AssetCheckResult(
        check_name="filas_conciliadas",
        asset_key=RAW,
        passed=unreconciled.empty,
        metadata={"archivos_descuadrados": dg.MetadataValue.md(markdown_table(unreconciled))},
    )
    yield dg.AssetCheckResult(
        check_name="sin_claves_duplicadas",
        asset_key=STAGING,
        passed=duplicates.empty,
        metadata={"claves_repetidas": dg.MetadataValue.md(markdown_table(duplicates))},
    )
    yield dg.AssetCheckResult(
        check_name="montos_convertidos",
        asset_key=STAGING,
        passed=unconverted == 0,
        metadata={
            "filas_sin_monto_usd": unconverted,
            "tipo_cambio": f"{catalogs.pen_por_usd.get(anio, 'sin tipo de cambio')} PEN por USD en {anio}",
        },
    )


def huella_row(anio: int, huella: str, result):
    counts = {
        "filas_raw": len(result.raw),
        "filas_staging": len(result.staged),
        "filas_cuarentena": len(result.quarantined),
        "archivos_rechazados": len(result.rejected_files),
    }
    return fingerprints.huella_frame(DECLARACION.origen, anio, huella, counts, transient_rejections=result.transient_rejections)


def year_quality(conn, anio: int):
    """The warehouse-side facts behind the three checks: unreconciled files, repeated keys, unconverted amounts."""
    return (
        quality.unreconciled_files(conn, DECLARACION.origen, "raw.declaraciones", "staging.declaraciones", anio),
        quality.duplicate_keys(conn, "staging.declaraciones", DECLARACION.key, anio),
        quality.unconverted_amounts(conn, anio),
    )


def _unchanged_results(context: dg.AssetExecutionContext, conn, anio: int, huella: str, catalogs, started: float):
    """Nothing changed since the last successful write: no file is read, the warehouse is left as it is,
    and the materialisations and checks report what the warehouse holds."""
    fingerprint_seconds = round(time.perf_counter() - started, 4)
    unreconciled, duplicates, unconverted = year_quality(conn, anio)
    counts = conn.execute(
        "SELECT archivo, count(*) AS leidas, count(*) FILTER (estado_fila = 'staged') AS staged, "
        "count(*) FILTER (estado_fila = 'quarantined') AS quarantined, count(*) FILTER (estado_fila = 'superseded') AS superseded "
        "FROM raw.declaraciones WHERE anio = ? GROUP BY archivo ORDER BY archivo",
        [anio],
    ).df()
    stored = conn.execute(
        "SELECT filas_staging, filas_cuarentena, archivos_rechazados FROM meta.huellas WHERE origen = ? AND anio = ?",
        [DECLARACION.origen, anio],
    ).fetchone()
    quarantined_rows = int(counts["quarantined"].sum())  # rows, not rules (a row may break several)
    timings = {"fingerprint": fingerprint_seconds, "checks": round(time.perf_counter() - started - fingerprint_seconds, 4)}
    context.log.info(f"declaraciones {anio}: unchanged since the last write (fingerprint {huella}), no file read; seconds {timings}")
    common = {**fingerprint_metadata(True, huella, UNCHANGED_NOTE), "tiempos_s": dg.MetadataValue.json(timings)}
    yield dg.MaterializeResult(
        asset_key=RAW,
        metadata=table_metadata(
            "raw.declaraciones",
            RAW_COLUMNS,
            int(counts["leidas"].sum()),
            archivos_leidos=len(counts),
            filas_por_archivo=dg.MetadataValue.md(markdown_table(counts, max_rows=50)),
            **common,
        ),
    )
    yield dg.MaterializeResult(
        asset_key=STAGING, metadata=table_metadata("staging.declaraciones", STAGING_COLUMNS, int(stored[0]), **common)
    )
    yield dg.MaterializeResult(
        asset_key=QUARANTINE,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(int(stored[1])),
            "filas_en_cuarentena": quarantined_rows,
            "reglas_incumplidas": dg.MetadataValue.int(int(stored[1])),
            "archivos_rechazados": dg.MetadataValue.int(int(stored[2])),
            **common,
        },
    )
    yield from _check_results(anio, catalogs, unreconciled, duplicates, unconverted)
