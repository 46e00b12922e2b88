"""GPEDC (AGCED) 4th monitoring round: consolidation, completeness tracker, indicators, export and results report.

Unpartitioned: the round is one folder, `landing/gpedc/ronda4/`. The jobs at the bottom are launched
by name by the roadmap schedules and the file-drop sensor.
"""

import datetime as dt

import dagster as dg
import duckdb
import pandas as pd

from cti_pipeline.contracts import gpedc as contract
from cti_pipeline.contracts.gpedc import ANIO_REFERENCIA, load_sections
from cti_pipeline.contracts.tables import (
    ARCHIVOS_RECHAZADOS,
    FILAS_RECHAZADAS,
    GPEDC_COMPLETITUD,
    GPEDC_FILAS,
    GPEDC_INDICADORES,
    GPEDC_PROVENANCE,
    GPEDC_PUNTOS_FOCALES,
    Columns,
    staging_columns,
)
from cti_pipeline.defs.metadata import markdown_table, table_metadata
from cti_pipeline.defs.resources import CtiConfig, WarehouseResource
from cti_pipeline.domain import gpedc
from cti_pipeline.outputs.gpedc_export import GpedcExportData, audit, write_export
from cti_pipeline.outputs.gpedc_results import build_results, render_markdown, write_results
from cti_pipeline.domain import quality
from cti_pipeline.warehouse import TableWrite, qualified, replace_partitions, table_exists

RAW = dg.AssetKey(["raw", "gpedc"])
STAGING = dg.AssetKey(["staging", "gpedc"])
QUARANTINE = dg.AssetKey(["quarantine", "gpedc"])
COMPLETITUD = dg.AssetKey(["marts", "gpedc_completitud"])
INDICADORES = dg.AssetKey(["marts", "gpedc_indicadores"])
EXPORT = dg.AssetKey(["exports", "gpedc_ronda4"])
RESULTADOS = dg.AssetKey(["reportes", "gpedc_resultados"])

# staging table → its columns; `puntos_focales` keeps only the four roster columns (no contacts).
STAGING_TABLES: dict[str, Columns] = {
    "staging.gpedc_puntos_focales": GPEDC_PUNTOS_FOCALES,
    **{
        f"staging.gpedc_{spec.sheet}": staging_columns(spec, GPEDC_PROVENANCE)
        for spec in (*contract.QUESTIONNAIRE_SPECS, contract.VALIDACIONES)
    },
}
ORIGENES = {spec.sheet: spec.origen for spec in contract.ALL_SPECS}
REJECTED_ORIGEN = "gpedc"

_common = dict(group_name="gpedc", owners=["team:apci"])
_warehouse = dict(kinds={"duckdb", "pandas"}, **_common)


def staging_table(sheet: str) -> str:
    return f"staging.gpedc_{sheet}"


def read_table_or_empty(conn: duckdb.DuckDBPyConnection, table: str, columns: Columns) -> pd.DataFrame:
    if table_exists(conn, table):
        return conn.execute(f"SELECT * FROM {qualified(table)}").df()
    return pd.DataFrame({name: pd.Series(dtype="object") for name in columns})


