"""The warehouse tables BI and tests rely on (shared contract warehouse.md), as ordered column → SQL type."""

from __future__ import annotations

from dataclasses import dataclass

from cti_pipeline.contracts.columns import SourceSpec
from cti_pipeline.contracts.registros import KINDS

Columns = dict[str, str]


@dataclass(frozen=True)
class SourceTables:
    """Where one source's rows of a year are: its raw and staging tables, and its `origen` values in the
    quarantine tables (`SourceTables.of(origen)` is the usual one-table-per-layer case)."""

    raw: str
    staging: tuple[str, ...]
    origenes: tuple[str, ...]
    yearly: bool = True  # the tables' `anio` is the partition (the GPEDC round has none)

    @classmethod
    def of(cls, origen: str) -> SourceTables:
        return cls(f"raw.{origen}", (f"staging.{origen}",), (origen,))


# meta.huellas: the fingerprint of each source's last successful write of a year, and the counts written.
HUELLAS: Columns = {
    "origen": "VARCHAR",
    "anio": "INTEGER",
    "huella": "VARCHAR",
    "filas_raw": "BIGINT",
    "filas_staging": "BIGINT",
    "filas_cuarentena": "BIGINT",
    "archivos_rechazados": "BIGINT",
    "escrito_en": "TIMESTAMP",
}

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


# marts.declaracion_cumplimiento: the filing tracker, per year and entity (contract declaracion_anual.md).
DECLARACION_CUMPLIMIENTO: Columns = {
    "anio": "INTEGER",
    "ruc_entidad": "VARCHAR",
    "nombre_entidad": "VARCHAR",
    "tipo_entidad": "VARCHAR",
    "obligada": "VARCHAR",
    "estado": "VARCHAR",
    "primera_presentacion": "TIMESTAMP",
    "ultima_presentacion": "TIMESTAMP",
    "fuera_de_plazo": "VARCHAR",
    "archivos": "BIGINT",
    "intervenciones": "BIGINT",
    "filas_en_cuarentena": "BIGINT",
    "monto_usd": "DOUBLE",
    "fecha_limite": "DATE",
}

# meta.archivos: every file of a landing folder at its source's latest run (contract declaracion_anual.md).
ARCHIVOS: Columns = {
    "origen": "VARCHAR",
    "anio": "INTEGER",
    "archivo": "VARCHAR",
    "hoja": "VARCHAR",
    "bytes": "BIGINT",
    "modificado_en": "TIMESTAMP",
    "ruc_entidad": "VARCHAR",
    "estado_archivo": "VARCHAR",
    "filas_leidas": "BIGINT",
    "filas_en_staging": "BIGINT",
    "filas_en_cuarentena": "BIGINT",
    "filas_reemplazadas": "BIGINT",
    "motivo": "VARCHAR",
    "huella_contenido": "VARCHAR",
}

# meta.contenidos: when the pipeline first saw each file content (sha256); orders re-submissions.
CONTENIDOS: Columns = {
    "huella_contenido": "VARCHAR",
    "origen": "VARCHAR",
    "archivo": "VARCHAR",
    "primera_vez_ns": "BIGINT",
    "primera_vez_en": "TIMESTAMP",
}


def registry_raw_columns(spec: SourceSpec) -> Columns:
    """raw.entidades: one row per row read of the registry (not yearly), every contract column as text."""
    columns: Columns = {"archivo": "VARCHAR", "hoja": "VARCHAR", "fila": "INTEGER"}
    columns.update({name: "VARCHAR" for name in spec.names})
    columns.update({"estado_fila": "VARCHAR", "columnas_extra": "VARCHAR"})
    return columns


def raw_columns(spec: SourceSpec) -> Columns:
    """raw.<source>: one row per row read, every contract column as text."""
    columns: Columns = {"archivo": "VARCHAR", "hoja": "VARCHAR", "fila": "INTEGER", "anio": "INTEGER", "anio_fila": "VARCHAR"}
    columns.update({name: "VARCHAR" for name in spec.names if name != "anio"})
    columns.update({"estado_fila": "VARCHAR", "columnas_extra": "VARCHAR"})
    return columns


def staging_columns(spec: SourceSpec, derived: Columns | None = None) -> Columns:
    """staging.<source>: contract columns typed, then derived columns, then provenance."""
    columns: Columns = spec.sql_types()
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
# The staging tables' columns follow from the sheets' specs (domain/gpedc_store.py): the structured sheets'
# item columns come from reference/gpedc_preguntas.csv.

# Derived columns of the questionnaire staging tables: the sheet, and when the file's content was first seen.
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
    "preguntas_esperadas": "BIGINT",
    "preguntas_respondidas": "BIGINT",
    "avance_pct": "DOUBLE",
    "intervenciones": "BIGINT",
    "estado": "VARCHAR",
    "ultima_actualizacion": "TIMESTAMP",
}

GPEDC_INDICADORES: Columns = {
    "indicador": "VARCHAR",
    "dimension": "VARCHAR",
    "nombre": "VARCHAR",
    "codigo_socio": "VARCHAR",
    "valor": "DOUBLE",
    "numerador": "DOUBLE",
    "denominador": "DOUBLE",
    "metodo": "VARCHAR",
    "fuente": "VARCHAR",
    "verificado": "VARCHAR",
    "nota": "VARCHAR",
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
    "cobertura_pct": "DOUBLE",
    "preliminar": "BOOLEAN",
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


# Tables whose `anio` is the year partition, and the `origen` values of a yearly source where a table holds
# several sources (withdrawing a year deletes exactly these rows; the GPEDC round is not yearly).
def yearly_tables() -> dict[str, tuple[str, ...] | None]:
    yearly_origins = ("declaraciones", "registros", *KINDS)
    return {
        "raw.declaraciones": None,
        "staging.declaraciones": None,
        "raw.registros": None,
        **{f"staging.{kind}": None for kind in KINDS},
        "quarantine.filas_rechazadas": yearly_origins,
        "quarantine.archivos_rechazados": yearly_origins,
        "meta.archivos": ("declaraciones", "registros"),
        "meta.huellas": ("declaraciones", "registros"),
        "marts.pncti_indicadores": None,
        "marts.cti_ejecucion": None,
        "marts.declaracion_cumplimiento": None,
    }
