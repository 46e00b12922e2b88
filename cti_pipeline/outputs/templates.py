"""Blank Excel templates for the people who fill the inputs: declaracion, registros KIND, gpedc ROLE.

`write_template(kind, name, out)` writes a workbook with one data sheet per contract sheet (header
row frozen, text format on code and id columns so Excel keeps leading zeros, dropdowns for every
code list, number and date validation), an `instrucciones` sheet in Spanish and a hidden `listas`
sheet that holds the long code lists the dropdowns refer to. A template filled with valid values
is read by the pipeline with zero quarantined rows.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation

from cti_pipeline.contracts.columns import Column, SourceSpec
from cti_pipeline.outputs import set_cell, write_bytes_atomic

KINDS = ("declaracion", "registros", "gpedc")
MAX_ROWS = 5000  # validation applies to rows 2..MAX_ROWS+1
INLINE_LIST_LIMIT = 250  # Excel's limit for an inline list formula is 255 characters
LISTS_SHEET = "listas"
INSTRUCTIONS_SHEET = "instrucciones"
TEXT_FORMAT = "@"
DATE_FORMAT = "yyyy-mm-dd"
TEXT_KINDS = ("text", "code", "ruc", "iso3", "departamento", "yes_no")
HEADER_FILL = PatternFill("solid", fgColor="1F5FA6")
OPTIONAL_FILL = PatternFill("solid", fgColor="7F9CC0")

# Bounds by column name (contract rules); other integers and decimals are ≥ 0.
NUMBER_BOUNDS: dict[str, tuple[float, float]] = {
    "anio": (2000, 2100),
    "mes": (1, 12),
    "modulo": (1, 4),
    "nota": (0, 20),
}

GPEDC_ROLES = ("GOBIERNO", "SOCIO_DESARROLLO", "OSC")
ITEMS_SHEET = "preguntas"  # a GPEDC template lists the items of its role (from reference/gpedc_preguntas.csv)
MAX_PROMPT = 255  # Excel's limit for a cell's input message


@dataclass(frozen=True)
class CodeList:
    values: tuple[str, ...]
    label: str  # shown in instructions


@dataclass(frozen=True)
class TemplateSheet:
    spec: SourceSpec
    lists: dict[str, CodeList]  # column → allowed values (dropdown)
    descriptions: dict[str, str]  # column → extra explanation
    prompts: dict[str, str] = field(default_factory=dict)  # column → the input message Excel shows on its cells
    open_lists: frozenset[str] = frozenset()  # columns whose dropdown only suggests (a value outside it is allowed)


# --- what goes in each template --------------------------------------------------------------------


def reference_codes(catalog: str, column: str, override_dir: Path | None) -> tuple[str, ...]:
    from cti_pipeline.contracts.reference import load_catalog

    frame = load_catalog(catalog, override_dir)
    values = frame[column].astype("str").str.strip()
    if catalog == "departamentos":
        values = values.str.zfill(2)
    if catalog in ("areas_prioritarias", "paises_iso3", "paises_alc"):
        values = values.str.upper()
    return tuple(dict.fromkeys(v for v in values if v))


def code_lists(spec: SourceSpec, override_dir: Path | None, extra: dict[str, CodeList] | None = None) -> dict[str, CodeList]:
    lists: dict[str, CodeList] = {}
    for column in spec.columns:
        if column.codes:
            lists[column.name] = CodeList(tuple(column.codes), ", ".join(column.codes))
        elif column.kind == "yes_no":
            lists[column.name] = CodeList(("SI", "NO"), "SI, NO")
        elif column.kind == "departamento":
            lists[column.name] = CodeList(reference_codes("departamentos", "codigo", override_dir), "código INEI del catálogo (hoja listas)")
        elif column.kind == "iso3":
            codes = sorted(set(reference_codes("paises_iso3", "iso3", override_dir)) | set(reference_codes("paises_alc", "iso3", override_dir)))
            lists[column.name] = CodeList(tuple(codes), "código de país ISO 3166-1 alfa-3 (hoja listas)")
        elif column.name == "area_prioritaria":
            lists[column.name] = CodeList(reference_codes("areas_prioritarias", "codigo", override_dir), "código del catálogo de áreas prioritarias (hoja listas)")
        elif column.name == "ods":
            lists[column.name] = CodeList(tuple(str(i) for i in range(1, 18)), "1 a 17")
    lists.update(extra or {})
    return lists


def declaracion_sheets(override_dir: Path | None) -> list[TemplateSheet]:
    from cti_pipeline.contracts.declaracion import DECLARACION

    descriptions = {
        "anio": "Año declarado (el de la carpeta en que se recibe el archivo).",
        "ruc_entidad": "RUC de la entidad declarante, 11 dígitos, escrito como texto.",
        "codigo_intervencion": "Código de la intervención, único por entidad y año.",
        "pais_fuente": "País de la fuente cooperante; vacío para organismos multilaterales.",
        "ods": "ODS principal al que contribuye (1 a 17); vacío si no se alinea a un ODS.",
        "departamento": "Código INEI de 2 dígitos (00 = varios departamentos / nacional).",
        "monto_ejecutado": "Monto ejecutado en el año, en la moneda indicada, ≥ 0.",
        "beneficiarios": "Número de personas beneficiarias, ≥ 0; vacío si no se conoce.",
        "fecha_fin": "Debe ser ≥ fecha_inicio y la intervención debe cruzar el año declarado.",
    }
    return [TemplateSheet(DECLARACION, code_lists(DECLARACION, override_dir), descriptions)]


def registros_sheets(kind: str | None, override_dir: Path | None) -> list[TemplateSheet]:
    from cti_pipeline.contracts.registros import REGISTROS

    if not kind or kind.strip().lower() not in REGISTROS:
        raise ValueError(f"registros needs a KIND: one of {', '.join(REGISTROS)} (got {kind!r})")
    spec = REGISTROS[kind.strip().lower()]
    descriptions = {
        "participante_id": "DNI (8 dígitos) u otro identificador estable del participante. Dato personal: se seudonimiza.",
        "nota": "Nota final de 0 a 20; vacío si no fue evaluado.",
        "mes": "Mes de 1 a 12.",
        "fecha": "Fecha dentro del año del registro.",
        "pais_socio": "País socio, código ISO 3166-1 alfa-3.",
    }
    return [TemplateSheet(spec, code_lists(spec, override_dir), descriptions)]


def gpedc_sheets(role: str | None, override_dir: Path | None) -> list[TemplateSheet]:
    """The v2 sheets a role answers, from the catalogs: `respuestas`, and each structured sheet holding items of the
    role's sections (SOCIO_DESARROLLO: intervenciones, flujos; GOBIERNO: socios). Every item column carries its
    Spanish description as the cell's input message; SI/NO and category items get a dropdown."""
    from cti_pipeline.contracts import gpedc

    role_key = (role or "").strip().upper()
    if role_key not in GPEDC_ROLES:
        raise ValueError(f"gpedc needs a ROLE: one of {', '.join(GPEDC_ROLES)} (got {role!r})")
    catalogs = gpedc.GpedcCatalogs.load(override_dir)
    sections = tuple(dict.fromkeys([*catalogs.group_sections(role_key), gpedc.SECCION_CON_MODULOS]))
    items = [item for item in catalogs.items if item.seccion in sections and item.hoja == gpedc.RESPUESTAS and item.clave != gpedc.ANY_ITEM]
    wildcard = any(s in catalogs.any_item_sections for s in sections)
    descriptions = {
        "codigo_respondente": "Su código de respondente, tal como figura en la lista de puntos focales.",
        "seccion": f"Sección del cuestionario: {', '.join(sections)}.",
        "modulo": "Solo para la sección C.1: módulo 1 a 4; vacío en las demás secciones.",
        "codigo_pregunta": "Código del ítem del cuestionario (hoja «preguntas»)"
        + ("; en una sección piloto (CSS) se acepta cualquier código." if wildcard else "."),
        "respuesta": "Según el tipo del ítem (hoja «preguntas»): SI o NO, un número, una categoría de la lista, un enlace o texto.",
        "codigo_intervencion": "Código de la intervención, único por respondente.",
        "fecha_aprobacion": "Fecha de aprobación de la intervención.",
        "monto_usd": "Monto aprobado de la intervención, en USD, ≥ 0.",
        "codigo_socio": "Código de respondente del socio para el desarrollo del que trata la fila (lista de puntos focales).",
        "anio": f"Año de las cifras (el año de referencia de la ronda es {catalogs.anio_referencia}).",
    }
    specs = gpedc.questionnaire_specs(catalogs)
    sheets = []
    respuestas = specs[gpedc.RESPUESTAS]
    lists = code_lists(respuestas, override_dir, {
        "seccion": CodeList(sections, ", ".join(sections)),
        "codigo_pregunta": CodeList(tuple(item.codigo for item in items), "código del ítem (hoja preguntas)"),
    })
    prompts = {name: text for name, text in descriptions.items() if name in respuestas.names}
    sheets.append(TemplateSheet(respuestas, lists, descriptions, prompts, frozenset({"codigo_pregunta"}) if wildcard else frozenset()))
    for sheet in gpedc.STRUCTURED_SHEETS:
        if not set(catalogs.sheet_sections(sheet)) & set(sections):
            continue
        spec = specs[sheet]
        own = {item.columna: item for item in catalogs.items_of_sheet(sheet)}
        extra = {item.columna: f"{item.codigo} ({item.seccion}): {item.descripcion}" for item in own.values()}
        prompts = {name: extra.get(name) or descriptions.get(name, "") for name in spec.names}
        sheets.append(TemplateSheet(spec, code_lists(spec, override_dir), {**descriptions, **extra}, {k: v for k, v in prompts.items() if v}))
    return sheets


