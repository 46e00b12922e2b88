"""Administrative records behind the PNCTI indicators (shared contract registros_administrativos.md).

Seven kinds of file, each with its columns (a `SourceSpec`) and one pandera model per kind, built by
a function that closes over the folder year (and, for `proyectos_css`, the ISO alpha-3 list).
"""

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
)
from cti_pipeline.contracts.text import normalize_name
from cti_pipeline.settings import MAX_CELL_CHARS

PROGRAMAS = ("CTI", "CSS")
SECCIONES = ("BECAS", "ESTADISTICAS", "EXPERIENCIAS_EXITOSAS", "TRIANGULAR")
ESTADOS_COMPROMISO = ("CUMPLIDO", "EN_PROCESO", "PENDIENTE")
ROLES_PERU = ("OFERENTE", "RECEPTOR", "DOBLE")

# Personal data: pseudonymised in raw and staging, masked in quarantine, never in marts or logs.
PERSONAL_COLUMNS = ("participante_id",)

REGISTROS: dict[str, SourceSpec] = {
    spec.origen: spec
    for spec in (
        SourceSpec(
            origen="capacitaciones",
            sheet="capacitaciones",
            columns=(
                Column("anio", "integer", True),
                Column("programa", "code", True, PROGRAMAS),
                Column("participante_id", "text", True),
                Column("entidad", "text", True),
                Column("es_uocti", "yes_no", True),
                Column("nota", "decimal", False),
            ),
        ),
        SourceSpec(
            origen="accesos_web",
            sheet="accesos_web",
            key=("mes", "seccion"),
            columns=(
                Column("anio", "integer", True),
                Column("mes", "integer", True),
                Column("seccion", "code", True, SECCIONES),
                Column("accesos", "integer", True),
            ),
        ),
        SourceSpec(
            origen="espacios_coordinacion",
            sheet="espacios_coordinacion",
            key=("espacio_id", "entidad_participante"),
            columns=(
                Column("anio", "integer", True),
                Column("espacio_id", "text", True),
                Column("nombre_espacio", "text", True),
                Column("fecha", "date", True),
                Column("entidad_participante", "text", True),
            ),
        ),
        SourceSpec(
            origen="compromisos",
            sheet="compromisos",
            key=("compromiso_id",),
            columns=(
                Column("anio", "integer", True),
                Column("compromiso_id", "text", True),
                Column("espacio_id", "text", True),
                Column("estado", "code", True, ESTADOS_COMPROMISO),
            ),
        ),
        SourceSpec(
            origen="asistencia_tecnica",
            sheet="asistencia_tecnica",
            key=("entidad", "fecha", "tema"),
            columns=(
                Column("anio", "integer", True),
                Column("entidad", "text", True),
                Column("fecha", "date", True),
                Column("tema", "text", False),
            ),
        ),
        SourceSpec(
            origen="proyectos_css",
            sheet="proyectos_css",
            key=("codigo_proyecto",),
            columns=(
                Column("anio", "integer", True),
                Column("codigo_proyecto", "text", True),
                Column("rol_peru", "code", True, ROLES_PERU),
                Column("pais_socio", "iso3", True),
                Column("sector", "text", False),
            ),
        ),
        SourceSpec(
            origen="iniciativas_internacionales",
            sheet="iniciativas_internacionales",
            key=("iniciativa_id",),
            columns=(
                Column("anio", "integer", True),
                Column("iniciativa_id", "text", True),
                Column("foro", "text", True),
                Column("liderada_por_peru", "yes_no", True),
            ),
        ),
    )
}
KINDS: tuple[str, ...] = tuple(REGISTROS)

# The column a person should correct when a rule spanning several columns fails.
KEY_RULE_COLUMN = {
    "accesos_web": "seccion",
    "espacios_coordinacion": "entidad_participante",
    "compromisos": "compromiso_id",
    "asistencia_tecnica": "entidad",
    "proyectos_css": "codigo_proyecto",
    "iniciativas_internacionales": "iniciativa_id",
}


def dataframe_rule_columns(kind: str) -> dict[str, str]:
    return {"clave_duplicada": KEY_RULE_COLUMN[kind]} if kind in KEY_RULE_COLUMN else {}


def kind_of_file(name: str) -> str | None:
    """The kind a landed file belongs to: its name starts with the kind (longest match, case-insensitive)."""
    lowered = name.casefold()
    matches = [kind for kind in KINDS if lowered.startswith(kind)]
    return max(matches, key=len) if matches else None


def unknown_kind_reason(name: str) -> str:
    return (
        f"El nombre del archivo «{name}» no empieza por un tipo de registro conocido. "
        f"Tipos admitidos: {', '.join(KINDS)} (por ejemplo capacitaciones_2024.xlsx)."
    )


