"""Administrative records chain: landing/registros/<anio>/<kind>*.csv|xlsx → raw, staging per kind, quarantine."""

import hashlib
import time

import dagster as dg

from cti_pipeline.contracts.reference import load_iso3
from cti_pipeline.contracts.registros import KINDS, REGISTROS
from cti_pipeline.contracts.tables import ARCHIVOS_RECHAZADOS, FILAS_RECHAZADAS, registros_raw_columns, staging_columns
from cti_pipeline.defs.metadata import fingerprint_metadata, markdown_table, table_metadata
from cti_pipeline.defs.partitions import partition_year, yearly_partitions
from cti_pipeline.defs.resources import CtiConfig, WarehouseResource
from cti_pipeline.domain.registros import (
    ORIGEN_DESCONOCIDO,
    RAW_VALUE_COLUMNS,
    clear_personal_ids,
    process_registros,
    unreconciled_files,
)
from cti_pipeline.domain import fingerprints
from cti_pipeline.domain.quality import duplicate_keys
from cti_pipeline.warehouse import TableWrite, replace_partitions

RAW = dg.AssetKey(["raw", "registros"])
QUARANTINE = dg.AssetKey(["quarantine", "registros"])
STAGING = {kind: dg.AssetKey(["staging", kind]) for kind in KINDS}

RAW_COLUMNS = registros_raw_columns(RAW_VALUE_COLUMNS)
STAGING_COLUMNS = {kind: staging_columns(REGISTROS[kind]) for kind in KINDS}
KEYED_KINDS = [kind for kind in KINDS if REGISTROS[kind].key]

