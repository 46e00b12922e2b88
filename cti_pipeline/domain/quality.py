"""Data-quality queries on the warehouse, one per asset check. Each returns (passed, details)."""

from __future__ import annotations

import duckdb
import pandas as pd

from cti_pipeline.warehouse import qualified, table_exists


def unreconciled_files(conn: duckdb.DuckDBPyConnection, origen: str, raw_table: str, staging_table: str, anio: int) -> pd.DataFrame:
    """Files whose rows read ≠ staged + quarantined + superseded, counted from the tables themselves."""
    if not table_exists(conn, raw_table):
        return pd.DataFrame(columns=["archivo", "leidas", "staged", "quarantined", "superseded"])
    staged_counts = (
        f"SELECT archivo, count(*) AS n FROM {qualified(staging_table)} WHERE anio = $anio GROUP BY archivo"
        if table_exists(conn, staging_table)
        else "SELECT NULL::VARCHAR AS archivo, 0 AS n WHERE false"
    )
    quarantined_counts = (
        "SELECT archivo, count(DISTINCT fila) AS n FROM quarantine.filas_rechazadas "
        "WHERE origen = $origen AND anio = $anio GROUP BY archivo"
        if table_exists(conn, "quarantine.filas_rechazadas")
        else "SELECT NULL::VARCHAR AS archivo, 0 AS n WHERE false"
    )
    return conn.execute(
        f"""
        WITH raw AS (
            SELECT archivo, count(*) AS leidas, count(*) FILTER (estado_fila = 'superseded') AS superseded
            FROM {qualified(raw_table)} WHERE anio = $anio GROUP BY archivo
        ), staged AS ({staged_counts}), quarantined AS ({quarantined_counts})
        SELECT raw.archivo, raw.leidas, coalesce(staged.n, 0) AS staged,
               coalesce(quarantined.n, 0) AS quarantined, raw.superseded
        FROM raw LEFT JOIN staged USING (archivo) LEFT JOIN quarantined USING (archivo)
        WHERE raw.leidas <> coalesce(staged.n, 0) + coalesce(quarantined.n, 0) + raw.superseded
        ORDER BY raw.archivo
        """,
        {"anio": anio, "origen": origen},
    ).df()


def duplicate_keys(conn: duckdb.DuckDBPyConnection, table: str, key: tuple[str, ...], anio: int) -> pd.DataFrame:
    columns = ", ".join(f'"{k}"' for k in key)
    if not table_exists(conn, table):
        return pd.DataFrame()
    return conn.execute(
        f"SELECT {columns}, count(*) AS veces FROM {qualified(table)} WHERE anio = ? "
        f"GROUP BY {columns} HAVING count(*) > 1 ORDER BY veces DESC LIMIT 20",
        [anio],
    ).df()


def unconverted_amounts(conn: duckdb.DuckDBPyConnection, anio: int) -> int:
    if not table_exists(conn, "staging.declaraciones"):
        return 0
    return conn.execute(
        "SELECT count(*) FROM staging.declaraciones WHERE anio = ? AND monto_usd IS NULL", [anio]
    ).fetchone()[0]
