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


# --- GPEDC 4th monitoring round (contract gpedc.md) -------------------------------------------------

# staging.gpedc_puntos_focales keeps only these four columns: contact details never leave the landing file.
GPEDC_PUNTOS_FOCALES: Columns = {
    "codigo_respondente": "VARCHAR",
    "tipo_respondente": "VARCHAR",
    "entidad": "VARCHAR",
    "secciones": "VARCHAR",
}

# Derived columns of the questionnaire staging tables: the sheet and the file's modification time.
GPEDC_PROVENANCE: Columns = {"hoja": "VARCHAR", "actualizado_en": "TIMESTAMP"}

# raw.gpedc_filas: one row per row read from any GPEDC file, with its fate (no cell values: the
# roster's extra columns may hold contact details).
GPEDC_FILAS: Columns = {
    "origen": "VARCHAR",
    "archivo": "VARCHAR",
    "hoja": "VARCHAR",
    "fila": "INTEGER",
    "codigo_respondente": "VARCHAR",
    "estado_fila": "VARCHAR",
}

GPEDC_COMPLETITUD: Columns = {
    "codigo_respondente": "VARCHAR",
    "entidad": "VARCHAR",
    "tipo_respondente": "VARCHAR",
    "seccion": "VARCHAR",
    "preguntas_respondidas": "BIGINT",
    "estado": "VARCHAR",
    "ultima_actualizacion": "TIMESTAMP",
}

GPEDC_INDICADORES: Columns = {
    "indicador": "VARCHAR",
    "codigo_socio": "VARCHAR",
    "valor": "DOUBLE",
    "numerador": "DOUBLE",
    "denominador": "DOUBLE",
    "anio_referencia": "INTEGER",
}


# --- registros administrativos and PNCTI marts (issue 4) ------------------------------------------


def registros_raw_columns(value_columns: tuple[str, ...]) -> Columns:
    """raw.registros: one row per row read of any kind (`tipo_registro`), every contract column as text."""
    columns: Columns = {
        "archivo": "VARCHAR", "hoja": "VARCHAR", "fila": "INTEGER", "anio": "INTEGER", "anio_fila": "VARCHAR",
        "tipo_registro": "VARCHAR",
    }
    columns.update({name: "VARCHAR" for name in value_columns})
    columns.update({"estado_fila": "VARCHAR", "columnas_extra": "VARCHAR"})
    return columns


PNCTI_INDICADORES: Columns = {
    "indicador": "VARCHAR",
    "anio": "INTEGER",
    "nombre": "VARCHAR",
    "nivel": "VARCHAR",
    "objetivo_prioritario": "VARCHAR",
    "servicio": "VARCHAR",
    "unidad": "VARCHAR",
    "fuente": "VARCHAR",
    "valor": "DOUBLE",
    "valor_esperado": "DOUBLE",
    "avance_pct": "DOUBLE",
    "estado": "VARCHAR",
    "valor_reportado": "DOUBLE",
    "avance_reportado_pct": "DOUBLE",
    "coincide_reportado": "BOOLEAN",
    "coincide_avance": "BOOLEAN",
    "numerador": "DOUBLE",
    "denominador": "DOUBLE",
    "beneficiarios_en_blanco": "BIGINT",
    "nota": "VARCHAR",
}

CTI_EJECUCION: Columns = {
    "anio": "INTEGER",
    "departamento": "VARCHAR",
    "departamento_nombre": "VARCHAR",
    "area_prioritaria": "VARCHAR",
    "area_prioritaria_nombre": "VARCHAR",
    "es_prioritaria": "VARCHAR",
    "ods": "BIGINT",
    "tipo_cooperacion": "VARCHAR",
    "tipo_entidad": "VARCHAR",
    "pais_fuente": "VARCHAR",
    "monto_usd": "DOUBLE",
    "intervenciones": "BIGINT",
    "beneficiarios": "BIGINT",
    "entidades": "BIGINT",
}
