"""Feedback to declaring entities: one workbook per entity with its quarantined rows and rejected files.

Pure functions, no Dagster. `read_feedback_inputs` queries the warehouse; `group_feedback` assigns
every quarantined row (and every rejected file) to exactly one entity workbook; `write_feedback`
writes the workbooks of one year into a temporary folder and swaps it for the old one, plus a
summary workbook for APCI (`resumen_apci.xlsx`). Text cells are never formulas.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from cti_pipeline.outputs import set_cell

ROW_COLUMNS = ["archivo", "hoja", "fila", "columna", "regla", "valor", "mensaje"]
FILE_COLUMNS = ["archivo", "motivo"]
SUMMARY_FILE = "resumen_apci.xlsx"
ORIGEN = "declaraciones"

ROWS_SQL = """
SELECT q.archivo, q.hoja, q.fila, q.columna, q.regla, q.valor, q.mensaje, r.ruc_entidad, r.nombre_entidad
FROM quarantine.filas_rechazadas q
LEFT JOIN raw.declaraciones r ON r.anio = q.anio AND r.archivo = q.archivo AND r.fila = q.fila
WHERE q.anio = ? AND q.origen = ?
ORDER BY q.archivo, q.fila, q.columna, q.regla
"""
FILES_SQL = "SELECT archivo, motivo FROM quarantine.archivos_rechazados WHERE anio = ? AND origen = ? ORDER BY archivo"
FILE_RUCS_SQL = """
SELECT DISTINCT archivo, trim(ruc_entidad) AS ruc_entidad FROM raw.declaraciones
WHERE anio = ? AND archivo IN (SELECT archivo FROM quarantine.archivos_rechazados WHERE anio = ? AND origen = ?)
  AND nullif(trim(ruc_entidad), '') IS NOT NULL
"""


@dataclass
class EntityFeedback:
    """What one workbook holds: an entity (by the RUC text it wrote) or a file without any RUC."""

    workbook: str  # file name, e.g. 20100047218.xlsx or sin_ruc_<file>.xlsx
    ruc_entidad: str | None
    nombre_entidad: str | None
    rows: pd.DataFrame  # ROW_COLUMNS
    files: pd.DataFrame  # FILE_COLUMNS


def read_feedback_inputs(conn, anio: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(quarantined rows with the row's RUC text, rejected files, RUCs seen in raw for rejected files)."""

    def exists(table: str) -> bool:
        schema, name = table.split(".")
        return bool(conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", [schema, name]
        ).fetchone()[0])

    empty_rows = pd.DataFrame(columns=[*ROW_COLUMNS, "ruc_entidad", "nombre_entidad"])
    empty_files = pd.DataFrame(columns=FILE_COLUMNS)
    empty_map = pd.DataFrame(columns=["archivo", "ruc_entidad"])
    has_raw = exists("raw.declaraciones")
    if exists("quarantine.filas_rechazadas"):
        if has_raw:
            rows = conn.execute(ROWS_SQL, [anio, ORIGEN]).df()
        else:
            rows = conn.execute(
                "SELECT archivo, hoja, fila, columna, regla, valor, mensaje, NULL AS ruc_entidad, NULL AS nombre_entidad "
                "FROM quarantine.filas_rechazadas WHERE anio = ? AND origen = ? ORDER BY archivo, fila, columna, regla",
                [anio, ORIGEN],
            ).df()
    else:
        rows = empty_rows
    files = conn.execute(FILES_SQL, [anio, ORIGEN]).df() if exists("quarantine.archivos_rechazados") else empty_files
    file_rucs = (
        conn.execute(FILE_RUCS_SQL, [anio, anio, ORIGEN]).df()
        if has_raw and exists("quarantine.archivos_rechazados")
        else empty_map
    )
    return rows, files, file_rucs


# --- grouping -------------------------------------------------------------------------------------


def clean_text(value: object) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    return text or None