def key_frame(kind: str, df: pd.DataFrame) -> pd.DataFrame:
    """The key columns as comparable text: names normalised, numbers as numbers, optional parts blank."""
    spec = REGISTROS[kind]
    kinds = {c.name: c for c in spec.columns}
    parts: dict[str, pd.Series] = {}
    for name in spec.key:
        column = kinds[name]
        if column.kind == "integer":
            number = as_number(df[name])
            parts[name] = number.astype("str").where(number.notna(), df[name])
        elif column.kind == "date":
            parts[name] = df[name]
        else:
            parts[name] = _normalised(df[name])
        if not column.required:
            parts[name] = parts[name].fillna("")
    return pd.DataFrame(parts, index=df.index)


def _normalised(series: pd.Series) -> pd.Series:
    """normalize_name on the present values only (an all-missing column stays missing)."""
    out = pd.Series(pd.NA, index=series.index, dtype="str")
    present = series.notna()
    if present.any():
        out[present] = normalize_name(series[present])
    return out


def duplicated_key(kind: str, df: pd.DataFrame) -> pd.Series:
    """True for every row whose complete key is shared with another row (all of them, not all but one)."""
    keys = key_frame(kind, df)
    complete = keys.notna().all(axis=1)
    return complete & keys.duplicated(keep=False)


def allowed_values(kind: str, column: str) -> str:
    codes = {c.name: c.codes for c in REGISTROS[kind].columns}.get(column) or ()
    return ", ".join(codes)