ORIGEN = "registros"  # in meta.huellas; the quarantine tables use the kinds (and ORIGEN_DESCONOCIDO) as origen
CATALOGS = ("paises_iso3", "paises_alc")
CODE = ("domain/registros.py", "defs/registros.py")
WRITTEN_TO = fingerprints.Counted(("raw.registros",), tuple(f"staging.{kind}" for kind in KINDS), (*KINDS, ORIGEN_DESCONOCIDO))
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
            description="Cada fila leída de los registros administrativos de landing/registros/<anio>/ (siete tipos, "
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
        dg.AssetCheckSpec("filas_conciliadas", asset=RAW, description="Por archivo: filas leídas = staged + quarantined."),
        *[
            dg.AssetCheckSpec(
                "sin_claves_duplicadas",
                asset=STAGING[kind],
                description=f"Ninguna clave ({', '.join(REGISTROS[kind].key)}) repetida en staging.{kind} (texto normalizado).",
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
    year_dir = cti.landing_dir / "registros" / str(anio)
    started = time.perf_counter()
    # The salt decides every pseudonym written: a new salt must rewrite the year (its digest, never the salt).
    salt_digest = "pii_salt_sha256=" + hashlib.sha256(cti.pii_salt.encode("utf-8")).hexdigest()
    huella = fingerprints.year_fingerprint(ORIGEN, year_dir, anio, CATALOGS, cti.reference_override_dir, CODE, settings=[salt_digest])
    with warehouse.get_connection() as conn:
        if fingerprints.unchanged(conn, ORIGEN, anio, huella, WRITTEN_TO):
            yield from _unchanged_results(context, conn, anio, huella, started)
            return
    result = process_registros(year_dir, anio, cti.pii_salt, load_iso3(cti.reference_override_dir))
    for warning in result.warnings:
        context.log.warning(warning)
    for rejected in result.rejected_files.itertuples():
        context.log.warning(f"registros {anio}: file {rejected.archivo} rejected: {rejected.motivo}")

    where = {"anio": anio}
    writes = [TableWrite("raw.registros", RAW_COLUMNS, result.raw, where)]
    writes += [TableWrite(f"staging.{kind}", STAGING_COLUMNS[kind], result.staged[kind], where) for kind in KINDS]
    for origen in (*KINDS, ORIGEN_DESCONOCIDO):
        origen_where = {"anio": anio, "origen": origen}
        writes.append(TableWrite("quarantine.filas_rechazadas", FILAS_RECHAZADAS, result.quarantined_by_kind(origen), origen_where))
        writes.append(TableWrite("quarantine.archivos_rechazados", ARCHIVOS_RECHAZADOS, result.rejected_by_origen(origen), origen_where))
    writes.append(TableWrite(fingerprints.TABLE, fingerprints.HUELLAS, huella_row(anio, huella, result), {"anio": anio, "origen": ORIGEN}))
    with warehouse.get_connection() as conn:
        replace_partitions(conn, writes)
        unreconciled = unreconciled_files(conn, anio)
        duplicates = {kind: duplicate_keys(conn, f"staging.{kind}", REGISTROS[kind].key, anio) for kind in KEYED_KINDS}
        clear_ids = clear_personal_ids(conn, anio)

    counts = result.file_counts()
    yield dg.MaterializeResult(
        asset_key=RAW,
        metadata=table_metadata(
            "raw.registros",
            RAW_COLUMNS,
            len(result.raw),
            archivos_leidos=len(counts),
            filas_por_archivo=dg.MetadataValue.md(markdown_table(counts, max_rows=50)),
            **fingerprint_metadata(False, huella, UNCHANGED_NOTE),
        ),
    )
    for kind in KINDS:
        staged = result.staged[kind]
        preview_columns = [c for c in REGISTROS[kind].names if c != "participante_id"]  # no personal data in previews
        yield dg.MaterializeResult(
            asset_key=STAGING[kind],
            metadata=table_metadata(
                f"staging.{kind}",
                STAGING_COLUMNS[kind],
                len(staged),
                staged[preview_columns] if not staged.empty else None,
                archivos=int(staged["archivo"].nunique()) if not staged.empty else 0,
                filas_en_cuarentena=int(result.quarantined_by_kind(kind).drop_duplicates(["archivo", "fila"]).shape[0]),
            ),
        )
    by_rule = (
        result.quarantined.groupby(["origen", "regla"]).size().rename("filas").reset_index().sort_values("filas", ascending=False)
    )
    yield dg.MaterializeResult(
        asset_key=QUARANTINE,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(result.quarantined)),
            "filas_en_cuarentena": int(result.quarantined.drop_duplicates(["origen", "archivo", "fila"]).shape[0]),
            "archivos_rechazados": dg.MetadataValue.int(len(result.rejected_files)),
            "por_regla": dg.MetadataValue.md(markdown_table(by_rule)),
            "archivos_rechazados_detalle": dg.MetadataValue.md(
                markdown_table(result.rejected_files[["origen", "archivo", "motivo"]], max_chars=160)
            ),
            "preview": dg.MetadataValue.md(
                markdown_table(result.quarantined[["origen", "archivo", "fila", "columna", "regla", "mensaje"]], max_chars=120)
            ),
        },
    )
    yield from _check_results(unreconciled, duplicates, clear_ids)


def huella_row(anio: int, huella: str, result):
    counts = {
        "filas_raw": len(result.raw),
        "filas_staging": sum(len(staged) for staged in result.staged.values()),
        "filas_cuarentena": len(result.quarantined),
        "archivos_rechazados": len(result.rejected_files),
    }
    return fingerprints.huella_frame(ORIGEN, anio, huella, counts, transient_rejections=result.transient_rejections)


def _check_results(unreconciled, duplicates, clear_ids):
    yield dg.AssetCheckResult(
        check_name="filas_conciliadas",
        asset_key=RAW,
        passed=unreconciled.empty,
        metadata={"archivos_descuadrados": dg.MetadataValue.md(markdown_table(unreconciled))},
    )
    for kind in KEYED_KINDS:
        yield dg.AssetCheckResult(
            check_name="sin_claves_duplicadas",
            asset_key=STAGING[kind],
            passed=duplicates[kind].empty,
            metadata={"claves_repetidas": dg.MetadataValue.md(markdown_table(duplicates[kind]))},
        )
    yield dg.AssetCheckResult(
        check_name="sin_datos_personales",
        asset_key=STAGING["capacitaciones"],
        passed=clear_ids == 0,
        metadata={"participante_id_no_seudonimizados": clear_ids},
    )