def add_items_sheet(workbook: Workbook, role: str | None, override_dir: Path | None) -> None:
    """The items a GPEDC role answers: id, section, sheet, column, type, categories and description."""
    from cti_pipeline.contracts import gpedc

    catalogs = gpedc.GpedcCatalogs.load(override_dir)
    sections = set(catalogs.group_sections((role or "").strip().upper())) | {gpedc.SECCION_CON_MODULOS}
    sheet = workbook.create_sheet(ITEMS_SHEET)
    headers = ("codigo_pregunta", "seccion", "hoja", "columna", "tipo_respuesta", "categorias", "descripcion")
    for position, header in enumerate(headers, start=1):
        set_cell(sheet.cell(row=1, column=position), header)
        sheet.cell(row=1, column=position).font = Font(bold=True)
    row = 1
    for item in catalogs.items:
        if item.seccion not in sections:
            continue
        row += 1
        values = (item.codigo, item.seccion, item.hoja, item.columna or "", item.tipo, ", ".join(item.categorias), item.descripcion)
        for position, value in enumerate(values, start=1):
            set_cell(sheet.cell(row=row, column=position), value)
    for letter, width in zip("ABCDEFG", (16, 9, 15, 12, 15, 40, 80), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"


def template_sheets(kind: str, name: str | None, override_dir: Path | None = None) -> list[TemplateSheet]:
    kind_key = (kind or "").strip().lower()
    if kind_key == "declaracion":
        return declaracion_sheets(override_dir)
    if kind_key == "registros":
        return registros_sheets(name, override_dir)
    if kind_key == "gpedc":
        return gpedc_sheets(name, override_dir)
    raise ValueError(f"unknown template {kind!r}: use declaracion, registros KIND or gpedc ROLE")


# --- building the workbook -------------------------------------------------------------------------


def kind_label(column: Column, lists: dict[str, CodeList]) -> str:
    if column.name in lists:
        return f"lista: {lists[column.name].label}"
    low, high = NUMBER_BOUNDS.get(column.name, (0, None))
    bounds = f"entre {low:g} y {high:g}" if high is not None else f"≥ {low:g}"
    return {
        "integer": f"número entero {bounds}",
        "decimal": f"número {bounds} (use coma o punto decimal según su Excel)",
        "date": "fecha (AAAA-MM-DD o celda de fecha de Excel)",
        "ruc": "RUC: 11 dígitos, como texto",
        "text": "texto",
        "code": "código (texto)",
        "url": "enlace que empieza por http:// o https://",
    }.get(column.kind, column.kind)


class ListsSheet:
    """The hidden sheet with one column per long code list; returns the range a dropdown uses."""

    def __init__(self, workbook: Workbook):
        self.workbook = workbook
        self.sheet = None
        self.ranges: dict[tuple[str, ...], str] = {}

    def reference(self, header: str, values: tuple[str, ...]) -> str:
        if values in self.ranges:
            return self.ranges[values]
        if self.sheet is None:
            self.sheet = self.workbook.create_sheet(LISTS_SHEET)
            self.sheet.sheet_state = "hidden"
        column = len(self.ranges) + 1
        letter = get_column_letter(column)
        set_cell(self.sheet.cell(row=1, column=column), header)
        for row, value in enumerate(values, start=2):
            cell = self.sheet.cell(row=row, column=column)
            set_cell(cell, value)
            cell.number_format = TEXT_FORMAT
        ref = f"{quote_sheetname(LISTS_SHEET)}!${letter}$2:${letter}${len(values) + 1}"
        self.ranges[values] = ref
        return ref


def add_data_sheet(workbook: Workbook, sheet_def: TemplateSheet, lists_sheet: ListsSheet) -> None:
    spec = sheet_def.spec
    sheet = workbook.create_sheet(spec.sheet)
    last_row = MAX_ROWS + 1
    for position, column in enumerate(spec.columns, start=1):
        letter = get_column_letter(position)
        cell = sheet.cell(row=1, column=position)
        set_cell(cell, column.name)
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = HEADER_FILL if column.required else OPTIONAL_FILL
        cell.alignment = Alignment(horizontal="center")
        note = f"{'Obligatoria' if column.required else 'Opcional'}. {kind_label(column, sheet_def.lists)}."
        if column.name in sheet_def.descriptions:
            note += " " + sheet_def.descriptions[column.name]
        cell.comment = Comment(note, "APCI")
        dimension = sheet.column_dimensions[letter]
        dimension.width = max(14, min(40, len(column.name) + 4))
        if column.kind in TEXT_KINDS and column.name not in ("ods",):
            dimension.number_format = TEXT_FORMAT
        elif column.kind == "date":
            dimension.number_format = DATE_FORMAT
        cells = f"{letter}2:{letter}{last_row}"
        validation = validation_for(column, sheet_def.lists, lists_sheet, sheet_def.prompts.get(column.name),
                                    column.name in sheet_def.open_lists)
        if validation is not None:
            sheet.add_data_validation(validation)
            validation.add(cells)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(spec.columns))}1"


