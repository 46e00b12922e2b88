"""The GPEDC (AGCED) 4th monitoring round on the 2023–2026 framework (shared contract gpedc.md).

The questionnaire is data. `reference/gpedc_preguntas.csv` lists every item (its section, the sheet it is
answered in, its column there, its type and categories), `gpedc_indicadores.csv` the framework's
indicators and `gpedc_parametros.csv` the reference year and the intervention threshold; a file of the
same name in `$CTI_DATA_DIR/reference/` replaces the shipped one whole. `GpedcCatalogs.load` reads and
checks them, naming the file and row of anything it cannot use.

Every sheet is a `SourceSpec` whose checks follow from its columns (contracts/schema.py). The structured
sheets' item columns are built from the catalog (`sheet_spec`): one column per item of that sheet, its
kind from `tipo_respuesta`, so an item added to the catalog is read, validated, staged and exported with
no code change. Only what spans columns, rows or catalogs is written by hand, as `RowRule`s:
`seccion_no_asignada`, `pregunta_desconocida`, `pregunta_en_otra_hoja`, `respuesta_invalida` of a
`respuestas` row (its type depends on the row's item), `parte_mayor_que_total`, `modulo_invalido`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd

from cti_pipeline.contracts.columns import (
    Column,
    SourceSpec,
    as_number,
    is_decimal,
    is_integer,
    prepare_decimal,
    prepare_frame,
    prepare_integer,
)
from cti_pipeline.contracts.reference import ReferenceError, catalog_path, load_catalog
from cti_pipeline.contracts.schema import KIND_CHECKS, RowRule, Validation, validation
from cti_pipeline.contracts.text import code_of, normalize_code, normalize_yes_no

TIPOS_RESPONDENTE = ("GOBIERNO", "SOCIO_DESARROLLO", "OSC")
GOBIERNO, SOCIO = "GOBIERNO", "SOCIO_DESARROLLO"
ESTADOS_VALIDACION = ("VALIDADO", "OBSERVADO")
SECCION_CON_MODULOS = "C.1"
MODULOS = ("1", "2", "3", "4")
ANY_ITEM = "*"  # a catalog row that accepts every item id of its section (as LIBRE)
NINGUNO = "NINGUNO"  # the B2_6 category of an intervention whose objectives come from no country framework
TOTAL = "TOTAL"

RESPUESTAS = "respuestas"
STRUCTURED_SHEETS = ("intervenciones", "flujos", "socios")
QUESTIONNAIRE_SHEETS = (RESPUESTAS, *STRUCTURED_SHEETS)
# The section of a single-section structured sheet when the catalog lists none of its items.
SHEET_SECTION_DEFAULT = {"intervenciones": "B.2", "flujos": "B.3"}

TIPOS_RESPUESTA = ("SI_NO", "ENTERO", "NUMERO", "MONTO_USD", "CATEGORIA", "URL", "TEXTO", "LIBRE")
NIVELES = ("PAIS", "SOCIO")
# The contract's vocabulary of methods; each is written once in domain/gpedc_indicators.py.
METODOS = (
    "PROYECTOS_ALINEADOS",
    "PARTE_DEL_TOTAL",
    "PROMEDIO_COMPONENTES",
    "DESEMBOLSADO_SOBRE_PROGRAMADO",
    "SOBREDESEMBOLSO",
    "MIN_SOBRE_MAX",
    "PROMEDIO_SOBRE_BASE",
    "PROPORCION_SI",
    "EXTERNO",
    "SIN_CALCULO",
)

# parte_mayor_que_total: a part column → its total column (checked when both are in the sheet).
PARTS = {
    "b2_10_1": "b2_10",
    "b2_10_2": "b2_10",
    "b3_5": "b3_2",
    "b3_6": "b3_2",
    "b3_7": "b3_2",
    "b3_8": "b3_2",
}

# What a `respuesta_invalida` message says is expected, per tipo_respuesta.
EXPECTED = {
    "SI_NO": "SI o NO",
    "ENTERO": "un número entero mayor o igual que 0",
    "NUMERO": "un número (solo cifras y un separador decimal)",
    "MONTO_USD": "un monto en USD mayor o igual que 0 (solo cifras y un separador decimal)",
    "CATEGORIA": "una de las categorías {categorias}",
    "URL": "un enlace que empiece por http:// o https://",
    "TEXTO": "un texto",
    "LIBRE": "cualquier valor",
}

PREGUNTAS_FILE = "reference/gpedc_preguntas.csv"
_SECTION_WITHOUT_DOT = re.compile(r"^([ABC])\.?(\d)$")


# --- codes ----------------------------------------------------------------------------------------


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


def item_key(series: pd.Series) -> pd.Series:
    """Item ids match as code values do: `a1_2`, `A1_2 ` and `A1_2` are one item."""
    return normalize_code(series)


def item_column_name(codigo: str) -> str:
    """The column of an item in a structured sheet: its id in lower case with `.` as `_` (`B2_10.1` → `b2_10_1`)."""
    return codigo.strip().lower().replace(".", "_")


# --- catalogs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One questionnaire item of `gpedc_preguntas.csv`."""

    codigo: str  # as the catalog spells it (`A1_1.3`, `B2_11a`); `*` for "any item of the section"
    clave: str  # the id as compared (`B2_11A`)
    seccion: str
    hoja: str
    columna: str | None  # its column in a structured sheet
    tipo: str
    categorias: tuple[str, ...]  # normalised, for CATEGORIA
    descripcion: str
    verificado: str

    @property
    def expected(self) -> str:
        return EXPECTED[self.tipo].format(categorias=", ".join(self.categorias))


