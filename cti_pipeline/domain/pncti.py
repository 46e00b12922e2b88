"""The PNCTI marts of one year, read from staging: indicator inputs and the execution cube."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import duckdb
import pandas as pd

from cti_pipeline.contracts.tables import CTI_EJECUCION
from cti_pipeline.warehouse import qualified, quote, table_exists

# Columns an indicator formula may read, per source (never participante_id in clear: it is a pseudonym
# in staging already; it is read only to count distinct participants and never leaves this module).
EJECUCION_DIMENSIONS = ("departamento", "area_prioritaria", "ods", "tipo_cooperacion", "tipo_entidad", "pais_fuente")


def load_inputs(conn: duckdb.DuckDBPyConnection, anio: int, columns: Mapping[str, Sequence[str]]) -> dict[str, pd.DataFrame]:
    """The staged rows of year `anio` for each source, only the `columns` its formulas read (an empty
    frame when the table does not exist)."""
    inputs: dict[str, pd.DataFrame] = {}
    for source, names in columns.items():
        table = f"staging.{source}"
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
