"""Outputs people use: the PNCTI compliance report draft and the feedback workbooks for entities."""

import dagster as dg

from cti_pipeline.contracts.reference import load_catalog
from cti_pipeline.defs.metadata import markdown_table
from cti_pipeline.defs.partitions import partition_year, yearly_partitions
from cti_pipeline.defs.resources import CtiConfig, WarehouseResource
from cti_pipeline.outputs.feedback import SUMMARY_FILE, group_feedback, read_feedback_inputs, write_feedback
from cti_pipeline.outputs.report import build_report, read_report_inputs, write_report

MART = dg.AssetKey(["marts", "pncti_indicadores"])
RAW_DECLARACIONES = dg.AssetKey(["raw", "declaraciones"])
QUARANTINE_DECLARACIONES = dg.AssetKey(["quarantine", "declaraciones"])


@dg.asset(
    key=["reportes", "cumplimiento_pncti"],
    description="Borrador del reporte de cumplimiento de la PNCTI del año para CEPLAN (exports/reporte_cumplimiento_pncti_<anio>.docx "
    "y .html): cabecera, objetivos prioritarios, servicios, alternativas (a completar por los analistas), anexo de conciliación "
    "y cuarentena, un gráfico por objetivo.",
    group_name="reportes",
    kinds={"duckdb", "docx", "html"},
    owners=["team:apci"],
    deps=[MART],
    partitions_def=yearly_partitions,
    pool="duckdb",
)
def cumplimiento_pncti(context: dg.AssetExecutionContext, cti: CtiConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
    anio = partition_year(context)
    with warehouse.get_connection() as conn:
        indicadores, quarantine = read_report_inputs(conn, anio)
    catalog = load_catalog("pncti_indicadores", cti.reference_override_dir, required=False)
    report = build_report(indicadores, anio, quarantine, catalog)
    for warning in report.warnings:
        context.log.warning(f"compliance report {anio}: {warning}")
    written = write_report(report, cti.exports_dir)
    lines = report.indicators
    return dg.MaterializeResult(
        metadata={
            "docx": dg.MetadataValue.path(str(written.docx)),
            "html": dg.MetadataValue.path(str(written.html)),
            "indicadores": dg.MetadataValue.int(len(lines)),
            "indicadores_disponibles": dg.MetadataValue.int(sum(l.valor is not None for l in lines)),
            "indicadores_nd": dg.MetadataValue.int(sum(l.valor is None for l in lines)),
            "no_coinciden_con_publicado": dg.MetadataValue.int(len(report.reconciliation)),
            "graficos": dg.MetadataValue.int(len(written.charts)),
            "reporte": dg.MetadataValue.md(written.markdown),
        }
    )


@dg.asset(
    key=["reportes", "observaciones_entidades"],
    description="Observaciones para cada entidad declarante con filas en cuarentena o archivos rechazados del año: un libro por "
    "entidad en exports/observaciones/<anio>/<ruc>.xlsx, listo para enviarle, y un resumen para APCI (resumen_apci.xlsx).",
    group_name="reportes",
    kinds={"duckdb", "excel"},
    owners=["team:apci"],
    deps=[RAW_DECLARACIONES, QUARANTINE_DECLARACIONES],
    partitions_def=yearly_partitions,
    pool="duckdb",
)
def observaciones_entidades(context: dg.AssetExecutionContext, cti: CtiConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
    anio = partition_year(context)
    with warehouse.get_connection() as conn:
        rows, files, file_rucs = read_feedback_inputs(conn, anio)
    entities = group_feedback(rows, files, file_rucs)
    result = write_feedback(entities, anio, cti.exports_dir / "observaciones")
    per_entity = result.summary["por_entidad"]
    return dg.MaterializeResult(
        metadata={
            "carpeta": dg.MetadataValue.path(str(result.folder)),
            "resumen_apci": dg.MetadataValue.path(str(result.folder / SUMMARY_FILE)),
            "dagster/row_count": dg.MetadataValue.int(len(rows)),
            "libros_entidades": dg.MetadataValue.int(len(entities)),
            "reglas_incumplidas": dg.MetadataValue.int(len(rows)),
            "archivos_rechazados": dg.MetadataValue.int(len(files)),
            # Counts only: no cell values (they are the entities' data) in the UI.
            "por_entidad": dg.MetadataValue.md(
                markdown_table(per_entity[["libro", "filas_en_cuarentena", "reglas_incumplidas", "archivos_rechazados"]], max_rows=30)
            ),
            "por_regla": dg.MetadataValue.md(markdown_table(result.summary["por_regla"], max_rows=30)),
        }
    )