@dataclass(frozen=True)
class Indicator:
    """One indicator of `gpedc_indicadores.csv`."""

    indicador: str
    dimension: str
    componente: str
    nombre: str
    nivel: str
    metodo: str
    preguntas: tuple[str, ...]  # item ids (or, for PROMEDIO_COMPONENTES, indicator codes), as written
    fuente: str
    verificado: str
    nota: str


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column].fillna("") if column in frame else pd.Series("", index=frame.index, dtype="str")


def _problem(name: str, override_dir: Path | None, row: int, text: str) -> ReferenceError:
    path = catalog_path(name, override_dir)
    return ReferenceError(f"reference catalog {path}, row {row + 2}: {text}")


def load_sections(override_dir: Path | None) -> pd.DataFrame:
    """The section catalog (seccion, grupo, tema, responsables), sections normalised."""
    catalog = load_catalog("gpedc_secciones", override_dir)
    catalog["seccion"] = normalize_section(catalog["seccion"])
    catalog["grupo"] = normalize_code(catalog["grupo"])
    for column in ("tema", "responsables"):
        if column not in catalog:
            catalog[column] = ""
    return catalog


def load_parameters(override_dir: Path | None) -> tuple[int, float]:
    """(anio_referencia, umbral_intervencion_usd) from `gpedc_parametros.csv`."""
    frame = load_catalog("gpedc_parametros", override_dir)
    values = {}
    for position, row in enumerate(frame.itertuples(index=False)):
        key = str(row.clave).strip().lower()
        if key in values:
            raise _problem("gpedc_parametros", override_dir, position, f"«{key}» is listed twice")
        values[key] = (position, str(row.valor).strip())
    parsed = {}
    for key, convert in (("anio_referencia", int), ("umbral_intervencion_usd", float)):
        if key not in values:
            raise ReferenceError(f"reference catalog {catalog_path('gpedc_parametros', override_dir)} lacks the row «{key}»")
        position, text = values[key]
        try:
            parsed[key] = convert(text)
        except ValueError:
            raise _problem("gpedc_parametros", override_dir, position, f"«{key}» = {text!r} is not a number") from None
        if parsed[key] < 0:
            raise _problem("gpedc_parametros", override_dir, position, f"«{key}» = {text!r} is negative")
    return parsed["anio_referencia"], parsed["umbral_intervencion_usd"]