def read_staging(conn: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    """sheet name (puntos_focales, respuestas, ..., validaciones) → staged rows."""
    return {table.removeprefix("staging.gpedc_"): read_table_or_empty(conn, table, columns) for table, columns in STAGING_TABLES.items()}


# --- consolidation --------------------------------------------------------------------------------


def unreconciled(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per (origen, file, sheet): rows read ≠ staged + quarantined + superseded, from the tables themselves.

    The roster's staging table keeps no provenance (only its four columns), so it is reconciled as a whole.
    """
    staged_parts = [
        f"SELECT '{ORIGENES[name.removeprefix('staging.gpedc_')]}' AS origen, archivo, coalesce(hoja, '') AS hoja, count(*) AS n "
        f"FROM {qualified(name)} GROUP BY ALL"
        for name in STAGING_TABLES
        if name != "staging.gpedc_puntos_focales" and table_exists(conn, name)
    ]
    roster_staged = conn.execute("SELECT count(*) FROM staging.gpedc_puntos_focales").fetchone()[0] if table_exists(conn, "staging.gpedc_puntos_focales") else 0
    staged_sql = " UNION ALL ".join(staged_parts) or "SELECT NULL AS origen, NULL AS archivo, NULL AS hoja, 0 AS n WHERE false"
    per_file = conn.execute(
        f"""
        WITH raw AS (
            SELECT origen, archivo, coalesce(hoja, '') AS hoja, count(*) AS leidas,
                   count(*) FILTER (estado_fila = 'superseded') AS superseded
            FROM raw.gpedc_filas GROUP BY ALL
        ), staged AS ({staged_sql}),
        quarantined AS (
            SELECT origen, archivo, coalesce(hoja, '') AS hoja, count(DISTINCT fila) AS n
            FROM quarantine.filas_rechazadas WHERE origen LIKE 'gpedc_%' GROUP BY ALL
        )
        SELECT raw.origen, raw.archivo, raw.hoja, raw.leidas, coalesce(staged.n, 0) AS staged,
               coalesce(quarantined.n, 0) AS quarantined, raw.superseded
        FROM raw LEFT JOIN staged USING (origen, archivo, hoja) LEFT JOIN quarantined USING (origen, archivo, hoja)
        ORDER BY raw.origen, raw.archivo, raw.hoja
        """
    ).df()
    is_roster = per_file["origen"] == contract.PUNTOS_FOCALES.origen
    bad = per_file[~is_roster & (per_file["leidas"] != per_file["staged"] + per_file["quarantined"] + per_file["superseded"])]
    roster = per_file[is_roster]
    roster_read = int(roster["leidas"].sum())
    if roster_read != roster_staged + int(roster["quarantined"].sum()) + int(roster["superseded"].sum()):
        bad = pd.concat([bad, roster.assign(staged=roster_staged)], ignore_index=True)
    return bad


def duplicate_keys(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Keys of the contract that repeat in staging (per sheet)."""
    found = []
    for spec in (contract.PUNTOS_FOCALES, *contract.QUESTIONNAIRE_SPECS):
        table = staging_table(spec.sheet)
        if not table_exists(conn, table):
            continue
        # as stored: the GPEDC key rule compares the canonical values the sheets' models staged
        duplicates = quality.duplicate_keys(conn, table, spec.key)
        if not duplicates.empty:
            found.append(duplicates.assign(hoja=spec.sheet))
    return pd.concat(found, ignore_index=True) if found else pd.DataFrame()


@dg.multi_asset(
    name="gpedc_consolidacion",
    specs=[
        dg.AssetSpec(
            RAW,
            description="Cada fila leída de landing/gpedc/ronda4/ (puntos focales, cuestionarios y validaciones) con su "
            "destino (staged, quarantined, superseded); sin valores de celda, para no guardar datos de contacto.",
            **_warehouse,
        ),
        dg.AssetSpec(
            STAGING,
            description="Respuestas consolidadas de la 4ª ronda AGCED: puntos focales (solo código, tipo, entidad y secciones), "
            "respuestas, intervenciones (B.2), flujos (B.3), presupuesto (A.3) y validaciones, con tipos.",
            deps=[RAW],
            **_warehouse,
        ),
        dg.AssetSpec(
            QUARANTINE,
            description="Filas y archivos rechazados de la 4ª ronda AGCED (respondente desconocido, sección no asignada, "
            "datos inválidos), con un mensaje en español que nombra al respondente y la hoja.",
            deps=[RAW],
            **_warehouse,
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec("filas_conciliadas", asset=RAW, description="Por archivo y hoja: filas leídas = staged + quarantined + superseded."),
        dg.AssetCheckSpec("sin_claves_duplicadas", asset=STAGING, description="Ninguna clave del contrato se repite en staging."),
        dg.AssetCheckSpec(
            "puntos_focales_sin_contactos", asset=STAGING,
            description="staging.gpedc_puntos_focales guarda solo codigo_respondente, tipo_respondente, entidad y secciones.",
        ),
    ],
    pool="duckdb",
    can_subset=False,
)
def gpedc_consolidacion(context: dg.AssetExecutionContext, cti: CtiConfig, warehouse: WarehouseResource):
    sections = load_sections(cti.paths.reference_override_dir)
    result = gpedc.consolidate(cti.paths.landing_dir / "gpedc" / "ronda4", tuple(sections["seccion"]))
    for warning in result.warnings:
        context.log.warning(f"gpedc: {warning}")
    for rejected in result.rejected_files.itertuples():
        context.log.warning(f"gpedc: file {rejected.archivo} rejected: {rejected.motivo}")

    writes = [TableWrite("raw.gpedc_filas", GPEDC_FILAS, result.filas)]
    for table, columns in STAGING_TABLES.items():
        sheet = table.removeprefix("staging.gpedc_")
        frame = result.roster if sheet == "puntos_focales" else result.staged.get(sheet, pd.DataFrame(columns=list(columns)))
        writes.append(TableWrite(table, columns, frame))
    for origen in sorted(set(ORIGENES.values())):
        writes.append(
            TableWrite("quarantine.filas_rechazadas", FILAS_RECHAZADAS, result.quarantined[result.quarantined["origen"] == origen], {"origen": origen})
        )
    writes.append(TableWrite("quarantine.archivos_rechazados", ARCHIVOS_RECHAZADOS, result.rejected_files, {"origen": REJECTED_ORIGEN}))
    with warehouse.get_connection() as conn:
        replace_partitions(conn, writes)
        bad = unreconciled(conn)
        duplicates = duplicate_keys(conn)
        roster_columns = [c[0] for c in conn.execute("DESCRIBE staging.gpedc_puntos_focales").fetchall()]

    counts = result.file_counts()
    yield dg.MaterializeResult(
        asset_key=RAW,
        metadata=table_metadata(
            "raw.gpedc_filas", GPEDC_FILAS, len(result.filas),
            archivos_leidos=int(counts["archivo"].nunique()) if not counts.empty else 0,
            filas_por_archivo=dg.MetadataValue.md(markdown_table(counts, max_rows=60)),
            hay_lista_de_puntos_focales=result.roster_found,
        ),
    )
    staged_counts = pd.DataFrame(
        [("puntos_focales", len(result.roster))] + [(sheet, len(frame)) for sheet, frame in result.staged.items()],
        columns=["hoja", "filas"],
    )
    yield dg.MaterializeResult(
        asset_key=STAGING,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(int(staged_counts["filas"].sum())),
            "filas_por_hoja": dg.MetadataValue.md(markdown_table(staged_counts)),
            "respondentes": len(result.roster),
            "preview": dg.MetadataValue.md(markdown_table(result.roster[["codigo_respondente", "tipo_respondente", "entidad", "secciones"]])),
        },
    )
    quarantined = result.quarantined
    by_rule = quarantined.groupby(["origen", "regla"]).size().rename("filas").reset_index().sort_values("filas", ascending=False)
    yield dg.MaterializeResult(
        asset_key=QUARANTINE,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(quarantined)),
            "filas_en_cuarentena": int(quarantined.drop_duplicates(["origen", "archivo", "hoja", "fila"]).shape[0]),
            "archivos_rechazados": dg.MetadataValue.int(len(result.rejected_files)),
            "por_regla": dg.MetadataValue.md(markdown_table(by_rule)),
            "archivos_rechazados_detalle": dg.MetadataValue.md(markdown_table(result.rejected_files[["archivo", "motivo"]], max_chars=160)),
            "preview": dg.MetadataValue.md(markdown_table(quarantined[["archivo", "hoja", "fila", "regla", "mensaje"]], max_chars=140)),
        },
    )
    yield dg.AssetCheckResult(
        check_name="filas_conciliadas", asset_key=RAW, passed=bad.empty,
        metadata={"archivos_descuadrados": dg.MetadataValue.md(markdown_table(bad))},
    )
    yield dg.AssetCheckResult(
        check_name="sin_claves_duplicadas", asset_key=STAGING, passed=duplicates.empty,
        metadata={"claves_repetidas": dg.MetadataValue.md(markdown_table(duplicates))},
    )
    yield dg.AssetCheckResult(
        check_name="puntos_focales_sin_contactos", asset_key=STAGING, passed=set(roster_columns) <= set(GPEDC_PUNTOS_FOCALES),
        metadata={"columnas": ", ".join(roster_columns)},
    )


