"""The GPEDC round's consolidated workbook `exports/gpedc_ronda4_PER.xlsx` (contract gpedc.md, "Export").

One sheet per questionnaire section (`A.1` … `CSS`) with every staged answer, the catalog's description of
its item and the validation state of its respondent and section; then `intervenciones`, `flujos`, `socios`,
`pendientes` (what each focal point still owes), `completitud` and `indicadores`. Text is always a text
cell (never a formula), e-mail addresses in free text are masked, and the file is written through a
temporary file and an atomic rename.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cti_pipeline.contracts.gpedc import ANY_ITEM, RESPUESTAS, GpedcCatalogs, item_key
from cti_pipeline.contracts.text import EMAIL, mask_emails
from cti_pipeline.domain.gpedc_marts import RoundData
from cti_pipeline.outputs import set_cell, write_bytes_atomic

FILE_NAME = "gpedc_ronda4_PER.xlsx"

SECTION_COLUMNS = [
    "codigo_respondente", "entidad", "modulo", "codigo_pregunta", "descripcion", "respuesta", "comentario",
    "estado_validacion", "fecha_validacion", "observacion_validacion",
]
PROVENANCE = ["archivo", "hoja", "fila", "actualizado_en"]
TAIL_SHEETS = ("intervenciones", "flujos", "socios", "pendientes", "completitud", "indicadores")


@dataclass
class GpedcExportData:
    """What the export shows; every frame comes from staging or the marts (no contact details exist there)."""

    catalogs: GpedcCatalogs
    data: RoundData
    validaciones_vigentes: pd.DataFrame  # latest validation per (respondent, section)
    completitud: pd.DataFrame
    indicadores: pd.DataFrame
    pendientes: pd.DataFrame

    def sheet_names(self) -> list[str]:
        return [*self.catalogs.section_codes, *TAIL_SHEETS]


def entities(data: GpedcExportData) -> pd.DataFrame:
    roster = data.data.roster
    if roster.empty:
        return pd.DataFrame(columns=["codigo_respondente", "entidad"])
    return roster[["codigo_respondente", "entidad"]]


def section_answers(data: GpedcExportData, seccion: str) -> pd.DataFrame:
    """The answers of one section, each with its item's description and the validation state of its respondent and section."""
    respuestas = data.data.sheet(RESPUESTAS)
    answers = respuestas[respuestas["seccion"] == seccion] if not respuestas.empty else pd.DataFrame()
    if answers.empty:
        return pd.DataFrame(columns=SECTION_COLUMNS)
    catalogs = data.catalogs
    order = {item.clave: position for position, item in enumerate(catalogs.items)}
    wildcard = next((item.descripcion for item in catalogs.items if item.seccion == seccion and item.clave == ANY_ITEM), "")
    keys = item_key(answers["codigo_pregunta"].astype("str"))
    described = {clave: item.descripcion for (s, clave), item in catalogs.by_section_key.items() if s == seccion}
    answers = answers.assign(descripcion=keys.map(lambda key: described.get(key, wildcard)),
                             _orden=keys.map(lambda key: order.get(key, len(order))))
    roster_order = {code: position for position, code in enumerate(entities(data)["codigo_respondente"])}
    state = data.completitud[["codigo_respondente", "seccion", "estado"]].rename(columns={"estado": "estado_validacion"})
    validation = data.validaciones_vigentes.rename(columns={"fecha": "fecha_validacion", "observacion": "observacion_validacion"})
    merged = (
        answers.merge(entities(data), on="codigo_respondente", how="left")
        .merge(state, on=["codigo_respondente", "seccion"], how="left")
        .merge(validation[["codigo_respondente", "seccion", "fecha_validacion", "observacion_validacion"]],
               on=["codigo_respondente", "seccion"], how="left")
    )
    merged = merged.assign(_r=merged["codigo_respondente"].map(roster_order)).sort_values(
        ["_r", "modulo", "_orden", "codigo_pregunta"], kind="stable", na_position="first")
    return merged[SECTION_COLUMNS]


