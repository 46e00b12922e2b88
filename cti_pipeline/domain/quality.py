"""Data-quality queries on the warehouse: the one row accounting, repeated keys, counts per source.

Each source writes one raw row per row read (with `estado_fila`), its valid rows to staging, and its
broken rules to `quarantine.filas_rechazadas`: `file_accounting` counts them per file from those
tables themselves, so "rows read = staged + quarantined + superseded" is checked against what was
really written, not against what the run meant to write.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from cti_pipeline.contracts.tables import SourceTables
from cti_pipeline.warehouse import qualified, quote, table_exists

ACCOUNTING_COLUMNS = ["archivo", "filas_leidas", "filas_en_staging", "filas_en_cuarentena", "filas_reemplazadas"]
NOTHING = "SELECT NULL::INTEGER AS anio, NULL::VARCHAR AS archivo, 0 AS n WHERE false"


def file_accounting(conn: duckdb.DuckDBPyConnection, tables: SourceTables, anio: int | None = None) -> pd.DataFrame:
    """Per file (and year, for a yearly source; of year `anio` when given): rows read, staged, quarantined
    (distinct rows, not rules) and superseded, each counted from its own table."""
    keys = ["anio", "archivo"] if tables.yearly else ["archivo"]
    if not table_exists(conn, tables.raw):
        return pd.DataFrame({c: pd.Series(dtype="str" if c == "archivo" else "int64") for c in [*keys[:-1], *ACCOUNTING_COLUMNS]})
    year = "anio = $anio" if tables.yearly and anio is not None else "TRUE"
    by = ", ".join(keys)
    anio_of = "anio" if tables.yearly else "NULL::INTEGER AS anio"
    staged = [
        f"SELECT {anio_of}, archivo, count(*) AS n FROM {qualified(table)} WHERE {year} GROUP BY ALL"
        for table in tables.staging
        if table_exists(conn, table)
    ] or [NOTHING]
    quarantined = (
        f"SELECT {anio_of}, archivo, count(DISTINCT (coalesce(hoja, ''), fila)) AS n FROM quarantine.filas_rechazadas "
        f"WHERE {year} AND list_contains($origenes, origen) GROUP BY ALL"
        if table_exists(conn, "quarantine.filas_rechazadas")
        else NOTHING
    )
    params: dict[str, object] = {"origenes": list(tables.origenes)}
    if year != "TRUE":
        params["anio"] = anio
    return conn.execute(
        f"""
        WITH raw AS (
            SELECT {anio_of}, archivo, count(*) AS filas_leidas, count(*) FILTER (estado_fila = 'superseded') AS filas_reemplazadas
            FROM {qualified(tables.raw)} WHERE {year} GROUP BY ALL
        ), staged AS (SELECT anio, archivo, sum(n) AS n FROM ({' UNION ALL '.join(staged)}) GROUP BY ALL),
        quarantined AS ({quarantined})
        SELECT {', '.join(f'raw.{k}' for k in keys)}, raw.filas_leidas, coalesce(staged.n, 0)::BIGINT AS filas_en_staging,
               coalesce(quarantined.n, 0)::BIGINT AS filas_en_cuarentena, raw.filas_reemplazadas
        FROM raw LEFT JOIN staged USING ({by}) LEFT JOIN quarantined USING ({by})
        ORDER BY {', '.join(f'raw.{k}' for k in keys)}
        """,
        params,
    ).df()


def unreconciled(accounting: pd.DataFrame) -> pd.DataFrame:
    """The files of an accounting whose rows read are not staged + quarantined + superseded."""
    balance = accounting["filas_en_staging"] + accounting["filas_en_cuarentena"] + accounting["filas_reemplazadas"]
    return accounting[accounting["filas_leidas"] != balance].reset_index(drop=True)


def source_counts(conn: duckdb.DuckDBPyConnection, tables: SourceTables, anio: int) -> tuple[int, int, int, int] | None:
    """(raw rows, staged rows, broken rules, rejected files) of a source's year as the warehouse holds them
    now; None while one of its tables does not exist."""
    needed = (tables.raw, *tables.staging, "quarantine.filas_rechazadas", "quarantine.archivos_rechazados")
    if not all(table_exists(conn, table) for table in needed):
        return None

    def count(table: str, by_origen: bool = False) -> int:
        sql = f"SELECT count(*) FROM {qualified(table)} WHERE anio = ?" + (" AND list_contains(?, origen)" if by_origen else "")
        return conn.execute(sql, [anio, list(tables.origenes)] if by_origen else [anio]).fetchone()[0]

    return (
        count(tables.raw),
        sum(count(table) for table in tables.staging),
        count("quarantine.filas_rechazadas", by_origen=True),
        count("quarantine.archivos_rechazados", by_origen=True),
    )


def normalised_sql(column: str) -> str:
    """SQL for a key column compared as normalised text (trim, collapse spaces, case and accents)."""
    text = f"CAST({quote(column)} AS VARCHAR)"
    return f"lower(strip_accents(regexp_replace(trim(coalesce({text}, '')), '\\s+', ' ', 'g')))"


def duplicate_keys(conn: duckdb.DuckDBPyConnection, table: str, key: tuple[str, ...], anio: int | None = None) -> pd.DataFrame:
    """Keys that appear more than once in `table` (of year `anio` when given), at most 20, most repeated
    first. Keys compare as normalised text, as the contracts' key rules do."""
    if not key or not table_exists(conn, table):
        return pd.DataFrame()
    expressions = ", ".join(f"{normalised_sql(k)} AS {quote(k)}" for k in key)
    where, params = ("WHERE anio = ?", [anio]) if anio is not None else ("", [])
    return conn.execute(
        f"SELECT *, count(*) AS veces FROM (SELECT {expressions} FROM {qualified(table)} {where}) "
        "GROUP BY ALL HAVING count(*) > 1 ORDER BY veces DESC LIMIT 20",
        params,
    ).df()


