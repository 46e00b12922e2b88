"""PNCTI marts: the indicator table of each year (with reconciliation against the published report)
and the execution cube of the Declaración Anual."""


import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg

from cti_pipeline.contracts.reference import IndicatorCatalogs, filing_deadline
from cti_pipeline.contracts.registros import KINDS
from cti_pipeline.contracts.tables import CTI_EJECUCION, PNCTI_INDICADORES
from cti_pipeline.defs.metadata import markdown_table, table_metadata
from cti_pipeline.defs.partitions import partition_year, yearly_partitions
from cti_pipeline.defs.resources import CtiConfig, WarehouseResource
from cti_pipeline.domain.cumplimiento import coverage, registry_loaded
from cti_pipeline.domain.indicators import ND, Coverage, columns_read, compute_indicators, disagreements, report_table
from cti_pipeline.domain.pncti import cti_ejecucion, load_inputs, published_disagreements
from cti_pipeline.warehouse import TableWrite, replace_partitions

STAGING_DECLARACIONES = dg.AssetKey(["staging", "declaraciones"])
STAGING_REGISTROS = [dg.AssetKey(["staging", kind]) for kind in KINDS]
TRACKER = dg.AssetKey(["marts", "declaracion_cumplimiento"])
LIMA = ZoneInfo("America/Lima")
INDICADORES = dg.AssetKey(["marts", "pncti_indicadores"])
EJECUCION = dg.AssetKey(["marts", "cti_ejecucion"])

_common = dict(group_name="pncti", kinds={"duckdb", "pandas"}, owners=["team:apci"], partitions_def=yearly_partitions, pool="duckdb")


@dg.asset(
    key=INDICADORES,
    description="Los 18 indicadores de la PNCTI del año (catálogo reference/pncti_indicadores.csv): valor, logro "
    "esperado, avance, estado (ND si no hay datos) y lo publicado en el reporte de cumplimiento, si lo hay.",
    deps=[STAGING_DECLARACIONES, *STAGING_REGISTROS, TRACKER],
    check_specs=[
        dg.AssetCheckSpec(
            "coincide_con_reporte_publicado",
            asset=INDICADORES,
            description="Todos los años: cada valor y avance calculado, redondeado a los decimales con que se publicó, coincide "
            "con el reporte de cumplimiento de su año (`reference/reportado_{anio}.csv`). Advierte, no detiene la corrida.",
        )
    ],
    **_common,
)
def pncti_indicadores(context: dg.AssetExecutionContext, cti: CtiConfig, warehouse: WarehouseResource):
    anio = partition_year(context)
    catalogs = IndicatorCatalogs.load(cti.paths.reference_override_dir, anio)
    preliminary = filing_deadline(anio, cti.paths.reference_override_dir).preliminary(dt.datetime.now(LIMA).date())
    with warehouse.get_connection() as conn:
        tracker = load_inputs(conn, anio, {"declaracion_cumplimiento": ["obligada", "estado"]}, schema="marts")["declaracion_cumplimiento"]
        covered = Coverage(coverage(tracker, registry_loaded(conn)) if not tracker.empty else None, preliminary)
        inputs = load_inputs(conn, anio, columns_read(catalogs))
        indicators = compute_indicators(inputs, anio, catalogs, covered)
        replace_partitions(conn, [TableWrite("marts.pncti_indicadores", PNCTI_INDICADORES, indicators, {"anio": anio})])
        every_year = published_disagreements(conn)
    flagged = disagreements(indicators)
    for row in flagged.itertuples():
        context.log.warning(
            f"{row.indicador} {anio}: computed {row.valor} (avance {row.avance_pct}) but the report published "
            f"{row.valor_reportado} (avance {row.avance_reportado_pct})"
        )
    yield dg.MaterializeResult(
        metadata=table_metadata(
            "marts.pncti_indicadores",
            PNCTI_INDICADORES,
            len(indicators),
            indicadores=dg.MetadataValue.md(markdown_table(report_table(indicators), max_rows=50, max_chars=90)),
            disponibles=int((indicators["estado"] != ND).sum()),
            no_disponibles=int((indicators["estado"] == ND).sum()),
            reporte_publicado=bool(indicators["valor_reportado"].notna().any()),
        )
    )
    summary = "; ".join(
        f"{row.anio} {row.indicador}: {row.valor:g} calculado, {row.valor_reportado:g} publicado"
        for row in every_year.disagreeing.itertuples()
    )
    yield dg.AssetCheckResult(
        check_name="coincide_con_reporte_publicado",
        passed=every_year.disagreeing.empty,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"No coinciden con el reporte publicado: {summary}" if summary else None,  # visible without a click
        metadata={
            "anios_comparados": dg.MetadataValue.text(", ".join(map(str, every_year.years)) or "ninguno"),
            "indicadores_comparados": dg.MetadataValue.int(every_year.compared),
            "indicadores_discrepantes": dg.MetadataValue.int(len(every_year.disagreeing)),
            "discrepancias": dg.MetadataValue.md(markdown_table(every_year.disagreeing)),
        },
    )


@dg.asset(
    key=EJECUCION,
    description="Ejecución de la CTI del año (Declaración Anual) por departamento, área prioritaria, ODS, tipo de "
    "cooperación, tipo de entidad y país fuente: monto_usd, intervenciones, beneficiarios, entidades.",
    deps=[STAGING_DECLARACIONES],
    **_common,
)
def cti_ejecucion_mart(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    anio = partition_year(context)
    with warehouse.get_connection() as conn:
        cube = cti_ejecucion(conn, anio)
        replace_partitions(conn, [TableWrite("marts.cti_ejecucion", CTI_EJECUCION, cube, {"anio": anio})])
    by_area = (
        cube.groupby("area_prioritaria", dropna=False)[["monto_usd", "intervenciones"]].sum().reset_index().sort_values("monto_usd", ascending=False)
        if not cube.empty
        else cube
    )
    return dg.MaterializeResult(
        metadata=table_metadata(
            "marts.cti_ejecucion",
            CTI_EJECUCION,
            len(cube),
            by_area if not cube.empty else None,
            monto_usd_total=dg.MetadataValue.float(float(cube["monto_usd"].sum()) if not cube.empty else 0.0),
            intervenciones=int(cube["intervenciones"].sum()) if not cube.empty else 0,
        )
    )