def safe_stem(text: str, limit: int = 80) -> str:
    """A file-name stem of [A-Za-z0-9._-] only, no leading dot, never empty."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")[:limit]
    return stem or "archivo"


def short_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]


def workbook_name_for_ruc(ruc: str) -> str:
    """RUC digits only as the name; any other text is sanitised and made unique with a short hash."""
    if re.fullmatch(r"\d{1,20}", ruc):
        return f"{ruc}.xlsx"
    return f"ruc_{safe_stem(ruc, 40)}_{short_hash(ruc)}.xlsx"


def workbook_name_for_file(archivo: str) -> str:
    return f"sin_ruc_{safe_stem(Path(archivo).stem if archivo else 'archivo')}.xlsx"


def group_feedback(rows: pd.DataFrame, files: pd.DataFrame, file_rucs: pd.DataFrame) -> list[EntityFeedback]:
    """Every quarantined row goes to the workbook of the RUC text of its raw row (or of its file when
    that text is blank); every rejected file to the workbook(s) of the RUC(s) its file shows in raw, else
    to a workbook named after the file."""
    rows = rows.copy()
    rucs = [clean_text(v) for v in rows["ruc_entidad"]] if "ruc_entidad" in rows else [None] * len(rows)
    rows["_key"] = pd.Series(
        [f"ruc:{ruc}" if ruc else f"archivo:{archivo}" for ruc, archivo in zip(rucs, rows["archivo"], strict=True)],
        index=rows.index, dtype="object",
    )

    file_targets: list[tuple[str, str, str]] = []  # (key, archivo, motivo)
    rucs_by_file: dict[str, set[str]] = {}
    for archivo, ruc in zip(file_rucs["archivo"], file_rucs["ruc_entidad"], strict=True):
        if clean_text(ruc):
            rucs_by_file.setdefault(archivo, set()).add(clean_text(ruc))
    for archivo, motivo in zip(files["archivo"], files["motivo"], strict=True):
        for ruc in sorted(rucs_by_file.get(archivo, ())) or [None]:
            file_targets.append((f"ruc:{ruc}" if ruc else f"archivo:{archivo}", archivo, motivo))

    keys = sorted(set(rows["_key"]) | {key for key, _, _ in file_targets})
    used: set[str] = set()
    entities: list[EntityFeedback] = []
    for key in keys:
        kind, text = key.split(":", 1)
        name = workbook_name_for_ruc(text) if kind == "ruc" else workbook_name_for_file(text)
        if name.lower() in used or name.lower() == SUMMARY_FILE:
            name = f"{name[:-5]}_{short_hash(key)}.xlsx"
        used.add(name.lower())
        mine = rows[rows["_key"] == key]
        names = pd.Series([n for n in map(clean_text, mine["nombre_entidad"]) if n] if "nombre_entidad" in mine else [], dtype="object")
        entity_files = pd.DataFrame([(a, m) for k, a, m in file_targets if k == key], columns=FILE_COLUMNS)
        entities.append(
            EntityFeedback(
                workbook=name,
                ruc_entidad=text if kind == "ruc" else None,
                nombre_entidad=names.mode().iloc[0] if not names.empty else None,
                rows=mine[ROW_COLUMNS].reset_index(drop=True),
                files=entity_files,
            )
        )
    return entities


def summary_frames(entities: list[EntityFeedback]) -> dict[str, pd.DataFrame]:
    """The APCI summary: per entity, per rule, and every rejected file with the workbook it went to."""
    per_entity = pd.DataFrame(
        [
            {
                "ruc_entidad": e.ruc_entidad or "",
                # A RUC starting with 10 is a natural person: their name is personal data.
                "nombre_entidad": "" if (e.ruc_entidad or "").startswith("10") else (e.nombre_entidad or ""),
                "libro": e.workbook,
                "filas_en_cuarentena": int(e.rows[["archivo", "fila"]].drop_duplicates().shape[0]),
                "reglas_incumplidas": len(e.rows),
                "archivos_rechazados": len(e.files),
            }
            for e in entities
        ],
        columns=["ruc_entidad", "nombre_entidad", "libro", "filas_en_cuarentena", "reglas_incumplidas", "archivos_rechazados"],
    )
    all_rows = pd.concat(
        [e.rows.assign(libro=e.workbook) for e in entities if not e.rows.empty]
        or [pd.DataFrame(columns=[*ROW_COLUMNS, "libro"])],
        ignore_index=True,
    )
    if all_rows.empty:
        per_rule = pd.DataFrame(columns=["regla", "reglas_incumplidas", "filas", "entidades"])
    else:
        all_rows["_fila"] = all_rows["archivo"].astype("str") + "#" + all_rows["fila"].astype("str")
        per_rule = (
            all_rows.groupby("regla")
            .agg(reglas_incumplidas=("regla", "size"), filas=("_fila", "nunique"), entidades=("libro", "nunique"))
            .reset_index()
            .sort_values(["reglas_incumplidas", "regla"], ascending=[False, True])
        )
    rejected = pd.DataFrame(
        [(a, m, e.ruc_entidad or "", e.workbook) for e in entities for a, m in e.files.itertuples(index=False)],
        columns=["archivo", "motivo", "ruc_entidad", "libro"],
    )
    return {"por_entidad": per_entity, "por_regla": per_rule, "archivos_rechazados": rejected}


# --- writing --------------------------------------------------------------------------------------


def write_sheet(workbook: Workbook, title: str, frame: pd.DataFrame, widths: dict[str, int] | None = None) -> None:
    sheet = workbook.create_sheet(title)
    for position, name in enumerate(frame.columns, start=1):
        cell = sheet.cell(row=1, column=position)
        set_cell(cell, str(name))
        cell.font = Font(bold=True)
        sheet.column_dimensions[get_column_letter(position)].width = (widths or {}).get(str(name), 18)
    for r, values in enumerate(frame.itertuples(index=False), start=2):
        for c, value in enumerate(values, start=1):
            if hasattr(value, "item"):  # numpy scalar → Python
                value = value.item()
            set_cell(sheet.cell(row=r, column=c), value)
    sheet.freeze_panes = "A2"


ROW_WIDTHS = {"archivo": 30, "hoja": 16, "fila": 7, "columna": 24, "regla": 24, "valor": 28, "mensaje": 90, "motivo": 90}


def entity_workbook(entity: EntityFeedback, anio: int) -> Workbook:
    workbook = Workbook()
    workbook.remove(workbook.active)
    intro = pd.DataFrame(
        [
            ("RUC", entity.ruc_entidad or "(sin RUC legible)"),
            ("Entidad", entity.nombre_entidad or ""),
            ("Año declarado", anio),
            ("Filas observadas", int(entity.rows[["archivo", "fila"]].drop_duplicates().shape[0])),
            ("Reglas incumplidas", len(entity.rows)),
            ("Archivos rechazados", len(entity.files)),
            (
                "Qué hacer",
                "Corrija las filas de la hoja «filas_observadas» (la fila es la que ve en Excel) y los archivos de la hoja "
                "«archivos_rechazados», y vuelva a enviar el archivo completo de su declaración: el archivo más reciente "
                "reemplaza a los anteriores.",
            ),
        ],
        columns=["campo", "detalle"],
    )
    write_sheet(workbook, "resumen", intro, {"campo": 22, "detalle": 100})
    write_sheet(workbook, "filas_observadas", entity.rows[ROW_COLUMNS], ROW_WIDTHS)
    write_sheet(workbook, "archivos_rechazados", entity.files[FILE_COLUMNS], ROW_WIDTHS)
    return workbook


def summary_workbook(entities: list[EntityFeedback]) -> Workbook:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, frame in summary_frames(entities).items():
        write_sheet(workbook, title, frame, {"libro": 30, "nombre_entidad": 40, "motivo": 90, "archivo": 30, "regla": 26})
    return workbook


def assert_no_formulas(path: Path) -> None:
    """Reopen the saved workbook's XML: no cell may hold a formula (<f> element)."""
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                xml = archive.read(name)
                if b"<f>" in xml or b"<f " in xml:
                    raise ValueError(f"{path.name}: {name} contains a formula cell")