def clear_personal_ids(conn: duckdb.DuckDBPyConnection) -> int:
    """Rows of staging.capacitaciones (any year) whose participante_id is not a SHA-256 pseudonym (e.g. a DNI)."""
    if not table_exists(conn, "staging.capacitaciones"):
        return 0
    return conn.execute(
        "SELECT count(*) FROM staging.capacitaciones WHERE participante_id IS NOT NULL "
        "AND (regexp_full_match(participante_id, '[0-9]{8}') OR NOT regexp_full_match(participante_id, '[0-9a-f]{64}'))"
    ).fetchone()[0]


COUNT_COLUMNS = ["filas_leidas", "filas_en_staging", "filas_en_cuarentena", "filas_reemplazadas"]


def ledger_problems(conn: duckdb.DuckDBPyConnection, origen: str, tables: SourceTables) -> pd.DataFrame:
    """Files of `meta.archivos` (one source, every year) whose rows read are not staged + quarantined +
    superseded, or whose counts are not what the tables hold now."""
    keys = ["anio", "archivo"] if tables.yearly else ["archivo"]
    if not table_exists(conn, "meta.archivos"):
        return pd.DataFrame(columns=[*keys, *COUNT_COLUMNS, "problema"])
    stored = conn.execute(f"SELECT {', '.join(keys + COUNT_COLUMNS)} FROM meta.archivos WHERE origen = ?", [origen]).df()
    live = file_accounting(conn, tables)
    merged = stored.merge(live, on=keys, how="outer", suffixes=("", "_en_tablas"))
    for column in COUNT_COLUMNS:
        merged[column] = merged[column].fillna(0).astype("int64")
        merged[f"{column}_en_tablas"] = merged[f"{column}_en_tablas"].fillna(0).astype("int64")
    unbalanced = merged["filas_leidas"] != merged["filas_en_staging"] + merged["filas_en_cuarentena"] + merged["filas_reemplazadas"]
    drifted = pd.concat([merged[c] != merged[f"{c}_en_tablas"] for c in COUNT_COLUMNS], axis=1).any(axis=1)
    merged["problema"] = [
        "no cuadra" if u else "difiere de las tablas" if d else None for u, d in zip(unbalanced, drifted, strict=True)
    ]
    return merged.loc[merged["problema"].notna(), [*keys, *COUNT_COLUMNS, "problema"]].reset_index(drop=True)