@lru_cache(maxsize=64)
def registro_model(kind: str, anio: int, iso3_codes: frozenset[str] = frozenset()) -> type[pa.DataFrameModel]:
    """The pandera model for rows of `kind` in folder year `anio` (every column canonical text here)."""
    year_start, year_end = dt.datetime(anio, 1, 1), dt.datetime(anio, 12, 31)

    class Registro(pa.DataFrameModel):
        """Checks every kind shares: `anio` an integer equal to the folder year, cells within Excel's limit."""

        anio: Series[str] = pa.Field(nullable=False)

        class Config:
            strict = False  # provenance columns (archivo, fila) travel alongside

        @pa.check("anio", name="entero_invalido")
        def anio_integer(cls, series: Series[str]) -> Series[bool]:
            return is_integer(series)

        @pa.check("anio", name="anio_distinto_carpeta")
        def anio_is_folder_year(cls, series: Series[str]) -> Series[bool]:
            number = as_number(series)
            return number.isna() | (number == anio)

        @pa.check(".*", regex=True, name="celda_demasiado_larga")
        def cell_length(cls, series: Series[str]) -> Series[bool]:
            return series.str.len() <= MAX_CELL_CHARS

    def within_year(series: pd.Series) -> pd.Series:
        date = as_date(series)
        return date.isna() | ((date >= year_start) & (date <= year_end))

    def unique_key(df: pd.DataFrame) -> pd.Series:
        return ~duplicated_key(kind, df)

    class Capacitaciones(Registro):
        """One row per participant and training."""

        programa: Series[str] = pa.Field(nullable=False)
        participante_id: Series[str] = pa.Field(nullable=False)
        entidad: Series[str] = pa.Field(nullable=False)
        es_uocti: Series[str] = pa.Field(nullable=False)
        nota: Series[str] = pa.Field(nullable=True)

        @pa.check("programa", name="valor_no_permitido")
        def programa_code(cls, series: Series[str]) -> Series[bool]:
            return series.isin(PROGRAMAS)

        @pa.check("es_uocti", name="si_no_invalido")
        def es_uocti_yes_no(cls, series: Series[str]) -> Series[bool]:
            return series.isin(("SI", "NO"))

        @pa.check("nota", name="decimal_invalido")
        def nota_number(cls, series: Series[str]) -> Series[bool]:
            return is_decimal(series)

        @pa.check("nota", name="nota_fuera_de_rango")
        def nota_range(cls, series: Series[str]) -> Series[bool]:
            return number_between(series, 0, 20)

    class AccesosWeb(Registro):
        """Web analytics: accesses per month and section."""

        mes: Series[str] = pa.Field(nullable=False)
        seccion: Series[str] = pa.Field(nullable=False)
        accesos: Series[str] = pa.Field(nullable=False)

        @pa.check("mes", "accesos", name="entero_invalido")
        def integers(cls, series: Series[str]) -> Series[bool]:
            return is_integer(series)

        @pa.check("mes", name="mes_invalido")
        def month(cls, series: Series[str]) -> Series[bool]:
            return number_between(series, 1, 12)

        @pa.check("seccion", name="valor_no_permitido")
        def seccion_code(cls, series: Series[str]) -> Series[bool]:
            return series.isin(SECCIONES)

        @pa.check("accesos", name="negativo")
        def not_negative(cls, series: Series[str]) -> Series[bool]:
            return number_at_least(series, 0)

        @pa.dataframe_check(name="clave_duplicada")
        def key(cls, df: pd.DataFrame) -> Series[bool]:
            return unique_key(df)

    class EspaciosCoordinacion(Registro):
        """One row per coordination space and participating entity."""

        espacio_id: Series[str] = pa.Field(nullable=False)
        nombre_espacio: Series[str] = pa.Field(nullable=False)
        fecha: Series[str] = pa.Field(nullable=False)
        entidad_participante: Series[str] = pa.Field(nullable=False)

        @pa.check("fecha", name="fecha_invalida")
        def date(cls, series: Series[str]) -> Series[bool]:
            return is_date(series)

        @pa.check("fecha", name="fecha_fuera_del_anio")
        def date_in_year(cls, series: Series[str]) -> Series[bool]:
            return within_year(series)

        @pa.dataframe_check(name="clave_duplicada")
        def key(cls, df: pd.DataFrame) -> Series[bool]:
            return unique_key(df)

    class Compromisos(Registro):
        """Commitments agreed in the coordination spaces."""

        compromiso_id: Series[str] = pa.Field(nullable=False)
        espacio_id: Series[str] = pa.Field(nullable=False)
        estado: Series[str] = pa.Field(nullable=False)

        @pa.check("estado", name="valor_no_permitido")
        def estado_code(cls, series: Series[str]) -> Series[bool]:
            return series.isin(ESTADOS_COMPROMISO)

        @pa.dataframe_check(name="clave_duplicada")
        def key(cls, df: pd.DataFrame) -> Series[bool]:
            return unique_key(df)

    class AsistenciaTecnica(Registro):
        """Technical assistance for innovative cooperation schemes."""

        entidad: Series[str] = pa.Field(nullable=False)
        fecha: Series[str] = pa.Field(nullable=False)
        tema: Series[str] = pa.Field(nullable=True)

        @pa.check("fecha", name="fecha_invalida")
        def date(cls, series: Series[str]) -> Series[bool]:
            return is_date(series)

        @pa.check("fecha", name="fecha_fuera_del_anio")
        def date_in_year(cls, series: Series[str]) -> Series[bool]:
            return within_year(series)

        @pa.dataframe_check(name="clave_duplicada")
        def key(cls, df: pd.DataFrame) -> Series[bool]:
            return unique_key(df)

    class ProyectosCss(Registro):
        """South-South cooperation projects Peru took part in."""

        codigo_proyecto: Series[str] = pa.Field(nullable=False)
        rol_peru: Series[str] = pa.Field(nullable=False)
        pais_socio: Series[str] = pa.Field(nullable=False)
        sector: Series[str] = pa.Field(nullable=True)

        @pa.check("rol_peru", name="valor_no_permitido")
        def rol_code(cls, series: Series[str]) -> Series[bool]:
            return series.isin(ROLES_PERU)

        @pa.check("pais_socio", name="pais_socio_invalido")
        def pais_iso3(cls, series: Series[str]) -> Series[bool]:
            return series.isin(iso3_codes)

        @pa.dataframe_check(name="clave_duplicada")
        def key(cls, df: pd.DataFrame) -> Series[bool]:
            return unique_key(df)

    class IniciativasInternacionales(Registro):
        """Cooperation initiatives in international fora."""

        iniciativa_id: Series[str] = pa.Field(nullable=False)
        foro: Series[str] = pa.Field(nullable=False)
        liderada_por_peru: Series[str] = pa.Field(nullable=False)

        @pa.check("liderada_por_peru", name="si_no_invalido")
        def led_yes_no(cls, series: Series[str]) -> Series[bool]:
            return series.isin(("SI", "NO"))

        @pa.dataframe_check(name="clave_duplicada")
        def key(cls, df: pd.DataFrame) -> Series[bool]:
            return unique_key(df)

    models: dict[str, type[pa.DataFrameModel]] = {
        "capacitaciones": Capacitaciones,
        "accesos_web": AccesosWeb,
        "espacios_coordinacion": EspaciosCoordinacion,
        "compromisos": Compromisos,
        "asistencia_tecnica": AsistenciaTecnica,
        "proyectos_css": ProyectosCss,
        "iniciativas_internacionales": IniciativasInternacionales,
    }
    return models[kind]
