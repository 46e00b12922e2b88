"""GPEDC (AGCED) 4th monitoring round on the 2023–2026 framework: consolidation, tracker, indicators, export, results.

Unpartitioned: the round is one folder, `landing/gpedc/ronda4/`. The questionnaire, the indicators and the
round's parameters are catalogs (`reference/gpedc_*.csv`), read at every run. The jobs at the bottom are
launched by name by the roadmap schedules and the file-drop sensor. The SQL these assets need is in
`domain/gpedc_store.py`.
"""

import datetime as dt

import dagster as dg
import pandas as pd

from cti_pipeline.contracts.gpedc import PUNTOS_FOCALES, GpedcCatalogs
from cti_pipeline.contracts.tables import GPEDC_COMPLETITUD, GPEDC_FILAS, GPEDC_INDICADORES, staging_columns
from cti_pipeline.contracts.descriptions import describe
from cti_pipeline.defs.metadata import check_result, markdown_table, table_metadata
from cti_pipeline.defs.resources import CtiConfig, WarehouseResource
from cti_pipeline.domain import gpedc, quality
from cti_pipeline.domain import gpedc_store as store
from cti_pipeline.domain.gpedc_indicators import compute_indicators
from cti_pipeline.domain.gpedc_marts import STATES, completitud, latest_validations, pendientes, tracker_markdown
from cti_pipeline.domain.ledger import first_seen
from cti_pipeline.outputs.gpedc_export import GpedcExportData, audit, write_export
from cti_pipeline.outputs.gpedc_results import build_results, render_markdown, write_results
from cti_pipeline.warehouse import TableWrite, replace_partitions

RAW = dg.AssetKey(["raw", "gpedc"])
STAGING = dg.AssetKey(["staging", "gpedc"])
QUARANTINE = dg.AssetKey(["quarantine", "gpedc"])
COMPLETITUD = dg.AssetKey(["marts", "gpedc_completitud"])
INDICADORES = dg.AssetKey(["marts", "gpedc_indicadores"])
EXPORT = dg.AssetKey(["exports", "gpedc_ronda4"])
RESULTADOS = dg.AssetKey(["reportes", "gpedc_resultados"])
ROSTER_COLUMNS = staging_columns(PUNTOS_FOCALES)
PREVIEW = {"staging.gpedc_puntos_focales": ["codigo_respondente", "tipo_respondente", "entidad", "secciones"]}

_common = dict(group_name="gpedc", owners=["team:apci"])
_warehouse = dict(kinds={"duckdb", "pandas"}, **_common)


def catalogs_of(cti: CtiConfig) -> GpedcCatalogs:
    return GpedcCatalogs.load(cti.paths.reference_override_dir)


