"""The filing tracker of the Declaración Anual (who must file, who filed) and APCI's follow-up list."""

import dagster as dg
import pandas as pd

from cti_pipeline.contracts.reference import filing_deadline
from cti_pipeline.contracts.tables import DECLARACION_CUMPLIMIENTO
from cti_pipeline.defs.metadata import markdown_table, table_metadata
from cti_pipeline.defs.partitions import partition_year, yearly_partitions
from cti_pipeline.defs.resources import CtiConfig, WarehouseResource
from cti_pipeline.domain.cumplimiento import (
    OMISA, RECHAZADA, STATES, coverage, filing_tracker, obliged_rucs, registry_loaded, stored_tracker, tracker_problems,
)
from cti_pipeline.outputs.omisas import follow_up, write_omisas
from cti_pipeline.warehouse import TableWrite, replace_partitions

TRACKER = dg.AssetKey(["marts", "declaracion_cumplimiento"])
OMISAS = dg.AssetKey(["exports", "omisas"])
UPSTREAM = [dg.AssetKey(["raw", "declaraciones"]), dg.AssetKey(["staging", "declaraciones"]), dg.AssetKey(["staging", "entidades"])]


def tracker_markdown(tracker: pd.DataFrame, with_registry: bool) -> str:
    """Counts per state and per entity type, then the entities owed a reminder."""
    if tracker.empty:
        return "_Sin entidades obligadas ni declaraciones para este año._"
    share = coverage(tracker, with_registry)
    lines = [
        f"**{share:.0f} % de las entidades obligadas han presentado**" if share is not None
        else "**Sin registro de entidades**: no se sabe quién debe presentar (landing/entidades/).",
        "",
    ]
    by_type = pd.crosstab(tracker["tipo_entidad"].fillna("(sin tipo)"), tracker["estado"]).reindex(columns=list(STATES), fill_value=0)
    by_type.loc["Total"] = by_type.sum()
    lines.append(markdown_table(by_type.reset_index().rename(columns={"tipo_entidad": "tipo de entidad"}), max_rows=10))
    pending = follow_up(tracker)
    if not pending.empty:
        lines += ["", f"**Por recordar ({len(pending)}):**", "",
                  markdown_table(pending[["ruc_entidad", "nombre_entidad", "estado", "que_falta"]], max_rows=25, max_chars=90)]
    late = tracker[tracker["fuera_de_plazo"] == "SI"]
    if not late.empty:
        lines += ["", f"**Fuera de plazo ({len(late)}):** " + ", ".join(f"{r.nombre_entidad} ({r.ruc_entidad})" for r in late.head(20).itertuples())]
    return "\n".join(lines)


@dg.asset(
    key=TRACKER,
    deps=UPSTREAM,
    group_name="declaraciones",
    kinds={"duckdb"},
    owners=["team:apci"],
    partitions_def=yearly_partitions,
    pool="duckdb",
    description="Seguimiento de la Declaración Anual del año: una fila por entidad obligada (registro de entidades) y por "
    "entidad que presentó, con su estado (PRESENTADA, PRESENTADA_CON_OBSERVACIONES, RECHAZADA, OMISA), si presentó fuera "
    "de plazo (`reference/plazos_declaracion.csv`), sus archivos, intervenciones, filas en cuarentena y monto.",
    check_specs=[
        dg.AssetCheckSpec(
            "una_fila_por_entidad",
            asset=TRACKER,
            description="Cada entidad obligada del año tiene exactamente una fila, y ninguna entidad se repite.",
        )
    ],
)
def declaracion_cumplimiento(context: dg.AssetExecutionContext, cti: CtiConfig, warehouse: WarehouseResource):
    anio = partition_year(context)
    deadline = filing_deadline(anio, cti.paths.reference_override_dir)
    with warehouse.get_connection() as conn:
        tracker = filing_tracker(conn, anio, deadline.fecha_limite)
        with_registry = registry_loaded(conn)
        replace_partitions(conn, [TableWrite("marts.declaracion_cumplimiento", DECLARACION_CUMPLIMIENTO, tracker, {"anio": anio})])
        repeated, mismatched = tracker_problems(stored_tracker(conn, anio), obliged_rucs(conn, anio))
    if not with_registry:
        context.log.warning(f"filing tracker {anio}: no registry of entities staged (landing/entidades/): who must file is unknown")
    counts = tracker["estado"].value_counts()
    share = coverage(tracker, with_registry)
    return dg.MaterializeResult(
        metadata=table_metadata(
            "marts.declaracion_cumplimiento", DECLARACION_CUMPLIMIENTO, len(tracker),
            seguimiento=dg.MetadataValue.md(tracker_markdown(tracker, with_registry)),
            obligadas=dg.MetadataValue.int(int((tracker["obligada"] == "SI").sum())),
            cobertura_pct=dg.MetadataValue.float(round(float(share), 2)) if share is not None else dg.MetadataValue.text("sin registro"),
            fecha_limite=deadline.fecha_limite.isoformat(),
            **{estado.lower(): dg.MetadataValue.int(int(counts.get(estado, 0))) for estado in STATES},
        ),
        check_results=[
            dg.AssetCheckResult(
                check_name="una_fila_por_entidad",
                passed=repeated.empty and mismatched.empty,
                metadata={
                    "entidades_repetidas": dg.MetadataValue.md(markdown_table(repeated[["ruc_entidad", "estado", "obligada"]])),
                    "obligadas_descuadradas": dg.MetadataValue.md(markdown_table(mismatched)),
                },
            )
        ],
    )


@dg.asset(
    key=OMISAS,
    deps=[TRACKER],
    group_name="reportes",
    kinds={"duckdb", "excel"},
    owners=["team:apci"],
    partitions_def=yearly_partitions,
    pool="duckdb",  # reads the warehouse
    description="Lista para los recordatorios de APCI (`exports/omisas_{anio}.xlsx`): entidades OMISA y RECHAZADA del año, "
    "con lo que falta; solo nombres de entidades y RUC.",
)
def omisas(context: dg.AssetExecutionContext, cti: CtiConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
    anio = partition_year(context)
    with warehouse.get_connection() as conn:
        tracker = stored_tracker(conn, anio)
    path = write_omisas(tracker, anio, cti.paths.exports_dir)
    pending = follow_up(tracker)
    return dg.MaterializeResult(
        metadata={
            "ruta": dg.MetadataValue.path(str(path)),
            "dagster/row_count": dg.MetadataValue.int(len(pending)),
            "omisas": dg.MetadataValue.int(int((pending["estado"] == OMISA).sum())),
            "rechazadas": dg.MetadataValue.int(int((pending["estado"] == RECHAZADA).sum())),
            "preview": dg.MetadataValue.md(markdown_table(pending[["ruc_entidad", "nombre_entidad", "estado", "que_falta"]], max_chars=90)),
        }
    )


declaraciones_seguimiento_job = dg.define_asset_job(
    name="declaraciones_seguimiento_job",
    selection=dg.AssetSelection.groups("entidades", "declaraciones", "publicacion") | dg.AssetSelection.assets(OMISAS),
    description="El seguimiento de la Declaración Anual de un año con lo que llegó hasta hoy: registro de entidades, "
    "declaraciones, estado de cada entidad, lista de omisas y copia para BI.",
)