def _unchanged_results(context: dg.AssetExecutionContext, conn, anio: int, huella: str, started: float):
    """Nothing changed since the last successful write: no file is read, the warehouse is left as it is,
    and the materialisations and checks report what the warehouse holds."""
    fingerprint_seconds = round(time.perf_counter() - started, 4)
    common = {**fingerprint_metadata(True, huella, UNCHANGED_NOTE), "tiempos_s": dg.MetadataValue.json({"fingerprint": fingerprint_seconds})}
    counts = conn.execute(
        "SELECT tipo_registro, archivo, count(*) AS leidas, count(*) FILTER (estado_fila = 'staged') AS staged, "
        "count(*) FILTER (estado_fila = 'quarantined') AS quarantined FROM raw.registros WHERE anio = ? "
        "GROUP BY tipo_registro, archivo ORDER BY tipo_registro, archivo",
        [anio],
    ).df()
    yield dg.MaterializeResult(
        asset_key=RAW,
        metadata=table_metadata(
            "raw.registros",
            RAW_COLUMNS,
            int(counts["leidas"].sum()),
            archivos_leidos=len(counts),
            filas_por_archivo=dg.MetadataValue.md(markdown_table(counts, max_rows=50)),
            **common,
        ),
    )
    quarantined = _quarantine_by_origen(conn, anio)
    for kind in KINDS:
        rows, files = conn.execute(f"SELECT count(*), count(DISTINCT archivo) FROM staging.{kind} WHERE anio = ?", [anio]).fetchone()
        yield dg.MaterializeResult(
            asset_key=STAGING[kind],
            metadata=table_metadata(
                f"staging.{kind}",
                STAGING_COLUMNS[kind],
                rows,
                archivos=files,
                filas_en_cuarentena=int(quarantined.loc[quarantined["origen"] == kind, "filas"].sum()),
                **common,
            ),
        )
    by_rule = conn.execute(
        "SELECT origen, regla, count(*) AS filas FROM quarantine.filas_rechazadas WHERE anio = ? AND list_contains(?, origen) "
        "GROUP BY origen, regla ORDER BY filas DESC, origen, regla",
        [anio, list(WRITTEN_TO.origenes)],
    ).df()
    _, _, rules_broken, rejected_files = fingerprints.warehouse_counts(conn, anio, WRITTEN_TO)
    yield dg.MaterializeResult(
        asset_key=QUARANTINE,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(rules_broken),
            "filas_en_cuarentena": int(quarantined["filas"].sum()),
            "archivos_rechazados": dg.MetadataValue.int(rejected_files),
            "por_regla": dg.MetadataValue.md(markdown_table(by_rule)),
            **common,
        },
    )
    unreconciled = unreconciled_files(conn, anio)
    duplicates = {kind: duplicate_keys(conn, f"staging.{kind}", REGISTROS[kind].key, anio) for kind in KEYED_KINDS}
    timings = {"fingerprint": fingerprint_seconds, "checks": round(time.perf_counter() - started - fingerprint_seconds, 4)}
    context.log.info(f"registros {anio}: unchanged since the last write (fingerprint {huella}), no file read; seconds {timings}")
    yield from _check_results(unreconciled, duplicates, clear_personal_ids(conn, anio))


def _quarantine_by_origen(conn, anio: int):
    """Distinct quarantined rows (a row may break several rules) per origen of the administrative records."""
    return conn.execute(
        "SELECT origen, count(DISTINCT (archivo, fila)) AS filas FROM quarantine.filas_rechazadas WHERE anio = ? "
        "AND list_contains(?, origen) GROUP BY origen",
        [anio, list(WRITTEN_TO.origenes)],
    ).df()