# --- marts ----------------------------------------------------------------------------------------


def _no_roster_warning(context: dg.AssetExecutionContext, roster: pd.DataFrame) -> None:
    if roster.empty:
        context.log.warning("gpedc: no focal-point roster staged yet (landing/gpedc/ronda4/puntos_focales.csv|xlsx): the mart is empty")


@dg.asset(
    key=COMPLETITUD,
    deps=[STAGING],
    description="Seguimiento de la recolección y validación (fases 2 y 3): una fila por respondente y sección asignada, "
    "con preguntas respondidas y estado PENDIENTE, RECIBIDO, OBSERVADO o VALIDADO.",
    pool="duckdb",
    check_specs=[
        dg.AssetCheckSpec(
            "una_fila_por_seccion_asignada", asset=COMPLETITUD,
            description="Cada (respondente, sección asignada) de la lista de puntos focales aparece exactamente una vez.",
        )
    ],
    **_warehouse,
)
def gpedc_completitud(context: dg.AssetExecutionContext, cti: CtiConfig, warehouse: WarehouseResource):
    sections = load_sections(cti.paths.reference_override_dir)
    with warehouse.get_connection() as conn:
        staged = read_staging(conn)
        tracker = gpedc.completitud(staged["puntos_focales"], tuple(sections["seccion"]), staged)
        replace_partitions(conn, [TableWrite("marts.gpedc_completitud", GPEDC_COMPLETITUD, tracker)])
        mismatched = conn.execute(
            """
            WITH assigned AS (
                SELECT codigo_respondente, upper(trim(s)) AS seccion
                FROM staging.gpedc_puntos_focales, unnest(string_split(secciones, ';')) AS t(s)
                WHERE trim(s) <> ''
            ), mart AS (
                SELECT codigo_respondente, seccion, count(*) AS veces FROM marts.gpedc_completitud GROUP BY ALL
            )
            SELECT coalesce(a.codigo_respondente, m.codigo_respondente) AS codigo_respondente,
                   coalesce(a.seccion, m.seccion) AS seccion, coalesce(m.veces, 0) AS veces
            FROM assigned a FULL JOIN mart m USING (codigo_respondente, seccion)
            WHERE a.codigo_respondente IS NULL OR m.veces IS DISTINCT FROM 1
            """
        ).df() if table_exists(conn, "staging.gpedc_puntos_focales") else pd.DataFrame()
    _no_roster_warning(context, staged["puntos_focales"])
    by_state = tracker["estado"].value_counts()
    return dg.MaterializeResult(
        metadata=table_metadata(
            "marts.gpedc_completitud", GPEDC_COMPLETITUD, len(tracker),
            seguimiento=dg.MetadataValue.md(gpedc.tracker_markdown(tracker)),
            **{f"secciones_{state.lower()}": int(by_state.get(state, 0)) for state in gpedc.STATES},
        ),
        check_results=[
            dg.AssetCheckResult(
                check_name="una_fila_por_seccion_asignada", passed=mismatched.empty,
                metadata={"descuadres": dg.MetadataValue.md(markdown_table(mismatched))},
            )
        ],
    )


