"""The GPEDC round in the warehouse: what a consolidation writes, what the marts read, and the checks' queries.

No Dagster here (and no SQL in `defs/`). The round is one unpartitioned source: `raw.gpedc_filas`, one
staging table per sheet (`staging.gpedc_<sheet>`, columns from the sheets' specs, so an item added to the
catalog is a new column), the `gpedc_*` rows of the quarantine tables, and the `origen = 'gpedc'` rows of
`meta.archivos` (counted by `quality.file_accounting` from what was just written) and `meta.contenidos`.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from cti_pipeline.contracts.gpedc import PUNTOS_FOCALES, GpedcCatalogs, all_specs, split_sections
from cti_pipeline.contracts.tables import (
    ARCHIVOS,
    ARCHIVOS_RECHAZADOS,
    CONTENIDOS,
    FILAS_RECHAZADAS,
    GPEDC_FILAS,
    GPEDC_PROVENANCE,
    Columns,
    SourceTables,
    staging_columns,
)
from cti_pipeline.domain import quality
from cti_pipeline.domain.gpedc import ORIGEN, Consolidation
from cti_pipeline.domain.gpedc_marts import RoundData
from cti_pipeline.domain.ledger import ledger
from cti_pipeline.warehouse import TableWrite, qualified, table_exists

RAW_TABLE = "raw.gpedc_filas"
SHEETS = ("puntos_focales", "respuestas", "intervenciones", "flujos", "socios", "validaciones")
ORIGENES = tuple(f"gpedc_{sheet}" for sheet in SHEETS)
OBSOLETE_ORIGENES = ("gpedc_presupuesto",)  # the first framework's sheet: its quarantine rows are cleared
TABLES = SourceTables(RAW_TABLE, tuple(f"staging.gpedc_{sheet}" for sheet in SHEETS), (*ORIGENES, ORIGEN), yearly=False)


def staging_table(sheet: str) -> str:
    return f"staging.gpedc_{sheet}"


def staging_tables(catalogs: GpedcCatalogs) -> dict[str, Columns]:
    """staging table → its columns: the sheet's typed columns, then provenance (the roster keeps only its four
    columns and where they came from: no contact detail leaves the landing file)."""
    tables = {}
    for sheet, spec in all_specs(catalogs).items():
        tables[staging_table(sheet)] = staging_columns(spec, None if spec is PUNTOS_FOCALES else GPEDC_PROVENANCE)
    return tables


def round_writes(result: Consolidation, catalogs: GpedcCatalogs) -> list[TableWrite]:
    """Everything a consolidation writes, replacing the round whole (one transaction: `replace_partitions`)."""
    writes = [TableWrite(RAW_TABLE, GPEDC_FILAS, result.filas)]
    for table, columns in staging_tables(catalogs).items():
        sheet = table.removeprefix("staging.gpedc_")
        frame = result.roster if sheet == "puntos_focales" else result.staged.get(sheet, pd.DataFrame())
        writes.append(TableWrite(table, columns, frame))
    quarantined = result.quarantined
    for origen in (*ORIGENES, *OBSOLETE_ORIGENES):
        writes.append(TableWrite("quarantine.filas_rechazadas", FILAS_RECHAZADAS, quarantined[quarantined["origen"] == origen],
                                 {"origen": origen}))
    writes.append(TableWrite("quarantine.archivos_rechazados", ARCHIVOS_RECHAZADOS, result.rejected_files, {"origen": ORIGEN}))
    files = result.files
    writes.append(TableWrite("meta.archivos", ARCHIVOS, lambda conn: ledger(files, quality.file_accounting(conn, TABLES, None)),
                             {"origen": ORIGEN}))
    writes.append(TableWrite("meta.contenidos", CONTENIDOS, result.contents, new_keys=("huella_contenido",)))
    return writes


def read_table(conn: duckdb.DuckDBPyConnection, table: str, columns: Columns | None = None) -> pd.DataFrame:
    """A whole table (empty with `columns` when it does not exist)."""
    if table_exists(conn, table):
        return conn.execute(f"SELECT * FROM {qualified(table)}").df()
    return pd.DataFrame({name: pd.Series(dtype="object") for name in (columns or {})})


def has_round(conn: duckdb.DuckDBPyConnection) -> bool:
    """A round with a roster is staged (the last good one)."""
    table = staging_table("puntos_focales")
    return table_exists(conn, table) and conn.execute(f"SELECT count(*) FROM {qualified(table)}").fetchone()[0] > 0


def read_round(conn: duckdb.DuckDBPyConnection, catalogs: GpedcCatalogs) -> RoundData:
    """The staged round, one frame per sheet."""
    tables = staging_tables(catalogs)
    frames = {table.removeprefix("staging.gpedc_"): read_table(conn, table, columns) for table, columns in tables.items()}
    return RoundData(roster=frames.pop("puntos_focales"), sheets=frames)


def duplicate_keys(conn: duckdb.DuckDBPyConnection, catalogs: GpedcCatalogs) -> pd.DataFrame:
    """Keys of the contract that repeat in staging (per sheet), compared as normalised text."""
    found = []
    for sheet, spec in all_specs(catalogs).items():
        duplicates = quality.duplicate_keys(conn, staging_table(sheet), spec.key)
        if not duplicates.empty:
            found.append(duplicates.assign(hoja=sheet))
    return pd.concat(found, ignore_index=True) if found else pd.DataFrame()


def table_columns(conn: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    if not table_exists(conn, table):
        return []
    return [row[0] for row in conn.execute(f"DESCRIBE {qualified(table)}").fetchall()]


def tracker_mismatches(conn: duckdb.DuckDBPyConnection, catalogs: GpedcCatalogs) -> pd.DataFrame:
    """(respondent, section) pairs of the staged roster that the tracker does not hold exactly once, or that it
    holds without the roster assigning them (recomputed from the tables, not from the run's frames)."""
    roster = read_table(conn, staging_table("puntos_focales"))
    assigned = pd.DataFrame(
        [(code, section) for code, sections in zip(roster.get("codigo_respondente", []), roster.get("secciones", []), strict=True)
         for section in split_sections(sections)],
        columns=["codigo_respondente", "seccion"],
    )
    conn.register("_asignadas", assigned)
    try:
        if not table_exists(conn, "marts.gpedc_completitud"):
            return assigned.assign(veces=0)
        return conn.execute(
            """
            WITH mart AS (SELECT codigo_respondente, seccion, count(*) AS veces FROM marts.gpedc_completitud GROUP BY ALL)
            SELECT coalesce(a.codigo_respondente, m.codigo_respondente) AS codigo_respondente,
                   coalesce(a.seccion, m.seccion) AS seccion, coalesce(m.veces, 0) AS veces
            FROM _asignadas a FULL JOIN mart m USING (codigo_respondente, seccion)
            WHERE a.codigo_respondente IS NULL OR m.veces IS DISTINCT FROM 1
            """
        ).df()
    finally:
        conn.unregister("_asignadas")


def indicator_grain_problems(conn: duckdb.DuckDBPyConnection, catalogs: GpedcCatalogs) -> pd.DataFrame:
    """(indicador, codigo_socio) pairs the contract expects in `marts.gpedc_indicadores` (every catalog indicator ×
    every partner of the roster and TOTAL; PAIS indicators only TOTAL) that are missing or repeated."""
    roster = read_table(conn, staging_table("puntos_focales"))
    if roster.empty:
        expected = pd.DataFrame(columns=["indicador", "codigo_socio"])
    else:
        partners = sorted(roster.loc[roster["tipo_respondente"] == "SOCIO_DESARROLLO", "codigo_respondente"])
        expected = pd.DataFrame(
            [(i.indicador, socio) for i in catalogs.indicators for socio in ([*partners, "TOTAL"] if i.nivel == "SOCIO" else ["TOTAL"])],
            columns=["indicador", "codigo_socio"],
        )
    mart = read_table(conn, "marts.gpedc_indicadores")
    counts = mart.groupby(["indicador", "codigo_socio"]).size().rename("veces").reset_index() if not mart.empty else \
        pd.DataFrame(columns=["indicador", "codigo_socio", "veces"])
    merged = expected.assign(esperado=True).merge(counts, on=["indicador", "codigo_socio"], how="outer")
    merged["veces"] = merged["veces"].fillna(0).astype("int64")
    return merged[(merged["esperado"].isna()) | (merged["veces"] != 1)][["indicador", "codigo_socio", "veces"]].reset_index(drop=True)


def staged_counts(conn: duckdb.DuckDBPyConnection, catalogs: GpedcCatalogs) -> pd.DataFrame:
    """Rows per staging table of the round (hoja, filas)."""
    rows = []
    for table in staging_tables(catalogs):
        count = conn.execute(f"SELECT count(*) FROM {qualified(table)}").fetchone()[0] if table_exists(conn, table) else 0
        rows.append((table.removeprefix("staging.gpedc_"), int(count)))
    return pd.DataFrame(rows, columns=["hoja", "filas"])
