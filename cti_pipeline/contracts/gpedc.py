"""The GPEDC (AGCED) 4th monitoring round (shared contract gpedc.md): sheets, roster and pandera models.

Every input sheet has a `SourceSpec` and a pandera `DataFrameModel`. The models of the
questionnaire sheets close over the roster (who is a known respondent, which sections are
assigned to whom), the roster's model over the section catalog.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from cti_pipeline.contracts.columns import Column, SourceSpec, as_date, as_number, is_decimal, is_integer, prepare_frame
from cti_pipeline.contracts.reference import load_catalog
from cti_pipeline.contracts.text import normalize_code
from cti_pipeline.settings import MAX_CELL_CHARS

# Money figures of the round refer to January–December 2022 (roadmap, phase 1). Quarantine rows of
# the round carry this year in `anio`, and the indicators use the flows and interventions of this year.
ANIO_REFERENCIA = 2022

TIPOS_RESPONDENTE = ("GOBIERNO", "SOCIO_DESARROLLO", "OSC")
ESTADOS_VALIDACION = ("VALIDADO", "OBSERVADO")
SECCION_CON_MODULOS = "C.1"
MODULOS = ("1", "2", "3", "4")
SOCIO = "SOCIO_DESARROLLO"

# The questionnaire sheets, in the order they are read, and the section each data sheet belongs to.
SHEET_SECTION = {"intervenciones": "B.2", "flujos": "B.3", "presupuesto": "A.3"}

PUNTOS_FOCALES = SourceSpec(
    origen="gpedc_puntos_focales",
    sheet="puntos_focales",
    key=("codigo_respondente",),
    columns=(
        Column("codigo_respondente", "code", True),
        Column("tipo_respondente", "code", True, TIPOS_RESPONDENTE),
        Column("entidad", "text", True),
        Column("secciones", "text", True),
    ),
)

RESPUESTAS = SourceSpec(
    origen="gpedc_respuestas",
    sheet="respuestas",
    key=("codigo_respondente", "seccion", "modulo", "codigo_pregunta"),
    columns=(
        Column("codigo_respondente", "code", True),
        Column("seccion", "code", True),
        Column("modulo", "integer", False),
        Column("codigo_pregunta", "code", True),
        Column("respuesta", "text", False),
        Column("comentario", "text", False),
    ),
)

INTERVENCIONES = SourceSpec(
    origen="gpedc_intervenciones",
    sheet="intervenciones",
    key=("codigo_respondente", "codigo_intervencion"),
    columns=(
        Column("codigo_respondente", "code", True),
        Column("codigo_intervencion", "code", True),
        Column("titulo", "text", True),
        Column("fecha_aprobacion", "date", True),
        Column("monto_usd", "decimal", False),
        Column("objetivos_total", "integer", True),
        Column("objetivos_alineados", "integer", True),
        Column("indicadores_total", "integer", True),
        Column("indicadores_alineados", "integer", True),
        Column("indicadores_fuente_gobierno", "integer", True),
        Column("evaluacion_final_prevista", "yes_no", True),
        Column("evaluacion_con_gobierno", "yes_no", True),
    ),
)

FLUJOS = SourceSpec(
    origen="gpedc_flujos",
    sheet="flujos",
    key=("codigo_respondente", "anio"),
    columns=(
        Column("codigo_respondente", "code", True),
        Column("anio", "integer", True),
        Column("programado_usd", "decimal", True),
        Column("desembolsado_usd", "decimal", True),
    ),
)

# The contract's presupuesto sheet has no respondent column: the respondent is the one of the
# workbook (its other sheets), unless the sheet carries an optional `codigo_respondente`.
PRESUPUESTO = SourceSpec(
    origen="gpedc_presupuesto",
    sheet="presupuesto",
    key=("codigo_socio", "anio"),
    columns=(
        Column("codigo_respondente", "code", False),
        Column("codigo_socio", "code", True),
        Column("anio", "integer", True),
        Column("registrado_en_presupuesto_usd", "decimal", True),
    ),
)

VALIDACIONES = SourceSpec(
    origen="gpedc_validaciones",
    sheet="validaciones",
    columns=(
        Column("codigo_respondente", "code", True),
        Column("seccion", "code", True),
        Column("estado", "code", True, ESTADOS_VALIDACION),
        Column("fecha", "date", True),
        Column("observacion", "text", False),
    ),
)

# The questionnaire sheets of a respondent's workbook.
QUESTIONNAIRE_SPECS = (RESPUESTAS, INTERVENCIONES, FLUJOS, PRESUPUESTO)
ALL_SPECS = (PUNTOS_FOCALES, *QUESTIONNAIRE_SPECS, VALIDACIONES)

# Rules checked across columns report the column a person should correct.
DATAFRAME_RULE_COLUMNS = {
    "clave_duplicada": "codigo_respondente",
    "seccion_no_asignada": "seccion",
    "modulo_invalido": "modulo",
    "parte_mayor_que_total": "objetivos_alineados",  # refined per column in the domain
    "evaluacion_sin_prevista": "evaluacion_con_gobierno",
}
KEY_COLUMN = {"respuestas": "codigo_pregunta", "intervenciones": "codigo_intervencion", "flujos": "anio", "presupuesto": "codigo_socio"}

PARTS = {
    "objetivos_alineados": "objetivos_total",
    "indicadores_alineados": "indicadores_total",
    "indicadores_fuente_gobierno": "indicadores_total",
}

_SECTION_WITHOUT_DOT = re.compile(r"^([ABC])\.?(\d)$")


# --- sections and roster ----------------------------------------------------------------------


def normalize_section(series: pd.Series) -> pd.Series:
    """`a.1`, `A1`, ` A.1 ` → `A.1`; `css` → `CSS`."""
    code = normalize_code(series)
    return code.str.replace(_SECTION_WITHOUT_DOT, r"\1.\2", regex=True)


def split_sections(text: str | None) -> list[str]:
    """`B.1; b2 ,B.3` → [`B.1`, `B.2`, `B.3`] (separators `;`, `,` or new lines)."""
    if text is None or (not isinstance(text, str) and pd.isna(text)):
        return []
    tokens = [t for t in re.split(r"[;,\n]+", str(text)) if t.strip()]
    return list(dict.fromkeys(normalize_section(pd.Series(tokens, dtype="str")).tolist()))


def load_sections(override_dir: Path | None) -> pd.DataFrame:
    """The section catalog (seccion, grupo, tema, responsables)."""
    catalog = load_catalog("gpedc_secciones", override_dir)
    catalog["seccion"] = normalize_section(catalog["seccion"])
    for column in ("tema", "responsables"):
        if column not in catalog:
            catalog[column] = pd.NA
    return catalog


@dataclass(frozen=True, eq=False)  # hashed by identity, so models built from it can be cached
class Roster:
    """The valid roster rows: who answers and which sections each one must answer."""

    respondents: pd.DataFrame  # codigo_respondente, tipo_respondente, entidad, secciones (canonical)
    section_codes: tuple[str, ...]

    @property
    def assigned(self) -> dict[str, frozenset[str]]:
        return {r.codigo_respondente: frozenset(split_sections(r.secciones)) for r in self.respondents.itertuples()}

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(self.respondents["codigo_respondente"])

    @property
    def partners(self) -> frozenset[str]:
        frame = self.respondents
        return frozenset(frame.loc[frame["tipo_respondente"] == SOCIO, "codigo_respondente"])

    def assignments(self) -> pd.DataFrame:
        """One row per (respondent, assigned section), in roster then catalog order."""
        order = {code: position for position, code in enumerate(self.section_codes)}
        rows = [
            (r.codigo_respondente, r.entidad, r.tipo_respondente, seccion)
            for r in self.respondents.itertuples()
            for seccion in sorted(split_sections(r.secciones), key=lambda s: order.get(s, len(order)))
        ]
        return pd.DataFrame(rows, columns=["codigo_respondente", "entidad", "tipo_respondente", "seccion"], dtype="str")


def prepare(spec: SourceSpec, rows: pd.DataFrame, files: pd.Series | None = None, semicolon: pd.Series | None = None) -> pd.DataFrame:
    """Canonical text of a GPEDC sheet: contract preparation plus section codes (`A1` → `A.1`)."""
    prepared = prepare_frame(spec, rows, files, semicolon)
    if "seccion" in prepared:
        prepared["seccion"] = normalize_section(prepared["seccion"]).astype("str")
    if "secciones" in prepared:
        prepared["secciones"] = prepared["secciones"].map(lambda t: ";".join(split_sections(t)) or pd.NA, na_action="ignore").astype("str")
    return prepared


# --- pandera models ---------------------------------------------------------------------------


def is_date(series: pd.Series) -> pd.Series:
    return as_date(series).notna()


def number_at_least(series: pd.Series, minimum: float) -> pd.Series:
    number = as_number(series)
    return number.isna() | (number >= minimum)


def _duplicated(df: pd.DataFrame, key: tuple[str, ...]) -> pd.Series:
    """True for every row whose complete key appears more than once (`modulo` may be blank)."""
    frame = pd.DataFrame({k: df[k].fillna("") if k == "modulo" else df[k] for k in key})
    complete = frame.notna().all(axis=1)
    return complete & frame.duplicated(keep=False)


def _assigned_pairs(roster: Roster) -> frozenset[tuple[str, str]]:
    return frozenset((code, section) for code, sections in roster.assigned.items() for section in sections)


class _GpedcSheet(pa.DataFrameModel):
    """What every GPEDC sheet model shares (the cell-length rule is added per model: see `_cell_length_check`)."""

    class Config:
        strict = False  # provenance columns (archivo, hoja, fila) travel alongside


def _cell_length_check():
    """A fresh `celda_demasiado_larga` check for one model (pandera renames a check inherited by several models)."""

    def cell_length(cls, series: Series[str]) -> Series[bool]:
        return series.str.len() <= MAX_CELL_CHARS

    return pa.check(".*", regex=True, name="celda_demasiado_larga")(cell_length)


def _section_assigned(
    respondent: pd.Series, section: pd.Series | str, known: frozenset[str], sections: frozenset[str], pairs: frozenset[tuple[str, str]]
) -> pd.Series:
    """False only where a known respondent sends a known section not assigned to it."""
    section = section if isinstance(section, pd.Series) else pd.Series(section, index=respondent.index, dtype="str")
    pair_ok = pd.Series(
        [(r, s) in pairs for r, s in zip(respondent.fillna(""), section.fillna(""), strict=True)], index=respondent.index, dtype=bool
    )
    not_judged = ~respondent.isin(known) | ~section.isin(sections)
    return pair_ok | not_judged


def _known_respondent_check(known: frozenset[str]):
    def respondent_known(cls, series: Series[str]) -> Series[bool]:
        return series.isin(known)

    return pa.check("codigo_respondente", name="respondente_desconocido")(respondent_known)


def _row_section_checks(roster: Roster):
    """Sheets with a `seccion` column (respuestas, validaciones): known respondent, known and assigned section."""
    known, sections, pairs = roster.codes, frozenset(roster.section_codes), _assigned_pairs(roster)

    def section_in_catalog(cls, series: Series[str]) -> Series[bool]:
        return series.isin(sections)

    def section_assigned(cls, df: pd.DataFrame) -> Series[bool]:
        return _section_assigned(df["codigo_respondente"], df["seccion"], known, sections, pairs)

    return (
        _known_respondent_check(known),
        pa.check("seccion", name="valor_no_permitido")(section_in_catalog),
        pa.dataframe_check(name="seccion_no_asignada")(section_assigned),
    )


def _respondent_checks(roster: Roster, sheet_section: str):
    """Data sheets of one section (intervenciones, flujos, presupuesto): known respondent, assigned that section."""
    known, sections, pairs = roster.codes, frozenset(roster.section_codes), _assigned_pairs(roster)

    def section_assigned(cls, series: Series[str]) -> Series[bool]:
        return _section_assigned(series, sheet_section, known, sections, pairs)

    return _known_respondent_check(known), pa.check("codigo_respondente", name="seccion_no_asignada")(section_assigned)


@lru_cache(maxsize=8)
def puntos_focales_model(section_codes: tuple[str, ...]) -> type[pa.DataFrameModel]:
    """The roster: one row per respondent; every listed section must be in the catalog."""
    known = frozenset(section_codes)

    class PuntosFocales(_GpedcSheet):
        codigo_respondente: Series[str] = pa.Field(nullable=False)
        tipo_respondente: Series[str] = pa.Field(nullable=False)
        entidad: Series[str] = pa.Field(nullable=False)
        secciones: Series[str] = pa.Field(nullable=False)

        cell_length = _cell_length_check()

        @pa.check("tipo_respondente", name="valor_no_permitido")
        def tipo(cls, series: Series[str]) -> Series[bool]:
            return series.isin(TIPOS_RESPONDENTE)

        @pa.check("secciones", name="valor_no_permitido")
        def sections_in_catalog(cls, series: Series[str]) -> Series[bool]:
            return series.map(lambda text: set(split_sections(text)) <= known).astype(bool)

        @pa.dataframe_check(name="clave_duplicada")
        def unique_code(cls, df: pd.DataFrame) -> Series[bool]:
            return ~_duplicated(df, PUNTOS_FOCALES.key)

    return PuntosFocales


@lru_cache(maxsize=8)
def respuestas_model(roster: Roster) -> type[pa.DataFrameModel]:
    known_check, section_check, assigned_check = _row_section_checks(roster)

    class Respuestas(_GpedcSheet):
        codigo_respondente: Series[str] = pa.Field(nullable=False)
        seccion: Series[str] = pa.Field(nullable=False)
        modulo: Series[str] = pa.Field(nullable=True)
        codigo_pregunta: Series[str] = pa.Field(nullable=False)
        respuesta: Series[str] = pa.Field(nullable=True)
        comentario: Series[str] = pa.Field(nullable=True)

        cell_length = _cell_length_check()

        respondent_known = known_check
        section_in_catalog = section_check
        section_assigned = assigned_check

        @pa.check("modulo", name="entero_invalido")
        def modulo_integer(cls, series: Series[str]) -> Series[bool]:
            return is_integer(series)

        @pa.dataframe_check(name="modulo_invalido")
        def modulo_fits_section(cls, df: pd.DataFrame) -> Series[bool]:
            with_modules = df["seccion"] == SECCION_CON_MODULOS
            ok = (with_modules & df["modulo"].isin(MODULOS)) | (~with_modules & df["modulo"].isna())
            return ok | df["seccion"].isna() | ~df["modulo"].fillna("1").str.fullmatch(r"-?\d+")

        @pa.dataframe_check(name="clave_duplicada")
        def key_unique(cls, df: pd.DataFrame) -> Series[bool]:
            return ~_duplicated(df, RESPUESTAS.key)

    return Respuestas


@lru_cache(maxsize=8)
def intervenciones_model(roster: Roster) -> type[pa.DataFrameModel]:
    known_check, assigned_check = _respondent_checks(roster, SHEET_SECTION["intervenciones"])

    class Intervenciones(_GpedcSheet):
        codigo_respondente: Series[str] = pa.Field(nullable=False)
        codigo_intervencion: Series[str] = pa.Field(nullable=False)
        titulo: Series[str] = pa.Field(nullable=False)
        fecha_aprobacion: Series[str] = pa.Field(nullable=False)
        monto_usd: Series[str] = pa.Field(nullable=True)
        objetivos_total: Series[str] = pa.Field(nullable=False)
        objetivos_alineados: Series[str] = pa.Field(nullable=False)
        indicadores_total: Series[str] = pa.Field(nullable=False)
        indicadores_alineados: Series[str] = pa.Field(nullable=False)
        indicadores_fuente_gobierno: Series[str] = pa.Field(nullable=False)
        evaluacion_final_prevista: Series[str] = pa.Field(nullable=False)
        evaluacion_con_gobierno: Series[str] = pa.Field(nullable=False)

        cell_length = _cell_length_check()

        respondent_known = known_check
        section_assigned = assigned_check

        @pa.check("fecha_aprobacion", name="fecha_invalida")
        def date(cls, series: Series[str]) -> Series[bool]:
            return is_date(series)

        @pa.check("monto_usd", name="decimal_invalido")
        def amount(cls, series: Series[str]) -> Series[bool]:
            return is_decimal(series)

        @pa.check(
            "objetivos_total", "objetivos_alineados", "indicadores_total", "indicadores_alineados", "indicadores_fuente_gobierno",
            name="entero_invalido",
        )
        def integers(cls, series: Series[str]) -> Series[bool]:
            return is_integer(series)

        @pa.check(
            "monto_usd", "objetivos_total", "objetivos_alineados", "indicadores_total", "indicadores_alineados",
            "indicadores_fuente_gobierno", name="negativo",
        )
        def not_negative(cls, series: Series[str]) -> Series[bool]:
            return number_at_least(series, 0)

        @pa.check("evaluacion_final_prevista", "evaluacion_con_gobierno", name="si_no_invalido")
        def yes_no(cls, series: Series[str]) -> Series[bool]:
            return series.isin(("SI", "NO"))

        @pa.dataframe_check(name="parte_mayor_que_total")
        def parts_within_totals(cls, df: pd.DataFrame) -> Series[bool]:
            return ~part_exceeds_total(df).any(axis=1)

        @pa.dataframe_check(name="evaluacion_sin_prevista")
        def evaluation_needs_plan(cls, df: pd.DataFrame) -> Series[bool]:
            return ~((df["evaluacion_con_gobierno"] == "SI") & (df["evaluacion_final_prevista"] == "NO"))

        @pa.dataframe_check(name="clave_duplicada")
        def key_unique(cls, df: pd.DataFrame) -> Series[bool]:
            return ~_duplicated(df, INTERVENCIONES.key)

    return Intervenciones


def part_exceeds_total(df: pd.DataFrame) -> pd.DataFrame:
    """Per part column: True where the part is greater than its total (both numbers)."""
    return pd.DataFrame(
        {part: (as_number(df[part]) > as_number(df[total])).fillna(False).astype(bool) for part, total in PARTS.items()}, index=df.index
    )


@lru_cache(maxsize=8)
def flujos_model(roster: Roster) -> type[pa.DataFrameModel]:
    known_check, assigned_check = _respondent_checks(roster, SHEET_SECTION["flujos"])

    class Flujos(_GpedcSheet):
        codigo_respondente: Series[str] = pa.Field(nullable=False)
        anio: Series[str] = pa.Field(nullable=False)
        programado_usd: Series[str] = pa.Field(nullable=False)
        desembolsado_usd: Series[str] = pa.Field(nullable=False)

        cell_length = _cell_length_check()

        respondent_known = known_check
        section_assigned = assigned_check

        @pa.check("anio", name="entero_invalido")
        def year(cls, series: Series[str]) -> Series[bool]:
            return is_integer(series)

        @pa.check("programado_usd", "desembolsado_usd", name="decimal_invalido")
        def amounts(cls, series: Series[str]) -> Series[bool]:
            return is_decimal(series)

        @pa.check("programado_usd", "desembolsado_usd", name="negativo")
        def not_negative(cls, series: Series[str]) -> Series[bool]:
            return number_at_least(series, 0)

        @pa.dataframe_check(name="clave_duplicada")
        def key_unique(cls, df: pd.DataFrame) -> Series[bool]:
            return ~_duplicated(df, FLUJOS.key)

    return Flujos


@lru_cache(maxsize=8)
def presupuesto_model(roster: Roster) -> type[pa.DataFrameModel]:
    """Government budget registration per development partner (the respondent is filled in first)."""
    known_check, assigned_check = _respondent_checks(roster, SHEET_SECTION["presupuesto"])
    partners = roster.partners

    class Presupuesto(_GpedcSheet):
        codigo_respondente: Series[str] = pa.Field(nullable=True)  # missing → respondente_no_identificado
        codigo_socio: Series[str] = pa.Field(nullable=False)
        anio: Series[str] = pa.Field(nullable=False)
        registrado_en_presupuesto_usd: Series[str] = pa.Field(nullable=False)

        cell_length = _cell_length_check()

        respondent_known = known_check
        section_assigned = assigned_check

        @pa.check("codigo_socio", name="socio_desconocido")
        def partner_known(cls, series: Series[str]) -> Series[bool]:
            return series.isin(partners)

        @pa.check("anio", name="entero_invalido")
        def year(cls, series: Series[str]) -> Series[bool]:
            return is_integer(series)

        @pa.check("registrado_en_presupuesto_usd", name="decimal_invalido")
        def amount(cls, series: Series[str]) -> Series[bool]:
            return is_decimal(series)

        @pa.check("registrado_en_presupuesto_usd", name="negativo")
        def not_negative(cls, series: Series[str]) -> Series[bool]:
            return number_at_least(series, 0)

        @pa.dataframe_check(name="respondente_no_identificado")
        def respondent_identified(cls, df: pd.DataFrame) -> Series[bool]:
            return df["codigo_respondente"].notna()

        @pa.dataframe_check(name="clave_duplicada")
        def key_unique(cls, df: pd.DataFrame) -> Series[bool]:
            return ~_duplicated(df, PRESUPUESTO.key)

    return Presupuesto


@lru_cache(maxsize=8)
def validaciones_model(roster: Roster) -> type[pa.DataFrameModel]:
    known_check, section_check, assigned_check = _row_section_checks(roster)

    class Validaciones(_GpedcSheet):
        codigo_respondente: Series[str] = pa.Field(nullable=False)
        seccion: Series[str] = pa.Field(nullable=False)
        estado: Series[str] = pa.Field(nullable=False)
        fecha: Series[str] = pa.Field(nullable=False)
        observacion: Series[str] = pa.Field(nullable=True)

        cell_length = _cell_length_check()

        respondent_known = known_check
        section_in_catalog = section_check
        section_assigned = assigned_check

        @pa.check("estado", name="valor_no_permitido")
        def state(cls, series: Series[str]) -> Series[bool]:
            return series.isin(ESTADOS_VALIDACION)

        @pa.check("fecha", name="fecha_invalida")
        def date(cls, series: Series[str]) -> Series[bool]:
            return is_date(series)

    return Validaciones


def allowed_values(spec: SourceSpec, column: str, section_codes: tuple[str, ...]) -> str:
    """The list shown in a `valor_no_permitido` message."""
    if column in ("seccion", "secciones"):
        return ", ".join(section_codes)
    return ", ".join({c.name: c.codes for c in spec.columns}.get(column) or ())