def validation_for(column: Column, lists: dict[str, CodeList], lists_sheet: ListsSheet, prompt: str | None = None,
                   open_list: bool = False) -> DataValidation | None:
    """The cell validation of a column (dropdown, number, date, length); with a `prompt`, the input message Excel
    shows on its cells (a column with nothing to check gets an "any value" validation that only carries it)."""
    validation = _validation_for(column, lists, lists_sheet, open_list)
    if prompt:
        validation = validation or DataValidation(allow_blank=True, showInputMessage=True)
        validation.promptTitle = column.name[:32]
        validation.prompt = prompt if len(prompt) <= MAX_PROMPT else prompt[: MAX_PROMPT - 1] + "…"
        validation.showInputMessage = True
    return validation


def _validation_for(column: Column, lists: dict[str, CodeList], lists_sheet: ListsSheet, open_list: bool = False) -> DataValidation | None:
    common = dict(allow_blank=True, showErrorMessage=True, showInputMessage=True, errorTitle="Valor no válido")
    if column.name in lists:
        values = lists[column.name].values
        inline = ",".join(values)
        if len(inline) <= INLINE_LIST_LIMIT and not any("," in v or '"' in v for v in values):
            formula = f'"{inline}"'
        else:
            formula = lists_sheet.reference(column.name, values)
        return DataValidation(
            type="list", formula1=formula, error=f"Elija un valor de la lista para «{column.name}».",
            promptTitle=column.name[:32], prompt="Elija un valor de la lista.", errorStyle="warning" if open_list else None, **common,
        )
    low, high = NUMBER_BOUNDS.get(column.name, (0, None))
    if column.rule == "respuesta_invalida" and column.kind == "decimal" and column.minimum is None:  # a NUMERO item
        return DataValidation(type="decimal", operator="between", formula1="-1E+15", formula2="1E+15",
                              error="Escriba un número.", **common)
    if column.kind in ("integer", "decimal"):
        kind = "whole" if column.kind == "integer" else "decimal"
        what = "un número entero" if kind == "whole" else "un número"
        if high is None:
            return DataValidation(type=kind, operator="greaterThanOrEqual", formula1=f"{low:g}",
                                  error=f"Escriba {what} mayor o igual que {low:g}.", **common)
        return DataValidation(type=kind, operator="between", formula1=f"{low:g}", formula2=f"{high:g}",
                              error=f"Escriba {what} entre {low:g} y {high:g}.", **common)
    if column.kind == "date":
        start = (dt.date(2000, 1, 1) - dt.date(1899, 12, 30)).days  # Excel serial of 2000-01-01
        end = (dt.date(2100, 12, 31) - dt.date(1899, 12, 30)).days
        return DataValidation(type="date", operator="between", formula1=str(start), formula2=str(end),
                              error="Escriba una fecha válida (AAAA-MM-DD).", **common)
    if column.kind == "ruc":
        return DataValidation(type="textLength", operator="equal", formula1="11",
                              error="El RUC tiene 11 dígitos (escríbalo como texto).", **common)
    return None


