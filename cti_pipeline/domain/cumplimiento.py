"""Who had to file the Declaración Anual of a year, who filed, and what the numbers cover (the filing tracker).

One row per entity that must file year Y (in the registry, `staging.entidades`: registered on or before
31 December of Y and not deregistered before 1 January of Y) and per entity that filed (a file of
`landing/declaraciones/Y/`, known by the valid RUC most of its rows carry, or one in its name):

| estado | when |
|---|---|
| PRESENTADA | rows staged, none quarantined |
| PRESENTADA_CON_OBSERVACIONES | rows staged and rows quarantined |
| RECHAZADA | files received, nothing staged |
| OMISA | must file, nothing received |

A row counts for the entity whose valid RUC it carries; a row whose RUC is not a known one (a typo) counts
for the entity of its file. Superseded rows count for nobody. Filing times are the files' modification
times; `fuera_de_plazo` compares the first one, in Lima time, with the year's deadline.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from cti_pipeline.contracts.tables import DECLARACION_CUMPLIMIENTO
from cti_pipeline.warehouse import read_frame, table_exists

PRESENTADA, CON_OBSERVACIONES, RECHAZADA, OMISA = "PRESENTADA", "PRESENTADA_CON_OBSERVACIONES", "RECHAZADA", "OMISA"
STATES = (PRESENTADA, CON_OBSERVACIONES, RECHAZADA, OMISA)
FILED = (PRESENTADA, CON_OBSERVACIONES)
LIMA_OFFSET = "INTERVAL 5 HOUR"  # Peru keeps UTC-5 all year; modification times are stored in UTC


def filing_tracker(conn: duckdb.DuckDBPyConnection, anio: int, deadline: dt.date) -> pd.DataFrame:
    """`marts.declaracion_cumplimiento` rows of year `anio`."""
    has = {table: table_exists(conn, table) for table in ("staging.entidades", "meta.archivos", "raw.declaraciones", "staging.declaraciones")}
    registry = (
        "SELECT ruc_entidad, nombre_entidad, tipo_entidad, "
        "fecha_inscripcion <= make_date($anio, 12, 31) AND (fecha_baja IS NULL OR fecha_baja >= make_date($anio, 1, 1)) AS obligada "
        "FROM staging.entidades"
        if has["staging.entidades"]
        else "SELECT NULL::VARCHAR AS ruc_entidad, NULL::VARCHAR AS nombre_entidad, NULL::VARCHAR AS tipo_entidad, NULL::BOOLEAN AS obligada WHERE false"
    )
    files = (
        "SELECT archivo, ruc_entidad, modificado_en FROM meta.archivos WHERE origen = 'declaraciones' AND anio = $anio"
        if has["meta.archivos"]
        else "SELECT NULL::VARCHAR AS archivo, NULL::VARCHAR AS ruc_entidad, NULL::TIMESTAMP AS modificado_en WHERE false"
    )
    raw = (
        "SELECT archivo, trim(ruc_entidad) AS ruc_entidad, nombre_entidad, tipo_entidad, estado_fila FROM raw.declaraciones WHERE anio = $anio"
        if has["raw.declaraciones"]
        else "SELECT NULL::VARCHAR AS archivo, NULL::VARCHAR AS ruc_entidad, NULL::VARCHAR AS nombre_entidad, "
        "NULL::VARCHAR AS tipo_entidad, NULL::VARCHAR AS estado_fila WHERE false"
    )
    staged = (
        "SELECT ruc_entidad, count(*) AS intervenciones, sum(monto_usd) AS monto_usd FROM staging.declaraciones WHERE anio = $anio GROUP BY ALL"
        if has["staging.declaraciones"]
        else "SELECT NULL::VARCHAR AS ruc_entidad, 0 AS intervenciones, NULL::DOUBLE AS monto_usd WHERE false"
    )
    frame = conn.execute(
        f"""
        WITH registry AS ({registry}),
        files AS ({files}),
        raw AS ({raw}),
        known AS (
            SELECT ruc_entidad FROM registry UNION SELECT ruc_entidad FROM files WHERE ruc_entidad IS NOT NULL
            UNION SELECT ruc_entidad FROM raw WHERE estado_fila = 'staged'
        ),
        attributed AS (  -- each row read, for the entity it belongs to
            SELECT raw.archivo, raw.nombre_entidad, raw.tipo_entidad, raw.estado_fila,
                   CASE WHEN raw.ruc_entidad IN (SELECT ruc_entidad FROM known) THEN raw.ruc_entidad ELSE files.ruc_entidad END AS ruc_entidad
            FROM raw LEFT JOIN files USING (archivo)
        ),
        received AS (  -- the files each entity sent
            SELECT ruc_entidad, archivo FROM files WHERE ruc_entidad IS NOT NULL
            UNION SELECT ruc_entidad, archivo FROM attributed WHERE ruc_entidad IS NOT NULL
        ),
        filings AS (
            SELECT received.ruc_entidad, count(*) AS archivos, min(files.modificado_en) AS primera, max(files.modificado_en) AS ultima
            FROM received JOIN files USING (archivo) GROUP BY ALL
        ),
        rows_of AS (
            SELECT ruc_entidad, count(*) FILTER (estado_fila = 'quarantined') AS filas_en_cuarentena,
                   mode(nombre_entidad) AS nombre_filas, mode(upper(trim(tipo_entidad))) AS tipo_filas
            FROM attributed WHERE ruc_entidad IS NOT NULL GROUP BY ALL
        ),
        staged AS ({staged})
        SELECT $anio AS anio, entity.ruc_entidad,
               coalesce(registry.nombre_entidad, rows_of.nombre_filas) AS nombre_entidad,
               coalesce(registry.tipo_entidad, rows_of.tipo_filas) AS tipo_entidad,
               CASE WHEN coalesce(registry.obligada, false) THEN 'SI' ELSE 'NO' END AS obligada,
               CASE WHEN coalesce(staged.intervenciones, 0) > 0 AND coalesce(rows_of.filas_en_cuarentena, 0) = 0 THEN '{PRESENTADA}'
                    WHEN coalesce(staged.intervenciones, 0) > 0 THEN '{CON_OBSERVACIONES}'
                    WHEN coalesce(filings.archivos, 0) > 0 THEN '{RECHAZADA}'
                    ELSE '{OMISA}' END AS estado,
               filings.primera AS primera_presentacion, filings.ultima AS ultima_presentacion,
               CASE WHEN filings.primera IS NULL THEN NULL
                    WHEN CAST(filings.primera - {LIMA_OFFSET} AS DATE) > $deadline THEN 'SI' ELSE 'NO' END AS fuera_de_plazo,
               coalesce(filings.archivos, 0) AS archivos,
               coalesce(staged.intervenciones, 0) AS intervenciones,
               coalesce(rows_of.filas_en_cuarentena, 0) AS filas_en_cuarentena,
               coalesce(staged.monto_usd, 0) AS monto_usd,
               $deadline AS fecha_limite
        FROM (SELECT ruc_entidad FROM registry WHERE obligada UNION SELECT ruc_entidad FROM filings) AS entity
        LEFT JOIN registry USING (ruc_entidad) LEFT JOIN filings USING (ruc_entidad)
        LEFT JOIN rows_of USING (ruc_entidad) LEFT JOIN staged USING (ruc_entidad)
        ORDER BY entity.ruc_entidad
        """,
        {"anio": anio, "deadline": deadline},
    ).df()
    return frame[list(DECLARACION_CUMPLIMIENTO)]


def obliged_rucs(conn: duckdb.DuckDBPyConnection, anio: int) -> set[str]:
    """The registry's entities that must file year `anio`, counted on their own (the tracker's check)."""
    if not table_exists(conn, "staging.entidades"):
        return set()
    rows = conn.execute(
        "SELECT ruc_entidad FROM staging.entidades WHERE year(fecha_inscripcion) <= ? AND (fecha_baja IS NULL OR year(fecha_baja) >= ?)",
        [anio, anio],
    ).fetchall()
    return {ruc for (ruc,) in rows}


def stored_tracker(conn: duckdb.DuckDBPyConnection, anio: int) -> pd.DataFrame:
    """`marts.declaracion_cumplimiento` of one year as the warehouse holds it (no row before its first run)."""
    if not table_exists(conn, "marts.declaracion_cumplimiento"):
        return pd.DataFrame(columns=list(DECLARACION_CUMPLIMIENTO))
    return read_frame(conn, "SELECT * FROM marts.declaracion_cumplimiento WHERE anio = ?", [anio])


def tracker_problems(stored: pd.DataFrame, obliged: set[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What breaks "one row per entity" in a stored tracker: the rows of an entity listed more than once, and
    (`ruc_entidad`, `problema`) for an obliged entity without a row or a row marked obliged that is not."""
    repeated = stored[stored["ruc_entidad"].duplicated(keep=False)]
    listed = set(stored.loc[stored["obligada"] == "SI", "ruc_entidad"])
    mismatched = pd.concat([
        pd.DataFrame({"ruc_entidad": sorted(obliged - listed), "problema": "obligada sin fila"}),
        pd.DataFrame({"ruc_entidad": sorted(listed - obliged), "problema": "marcada obligada sin estarlo"}),
    ], ignore_index=True)
    return repeated, mismatched


def registry_loaded(conn: duckdb.DuckDBPyConnection) -> bool:
    return table_exists(conn, "staging.entidades") and conn.execute("SELECT count(*) FROM staging.entidades").fetchone()[0] > 0


def coverage(tracker: pd.DataFrame, with_registry: bool) -> float | None:
    """% of the entities that must file whose declaration was filed (with or without observations);
    None without a registry, or when nobody must file."""
    obliged = tracker[tracker["obligada"] == "SI"]
    if not with_registry or obliged.empty:
        return None
    return float(100.0 * obliged["estado"].isin(FILED).sum() / len(obliged))