@dataclass
class SourceSummary:
    """What a source's assets show in the UI for one year, read from the warehouse (written or kept)."""

    files: pd.DataFrame  # meta.archivos rows of the year
    staged: dict[str, int]  # staging table → rows of the year
    previews: dict[str, pd.DataFrame]  # staging table → its first rows (the columns asked for)
    broken_rules: int
    quarantined_rows: int  # distinct rows (a row may break several rules)
    by_rule: pd.DataFrame  # origen, regla, filas
    quarantine_preview: pd.DataFrame
    rejected: pd.DataFrame  # origen, archivo, motivo

    @property
    def raw_rows(self) -> int:
        return int(self.files["filas_leidas"].sum()) if not self.files.empty else 0

    def quarantined_rows_of(self, origen: str) -> int:
        by = self.by_rule[self.by_rule["origen"] == origen]
        return int(by["filas_distintas"].sum()) if not by.empty else 0


def summarize(conn: duckdb.DuckDBPyConnection, origen: str, tables: SourceTables, anio: int | None,
              previews: dict[str, list[str]], rows: int = 15) -> SourceSummary:
    year = "anio = $anio" if tables.yearly and anio is not None else "TRUE"
    params = {"anio": anio} if year != "TRUE" else {}
    files = conn.execute(
        f"SELECT * EXCLUDE (huella_contenido) FROM meta.archivos WHERE origen = $origen AND {year} ORDER BY archivo",
        {**params, "origen": origen},
    ).df() if table_exists(conn, "meta.archivos") else pd.DataFrame(columns=COUNT_COLUMNS)
    staged, shown = {}, {}
    for table in tables.staging:
        if table_exists(conn, table):
            staged[table] = conn.execute(f"SELECT count(*) FROM {qualified(table)} WHERE {year}", params).fetchone()[0]
            columns = ", ".join(quote(c) for c in previews.get(table, []))
            if columns:
                shown[table] = conn.execute(f"SELECT {columns} FROM {qualified(table)} WHERE {year} ORDER BY archivo, fila LIMIT {rows}", params).df()
        else:
            staged[table] = 0
    origenes = {"origenes": list(tables.origenes)}
    where = f"{year} AND list_contains($origenes, origen)"
    quarantine = table_exists(conn, "quarantine.filas_rechazadas")
    by_rule = conn.execute(
        f"SELECT origen, regla, count(*) AS filas, count(DISTINCT (archivo, coalesce(hoja, ''), fila)) AS filas_distintas "
        f"FROM quarantine.filas_rechazadas WHERE {where} GROUP BY ALL ORDER BY filas DESC, origen, regla",
        {**params, **origenes},
    ).df() if quarantine else pd.DataFrame(columns=["origen", "regla", "filas", "filas_distintas"])
    broken, distinct = conn.execute(
        f"SELECT count(*), count(DISTINCT (origen, archivo, coalesce(hoja, ''), fila)) FROM quarantine.filas_rechazadas WHERE {where}",
        {**params, **origenes},
    ).fetchone() if quarantine else (0, 0)
    preview = conn.execute(
        f"SELECT origen, archivo, hoja, fila, columna, regla, mensaje FROM quarantine.filas_rechazadas WHERE {where} "
        f"ORDER BY archivo, fila, columna LIMIT {rows}",
        {**params, **origenes},
    ).df() if quarantine else pd.DataFrame()
    rejected = conn.execute(
        f"SELECT origen, archivo, motivo FROM quarantine.archivos_rechazados WHERE {where} ORDER BY archivo",
        {**params, **origenes},
    ).df() if table_exists(conn, "quarantine.archivos_rechazados") else pd.DataFrame(columns=["origen", "archivo", "motivo"])
    return SourceSummary(files, staged, shown, int(broken), int(distinct), by_rule, preview, rejected)


def declared_totals(conn: duckdb.DuckDBPyConnection, anio: int) -> tuple[float, int]:
    """(Σ monto_usd, distinct entities) of a year's staged declarations."""
    if not table_exists(conn, "staging.declaraciones"):
        return 0.0, 0
    total, entities = conn.execute(
        "SELECT coalesce(sum(monto_usd), 0), count(DISTINCT ruc_entidad) FROM staging.declaraciones WHERE anio = ?", [anio]
    ).fetchone()
    return float(total), int(entities)


def unconverted_by_year(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per year, staged declarations without monto_usd (the year has no exchange rate)."""
    if not table_exists(conn, "staging.declaraciones"):
        return pd.DataFrame(columns=["anio", "filas_sin_monto_usd"])
    return conn.execute(
        "SELECT anio, count(*) AS filas_sin_monto_usd FROM staging.declaraciones WHERE monto_usd IS NULL GROUP BY anio ORDER BY anio"
    ).df()
