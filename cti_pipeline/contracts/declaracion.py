"""The Declaración Anual de CTI (shared contract declaracion_anual.md): its columns, declared once."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from cti_pipeline.contracts.columns import Column, SourceSpec, as_date
from cti_pipeline.contracts.reference import DeclarationCatalogs
from cti_pipeline.contracts.schema import RowRule, Validation, validation

TIPOS_ENTIDAD = ("ENIEX", "ONGD", "IPREDA", "ENTIDAD_PUBLICA")
TIPOS_COOPERACION = ("BILATERAL", "MULTILATERAL", "PRIVADA")
MONEDAS = ("PEN", "USD")

DECLARACION = SourceSpec(
    origen="declaraciones",
    sheet="intervenciones",
    key=("ruc_entidad", "codigo_intervencion"),
    key_scope="file",  # unique per (ruc_entidad, anio) within a file
    columns=(
        Column("anio", "integer", True, folder_year=True),
        Column("ruc_entidad", "ruc", True),
        Column("nombre_entidad", "text", True),
        Column("tipo_entidad", "code", True, TIPOS_ENTIDAD),
        Column("codigo_intervencion", "text", True),
        Column("titulo", "text", True),
        Column("fuente_cooperante", "text", True),
        Column("pais_fuente", "iso3", False, catalog="iso3", rule="pais_iso3_invalido"),
        Column("tipo_cooperacion", "code", True, TIPOS_COOPERACION),
        Column("area_prioritaria", "code", True, catalog="areas", rule="area_desconocida"),
        Column("ods", "integer", False, minimum=1, maximum=17, range_rule="ods_fuera_de_rango"),
        Column("departamento", "departamento", True, catalog="departamentos", rule="departamento_desconocido"),
        Column("moneda", "code", True, MONEDAS),
        Column("monto_ejecutado", "decimal", True, minimum=0),
        Column("beneficiarios", "integer", False, minimum=0),
        Column("participa_empresa_privada", "yes_no", True),
        Column("fecha_inicio", "date", True),
        Column("fecha_fin", "date", True),
    ),
)


def declaracion_validation(catalogs: DeclarationCatalogs, anio: int) -> Validation:
    """The checks of the declarations of folder year `anio` against the given catalogs."""
    year_start, year_end = dt.datetime(anio, 1, 1), dt.datetime(anio, 12, 31)

    def end_not_before_start(df: pd.DataFrame) -> pd.Series:
        start, end = as_date(df["fecha_inicio"]), as_date(df["fecha_fin"])
        return start.isna() | end.isna() | (end >= start)

    def overlaps_year(df: pd.DataFrame) -> pd.Series:
        start, end = as_date(df["fecha_inicio"]), as_date(df["fecha_fin"])
        return start.isna() | end.isna() | ((start <= year_end) & (end >= year_start))

    return validation(
        DECLARACION,
        anio=anio,
        codes={"areas": catalogs.areas["codigo"], "departamentos": catalogs.departamentos["codigo"], "iso3": catalogs.iso3},
        rules=(
            RowRule("fecha_fin_anterior", "fecha_fin", end_not_before_start),
            RowRule("fuera_del_anio", "fecha_fin", overlaps_year),
        ),
    )