def load_items(override_dir: Path | None, sections: Iterable[str]) -> tuple[Item, ...]:
    frame = load_catalog("gpedc_preguntas", override_dir)
    known_sections = set(sections)
    items: list[Item] = []
    seen: dict[str, int] = {}
    columns: dict[tuple[str, str], int] = {}
    codigos = _text(frame, "codigo_pregunta")
    # normalised once per column (a pandas call per cell costs a second on the shipped catalog)
    normalized = zip(normalize_section(_text(frame, "seccion")).fillna(""), normalize_code(_text(frame, "tipo_respuesta")).fillna(""),
                     item_key(codigos).fillna(""), strict=True)
    for position, (codigo, seccion, hoja, columna, tipo, categorias, descripcion, verificado, (section, kind, key)) in enumerate(zip(
        codigos, _text(frame, "seccion"), _text(frame, "hoja"), _text(frame, "columna"),
        _text(frame, "tipo_respuesta"), _text(frame, "categorias"), _text(frame, "descripcion"), _text(frame, "verificado"),
        normalized, strict=True,
    )):
        def fail(text: str) -> ReferenceError:
            return _problem("gpedc_preguntas", override_dir, position, text)

        if not codigo:
            raise fail("codigo_pregunta is blank")
        if section not in known_sections:
            raise fail(f"section «{seccion}» is not in gpedc_secciones.csv")
        sheet = hoja.strip().lower()
        if sheet not in QUESTIONNAIRE_SHEETS:
            raise fail(f"hoja «{hoja}» is not one of {', '.join(QUESTIONNAIRE_SHEETS)}")
        if kind not in TIPOS_RESPUESTA:
            raise fail(f"tipo_respuesta «{tipo}» is not one of {', '.join(TIPOS_RESPUESTA)}")
        listed = tuple(dict.fromkeys(code_of(c) for c in categorias.split(";") if c.strip()))
        if kind == "CATEGORIA" and not listed:
            raise fail(f"item {codigo} is CATEGORIA without categorias")
        clave = ANY_ITEM if codigo.strip() == ANY_ITEM else key
        if clave == ANY_ITEM and sheet != RESPUESTAS:
            raise fail("a `*` row accepts any item of its section in the sheet respuestas only")
        name = None
        if sheet != RESPUESTAS:
            name = item_column_name(columna or codigo)
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise fail(f"columna «{columna}» is not a column name (lower case, digits and _)")
            if (sheet, name) in columns:
                raise fail(f"column «{name}» of sheet {sheet} is listed twice")
            columns[(sheet, name)] = position
        identity = f"{section}|{clave}" if clave == ANY_ITEM else clave
        if identity in seen:
            raise fail(f"item {codigo} is listed twice (also row {seen[identity] + 2})")
        seen[identity] = position
        items.append(Item(codigo.strip(), clave, section, sheet, name, kind, listed, descripcion, verificado or "NO"))
    return tuple(items)


