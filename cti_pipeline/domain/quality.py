"""Data-quality queries on the warehouse, one per asset check. Each returns (passed, details)."""

from __future__ import annotations

import duckdb
import pandas as pd

from cti_pipeline.warehouse import qualified, quote, table_exists


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


def normalised_sql(column: str) -> str:
    """SQL for a key column compared as normalised text (trim, collapse spaces, case and accents)."""
    text = f"CAST({quote(column)} AS VARCHAR)"
    return f"lower(strip_accents(regexp_replace(trim(coalesce({text}, '')), '\\s+', ' ', 'g')))"


def duplicate_keys(
    conn: duckdb.DuckDBPyConnection, table: str, key: tuple[str, ...], anio: int | None = None, *, normalise: bool = True
) -> pd.DataFrame:
    """Keys that appear more than once in `table` (of year `anio` when given), at most 20, most repeated first.

    Keys compare as normalised text, as the contracts' key rules do; `normalise=False` compares them as stored.
    """
    if not key or not table_exists(conn, table):
        return pd.DataFrame()
    expressions = ", ".join(f"{normalised_sql(k) if normalise else quote(k)} AS {quote(k)}" for k in key)
    where, params = ("WHERE anio = ?", [anio]) if anio is not None else ("", [])
    return conn.execute(
        f"SELECT *, count(*) AS veces FROM (SELECT {expressions} FROM {qualified(table)} {where}) "
        "GROUP BY ALL HAVING count(*) > 1 ORDER BY veces DESC LIMIT 20",
        params,
    ).df()


def unconverted_amounts(conn: duckdb.DuckDBPyConnection, anio: int) -> int:
    if not table_exists(conn, "staging.declaraciones"):
        return 0
    return conn.execute(
        "SELECT count(*) FROM staging.declaraciones WHERE anio = ? AND monto_usd IS NULL", [anio]
    ).fetchone()[0]