@dataclass(frozen=True)
class FeedbackResult:
    folder: Path
    entities: list[EntityFeedback]
    summary: dict[str, pd.DataFrame]


def write_feedback(entities: list[EntityFeedback], anio: int, observaciones_dir: Path) -> FeedbackResult:
    """Write <observaciones_dir>/<anio>/ anew: one workbook per entity and resumen_apci.xlsx.

    The files go to a temporary sibling folder first; then the old folder is moved aside and the new
    one renamed into place, so old workbooks of the year never mix with new ones.
    """
    observaciones_dir = Path(observaciones_dir)
    observaciones_dir.mkdir(parents=True, exist_ok=True)
    target = observaciones_dir / str(anio)
    token = uuid.uuid4().hex[:8]
    staging = observaciones_dir / f".{anio}.tmp-{token}"
    staging.mkdir()
    try:
        for entity in entities:
            path = staging / entity.workbook
            entity_workbook(entity, anio).save(path)
            assert_no_formulas(path)
        summary = summary_frames(entities)
        summary_workbook(entities).save(staging / SUMMARY_FILE)
        assert_no_formulas(staging / SUMMARY_FILE)
        old = observaciones_dir / f".{anio}.old-{token}"
        if target.exists():
            os.replace(target, old)
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return FeedbackResult(folder=target, entities=entities, summary=summary)