def load_indicators(override_dir: Path | None, items: Iterable[Item]) -> tuple[Indicator, ...]:
    frame = load_catalog("gpedc_indicadores", override_dir)
    keys = {item.clave for item in items}
    indicators: list[Indicator] = []
    codes: set[str] = set()
    for position, row in enumerate(zip(*(_text(frame, c) for c in (
        "indicador", "dimension", "componente", "nombre", "nivel", "metodo", "preguntas", "fuente", "verificado", "nota"
    )), strict=True)):
        indicador, dimension, componente, nombre, nivel, metodo, preguntas, fuente, verificado, nota = row

        def fail(text: str) -> ReferenceError:
            return _problem("gpedc_indicadores", override_dir, position, text)

        if not indicador or indicador in codes:
            raise fail(f"indicador «{indicador}» is blank or listed twice")
        codes.add(indicador)
        nivel, metodo = nivel.strip().upper(), metodo.strip().upper()
        if nivel not in NIVELES:
            raise fail(f"nivel «{nivel}» is not one of {', '.join(NIVELES)}")
        if metodo not in METODOS:
            raise fail(f"metodo «{metodo}» is not one of {', '.join(METODOS)}")
        listed = tuple(p.strip() for p in preguntas.split(";") if p.strip())
        if metodo not in ("PROMEDIO_COMPONENTES", "EXTERNO", "SIN_CALCULO"):
            unknown = [p for p in listed if code_of(p) not in keys]
            if unknown:
                raise fail(f"preguntas {', '.join(unknown)} are not items of gpedc_preguntas.csv")
        indicators.append(Indicator(indicador, dimension, componente, nombre, nivel, metodo, listed, fuente or "CUESTIONARIO",
                                    verificado or "NO", nota))
    for indicator in indicators:
        if indicator.metodo == "PROMEDIO_COMPONENTES":
            unknown = [p for p in indicator.preguntas if p not in codes]
            if unknown or not indicator.preguntas:
                position = [i.indicador for i in indicators].index(indicator.indicador)
                raise _problem("gpedc_indicadores", override_dir, position,
                               f"components {', '.join(unknown) or '(none)'} are not indicators of the catalog")
    return tuple(indicators)


@dataclass(frozen=True, eq=False)  # hashed by identity
class GpedcCatalogs:
    """Everything the round reads from `reference/`: sections, items, indicators and parameters."""

    anio_referencia: int
    umbral_intervencion_usd: float
    secciones: pd.DataFrame  # seccion, grupo, tema, responsables (catalog order)
    items: tuple[Item, ...]
    indicators: tuple[Indicator, ...]

    @classmethod
    def load(cls, override_dir: Path | None = None) -> GpedcCatalogs:
        secciones = load_sections(override_dir)
        anio, umbral = load_parameters(override_dir)
        items = load_items(override_dir, secciones["seccion"])
        return cls(anio, umbral, secciones, items, load_indicators(override_dir, items))

    @cached_property
    def section_codes(self) -> tuple[str, ...]:
        return tuple(self.secciones["seccion"])

    def items_of_sheet(self, sheet: str) -> list[Item]:
        return [item for item in self.items if item.hoja == sheet]

    def answered_items(self, seccion: str) -> list[Item]:
        """The listed `respuestas` items of a section (not its `*` row)."""
        return [item for item in self.items if item.seccion == seccion and item.hoja == RESPUESTAS and item.clave != ANY_ITEM]

    @cached_property
    def any_item_sections(self) -> frozenset[str]:
        return frozenset(item.seccion for item in self.items if item.clave == ANY_ITEM)

    @cached_property
    def by_section_key(self) -> dict[tuple[str, str], Item]:
        return {(item.seccion, item.clave): item for item in self.items if item.clave != ANY_ITEM}

    @cached_property
    def by_key(self) -> dict[str, Item]:
        return {item.clave: item for item in self.items if item.clave != ANY_ITEM}

    def item(self, codigo: str) -> Item | None:
        return self.by_key.get(item_key(pd.Series([codigo], dtype="str")).iloc[0])

    def sheet_sections(self, sheet: str) -> tuple[str, ...]:
        """The sections whose items a structured sheet holds (catalog order)."""
        found = tuple(dict.fromkeys(item.seccion for item in self.items_of_sheet(sheet)))
        return found or ((SHEET_SECTION_DEFAULT[sheet],) if sheet in SHEET_SECTION_DEFAULT else ())

    def group_sections(self, grupo: str) -> list[str]:
        return self.secciones.loc[self.secciones["grupo"] == grupo, "seccion"].tolist()


# --- sheets ---------------------------------------------------------------------------------------

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

_RESPONDENT = Column("codigo_respondente", "code", True, catalog="respondentes", rule="respondente_desconocido")
_SECTION = Column("seccion", "code", True, catalog="secciones")

