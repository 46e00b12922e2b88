"""DuckDB: create tables, replace one partition's rows atomically, publish the BI copy and its Parquet files.

Functions take an open `duckdb.DuckDBPyConnection` (from `DuckDBResource.get_connection()` in
Dagster, or `duckdb.connect(path)` in scripts and tests). DataFrames go in through `register` +
`INSERT ... BY NAME` (bulk, columnar); nothing here goes row by row.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from cti_pipeline.contracts.tables import Columns


@dataclass(frozen=True)
class TableWrite:
    """Replace the rows of `table` matching `where` (e.g. {"anio": 2024, "origen": "declaraciones"}).

    `frame` may be a function of the connection, called inside the transaction after the writes before
    it (a table derived from what they wrote). With `new_keys`, nothing is deleted: only the rows whose
    key is not in the table yet are inserted.
    """

    table: str  # schema.table
    columns: Columns
    frame: pd.DataFrame | Callable[[duckdb.DuckDBPyConnection], pd.DataFrame]
    where: Mapping[str, object] = field(default_factory=dict)
    new_keys: tuple[str, ...] = ()


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def qualified(table: str) -> str:
    schema, name = table.split(".", 1)
    return f"{quote(schema)}.{quote(name)}"


def ensure_table(conn: duckdb.DuckDBPyConnection, table: str, columns: Columns) -> None:
    schema = table.split(".", 1)[0]
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
    body = ", ".join(f"{quote(name)} {sql_type}" for name, sql_type in columns.items())
    conn.execute(f"CREATE TABLE IF NOT EXISTS {qualified(table)} ({body})")
    existing = {row[0] for row in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
        table.split(".", 1),
    ).fetchall()}
    for name, sql_type in columns.items():  # additive evolution: new contract columns appear as NULL for old rows
        if name not in existing:
            conn.execute(f"ALTER TABLE {qualified(table)} ADD COLUMN {quote(name)} {sql_type}")


def conform(frame: pd.DataFrame, columns: Columns) -> pd.DataFrame:
    """The frame with exactly the table's columns, in order (missing ones as NULL)."""
    out = pd.DataFrame(index=frame.index)
    for name in columns:
        out[name] = frame[name] if name in frame else pd.Series(pd.NA, index=frame.index, dtype="object")
    return out


def replace_partitions(conn: duckdb.DuckDBPyConnection, writes: list[TableWrite]) -> dict[str, int]:
    """Delete then insert every write in ONE transaction: a failure leaves the previous rows intact.

    Consumes `writes`: each write leaves the list (and its view is dropped) right after its INSERT,
    so a caller that handed over its only reference to a large frame lets it be freed while the
    next table is written (a million raw rows weigh hundreds of MB). The list is consumed on failure too.
    When the rollback itself fails (a full disk can leave no transaction to roll back), the error
    that made it fail is the one raised.
    """
    for write in writes:
        ensure_table(conn, write.table, write.columns)
    inserted: dict[str, int] = {}
    view = "_incoming"
    registered = False
    conn.execute("BEGIN TRANSACTION")
    try:
        while writes:
            write = writes.pop(0)
            frame = write.frame(conn) if callable(write.frame) else write.frame
            conn.register(view, conform(frame, write.columns))
            registered = True
            if write.new_keys:
                match = " AND ".join(f"t.{quote(k)} IS NOT DISTINCT FROM v.{quote(k)}" for k in write.new_keys)
                conn.execute(
                    f"INSERT INTO {qualified(write.table)} BY NAME SELECT * FROM {view} v "
                    f"WHERE NOT EXISTS (SELECT 1 FROM {qualified(write.table)} t WHERE {match})"
                )
            else:
                condition = " AND ".join(f"{quote(k)} = ?" for k in write.where) or "TRUE"
                conn.execute(f"DELETE FROM {qualified(write.table)} WHERE {condition}", list(write.where.values()))
                conn.execute(f"INSERT INTO {qualified(write.table)} BY NAME SELECT * FROM {view}")
            conn.unregister(view)
            registered = False
            inserted[write.table] = inserted.get(write.table, 0) + len(frame)
            del write, frame
        conn.execute("COMMIT")
    except BaseException as error:
        try:
            conn.execute("ROLLBACK")
        except duckdb.Error as rollback_error:
            error.add_note(f"the rollback failed too: {rollback_error}")
            raise error from None
        raise
    finally:
        if registered:  # after the rollback: an aborted transaction refuses catalog changes
            try:
                conn.unregister(view)
            except duckdb.Error:
                pass
    return inserted