@dg.asset(
    key=INDICADORES,
    deps=[STAGING],
    description=f"Indicadores de la 4ª ronda AGCED por socio para el desarrollo y TOTAL (año de referencia {ANIO_REFERENCIA}): "
    "alineación de objetivos e indicadores (ODS 17.15.1), evaluaciones conjuntas, previsibilidad anual y ayuda en el presupuesto.",
    pool="duckdb",
    check_specs=[
        dg.AssetCheckSpec("valores_entre_0_y_100", asset=INDICADORES, description="Todo valor es NULL o un porcentaje entre 0 y 100."),
    ],
    **_warehouse,
)
def gpedc_indicadores(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    with warehouse.get_connection() as conn:
        staged = read_staging(conn)
        values = gpedc.indicadores(staged["puntos_focales"], staged["intervenciones"], staged["flujos"], staged["presupuesto"])
        replace_partitions(conn, [TableWrite("marts.gpedc_indicadores", GPEDC_INDICADORES, values)])
    _no_roster_warning(context, staged["puntos_focales"])
    out_of_range = values[values["valor"].notna() & ((values["valor"] < 0) | (values["valor"] > 100))]
    totals = values[values["codigo_socio"] == gpedc.TOTAL][["indicador", "valor", "numerador", "denominador"]]
    return dg.MaterializeResult(
        metadata=table_metadata(
            "marts.gpedc_indicadores", GPEDC_INDICADORES, len(values), totals,
            socios=int(values.loc[values["codigo_socio"] != gpedc.TOTAL, "codigo_socio"].nunique()),
            anio_referencia=ANIO_REFERENCIA,
        ),
        check_results=[
            dg.AssetCheckResult(
                check_name="valores_entre_0_y_100", passed=out_of_range.empty,
                metadata={"fuera_de_rango": dg.MetadataValue.md(markdown_table(out_of_range))},
            )
        ],
    )


# --- export ---------------------------------------------------------------------------------------


@dg.asset(
    key=EXPORT,
    deps=[STAGING, COMPLETITUD, INDICADORES],
    description="Libro exports/gpedc_ronda4_PER.xlsx para la herramienta en línea de la AGCED: una hoja por sección con las "
    "respuestas y su estado de validación, más intervenciones, flujos, presupuesto, completitud e indicadores.",
    kinds={"excel"},
    pool="duckdb",  # reads the warehouse
    check_specs=[
        dg.AssetCheckSpec("sin_formulas", asset=EXPORT, description="Ninguna celda del libro es una fórmula (releído con openpyxl)."),
        dg.AssetCheckSpec("sin_correos", asset=EXPORT, description="Ninguna celda del libro contiene una dirección de correo."),
    ],
    **_common,
)
def gpedc_ronda4(context: dg.AssetExecutionContext, cti: CtiConfig, warehouse: WarehouseResource):
    sections = load_sections(cti.paths.reference_override_dir)
    with warehouse.get_connection() as conn:
        staged = read_staging(conn)
        tracker = read_table_or_empty(conn, "marts.gpedc_completitud", GPEDC_COMPLETITUD)
        values = read_table_or_empty(conn, "marts.gpedc_indicadores", GPEDC_INDICADORES)
    _no_roster_warning(context, staged["puntos_focales"])
    data = GpedcExportData(
        sections=sections,
        roster=staged["puntos_focales"],
        respuestas=staged["respuestas"],
        validaciones_vigentes=gpedc.latest_validations(staged["validaciones"]),
        completitud=tracker,
        indicadores=values,
        intervenciones=staged["intervenciones"],
        flujos=staged["flujos"],
        presupuesto=staged["presupuesto"],
    )
    path = write_export(cti.paths.exports_dir, data)
    found = audit(path)
    return dg.MaterializeResult(
        metadata={
            "ruta": dg.MetadataValue.path(str(path)),
            "respuestas": len(staged["respuestas"]),
            "hojas": ", ".join([*sections["seccion"], "intervenciones", "flujos", "presupuesto", "completitud", "indicadores"]),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="sin_formulas", passed=not found.formulas, metadata={"celdas_formula": ", ".join(found.formulas[:20]) or "ninguna"}
            ),
            dg.AssetCheckResult(
                check_name="sin_correos", passed=not found.emails, metadata={"celdas_con_correo": ", ".join(found.emails[:20]) or "ninguna"}
            ),
        ],
    )


