"""Outputs people use: the PNCTI compliance report draft and the feedback workbooks for entities.

A re-run whose warehouse inputs, year and writer code equal those of the last successful write, with
the files still there untouched, keeps the files (cti_pipeline.unchanged): it reports the
same metadata with sin_cambios=True and evaluates its check on what it read, without rewriting.
"""

import base64
import re
from pathlib import Path

import dagster as dg

from cti_pipeline.contracts.reference import load_catalog
from cti_pipeline.defs.metadata import unchanged_metadata, markdown_table
from cti_pipeline.defs.partitions import partition_year, yearly_partitions
from cti_pipeline.defs.resources import CtiConfig, WarehouseResource
from cti_pipeline.outputs.feedback import (
    SUMMARY_FILE,
    feedback_files,
    group_feedback,
    read_feedback_inputs,
    summary_frames,
    write_feedback,
)
from cti_pipeline.unchanged import forget_record, inputs_fingerprint, record_path, unchanged_outputs, write_record
from cti_pipeline.outputs.report import Report, build_report, read_report_inputs, render_markdown, report_paths, write_report

MART = dg.AssetKey(["marts", "pncti_indicadores"])
RAW_DECLARACIONES = dg.AssetKey(["raw", "declaraciones"])
QUARANTINE_DECLARACIONES = dg.AssetKey(["quarantine", "declaraciones"])
UNCHANGED_NOTE = "sin cambios, no se reescribió: las entradas del almacén, el año y el código son los de la última escritura"


@dg.asset(
    key=["reportes", "cumplimiento_pncti"],
    description="Borrador del reporte de cumplimiento de la PNCTI del año para CEPLAN (`exports/reporte_cumplimiento_pncti_{anio}.docx` "
    "y `.html`): cabecera, objetivos prioritarios, servicios, alternativas (a completar por los analistas), anexo de conciliación "
    "y cuarentena, un gráfico por objetivo.",
    group_name="reportes",
    kinds={"duckdb", "docx", "html"},
    owners=["team:apci"],
    deps=[MART],
    partitions_def=yearly_partitions,
    pool="duckdb",
    check_specs=[
        dg.AssetCheckSpec(
            "indicadores_del_catalogo_presentes",
            asset=["reportes", "cumplimiento_pncti"],
            description="Cada indicador del catálogo reference/pncti_indicadores.csv tiene fila en marts.pncti_indicadores "
            "del año (si no, el borrador lo muestra como ND). Advierte, no detiene la corrida.",
        )
    ],
)
def cumplimiento_pncti(context: dg.AssetExecutionContext, cti: CtiConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
    anio = partition_year(context)
    with warehouse.get_connection() as conn:
        indicadores, quarantine = read_report_inputs(conn, anio)
    catalog = load_catalog("pncti_indicadores", cti.paths.reference_override_dir, required=False)
    report = build_report(indicadores, anio, quarantine, catalog)
    for warning in report.warnings:
        context.log.warning(f"compliance report {anio}: {warning}")
    huella = inputs_fingerprint({"indicadores": indicadores, "cuarentena": quarantine, "catalogo": catalog}, anio=anio)
    record = record_path(cti.paths.exports_dir, f"cumplimiento_pncti_{anio}")
    kept = kept_report(record, huella, report, cti.paths.exports_dir)
    if kept is not None:
        context.log.info(f"compliance report {anio}: inputs unchanged (fingerprint {huella}), files kept")
        charts, markdown = kept
    else:
        forget_record(record)
        written = write_report(report, cti.paths.exports_dir)
        write_record(record, huella, [written.docx, written.html], {"graficos": len(written.charts), "miniatura": png_text(written.thumbnail)})
        charts, markdown = len(written.charts), written.markdown
    docx, html = report_paths(cti.paths.exports_dir, anio)
    in_mart = set(indicadores["indicador"]) if not indicadores.empty else set()
    missing = sorted(set(catalog["codigo"]) - in_mart) if not catalog.empty else []
    lines = report.indicators
    return dg.MaterializeResult(
        check_results=[
            dg.AssetCheckResult(
                check_name="indicadores_del_catalogo_presentes",
                passed=not missing,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"faltantes": dg.MetadataValue.text(", ".join(missing) or "ninguno")},
            )
        ],
        metadata={
            "docx": dg.MetadataValue.path(str(docx)),
            "html": dg.MetadataValue.path(str(html)),
            "indicadores": dg.MetadataValue.int(len(lines)),
            "indicadores_disponibles": dg.MetadataValue.int(sum(l.valor is not None for l in lines)),
            "indicadores_nd": dg.MetadataValue.int(sum(l.valor is None for l in lines)),
            "no_coinciden_con_publicado": dg.MetadataValue.int(len(report.reconciliation)),
            "graficos": dg.MetadataValue.int(charts),
            "reporte": dg.MetadataValue.md(markdown),
            **unchanged_metadata(kept is not None, huella, UNCHANGED_NOTE),
        }
    )