def delete_year(conn: duckdb.DuckDBPyConnection, anio: int, tables: Mapping[str, tuple[str, ...] | None]) -> dict[str, int]:
    """Delete one year's rows from `tables` (table → the `origen` values to delete, None for all), in one
    transaction; rows deleted per table (tables that do not exist are skipped)."""
    deleted: dict[str, int] = {}
    conn.execute("BEGIN TRANSACTION")
    try:
        for table, origenes in tables.items():
            if not table_exists(conn, table):
                continue
            sql, params = f"DELETE FROM {qualified(table)} WHERE anio = ?", [anio]
            if origenes is not None:
                sql, params = sql + " AND list_contains(?, origen)", [anio, list(origenes)]
            deleted[table] = conn.execute(sql, params).fetchone()[0]
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return deleted


def table_exists(conn: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".", 1)
    return bool(conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", [schema, name]
    ).fetchone()[0])


def read_frame(conn: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> pd.DataFrame:
    return conn.execute(sql, params or []).df()


# The storage format of the BI copy. DuckDB 2.0 writes its own format by default, which no 1.x client
# (CLI, ODBC, DBeaver, the Metabase and Superset drivers) can open; "v1.1.0" is storage version 64, which
# DuckDB 1.0 and every later release read (tested with 1.1 and 1.4 clients; docs/bi.md).
BI_STORAGE_VERSION = "v1.1.0"


BI_TABLES = ("meta.archivos",)  # besides the marts: the file ledger, so BI can show what arrived and what became of it


def publish_bi_copy(conn: duckdb.DuckDBPyConnection, target: Path, schemas: tuple[str, ...] = ("marts",),
                    tables: tuple[str, ...] = BI_TABLES) -> dict[str, int]:
    """Copy the given schemas (and single `tables`) to `target` through a temporary file and an atomic rename.

    BI tools open `target` read-only; they never hold the live warehouse file. The copy is written in
    BI_STORAGE_VERSION's format, so that older DuckDB clients open it too.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_copies(target.parent)
    handle, temporary = tempfile.mkstemp(prefix=".bi-", suffix=".duckdb", dir=target.parent)
    os.close(handle)
    os.unlink(temporary)  # DuckDB must create the file itself
    counts: dict[str, int] = {}
    try:
        conn.execute(f"ATTACH {sql_literal(temporary)} AS bi_copy (STORAGE_VERSION {sql_literal(BI_STORAGE_VERSION)})")
        try:
            copied = [(schema, name) for schema in schemas for name in schema_tables(conn, schema)]
            copied += [tuple(table.split(".", 1)) for table in tables if table_exists(conn, table)]
            for schema, name in copied:
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS bi_copy.{quote(schema)}")
                source = f"{quote(schema)}.{quote(name)}"
                conn.execute(f"CREATE TABLE bi_copy.{source} AS SELECT * FROM {source}")
                counts[f"{schema}.{name}"] = conn.execute(f"SELECT count(*) FROM bi_copy.{source}").fetchone()[0]
            conn.execute("CHECKPOINT bi_copy")  # everything in the file itself, nothing left in a .wal beside it
        finally:
            conn.execute("DETACH bi_copy")
        os.replace(temporary, target)
    finally:
        for leftover in (temporary, temporary + ".wal"):
            if os.path.exists(leftover):
                os.unlink(leftover)
    return counts


def remove_stale_copies(directory: Path, older_than_seconds: float = 3600) -> list[Path]:
    """Delete temporary BI copies and Parquet sets a killed process left behind (a live publication is minutes old at most)."""
    removed = []
    now = time.time()
    for leftover in [*directory.glob(".bi-*.duckdb*"), *directory.glob(f"{PARQUET_LEFTOVER_PREFIX}*")]:
        try:
            if now - leftover.stat().st_mtime > older_than_seconds:
                if leftover.is_dir():
                    shutil.rmtree(leftover)
                else:
                    leftover.unlink()
                removed.append(leftover)
        except FileNotFoundError:
            continue
    return removed


# The column that makes a mart yearly: its Parquet files are written one per year.
YEAR_COLUMN = "anio"
# Parquet sets being written, or being replaced, sit beside the target under this prefix.
PARQUET_LEFTOVER_PREFIX = ".parquet-"


def publish_parquet(conn: duckdb.DuckDBPyConnection, target: Path, schema: str = "marts") -> dict[str, dict[str, int]]:
    """Write every table of `schema` as Parquet files under the folder `target`, replacing the whole set at once.

    Layout: `<table>/<table>_<anio>.parquet`, one file per year, for a table with an `anio` column (the
    column stays in every file, so a folder of files combines into one table); `<table>/<table>.parquet`
    for the others, and for an empty table (a file with its columns and no rows). The set is written to a
    temporary folder beside `target` and swapped in whole (swap_directory): never half a set.

    Returns {"schema.table": {"<table>/<file>": rows}}, the rows as the written files' footers give them.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_copies(target.parent)
    staging = target.parent / f"{PARQUET_LEFTOVER_PREFIX}{uuid.uuid4().hex[:12]}"
    staging.mkdir()  # not tempfile.mkdtemp: its 0700 mode would follow the set into place and lock other readers out
    try:
        written = {f"{schema}.{name}": write_parquet_table(conn, schema, name, staging) for name in schema_tables(conn, schema)}
        swap_directory(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return written


def schema_tables(conn: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    return [name for (name,) in conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() "
        "AND table_schema = ? ORDER BY table_name",
        [schema],
    ).fetchall()]


def write_parquet_table(conn: duckdb.DuckDBPyConnection, schema: str, name: str, directory: Path) -> dict[str, int]:
    """Write one table as `directory/<name>/…parquet` (one file per year when it has YEAR_COLUMN); {file: rows}."""
    source = f"{quote(schema)}.{quote(name)}"
    columns = {column for (column,) in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_catalog = current_database() "
        "AND table_schema = ? AND table_name = ?",
        [schema, name],
    ).fetchall()}
    parts = {f"{name}.parquet": "TRUE"}
    if YEAR_COLUMN in columns:
        years = [year for (year,) in conn.execute(f"SELECT DISTINCT {quote(YEAR_COLUMN)} FROM {source} ORDER BY 1 NULLS LAST").fetchall()]
        if years:
            parts = {
                f"{name}_{'sin_anio' if year is None else int(year)}.parquet":
                    f"{quote(YEAR_COLUMN)} IS NULL" if year is None else f"{quote(YEAR_COLUMN)} = {int(year)}"
                for year in years
            }
    folder = directory / name
    folder.mkdir()
    rows: dict[str, int] = {}
    for file_name, condition in parts.items():
        path = folder / file_name
        # Snappy and format-1 data pages (explicit, not left to defaults): what every reader handles,
        # Power Query's Parquet connector included.
        conn.execute(f"COPY (SELECT * FROM {source} WHERE {condition} ORDER BY ALL) TO {sql_literal(str(path))} "
                     "(FORMAT parquet, COMPRESSION snappy, PARQUET_VERSION V1)")
        rows[f"{name}/{file_name}"] = conn.execute("SELECT num_rows FROM parquet_file_metadata(?)", [str(path)]).fetchone()[0]
    return rows


def swap_directory(staging: Path, target: Path) -> None:
    """Put the folder `staging` at `target`: the old set is renamed aside, the new one renamed in, the old deleted.

    A reader lists either the whole old set or the whole new one (`target` is missing for the instant
    between the two renames). Files a reader already opened stay readable after the deletion (POSIX).
    A set a killed process left aside is deleted by a later publication (remove_stale_copies).
    """
    retired = None
    if target.exists():
        retired = target.parent / f"{PARQUET_LEFTOVER_PREFIX}old-{uuid.uuid4().hex[:12]}"
        os.replace(target, retired)
    try:
        os.replace(staging, target)
    except BaseException:
        if retired is not None:
            os.replace(retired, target)
        raise
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