@dg.asset(
    key=RESULTADOS,
    deps=[COMPLETITUD, INDICADORES],
    description="Resultados de la ronda para la fase 4 (divulgación): participación por tipo de respondente, indicadores "
    "del país (TOTAL) y por socio, en exports/gpedc_resultados_ronda4.docx y .html, para presentarlos a los socios, "
    "las OSC y los demás actores.",
    kinds={"duckdb", "docx", "html"},
    pool="duckdb",  # reads the warehouse
    **_common,
)
def gpedc_resultados(context: dg.AssetExecutionContext, cti: CtiConfig, warehouse: WarehouseResource):
    with warehouse.get_connection() as conn:
        tracker = read_table_or_empty(conn, "marts.gpedc_completitud", GPEDC_COMPLETITUD)
        values = read_table_or_empty(conn, "marts.gpedc_indicadores", GPEDC_INDICADORES)
    results = build_results(values, tracker, ANIO_REFERENCIA, dt.datetime.now(dt.timezone.utc))
    if values.empty:
        context.log.warning("gpedc results: marts.gpedc_indicadores is empty (no roster yet, or the round is not consolidated)")
    docx_path, html_path = write_results(results, cti.paths.exports_dir)
    return dg.MaterializeResult(
        metadata={
            "docx": dg.MetadataValue.path(str(docx_path)),
            "html": dg.MetadataValue.path(str(html_path)),
            "socios": len(results.partners),
            "indicadores": dg.MetadataValue.md(render_markdown(results)),
        },
    )


# --- jobs (launched by name by the roadmap schedules and the gpedc sensor) -----------------------

_CONSOLIDATION = dg.AssetSelection.assets(RAW, STAGING, QUARANTINE)

gpedc_job = dg.define_asset_job(
    name="gpedc_job",
    selection=dg.AssetSelection.groups("gpedc"),
    description="Toda la 4ª ronda AGCED: consolidación, completitud, indicadores y exportación.",
)

gpedc_recoleccion_job = dg.define_asset_job(
    name="gpedc_recoleccion_job",
    selection=_CONSOLIDATION | dg.AssetSelection.assets(COMPLETITUD),
    description="Fase 2 (recolección): consolidación de cuestionarios y seguimiento de completitud.",
)

gpedc_revision_job = dg.define_asset_job(
    name="gpedc_revision_job",
    selection=_CONSOLIDATION | dg.AssetSelection.assets(COMPLETITUD, INDICADORES, EXPORT),
    description="Fase 3 (revisión y envío): consolidación, estado de validación, indicadores y exportación.",
)

gpedc_divulgacion_job = dg.define_asset_job(
    name="gpedc_divulgacion_job",
    selection=dg.AssetSelection.assets(INDICADORES, EXPORT, RESULTADOS),
    description="Fase 4 (divulgación): indicadores, exportación e informe de resultados con los datos ya consolidados.",
)
