"""The PNCTI marts of one year, read from staging: indicator inputs and the execution cube."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import duckdb
import pandas as pd

from cti_pipeline.contracts.tables import CTI_EJECUCION
from cti_pipeline.warehouse import qualified, quote, table_exists

# Columns an indicator formula may read, per source (never participante_id in clear: it is a pseudonym
# in staging already; it is read only to count distinct participants and never leaves this module).
EJECUCION_DIMENSIONS = ("departamento", "area_prioritaria", "ods", "tipo_cooperacion", "tipo_entidad", "pais_fuente")


def load_inputs(conn: duckdb.DuckDBPyConnection, anio: int, columns: Mapping[str, Sequence[str]], schema: str = "staging") -> dict[str, pd.DataFrame]:
    """The rows of year `anio` of each table `<schema>.<source>`, only the `columns` read (an empty frame
    when the table does not exist)."""
    inputs: dict[str, pd.DataFrame] = {}
    for source, names in columns.items():
        table = f"{schema}.{source}"
        if table_exists(conn, table):
            selected = ", ".join(quote(name) for name in names) or "anio"
            inputs[source] = conn.execute(f"SELECT {selected} FROM {qualified(table)} WHERE anio = ?", [anio]).df()
        else:
            inputs[source] = pd.DataFrame()
    return inputs


def cti_ejecucion(conn: duckdb.DuckDBPyConnection, anio: int) -> pd.DataFrame:
    """Year × departamento × area_prioritaria × ods × tipo_cooperacion × tipo_entidad × pais_fuente."""
    if not table_exists(conn, "staging.declaraciones"):
        return pd.DataFrame({name: pd.Series(dtype="object") for name in CTI_EJECUCION})
    dimensions = ", ".join(EJECUCION_DIMENSIONS)
    return conn.execute(
        f"""
        SELECT anio, {dimensions},
               any_value(departamento_nombre) AS departamento_nombre,
               any_value(area_prioritaria_nombre) AS area_prioritaria_nombre,
               any_value(es_prioritaria) AS es_prioritaria,
               sum(monto_usd) AS monto_usd,
               count(*) AS intervenciones,
               coalesce(sum(beneficiarios), 0) AS beneficiarios,
               count(DISTINCT ruc_entidad) AS entidades
        FROM staging.declaraciones
        WHERE anio = ?
        GROUP BY anio, {dimensions}
        ORDER BY {dimensions}
        """,
        [anio],
    ).df()


@dataclass
class PublishedComparison:
    years: list[int]  # years with a published report to compare with
    compared: int  # indicator values compared
    disagreeing: pd.DataFrame  # anio, indicador, valor, valor_reportado, avance_pct, avance_reportado_pct


def published_disagreements(conn: duckdb.DuckDBPyConnection) -> PublishedComparison:
    """Every year of marts.pncti_indicadores against its published report: a discrepancy of 2023 stays
    visible after a run of 2024."""
    if not table_exists(conn, "marts.pncti_indicadores"):
        return PublishedComparison([], 0, pd.DataFrame())
    years = [y for (y,) in conn.execute(
        "SELECT DISTINCT anio FROM marts.pncti_indicadores WHERE coincide_reportado IS NOT NULL ORDER BY anio").fetchall()]
    compared = conn.execute("SELECT count(*) FROM marts.pncti_indicadores WHERE coincide_reportado IS NOT NULL").fetchone()[0]
    disagreeing = conn.execute(
        "SELECT anio, indicador, valor, valor_reportado, avance_pct, avance_reportado_pct, numerador, denominador "
        "FROM marts.pncti_indicadores WHERE NOT coincide_reportado ORDER BY anio, indicador"
    ).df()
    return PublishedComparison(years, int(compared), disagreeing)
