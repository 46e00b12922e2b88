"""The warehouse tables BI and tests rely on (shared contract warehouse.md), as ordered column → SQL type."""

from __future__ import annotations

from cti_pipeline.contracts.columns import SourceSpec

SQL_TYPES = {
    "integer": "BIGINT",
    "decimal": "DOUBLE",
    "date": "DATE",
}

Columns = dict[str, str]

FILAS_RECHAZADAS: Columns = {
    "origen": "VARCHAR",
    "anio": "INTEGER",
    "archivo": "VARCHAR",
    "hoja": "VARCHAR",
    "fila": "INTEGER",
    "columna": "VARCHAR",
    "regla": "VARCHAR",
    "valor": "VARCHAR",
    "mensaje": "VARCHAR",
}

ARCHIVOS_RECHAZADOS: Columns = {
    "origen": "VARCHAR",
    "anio": "INTEGER",
    "archivo": "VARCHAR",
    "motivo": "VARCHAR",
    "detectado_en": "TIMESTAMP",
}


def raw_columns(spec: SourceSpec) -> Columns:
    """raw.<source>: one row per row read, every contract column as text."""
    columns: Columns = {"archivo": "VARCHAR", "hoja": "VARCHAR", "fila": "INTEGER", "anio": "INTEGER", "anio_fila": "VARCHAR"}
    columns.update({name: "VARCHAR" for name in spec.names if name != "anio"})
    columns.update({"estado_fila": "VARCHAR", "columnas_extra": "VARCHAR"})
    return columns


def staging_columns(spec: SourceSpec, derived: Columns | None = None) -> Columns:
    """staging.<source>: contract columns typed, then derived columns, then provenance."""
    columns: Columns = {c.name: SQL_TYPES.get(c.kind, "VARCHAR") for c in spec.columns}
    columns.update(derived or {})
    columns.update({"archivo": "VARCHAR", "fila": "INTEGER"})
    return columns


DECLARACIONES_DERIVED: Columns = {
    "monto_usd": "DOUBLE",
    "area_prioritaria_nombre": "VARCHAR",
    "es_prioritaria": "VARCHAR",
    "departamento_nombre": "VARCHAR",
}