RESPUESTAS_SPEC = SourceSpec(
    origen="gpedc_respuestas",
    sheet=RESPUESTAS,
    key=("codigo_respondente", "seccion", "modulo", "codigo_pregunta"),
    key_column="codigo_pregunta",
    columns=(
        _RESPONDENT,
        _SECTION,
        Column("modulo", "integer", False),
        Column("codigo_pregunta", "code", True),
        Column("respuesta", "text", False),
        Column("comentario", "text", False),
    ),
)

VALIDACIONES = SourceSpec(
    origen="gpedc_validaciones",
    sheet="validaciones",
    columns=(
        _RESPONDENT,
        _SECTION,
        Column("estado", "code", True, ESTADOS_VALIDACION),
        Column("fecha", "date", True),
        Column("observacion", "text", False),
    ),
)

# The columns of each structured sheet before its items (identity and key: never left out of a sheet).
SHEET_IDENTITY: dict[str, tuple[Column, ...]] = {
    "intervenciones": (
        _RESPONDENT,
        Column("codigo_intervencion", "text", True),
        Column("titulo", "text", True),
        Column("fecha_aprobacion", "date", True),
        Column("monto_usd", "decimal", True, minimum=0),
    ),
    "flujos": (_RESPONDENT, Column("anio", "integer", True)),
    # the respondent of a `socios` row may be left out: then it is the one the workbook's other sheets name
    "socios": (
        Column("codigo_respondente", "code", False, catalog="respondentes", rule="respondente_desconocido"),
        Column("codigo_socio", "code", True, catalog="socios", rule="socio_desconocido"),
        Column("anio", "integer", True),
    ),
}
SHEET_KEY = {
    "intervenciones": (("codigo_respondente", "codigo_intervencion"), "codigo_intervencion"),
    "flujos": (("codigo_respondente", "anio"), "anio"),
    "socios": (("codigo_socio", "anio"), "codigo_socio"),
}
# Re-sent workbooks: the newest file counts per these columns (contract gpedc.md).
SUPERSEDED_PER = {
    "puntos_focales": (),
    RESPUESTAS: ("codigo_respondente", "seccion"),
    "intervenciones": ("codigo_respondente",),
    "flujos": ("codigo_respondente",),
    "socios": ("codigo_respondente", "codigo_socio", "anio"),  # a respondent re-sending; two respondents: clave_duplicada
}


def item_column(item: Item) -> Column:
    """A structured sheet's column for one catalog item: its kind from tipo_respuesta; a value that does not
    fit it breaks `respuesta_invalida`."""
    kind, codes, minimum = {
        "SI_NO": ("yes_no", (), None),
        "ENTERO": ("integer", (), 0.0),
        "NUMERO": ("decimal", (), None),
        "MONTO_USD": ("decimal", (), 0.0),
        "CATEGORIA": ("code", item.categorias, None),
        "URL": ("url", (), None),
        "TEXTO": ("text", (), None),
        "LIBRE": ("text", (), None),
    }[item.tipo]
    return Column(item.columna, kind, False, codes, rule="respuesta_invalida", minimum=minimum,
                  range_rule="respuesta_invalida" if minimum is not None else None)


def sheet_spec(sheet: str, catalogs: GpedcCatalogs) -> SourceSpec:
    """The `SourceSpec` of a structured sheet: its identity columns, then one column per catalog item."""
    key, key_column = SHEET_KEY[sheet]
    columns = SHEET_IDENTITY[sheet] + tuple(item_column(item) for item in catalogs.items_of_sheet(sheet))
    return SourceSpec(origen=f"gpedc_{sheet}", sheet=sheet, columns=columns, key=key, key_column=key_column)


def questionnaire_specs(catalogs: GpedcCatalogs) -> dict[str, SourceSpec]:
    """sheet → spec, in the order the sheets are read."""
    return {RESPUESTAS: RESPUESTAS_SPEC, **{sheet: sheet_spec(sheet, catalogs) for sheet in STRUCTURED_SHEETS}}