def with_entity(frame: pd.DataFrame, data: GpedcExportData, code: str = "codigo_respondente", label: str = "entidad") -> pd.DataFrame:
    """A staged sheet without provenance, with the entity name beside its code."""
    out = frame.drop(columns=[c for c in PROVENANCE if c in frame])
    if out.empty:
        return out
    names = entities(data).rename(columns={"codigo_respondente": code, "entidad": label})
    out = out.merge(names, on=code, how="left")
    position = list(out.columns).index(code) + 1
    ordered = [*[c for c in out.columns[:position] if c != label], label, *[c for c in out.columns[position:] if c != label]]
    return out[ordered]


def interventions(data: GpedcExportData) -> pd.DataFrame:
    """Every staged intervention, with whether it counts for the B.2 indicators (`en_alcance`)."""
    frame = data.data.sheet("intervenciones")
    if frame.empty:
        return with_entity(frame, data)
    catalogs = data.catalogs
    in_scope = (pd.to_datetime(frame["fecha_aprobacion"]).dt.year == catalogs.anio_referencia) & (
        pd.to_numeric(frame["monto_usd"]) >= catalogs.umbral_intervencion_usd)
    frame = frame.assign(en_alcance=in_scope.map({True: "SI", False: "NO"}))
    ordered = [*[c for c in frame.columns if c != "en_alcance"][: list(frame.columns).index("monto_usd") + 1], "en_alcance"]
    frame = frame[ordered + [c for c in frame.columns if c not in ordered]]
    return with_entity(frame, data)


def export_sheets(data: GpedcExportData) -> dict[str, pd.DataFrame]:
    """Sheet name → content, in workbook order."""
    sheets = {seccion: section_answers(data, seccion) for seccion in data.catalogs.section_codes}
    sheets["intervenciones"] = interventions(data)
    sheets["flujos"] = with_entity(data.data.sheet("flujos"), data)
    socios = with_entity(data.data.sheet("socios"), data)
    sheets["socios"] = with_entity(socios, data, "codigo_socio", "entidad_socio") if not socios.empty else socios
    sheets["pendientes"] = data.pendientes
    sheets["completitud"] = data.completitud
    sheets["indicadores"] = data.indicadores
    return sheets


def _cell_value(value: object) -> object:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        return value.item()
    return mask_emails(value)


def render(data: GpedcExportData) -> bytes:
    from openpyxl import Workbook  # imported here: loading the Dagster definitions need not load openpyxl
    from openpyxl.styles import Font

    workbook = Workbook()
    workbook.remove(workbook.active)
    bold = Font(bold=True)
    for name, frame in export_sheets(data).items():
        sheet = workbook.create_sheet(name)
        for column, header in enumerate(frame.columns, start=1):
            cell = sheet.cell(row=1, column=column)
            set_cell(cell, str(header))
            cell.font = bold
        for row_number, row in enumerate(frame.itertuples(index=False), start=2):
            for column, value in enumerate(row, start=1):
                cell = sheet.cell(row=row_number, column=column)
                value = _cell_value(value)
                set_cell(cell, value)
                if isinstance(value, dt.datetime) and value.time() == dt.time(0):
                    cell.number_format = "yyyy-mm-dd"
        sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@dataclass
class ExportAudit:
    """Cells that must not exist in the export: formulas and e-mail addresses (sheet!cell)."""

    formulas: list[str]
    emails: list[str]


def audit(source: Path | io.BytesIO) -> ExportAudit:
    """Re-open a workbook with openpyxl and list formula cells (`data_type == 'f'`) and e-mails in text."""
    from openpyxl import load_workbook

    workbook = load_workbook(source)
    found = ExportAudit([], [])
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    found.formulas.append(f"{sheet.title}!{cell.coordinate}")
                elif isinstance(cell.value, str) and EMAIL.search(cell.value):
                    found.emails.append(f"{sheet.title}!{cell.coordinate}")
    workbook.close()
    return found


def formula_cells(source: Path | io.BytesIO) -> list[str]:
    """Every cell openpyxl reads back as a formula; must be empty."""
    return audit(source).formulas


def write_export(exports_dir: Path, data: GpedcExportData) -> Path:
    """Render, re-open the bytes to prove no cell is a formula, then write atomically."""
    payload = render(data)
    formulas = formula_cells(io.BytesIO(payload))
    if formulas:  # cannot happen through set_cell; a guard for future edits
        raise ValueError(f"export would contain formula cells: {', '.join(formulas[:10])}")
    return write_bytes_atomic(Path(exports_dir) / FILE_NAME, payload)