# --- consolidation --------------------------------------------------------------------------------


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
            description="Respuestas consolidadas de la 4ª ronda AGCED, validadas contra el catálogo de preguntas: puntos "
            "focales (solo código, tipo, entidad y secciones), respuestas, intervenciones (B.2), flujos (B.3), socios (A.3 y "
            "A.5) y validaciones, con tipos.",
            deps=[RAW],
            **_warehouse,
        ),
        dg.AssetSpec(
            QUARANTINE,
            description="Filas y archivos rechazados de la 4ª ronda AGCED (ítem desconocido, respuesta inválida, sección no "
            "asignada, parte mayor que el total…), con un mensaje en español que nombra al respondente y la hoja.",
            deps=[RAW],
            **_warehouse,
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec("filas_conciliadas", asset=RAW, description="Por archivo (meta.archivos): filas leídas = staged + quarantined + superseded."),
        dg.AssetCheckSpec("sin_claves_duplicadas", asset=STAGING, description="Ninguna clave del contrato se repite en staging."),
        dg.AssetCheckSpec(
            "puntos_focales_sin_contactos", asset=STAGING,
            description="staging.gpedc_puntos_focales guarda solo codigo_respondente, tipo_respondente, entidad, secciones, archivo y fila.",
        ),
        dg.AssetCheckSpec(
            "lista_de_puntos_focales_utilizable", asset=STAGING,
            description="La lista de puntos focales de la carpeta se pudo leer; si no, la última ronda válida sigue publicada.",
        ),
    ],
    pool="duckdb",
    can_subset=False,
)
def gpedc_consolidacion(context: dg.AssetExecutionContext, cti: CtiConfig, warehouse: WarehouseResource):
    catalogs = catalogs_of(cti)
    with warehouse.get_connection() as conn:
        seen = first_seen(conn)
        previous_round = store.has_round(conn)
    result = gpedc.consolidate(cti.paths.landing_dir / "gpedc" / "ronda4", catalogs, seen)
    for warning in result.warnings:
        context.log.warning(f"gpedc: {warning}")
    for rejected in result.rejected_files.itertuples():
        context.log.warning(f"gpedc: file {rejected.archivo} rejected: {rejected.motivo}")
    kept = result.roster_unusable and previous_round
    if kept:
        context.log.warning(
            "gpedc: the focal-point roster in landing/gpedc/ronda4/ cannot be used (see the rejection above); the last good "
            "round stays published: nothing of the round was replaced"
        )
    else:
        with warehouse.get_connection() as conn:
            replace_partitions(conn, store.round_writes(result, catalogs))
    with warehouse.get_connection() as conn:
        summary = quality.summarize(conn, gpedc.ORIGEN, store.TABLES, None, PREVIEW)
        counts = store.staged_counts(conn, catalogs)
        problems = quality.ledger_problems(conn, gpedc.ORIGEN, store.TABLES)
        duplicates = store.duplicate_keys(conn, catalogs)
        roster_columns = store.table_columns(conn, store.staging_table("puntos_focales"))

    files = summary.files
    shown_files = files[["archivo", "hoja", "estado_archivo", "filas_leidas", "filas_en_staging", "filas_en_cuarentena",
                         "filas_reemplazadas"]] if not files.empty else files
    common = {"ronda_conservada": kept, "anio_referencia": catalogs.anio_referencia}
    yield dg.MaterializeResult(
        asset_key=RAW,
        metadata=table_metadata(
            store.RAW_TABLE, GPEDC_FILAS, summary.raw_rows,
            archivos=dg.MetadataValue.int(len(files)),
            filas_por_archivo=dg.MetadataValue.md(markdown_table(shown_files, max_rows=60)),
            hay_lista_de_puntos_focales=result.roster_found or kept,
            **common,
        ),
    )
    preview = summary.previews.get("staging.gpedc_puntos_focales")
    yield dg.MaterializeResult(
        asset_key=STAGING,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(int(counts["filas"].sum())),
            "filas_por_hoja": dg.MetadataValue.md(markdown_table(counts)),
            "respondentes": int(counts.loc[counts["hoja"] == "puntos_focales", "filas"].sum()),
            "filas_en_cuarentena": dg.MetadataValue.int(summary.quarantined_rows),
            "preview": dg.MetadataValue.md(markdown_table(preview if preview is not None else pd.DataFrame())),
            "columnas": dg.MetadataValue.md(staging_columns_markdown(catalogs)),
            **common,
        },
    )
    by_rule = summary.by_rule[["origen", "regla", "filas"]] if not summary.by_rule.empty else summary.by_rule
    yield dg.MaterializeResult(
        asset_key=QUARANTINE,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(summary.broken_rules),
            "reglas_incumplidas": dg.MetadataValue.int(summary.broken_rules),
            "filas_en_cuarentena": dg.MetadataValue.int(summary.quarantined_rows),
            "archivos_rechazados": dg.MetadataValue.int(len(summary.rejected)),
            "por_regla": dg.MetadataValue.md(markdown_table(by_rule)),
            "archivos_rechazados_detalle": dg.MetadataValue.md(markdown_table(summary.rejected, max_chars=160)),
            "preview": dg.MetadataValue.md(markdown_table(summary.quarantine_preview, max_chars=140)),
            **common,
        },
    )
    yield check_result("filas_conciliadas", RAW, problems, "archivos_descuadrados")
    yield check_result("sin_claves_duplicadas", STAGING, duplicates, "claves_repetidas")
    yield dg.AssetCheckResult(
        check_name="puntos_focales_sin_contactos", asset_key=STAGING, passed=set(roster_columns) <= set(ROSTER_COLUMNS),
        metadata={"columnas": ", ".join(roster_columns)},
    )
    roster_rejections = result.rejected_files[result.rejected_files["archivo"].str.casefold().str.startswith(gpedc.ROSTER_STEM)]
    yield dg.AssetCheckResult(
        check_name="lista_de_puntos_focales_utilizable", asset_key=STAGING, passed=not result.roster_unusable,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "ronda_conservada": kept,
            "motivo": dg.MetadataValue.md(markdown_table(roster_rejections[["archivo", "motivo"]], max_chars=200)),
        },
    )