def all_specs(catalogs: GpedcCatalogs) -> dict[str, SourceSpec]:
    return {"puntos_focales": PUNTOS_FOCALES, **questionnaire_specs(catalogs), "validaciones": VALIDACIONES}


# --- roster ---------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Roster:
    """The valid roster rows: who answers and which sections each one must answer."""

    respondents: pd.DataFrame  # codigo_respondente, tipo_respondente, entidad, secciones (canonical)
    section_codes: tuple[str, ...]

    @cached_property
    def assigned(self) -> dict[str, tuple[str, ...]]:
        """respondent → its sections, in catalog order."""
        order = {code: position for position, code in enumerate(self.section_codes)}
        return {
            r.codigo_respondente: tuple(sorted(split_sections(r.secciones), key=lambda s: order.get(s, len(order))))
            for r in self.respondents.itertuples()
        }

    @cached_property
    def pairs(self) -> frozenset[str]:
        return frozenset(f"{code}\x1f{section}" for code, sections in self.assigned.items() for section in sections)

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(self.respondents["codigo_respondente"])

    @cached_property
    def partners(self) -> tuple[str, ...]:
        """Every SOCIO_DESARROLLO of the roster, sorted."""
        frame = self.respondents
        return tuple(sorted(frame.loc[frame["tipo_respondente"] == SOCIO, "codigo_respondente"]))

    @cached_property
    def kind_of(self) -> dict[str, str]:
        return dict(zip(self.respondents["codigo_respondente"], self.respondents["tipo_respondente"], strict=True))

    @cached_property
    def entity_of(self) -> dict[str, str]:
        return dict(zip(self.respondents["codigo_respondente"], self.respondents["entidad"], strict=True))

    def assignments(self) -> pd.DataFrame:
        """One row per (respondent, assigned section), in roster then catalog order."""
        rows = [
            (r.codigo_respondente, r.entidad, r.tipo_respondente, seccion)
            for r in self.respondents.itertuples()
            for seccion in self.assigned[r.codigo_respondente]
        ]
        return pd.DataFrame(rows, columns=["codigo_respondente", "entidad", "tipo_respondente", "seccion"], dtype="str")

    def is_assigned(self, respondent: pd.Series, section: pd.Series | str) -> pd.Series:
        """True where the section is assigned to the respondent (vectorised)."""
        section = section if isinstance(section, pd.Series) else pd.Series(section, index=respondent.index, dtype="str")
        return (respondent.fillna("") + "\x1f" + section.fillna("")).isin(self.pairs)


# --- preparation ----------------------------------------------------------------------------------


def prepare(spec: SourceSpec, rows: pd.DataFrame, catalogs: GpedcCatalogs, files: pd.Series | None = None,
            semicolon: pd.Series | None = None) -> pd.DataFrame:
    """Canonical text of a GPEDC sheet: the contract's preparation, section codes (`A1` → `A.1`), item ids as the
    catalog spells them, and each `respuestas` answer canonical for its item's type (`Sí` → `SI`)."""
    prepared = prepare_frame(spec, rows, files, semicolon)
    if "seccion" in prepared:
        prepared["seccion"] = normalize_section(prepared["seccion"]).astype("str")
    if "secciones" in prepared:
        prepared["secciones"] = prepared["secciones"].map(lambda t: ";".join(split_sections(t)) or pd.NA, na_action="ignore").astype("str")
    if spec is RESPUESTAS_SPEC:
        keys = item_key(prepared["codigo_pregunta"])
        spelled = keys.map({item.clave: item.codigo for item in catalogs.by_key.values()})
        prepared["codigo_pregunta"] = spelled.where(spelled.notna(), prepared["codigo_pregunta"]).astype("str")
        prepared["respuesta"] = canonical_answers(prepared, catalogs)
    return prepared