def kept_report(record: Path, huella: str, report: Report, exports_dir: Path) -> tuple[int, str] | None:
    """(charts, Markdown twin) when the year's .docx and .html may be kept as they are, else None."""
    extra = unchanged_outputs(record, huella, list(report_paths(exports_dir, report.anio)))
    if extra is None or not isinstance(extra.get("graficos"), int) or "miniatura" not in extra:
        return None
    thumbnail = base64.b64decode(extra["miniatura"]) if extra["miniatura"] else None
    return extra["graficos"], render_markdown(report, thumbnail)


def png_text(png: bytes | None) -> str:
    return base64.b64encode(png).decode("ascii") if png else ""


@dg.asset(
    key=["reportes", "observaciones_entidades"],
    description="Observaciones para cada entidad declarante con filas en cuarentena o archivos rechazados del año: un libro por "
    "entidad en `exports/observaciones/{anio}/{ruc}.xlsx`, listo para enviarle (una fila con el RUC mal escrito va a la entidad "
    "que declara su archivo), y un resumen para APCI (resumen_apci.xlsx).",
    group_name="reportes",
    kinds={"duckdb", "excel"},
    owners=["team:apci"],
    deps=[RAW_DECLARACIONES, QUARANTINE_DECLARACIONES],
    partitions_def=yearly_partitions,
    pool="duckdb",
    check_specs=[
        dg.AssetCheckSpec(
            "todas_las_observaciones_asignadas",
            asset=["reportes", "observaciones_entidades"],
            description="Cada regla incumplida de quarantine.filas_rechazadas (origen declaraciones) del año está en exactamente "
            "un libro de entidad, y cada archivo rechazado en al menos uno.",
        )
    ],
)
def observaciones_entidades(context: dg.AssetExecutionContext, cti: CtiConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
    anio = partition_year(context)
    with warehouse.get_connection() as conn:
        rows, files, file_rucs = read_feedback_inputs(conn, anio)
    entities = group_feedback(rows, files, file_rucs)
    folder = cti.paths.exports_dir / "observaciones" / str(anio)
    huella = inputs_fingerprint({"filas": rows, "archivos": files, "rucs_de_archivos": file_rucs}, anio=anio)
    record = record_path(cti.paths.exports_dir, f"observaciones_entidades_{anio}")
    unchanged = unchanged_outputs(record, huella, feedback_files(folder, entities), owned_folder=folder) is not None
    if unchanged:
        context.log.info(f"feedback workbooks {anio}: inputs unchanged (fingerprint {huella}), workbooks kept")
        summary = summary_frames(entities)
    else:
        forget_record(record)
        result = write_feedback(entities, anio, cti.paths.exports_dir / "observaciones")
        write_record(record, huella, result.files)
        summary = result.summary
    per_entity = summary["por_entidad"].assign(libro=lambda f: f["libro"].map(mask_natural_person))
    assigned_rows = sum(len(e.rows) for e in entities)
    assigned_files = {archivo for e in entities for archivo in e.files["archivo"]}
    return dg.MaterializeResult(
        check_results=[
            dg.AssetCheckResult(
                check_name="todas_las_observaciones_asignadas",
                passed=assigned_rows == len(rows) and assigned_files == set(files["archivo"]),
                metadata={
                    "reglas_en_cuarentena": len(rows),
                    "reglas_en_libros": assigned_rows,
                    "archivos_rechazados_sin_libro": dg.MetadataValue.text(", ".join(sorted(set(files["archivo"]) - assigned_files)) or "ninguno"),
                },
            )
        ],
        metadata={
            "carpeta": dg.MetadataValue.path(str(folder)),
            "resumen_apci": dg.MetadataValue.path(str(folder / SUMMARY_FILE)),
            "dagster/row_count": dg.MetadataValue.int(len(rows)),
            "libros_entidades": dg.MetadataValue.int(len(entities)),
            "reglas_incumplidas": dg.MetadataValue.int(len(rows)),
            "archivos_rechazados": dg.MetadataValue.int(len(files)),
            # Counts only: no cell values (they are the entities' data) in the UI.
            "por_entidad": dg.MetadataValue.md(
                markdown_table(per_entity[["libro", "filas_en_cuarentena", "reglas_incumplidas", "archivos_rechazados"]], max_rows=30)
            ),
            "por_regla": dg.MetadataValue.md(markdown_table(summary["por_regla"], max_rows=30)),
            **unchanged_metadata(unchanged, huella, UNCHANGED_NOTE),
        }
    )


def mask_natural_person(workbook: str) -> str:
    """A RUC starting with 10 embeds a person's DNI: keep it out of the UI (the file keeps its name)."""
    return re.sub(r"^10\d{8}(\d)", r"10********\1", workbook)
