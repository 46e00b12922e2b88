"""The Declaración Anual de CTI (shared contract declaracion_anual.md): columns and pandera model."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from cti_pipeline.contracts.columns import (
    Column,
    SourceSpec,
    as_date,
    as_number,
    is_date,
    is_decimal,
    is_integer,
    number_at_least,
    number_between,
    per_unique,
)
from cti_pipeline.contracts.reference import DeclarationCatalogs
from cti_pipeline.contracts.text import normalize_name
from cti_pipeline.settings import MAX_CELL_CHARS

TIPOS_ENTIDAD = ("ENIEX", "ONGD", "IPREDA", "ENTIDAD_PUBLICA")
TIPOS_COOPERACION = ("BILATERAL", "MULTILATERAL", "PRIVADA")
MONEDAS = ("PEN", "USD")

DECLARACION = SourceSpec(
    origen="declaraciones",
    sheet="intervenciones",
    key=("ruc_entidad", "codigo_intervencion"),
    columns=(
        Column("anio", "integer", True),
        Column("ruc_entidad", "ruc", True),
        Column("nombre_entidad", "text", True),
        Column("tipo_entidad", "code", True, TIPOS_ENTIDAD),
        Column("codigo_intervencion", "text", True),
        Column("titulo", "text", True),
        Column("fuente_cooperante", "text", True),
        Column("pais_fuente", "iso3", False),
        Column("tipo_cooperacion", "code", True, TIPOS_COOPERACION),
        Column("area_prioritaria", "code", True),
        Column("ods", "integer", False),
        Column("departamento", "departamento", True),
        Column("moneda", "code", True, MONEDAS),
        Column("monto_ejecutado", "decimal", True),
        Column("beneficiarios", "integer", False),
        Column("participa_empresa_privada", "yes_no", True),
        Column("fecha_inicio", "date", True),
        Column("fecha_fin", "date", True),
    ),
)

# Rules checked across columns report the column a person should correct.
DATAFRAME_RULE_COLUMNS = {
    "fecha_fin_anterior": "fecha_fin",
    "fuera_del_anio": "fecha_fin",
    "clave_duplicada": "codigo_intervencion",
}

RUC_WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def is_valid_ruc(series: pd.Series) -> pd.Series:
    """SUNAT RUC: 11 digits, prefix 10/15/16/17/20, 11th digit = check digit (vectorised)."""
    shaped = series.str.fullmatch(r"(10|15|16|17|20)\d{9}").fillna(False).astype(bool)
    digits = series.where(shaped, "00000000000")
    total = sum(digits.str[i].astype("int64") * weight for i, weight in enumerate(RUC_WEIGHTS))
    check = 11 - total % 11
    check = check.where(check < 10, check - 10)  # r=10 → 0, r=11 → 1
    return shaped & (digits.str[10].astype("int64") == check)


def ruc_check_digit(first_ten: str) -> int:
    """The SUNAT check digit of the first ten digits of a RUC (used to make valid sample RUCs)."""
    check = 11 - sum(int(d) * w for d, w in zip(first_ten, RUC_WEIGHTS, strict=True)) % 11
    return check - 10 if check >= 10 else check


@lru_cache(maxsize=32)
def declaracion_model(catalogs: DeclarationCatalogs, anio: int) -> type[pa.DataFrameModel]:
    """The pandera model for the declarations of folder year `anio` against the given catalogs."""
    area_codes = frozenset(catalogs.areas["codigo"])
    departamento_codes = frozenset(catalogs.departamentos["codigo"])
    iso3_codes = catalogs.iso3
    year_start, year_end = dt.datetime(anio, 1, 1), dt.datetime(anio, 12, 31)

    class DeclaracionAnual(pa.DataFrameModel):
        """One row per intervention executed in year `anio`; every column is canonical text here."""

        anio: Series[str] = pa.Field(nullable=False)
        ruc_entidad: Series[str] = pa.Field(nullable=False)
        nombre_entidad: Series[str] = pa.Field(nullable=False)
        tipo_entidad: Series[str] = pa.Field(nullable=False)
        codigo_intervencion: Series[str] = pa.Field(nullable=False)
        titulo: Series[str] = pa.Field(nullable=False)
        fuente_cooperante: Series[str] = pa.Field(nullable=False)
        pais_fuente: Series[str] = pa.Field(nullable=True)
        tipo_cooperacion: Series[str] = pa.Field(nullable=False)
        area_prioritaria: Series[str] = pa.Field(nullable=False)
        ods: Series[str] = pa.Field(nullable=True)
        departamento: Series[str] = pa.Field(nullable=False)
        moneda: Series[str] = pa.Field(nullable=False)
        monto_ejecutado: Series[str] = pa.Field(nullable=False)
        beneficiarios: Series[str] = pa.Field(nullable=True)
        participa_empresa_privada: Series[str] = pa.Field(nullable=False)
        fecha_inicio: Series[str] = pa.Field(nullable=False)
        fecha_fin: Series[str] = pa.Field(nullable=False)

        class Config:
            strict = False  # provenance columns (archivo, fila) travel alongside

        @pa.check("anio", "ods", "beneficiarios", name="entero_invalido")
        def integers(cls, series: Series[str]) -> Series[bool]:
            return is_integer(series)

        @pa.check("anio", name="anio_distinto_carpeta")
        def anio_is_folder_year(cls, series: Series[str]) -> Series[bool]:
            number = as_number(series)
            return number.isna() | (number == anio)

        @pa.check("ruc_entidad", name="ruc_invalido")
        def ruc(cls, series: Series[str]) -> Series[bool]:
            return per_unique(is_valid_ruc, series)  # a few hundred entities declare a year's rows

        @pa.check("tipo_entidad", name="valor_no_permitido")
        def tipo_entidad_code(cls, series: Series[str]) -> Series[bool]:
            return series.isin(TIPOS_ENTIDAD)

        @pa.check("tipo_cooperacion", name="valor_no_permitido")
        def tipo_cooperacion_code(cls, series: Series[str]) -> Series[bool]:
            return series.isin(TIPOS_COOPERACION)

        @pa.check("moneda", name="valor_no_permitido")
        def moneda_code(cls, series: Series[str]) -> Series[bool]:
            return series.isin(MONEDAS)

        @pa.check("pais_fuente", name="pais_iso3_invalido")
        def pais_iso3(cls, series: Series[str]) -> Series[bool]:
            return series.isin(iso3_codes)

        @pa.check("area_prioritaria", name="area_desconocida")
        def area_in_catalog(cls, series: Series[str]) -> Series[bool]:
            return series.isin(area_codes)

        @pa.check("departamento", name="departamento_desconocido")
        def departamento_in_catalog(cls, series: Series[str]) -> Series[bool]:
            return series.isin(departamento_codes)

        @pa.check("ods", name="ods_fuera_de_rango")
        def ods_range(cls, series: Series[str]) -> Series[bool]:
            return number_between(series, 1, 17)

        @pa.check("monto_ejecutado", name="decimal_invalido")
        def monto_is_number(cls, series: Series[str]) -> Series[bool]:
            return is_decimal(series)

        @pa.check("monto_ejecutado", "beneficiarios", name="negativo")
        def not_negative(cls, series: Series[str]) -> Series[bool]:
            return number_at_least(series, 0)

        @pa.check("participa_empresa_privada", name="si_no_invalido")
        def yes_no(cls, series: Series[str]) -> Series[bool]:
            return series.isin(("SI", "NO"))

        @pa.check("fecha_inicio", "fecha_fin", name="fecha_invalida")
        def dates(cls, series: Series[str]) -> Series[bool]:
            return is_date(series)

        @pa.check(".*", regex=True, name="celda_demasiado_larga")
        def cell_length(cls, series: Series[str]) -> Series[bool]:
            return series.str.len() <= MAX_CELL_CHARS

        @pa.dataframe_check(name="fecha_fin_anterior")
        def end_not_before_start(cls, df: pd.DataFrame) -> Series[bool]:
            start, end = as_date(df["fecha_inicio"]), as_date(df["fecha_fin"])
            return start.isna() | end.isna() | (end >= start)

        @pa.dataframe_check(name="fuera_del_anio")
        def overlaps_year(cls, df: pd.DataFrame) -> Series[bool]:
            start, end = as_date(df["fecha_inicio"]), as_date(df["fecha_fin"])
            return start.isna() | end.isna() | ((start <= year_end) & (end >= year_start))

        @pa.dataframe_check(name="clave_duplicada")
        def key_unique_in_file(cls, df: pd.DataFrame) -> Series[bool]:
            key = pd.DataFrame(
                {"archivo": df["archivo"], "ruc": df["ruc_entidad"], "codigo": per_unique(normalize_name, df["codigo_intervencion"])}
            )
            complete = key.notna().all(axis=1)
            return ~(complete & key.duplicated(keep=False))

    return DeclaracionAnual


def allowed_values(column: str, catalogs: DeclarationCatalogs) -> str:
    """The list shown in a `valor_no_permitido` / `area_desconocida` message."""
    codes = {c.name: c.codes for c in DECLARACION.columns}.get(column) or ()
    if column == "area_prioritaria":
        codes = tuple(catalogs.areas["codigo"])
    return ", ".join(codes)