def staging_columns_markdown(catalogs) -> str:
    """The round's staging tables and what each column means (the item columns from the questionnaire catalog)."""
    items = {item.columna: f"{item.codigo}: {item.descripcion}" for item in catalogs.items if item.columna}
    parts = []
    for table, columns in store.staging_tables(catalogs).items():
        described = describe(table, columns, items)
        rows = pd.DataFrame({"columna": list(columns), "tipo": list(columns.values()), "qué es": [described[c] for c in columns]})
        parts += [f"**{table}**", "", markdown_table(rows, max_rows=40, max_chars=140), ""]
    return "\n".join(parts)


# --- marts ----------------------------------------------------------------------------------------


def _no_roster_warning(context: dg.AssetExecutionContext, roster: pd.DataFrame) -> None:
    if roster.empty:
        context.log.warning("gpedc: no focal-point roster staged yet (landing/gpedc/ronda4/puntos_focales.csv|xlsx): the mart is empty")


@dg.asset(
    key=COMPLETITUD,
    deps=[STAGING],
    description="Seguimiento de la recolección y validación (fases 2 y 3): una fila por respondente y sección asignada, "
    "con ítems esperados según el catálogo, ítems respondidos, avance, intervenciones y estado PENDIENTE, RECIBIDO, "
    "OBSERVADO o VALIDADO; la vista previa lista lo que cada entidad aún debe.",
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
    catalogs = catalogs_of(cti)
    with warehouse.get_connection() as conn:
        data = store.read_round(conn, catalogs)
        tracker = completitud(data, catalogs)
        replace_partitions(conn, [TableWrite("marts.gpedc_completitud", GPEDC_COMPLETITUD, tracker)])
        mismatched = store.tracker_mismatches(conn, catalogs)
    owed = pendientes(data, catalogs)
    _no_roster_warning(context, data.roster)
    by_state = tracker["estado"].value_counts()
    return dg.MaterializeResult(
        metadata=table_metadata(
            "marts.gpedc_completitud", GPEDC_COMPLETITUD, len(tracker),
            seguimiento=dg.MetadataValue.md(tracker_markdown(tracker, owed)),
            items_pendientes=dg.MetadataValue.int(len(owed)),
            **{f"secciones_{state.lower()}": int(by_state.get(state, 0)) for state in STATES},
        ),
        check_results=[check_result("una_fila_por_seccion_asignada", COMPLETITUD, mismatched, "descuadres")],
    )


@dg.asset(
    key=INDICADORES,
    deps=[STAGING],
    description="Vista previa de los indicadores del marco 2023–2026 de la AGCED (reference/gpedc_indicadores.csv), por socio "
    "para el desarrollo y TOTAL, con su método y si está verificado, solo con datos del año de referencia "
    "(reference/gpedc_parametros.csv); NULL con una nota cuando no se puede calcular.",
    pool="duckdb",
    check_specs=[
        dg.AssetCheckSpec("valores_entre_0_y_100", asset=INDICADORES, description="Todo valor es NULL o un porcentaje entre 0 y 100."),
        dg.AssetCheckSpec(
            "una_fila_por_indicador_y_socio", asset=INDICADORES,
            description="Cada indicador del catálogo aparece una vez por socio de la lista y TOTAL (los de nivel PAIS, solo TOTAL).",
        ),
    ],
    **_warehouse,
)
def gpedc_indicadores(context: dg.AssetExecutionContext, cti: CtiConfig, warehouse: WarehouseResource):
    catalogs = catalogs_of(cti)
    with warehouse.get_connection() as conn:
        data = store.read_round(conn, catalogs)
        values = compute_indicators(data, catalogs)
        replace_partitions(conn, [TableWrite("marts.gpedc_indicadores", GPEDC_INDICADORES, values)])
        grain = store.indicator_grain_problems(conn, catalogs)
    _no_roster_warning(context, data.roster)
    out_of_range = values[values["valor"].notna() & ((values["valor"] < 0) | (values["valor"] > 100))]
    totals = values[values["codigo_socio"] == "TOTAL"][["indicador", "valor", "metodo", "verificado", "nota"]]
    return dg.MaterializeResult(
        metadata=table_metadata(
            "marts.gpedc_indicadores", GPEDC_INDICADORES, len(values), totals,
            socios=int(values.loc[values["codigo_socio"] != "TOTAL", "codigo_socio"].nunique()),
            indicadores=len(catalogs.indicators),
            con_valor=int(values["valor"].notna().sum()),
            anio_referencia=catalogs.anio_referencia,
        ),
        check_results=[
            check_result("valores_entre_0_y_100", INDICADORES, out_of_range, "fuera_de_rango"),
            check_result("una_fila_por_indicador_y_socio", INDICADORES, grain, "descuadres"),
        ],
    )


# --- export and results ---------------------------------------------------------------------------


def export_data(conn, catalogs: GpedcCatalogs) -> GpedcExportData:
    data = store.read_round(conn, catalogs)
    return GpedcExportData(
        catalogs=catalogs,
        data=data,
        validaciones_vigentes=latest_validations(data.sheet("validaciones")),
        completitud=store.read_table(conn, "marts.gpedc_completitud", GPEDC_COMPLETITUD),
        indicadores=store.read_table(conn, "marts.gpedc_indicadores", GPEDC_INDICADORES),
        pendientes=pendientes(data, catalogs),
    )


@dg.asset(
    key=EXPORT,
    deps=[STAGING, COMPLETITUD, INDICADORES],
    description="Libro exports/gpedc_ronda4_PER.xlsx para la herramienta en línea de la AGCED: una hoja por sección con las "
    "respuestas, la descripción del ítem y su estado de validación, más intervenciones, flujos, socios, pendientes, "
    "completitud e indicadores.",
    kinds={"excel"},
    pool="duckdb",  # reads the warehouse
    check_specs=[
        dg.AssetCheckSpec("sin_formulas", asset=EXPORT, description="Ninguna celda del libro es una fórmula (releído con openpyxl)."),
        dg.AssetCheckSpec("sin_correos", asset=EXPORT, description="Ninguna celda del libro contiene una dirección de correo."),
    ],
    **_common,
)
def gpedc_ronda4(context: dg.AssetExecutionContext, cti: CtiConfig, warehouse: WarehouseResource):
    catalogs = catalogs_of(cti)
    with warehouse.get_connection() as conn:
        data = export_data(conn, catalogs)
    _no_roster_warning(context, data.data.roster)
    path = write_export(cti.paths.exports_dir, data)
    found = audit(path)
    return dg.MaterializeResult(
        metadata={
            "ruta": dg.MetadataValue.path(str(path)),
            "respuestas": len(data.data.sheet("respuestas")),
            "items_pendientes": len(data.pendientes),
            "hojas": ", ".join(data.sheet_names()),
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
    description="Resultados de la ronda para la fase 4 (divulgación): participación por tipo de respondente, indicadores por "
    "dimensión con su método y si están verificados, los valores de cada socio junto al TOTAL con un gráfico por "
    "indicador y lo que queda pendiente, en exports/gpedc_resultados_ronda4.docx y .html.",
    kinds={"duckdb", "docx", "html"},
    pool="duckdb",  # reads the warehouse
    **_common,
)
def gpedc_resultados(context: dg.AssetExecutionContext, cti: CtiConfig, warehouse: WarehouseResource):
    catalogs = catalogs_of(cti)
    with warehouse.get_connection() as conn:
        data = export_data(conn, catalogs)
    results = build_results(data.indicadores, data.completitud, data.pendientes, catalogs, dt.datetime.now(dt.timezone.utc))
    if data.indicadores.empty:
        context.log.warning("gpedc results: marts.gpedc_indicadores is empty (no roster yet, or the round is not consolidated)")
    docx_path, html_path = write_results(results, cti.paths.exports_dir)
    return dg.MaterializeResult(
        metadata={
            "docx": dg.MetadataValue.path(str(docx_path)),
            "html": dg.MetadataValue.path(str(html_path)),
            "socios": len(results.partner_names),
            "graficos": len(results.charts),
            "indicadores": dg.MetadataValue.md(render_markdown(results)),
        },
    )


# --- jobs (launched by name by the roadmap schedules and the gpedc sensor) -----------------------

_CONSOLIDATION = dg.AssetSelection.assets(RAW, STAGING, QUARANTINE)

gpedc_job = dg.define_asset_job(
    name="gpedc_job",
    selection=dg.AssetSelection.groups("gpedc"),
    description="Toda la 4ª ronda AGCED: consolidación, completitud, indicadores, exportación e informe de resultados.",
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