def add_instructions(workbook: Workbook, kind: str, name: str | None, sheets: list[TemplateSheet]) -> None:
    sheet = workbook.create_sheet(INSTRUCTIONS_SHEET)
    title = {
        "declaracion": "Plantilla de la Declaración Anual de Cooperación Técnica Internacional",
        "registros": f"Plantilla de registros administrativos: {name}",
        "gpedc": f"Plantilla del cuestionario GPEDC (AGCED), 4.ª ronda – respondente {str(name).upper()}",
    }[kind]
    general = [
        "Cómo llenar esta plantilla:",
        "1. Escriba una fila por registro debajo de la cabecera; no cambie, borre ni reordene los nombres de las columnas.",
        "2. Las columnas en azul oscuro son obligatorias; las de azul claro, opcionales (puede dejarlas vacías).",
        "3. Donde hay una lista desplegable, elija el valor de la lista. Las columnas de códigos y RUC tienen formato de texto "
        "para conservar los ceros iniciales (por ejemplo 08).",
        "4. Las fechas van como fecha de Excel o como texto AAAA-MM-DD.",
        "5. Guarde el archivo como libro de Excel (.xlsx). No agregue filas de totales ni fórmulas.",
    ]
    if kind == "declaracion":
        general.append("6. Envíe un archivo por entidad y año. Si corrige su declaración, envíe el archivo completo: "
                       "el más reciente reemplaza a los anteriores.")
    elif kind == "registros":
        general.append(f"6. El nombre del archivo debe empezar por «{name}» (por ejemplo {name}_2024.xlsx).")
    else:
        general.append("6. Llene solo las secciones que le fueron asignadas. Cada ítem del cuestionario tiene su código (hoja "
                       "«preguntas»): los de la hoja «respuestas» van una fila por ítem; los de las otras hojas son columnas "
                       "(al seleccionar una celda, Excel muestra qué pide). Los montos se expresan en USD.")
    row = 1
    set_cell(sheet.cell(row=row, column=1), title)
    sheet.cell(row=row, column=1).font = Font(bold=True, size=14)
    row += 2
    for line in general:
        set_cell(sheet.cell(row=row, column=1), line)
        row += 1
    for sheet_def in sheets:
        row += 1
        set_cell(sheet.cell(row=row, column=1), f"Hoja «{sheet_def.spec.sheet}»: columnas")
        sheet.cell(row=row, column=1).font = Font(bold=True, size=12)
        row += 1
        for position, header in enumerate(("columna", "obligatoria", "tipo y valores", "indicaciones"), start=1):
            set_cell(sheet.cell(row=row, column=position), header)
            sheet.cell(row=row, column=position).font = Font(bold=True)
        for column in sheet_def.spec.columns:
            row += 1
            values = (column.name, "SI" if column.required else "NO", kind_label(column, sheet_def.lists),
                      sheet_def.descriptions.get(column.name, ""))
            for position, value in enumerate(values, start=1):
                set_cell(sheet.cell(row=row, column=position), value)
                sheet.cell(row=row, column=position).alignment = Alignment(wrap_text=True, vertical="top")
    for letter, width in zip("ABCD", (28, 12, 50, 70), strict=True):
        sheet.column_dimensions[letter].width = width