def row_types(prepared: pd.DataFrame, catalogs: GpedcCatalogs) -> pd.Series:
    """The tipo_respuesta of each `respuestas` row's item (LIBRE under a `*` row; missing when the item is unknown
    or belongs in a structured sheet)."""
    keys = prepared["seccion"].fillna("") + "\x1f" + item_key(prepared["codigo_pregunta"]).fillna("")
    types = keys.map({f"{s}\x1f{k}": item.tipo for (s, k), item in catalogs.by_section_key.items() if item.hoja == RESPUESTAS})
    wildcard = prepared["seccion"].isin(catalogs.any_item_sections) & ~keys.isin(
        [f"{s}\x1f{k}" for s, k in catalogs.by_section_key])
    return types.where(~wildcard, "LIBRE").astype("str")


def canonical_answers(prepared: pd.DataFrame, catalogs: GpedcCatalogs) -> pd.Series:
    answers = prepared["respuesta"].copy()
    types = row_types(prepared, catalogs)
    for tipo, canonical in (("SI_NO", normalize_yes_no), ("CATEGORIA", normalize_code), ("ENTERO", prepare_integer),
                            ("NUMERO", lambda s: prepare_decimal(s, None, None)), ("MONTO_USD", lambda s: prepare_decimal(s, None, None))):
        rows = (types == tipo).to_numpy() & answers.notna().to_numpy()
        if rows.any():
            answers[rows] = canonical(answers[rows]).astype("str").to_numpy()
    return answers.astype("str")


def answer_fits(tipo: str, answers: pd.Series, categorias: tuple[str, ...] = ()) -> pd.Series:
    """True where a canonical answer fits its item's type (ASCII digits only, as every number here)."""
    match tipo:
        case "SI_NO":
            return answers.isin(("SI", "NO"))
        case "ENTERO":
            return is_integer(answers).fillna(False).astype(bool) & (as_number(answers) >= 0).fillna(False)
        case "NUMERO":
            return is_decimal(answers).fillna(False).astype(bool)
        case "MONTO_USD":
            return is_decimal(answers).fillna(False).astype(bool) & (as_number(answers) >= 0).fillna(False)
        case "CATEGORIA":
            return answers.isin(categorias)
        case "URL":
            return KIND_CHECKS["url"](answers).fillna(False).astype(bool)
        case _:
            return pd.Series(True, index=answers.index)


# --- validation -----------------------------------------------------------------------------------


def _codes(catalogs: GpedcCatalogs, roster: Roster | None) -> dict[str, Iterable[str]]:
    codes: dict[str, Iterable[str]] = {"secciones": catalogs.section_codes}
    if roster is not None:
        codes |= {"respondentes": roster.codes, "socios": roster.partners}
    return codes


def roster_validation(catalogs: GpedcCatalogs) -> Validation:
    known = frozenset(catalogs.section_codes)

    def sections_in_catalog(df: pd.DataFrame) -> pd.Series:
        return df["secciones"].map(lambda text: set(split_sections(text)) <= known, na_action="ignore").fillna(True).astype(bool)

    return validation(PUNTOS_FOCALES, rules=[RowRule("valor_no_permitido", "secciones", sections_in_catalog)])


def _assigned_rule(roster: Roster, column: str, section: str | None = None, only_filled: str | None = None) -> RowRule:
    """seccion_no_asignada: a known respondent sends a (known) section not assigned to it."""
    sections = frozenset(roster.section_codes)

    def passes(df: pd.DataFrame) -> pd.Series:
        respondent = df["codigo_respondente"]
        target = df["seccion"] if section is None else pd.Series(section, index=df.index, dtype="str")
        judged = respondent.isin(roster.codes) & target.isin(sections)
        if only_filled is not None:
            judged &= df[only_filled].notna()
        return ~judged | roster.is_assigned(respondent, target)

    return RowRule("seccion_no_asignada", column, passes)


