"""Publish the DuckDB `marts` schema to a SQL database (CTI_PUBLISH_URL; PostgreSQL is the tested target).

Pure domain code: it takes an open DuckDB connection (normally the read-only BI copy) and a
SQLAlchemy engine, and knows nothing of Dagster.

Guarantees (shared contract warehouse.md, "How BI connects"):
- every table of the DuckDB schema is published under the same schema and table name;
- a yearly table (it has an `anio` column) is written one transaction per year: DELETE that year,
  then a bulk INSERT (psycopg COPY, or SQLAlchemy executemany on other drivers), COMMIT. A reader
  never sees a half-written year, and a failure leaves that year as it was. Years that no longer
  exist in DuckDB are deleted (one transaction each), so the target mirrors the source;
- a table without `anio` is replaced whole in one transaction;
- each transaction first takes `LOCK TABLE ... IN EXCLUSIVE MODE`: readers (plain SELECTs) go on
  reading the previous rows, while two publishers of the same table wait for each other instead of
  interleaving their DELETE and INSERT.

Types: integers stay integers, DATE stays DATE, text is TEXT, and DOUBLE/DECIMAL (money in USD,
indicator values, percentages) become NUMERIC so BI tools sum exact decimals. The contract's grain
is the primary key; a grain with NULL-able columns (`marts.cti_ejecucion`: `ods`, `pais_fuente`)
cannot be a PostgreSQL primary key, so it is a `UNIQUE NULLS NOT DISTINCT` constraint
(PostgreSQL 15+; on older servers, a plain UNIQUE constraint with a warning).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import duckdb
import sqlalchemy as sa

log = logging.getLogger(__name__)

YEAR_COLUMN = "anio"
BATCH_ROWS = 10_000

# Asset keys (as user strings) of the publication assets, and the marts they follow (defs/publishing.py).
BI_COPY_KEY = "bi/marts_duckdb"
POSTGRES_KEY = "publish/postgres"
MART_NAMES = ("pncti_indicadores", "cti_ejecucion", "declaracion_cumplimiento", "gpedc_completitud", "gpedc_indicadores")


def needs_publication(materialized: Iterable[str]) -> bool:
    """True when a run materialised some marts/* asset but not the BI copy: the marts changed unpublished."""
    keys = set(materialized)
    return BI_COPY_KEY not in keys and any(key.startswith("marts/") for key in keys)


@dataclass(frozen=True)
class Grain:
    """The columns that identify one row; `nullable` grains get UNIQUE NULLS NOT DISTINCT instead of a PK."""

    columns: tuple[str, ...]
    nullable: bool = False


# The grain of each mart in the contract (warehouse.md, gpedc.md). Tables not listed are published without a key.
MART_GRAINS: dict[str, Grain] = {
    "pncti_indicadores": Grain(("indicador", "anio")),
    "cti_ejecucion": Grain(
        ("anio", "departamento", "area_prioritaria", "ods", "tipo_cooperacion", "tipo_entidad", "pais_fuente"),
        nullable=True,  # ods and pais_fuente are optional in the Declaración Anual
    ),
    "declaracion_cumplimiento": Grain(("anio", "ruc_entidad")),
    "gpedc_completitud": Grain(("codigo_respondente", "seccion")),
    "gpedc_indicadores": Grain(("indicador", "codigo_socio")),
}


@dataclass
class TablePublication:
    """What one table's publication did: rows written per year (None = the whole, unpartitioned table)."""

    table: str
    rows_by_year: dict[int | None, int] = field(default_factory=dict)
    removed_years: list[int | None] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(self.rows_by_year.values())


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


_DECIMAL = re.compile(r"^(?:DECIMAL|NUMERIC)\((\d+),\s*(\d+)\)$")


def target_type(duckdb_type: str) -> tuple[sa.types.TypeEngine, bool]:
    """The SQLAlchemy type for a DuckDB column type, and whether DuckDB must cast the value to text first."""
    kind = duckdb_type.strip().upper()
    decimal = _DECIMAL.match(kind)
    if decimal:
        return sa.Numeric(int(decimal.group(1)), int(decimal.group(2))), False
    simple: dict[str, sa.types.TypeEngine] = {
        "DOUBLE": sa.Numeric(),
        "FLOAT": sa.Numeric(),
        "REAL": sa.Numeric(),
        "DECIMAL": sa.Numeric(),
        "TINYINT": sa.SmallInteger(),
        "UTINYINT": sa.SmallInteger(),
        "SMALLINT": sa.SmallInteger(),
        "USMALLINT": sa.Integer(),
        "INTEGER": sa.Integer(),
        "UINTEGER": sa.BigInteger(),
        "BIGINT": sa.BigInteger(),
        "UBIGINT": sa.Numeric(20, 0),
        "HUGEINT": sa.Numeric(39, 0),
        "UHUGEINT": sa.Numeric(39, 0),
        "BOOLEAN": sa.Boolean(),
        "DATE": sa.Date(),
        "TIME": sa.Time(),
        "TIMESTAMP": sa.DateTime(),
        "TIMESTAMP_NS": sa.DateTime(),
        "TIMESTAMP_MS": sa.DateTime(),
        "TIMESTAMP_S": sa.DateTime(),
        "TIMESTAMP WITH TIME ZONE": sa.DateTime(timezone=True),
        "VARCHAR": sa.Text(),
    }
    if kind in simple:
        return simple[kind], False
    return sa.Text(), True  # lists, structs, intervals, UUIDs...: published as their text form


@dataclass(frozen=True)
class SourceTable:
    schema: str
    name: str
    columns: tuple[tuple[str, str], ...]  # (name, DuckDB type)

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]

    @property
    def yearly(self) -> bool:
        return YEAR_COLUMN in self.column_names

    def select_list(self) -> str:
        parts = []
        for name, duckdb_type in self.columns:
            _, as_text = target_type(duckdb_type)
            parts.append(f"CAST({quote(name)} AS VARCHAR)" if as_text else quote(name))
        return ", ".join(parts)


def source_tables(conn: duckdb.DuckDBPyConnection, schema: str = "marts") -> list[SourceTable]:
    """Every table (and view) of `schema` in the DuckDB database, with its columns in order."""
    rows = conn.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_catalog = current_database() AND table_schema = ? ORDER BY table_name, ordinal_position",
        [schema],
    ).fetchall()
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in rows:
        tables.setdefault(table, []).append((column, data_type))
    return [SourceTable(schema, name, tuple(columns)) for name, columns in sorted(tables.items())]


def target_table(source: SourceTable, metadata: sa.MetaData, server_version: tuple[int, ...] | None = None) -> sa.Table:
    """The SQLAlchemy table for a DuckDB mart, with the contract's grain as PK or NULLS-NOT-DISTINCT unique key."""
    grain = MART_GRAINS.get(source.name)
    if grain and not set(grain.columns) <= set(source.column_names):
        log.warning("%s.%s lacks grain columns %s: published without a key", source.schema, source.name,
                    sorted(set(grain.columns) - set(source.column_names)))
        grain = None
    pk_columns = set(grain.columns) if grain and not grain.nullable else set()
    columns = [
        sa.Column(name, target_type(duckdb_type)[0], primary_key=name in pk_columns, autoincrement=False)
        for name, duckdb_type in source.columns
    ]
    constraints: list[sa.Constraint] = []
    if grain and grain.nullable:
        options: dict[str, object] = {}
        if server_version is None or server_version >= (15,):
            options["postgresql_nulls_not_distinct"] = True
        else:
            log.warning("PostgreSQL %s < 15: the grain of %s is a plain UNIQUE constraint (NULLs distinct)",
                        server_version, source.name)
        constraints.append(sa.UniqueConstraint(*grain.columns, name=f"{source.name}_grano", **options))
    return sa.Table(source.name, metadata, *columns, *constraints, schema=source.schema)


def ensure_target(engine: sa.Engine, table: sa.Table) -> None:
    """Create the schema and table if missing; add columns the source gained since (additive evolution)."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # concurrent publishers must not race on CREATE
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('cti_pipeline.publishing'))"))
        if table.schema and table.schema not in sa.inspect(conn).get_schema_names():
            conn.execute(sa.schema.CreateSchema(table.schema, if_not_exists=True))
        table.create(conn, checkfirst=True)
        existing = {column["name"] for column in sa.inspect(conn).get_columns(table.name, schema=table.schema)}
        preparer = conn.dialect.identifier_preparer
        for column in table.columns:
            if column.name not in existing:
                type_sql = column.type.compile(dialect=conn.dialect)
                conn.execute(sa.text(
                    f"ALTER TABLE {preparer.format_table(table)} ADD COLUMN {preparer.quote(column.name)} {type_sql}"
                ))


def _batches(cursor: duckdb.DuckDBPyConnection) -> Iterator[list[tuple]]:
    while True:
        rows = cursor.fetchmany(BATCH_ROWS)
        if not rows:
            return
        yield rows


def _lock(conn: sa.Connection, table: sa.Table) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text(f"LOCK TABLE {conn.dialect.identifier_preparer.format_table(table)} IN EXCLUSIVE MODE"))


def _insert(conn: sa.Connection, table: sa.Table, names: Sequence[str], cursor: duckdb.DuckDBPyConnection) -> int:
    """Bulk insert every row the DuckDB cursor yields: COPY on psycopg, executemany elsewhere."""
    written = 0
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        preparer = conn.dialect.identifier_preparer
        column_list = ", ".join(preparer.quote(name) for name in names)
        driver_connection = conn.connection.driver_connection
        statement = f"COPY {preparer.format_table(table)} ({column_list}) FROM STDIN"
        dbapi_error = conn.dialect.loaded_dbapi.Error
        try:
            with driver_connection.cursor() as pg_cursor:
                with pg_cursor.copy(statement) as copy:
                    for batch in _batches(cursor):
                        for row in batch:
                            copy.write_row(row)
                        written += len(batch)
        except dbapi_error as error:  # the same exception classes as the executemany path (IntegrityError, ...)
            raise sa.exc.DBAPIError.instance(statement, None, error, dbapi_error) from error
        return written
    statement = table.insert()
    for batch in _batches(cursor):
        conn.execute(statement, [dict(zip(names, row)) for row in batch])
        written += len(batch)
    return written


def _years(rows: list[tuple]) -> list[int | None]:
    return sorted((row[0] for row in rows), key=lambda y: (y is None, y if y is not None else 0))


def publish_table(
    source_conn: duckdb.DuckDBPyConnection,
    engine: sa.Engine,
    source: SourceTable,
    years: Sequence[int] | None = None,
) -> TablePublication:
    """Publish one DuckDB table: one transaction per year (yearly tables) or one for the whole table.

    `years=None` mirrors the table (every year in DuckDB, and years only the target still has are
    deleted); a list publishes exactly those years (a year with no rows in DuckDB is emptied).
    """
    started = time.perf_counter()
    server_version = engine.dialect.server_version_info if engine.dialect.name == "postgresql" else None
    if engine.dialect.name == "postgresql" and server_version is None:
        with engine.connect() as probe:
            server_version = probe.dialect.server_version_info
    table = target_table(source, sa.MetaData(), server_version)
    ensure_target(engine, table)
    names = source.column_names
    select = f"SELECT {source.select_list()} FROM {quote(source.schema)}.{quote(source.name)}"
    result = TablePublication(f"{source.schema}.{source.name}")

    if not source.yearly:
        with engine.begin() as conn:
            _lock(conn, table)
            conn.execute(table.delete())
            cursor = source_conn.cursor()
            try:
                result.rows_by_year[None] = _insert(conn, table, names, cursor.execute(select))
            finally:
                cursor.close()
        result.seconds = time.perf_counter() - started
        return result

    year = table.c[YEAR_COLUMN]
    source_years = _years(source_conn.execute(
        f"SELECT DISTINCT {quote(YEAR_COLUMN)} FROM {quote(source.schema)}.{quote(source.name)}"
    ).fetchall())
    if years is None:
        with engine.connect() as conn:
            target_years = _years(conn.execute(sa.select(year).distinct()).fetchall())
        to_write = source_years
        to_remove = [y for y in target_years if y not in source_years]
    else:
        to_write = [int(y) for y in years]
        to_remove = []

    for value in to_write:
        with engine.begin() as conn:
            _lock(conn, table)
            conn.execute(table.delete().where(year.is_(None) if value is None else year == value))
            cursor = source_conn.cursor()
            try:
                if value is None:
                    cursor.execute(f"{select} WHERE {quote(YEAR_COLUMN)} IS NULL")
                else:
                    cursor.execute(f"{select} WHERE {quote(YEAR_COLUMN)} = ?", [value])
                result.rows_by_year[value] = _insert(conn, table, names, cursor)
            finally:
                cursor.close()
    for value in to_remove:
        with engine.begin() as conn:
            _lock(conn, table)
            conn.execute(table.delete().where(year.is_(None) if value is None else year == value))
        result.removed_years.append(value)
    result.seconds = time.perf_counter() - started
    return result


def publish_marts(
    source_conn: duckdb.DuckDBPyConnection,
    engine: sa.Engine,
    schema: str = "marts",
    years: Sequence[int] | None = None,
) -> list[TablePublication]:
    """Publish every table of the DuckDB `schema` to the engine's database (see the module docstring)."""
    published = []
    for source in source_tables(source_conn, schema):
        publication = publish_table(source_conn, engine, source, years)
        log.info("published %s: %d rows (%s)", publication.table, publication.rows,
                 ", ".join(f"{y if y is not None else 'all'}: {n}" for y, n in publication.rows_by_year.items()) or "empty")
        published.append(publication)
    return published


def redact_url(url: str) -> str:
    """The URL without its password, for logs and metadata."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a malformed URL must not leak through the error message either
        return "<unparseable URL>"