def build_template(kind: str, name: str | None = None, override_dir: Path | None = None) -> Workbook:
    sheets = template_sheets(kind, name, override_dir)
    workbook = Workbook()
    workbook.remove(workbook.active)
    lists_sheet = ListsSheet(workbook)
    for sheet_def in sheets:  # data sheets first: a reader that falls back to the first sheet finds data
        add_data_sheet(workbook, sheet_def, lists_sheet)
    add_instructions(workbook, (kind or "").strip().lower(), name, sheets)
    if (kind or "").strip().lower() == "gpedc":
        add_items_sheet(workbook, name, override_dir)
    if lists_sheet.sheet is not None:
        position = workbook.sheetnames.index(LISTS_SHEET)
        workbook.move_sheet(LISTS_SHEET, offset=len(workbook.sheetnames) - 1 - position)
    workbook.active = 0
    return workbook


def write_template(kind: str, name: str | None, out: Path) -> Path:
    """Write the template to `out` (atomically); ValueError for an unknown kind, KIND or ROLE."""
    from cti_pipeline.settings import Settings

    out = Path(out)
    if out.suffix.lower() != ".xlsx":
        raise ValueError(f"the template is an Excel workbook: --out must end in .xlsx (got {out.name})")
    override_dir = Settings.from_env().paths.reference_override_dir
    workbook = build_template(kind, name, override_dir)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return write_bytes_atomic(out, buffer.getvalue())