def respuestas_validation(catalogs: GpedcCatalogs, roster: Roster) -> Validation:
    sections = frozenset(catalogs.section_codes)
    listed = frozenset(f"{s}\x1f{k}" for s, k in catalogs.by_section_key)
    elsewhere = frozenset(f"{s}\x1f{k}" for (s, k), item in catalogs.by_section_key.items() if item.hoja != RESPUESTAS)

    def keys(df: pd.DataFrame) -> pd.Series:
        return df["seccion"].fillna("") + "\x1f" + item_key(df["codigo_pregunta"]).fillna("")

    def modulo_fits(df: pd.DataFrame) -> pd.Series:
        with_modules = df["seccion"] == SECCION_CON_MODULOS
        ok = (with_modules & df["modulo"].isin(MODULOS)) | (~with_modules & df["modulo"].isna())
        not_judged = df["seccion"].isna() | ~df["modulo"].fillna("1").str.fullmatch(r"-?[0-9]+").fillna(False).astype(bool)
        return (ok | not_judged).fillna(True).astype(bool)

    def known_item(df: pd.DataFrame) -> pd.Series:
        judged = df["seccion"].isin(sections) & ~df["seccion"].isin(catalogs.any_item_sections) & df["codigo_pregunta"].notna()
        return ~judged | keys(df).isin(listed)

    def in_this_sheet(df: pd.DataFrame) -> pd.Series:
        return ~keys(df).isin(elsewhere)

    def answer_fits_item(df: pd.DataFrame) -> pd.Series:
        types = row_types(df, catalogs)
        fits = pd.Series(True, index=df.index)
        answered = df["respuesta"].notna()
        for tipo in TIPOS_RESPUESTA:
            rows = (types == tipo) & answered
            if not rows.any():
                continue
            if tipo == "CATEGORIA":
                for (seccion, clave), item in catalogs.by_section_key.items():
                    mine = rows & (keys(df) == f"{seccion}\x1f{clave}")
                    if mine.any():
                        fits[mine] = answer_fits(tipo, df.loc[mine, "respuesta"], item.categorias)
            else:
                fits[rows] = answer_fits(tipo, df.loc[rows, "respuesta"])
        return fits

    return validation(
        RESPUESTAS_SPEC,
        codes=_codes(catalogs, roster),
        rules=[
            _assigned_rule(roster, "seccion"),
            RowRule("modulo_invalido", "modulo", modulo_fits),
            RowRule("pregunta_desconocida", "codigo_pregunta", known_item),
            RowRule("pregunta_en_otra_hoja", "codigo_pregunta", in_this_sheet),
            RowRule("respuesta_invalida", "respuesta", answer_fits_item),
        ],
    )


def structured_validation(sheet: str, catalogs: GpedcCatalogs, roster: Roster) -> Validation:
    spec = sheet_spec(sheet, catalogs)
    rules: list[RowRule] = []
    sections = catalogs.sheet_sections(sheet)
    if len(sections) == 1:  # the whole row is that section's data
        rules.append(_assigned_rule(roster, "codigo_respondente", sections[0]))
    else:  # each filled item cell needs its own section (socios: a3_* need A.3, a5_8_* need A.5)
        rules += [_assigned_rule(roster, item.columna, item.seccion, only_filled=item.columna) for item in catalogs.items_of_sheet(sheet)]
    names = set(spec.names)
    for part, total in PARTS.items():
        if part in names and total in names:
            rules.append(RowRule("parte_mayor_que_total", part, _part_within(part, total)))
    if not spec.column("codigo_respondente").required:
        rules.append(RowRule("respondente_no_identificado", "codigo_respondente", lambda df: df["codigo_respondente"].notna()))
    return validation(spec, codes=_codes(catalogs, roster), rules=rules)


def _part_within(part: str, total: str) -> Callable[[pd.DataFrame], pd.Series]:
    def passes(df: pd.DataFrame) -> pd.Series:
        return ~(as_number(df[part]) > as_number(df[total])).fillna(False).astype(bool)

    return passes


def validaciones_validation(catalogs: GpedcCatalogs, roster: Roster) -> Validation:
    return validation(VALIDACIONES, codes=_codes(catalogs, roster), rules=[_assigned_rule(roster, "seccion")])
