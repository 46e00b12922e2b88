"""Feedback to declaring entities: one workbook per entity with its quarantined rows and rejected files.

Pure functions, no Dagster. `read_feedback_inputs` queries the warehouse; `group_feedback` assigns
every quarantined row (and every rejected file) to exactly one entity workbook; `write_feedback`
writes the workbooks of one year into a temporary folder and swaps it for the old one, plus a
summary workbook for APCI (`resumen_apci.xlsx`). Text cells are never formulas.

The rows are grouped once (a stable sort by workbook key, then one slice per workbook) and the
workbooks are written by `outputs.xlsx` (SpreadsheetML straight into a zip): at hundreds of workbooks a
year (thousands at a million rows), per-entity pandas selections and openpyxl's per-workbook cost were
most of the time.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import uuid
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cti_pipeline.contracts.schema import is_valid_ruc
from cti_pipeline.outputs.xlsx import Sheet, write_workbook
from cti_pipeline.warehouse import table_exists

ROW_COLUMNS = ["archivo", "hoja", "fila", "columna", "regla", "valor", "mensaje"]
FILE_COLUMNS = ["archivo", "motivo"]
SUMMARY_FILE = "resumen_apci.xlsx"
ORIGEN = "declaraciones"

# Every query orders its rows completely: the same warehouse content gives the same frames (and fingerprint).
ROWS_SQL = """
SELECT q.archivo, q.hoja, q.fila, q.columna, q.regla, q.valor, q.mensaje, r.ruc_entidad, r.nombre_entidad
FROM quarantine.filas_rechazadas q
LEFT JOIN raw.declaraciones r ON r.anio = q.anio AND r.archivo = q.archivo AND r.fila = q.fila
WHERE q.anio = ? AND q.origen = ?
ORDER BY q.archivo, q.fila, q.columna, q.regla, q.hoja, q.valor, q.mensaje, r.ruc_entidad, r.nombre_entidad
"""
FILES_SQL = "SELECT archivo, motivo FROM quarantine.archivos_rechazados WHERE anio = ? AND origen = ? ORDER BY archivo, motivo"
# The RUC texts of every file with an observation, and how many of its rows carry each: a row whose RUC is
# mistyped goes to the entity its file declares (one file per entity and year, contract).
FILE_RUCS_SQL = """
SELECT archivo, trim(ruc_entidad) AS ruc_entidad, count(*) AS filas FROM raw.declaraciones
WHERE anio = ? AND nullif(trim(ruc_entidad), '') IS NOT NULL
  AND archivo IN (SELECT archivo FROM quarantine.archivos_rechazados WHERE anio = ? AND origen = ?
                  UNION SELECT archivo FROM quarantine.filas_rechazadas WHERE anio = ? AND origen = ?)
GROUP BY archivo, trim(ruc_entidad)
ORDER BY archivo, ruc_entidad
"""


NAMED_REJECTED_SQL = """
SELECT archivo, ruc_entidad, 0::BIGINT AS filas FROM meta.archivos
WHERE anio = ? AND origen = ? AND ruc_entidad IS NOT NULL
  AND archivo IN (SELECT archivo FROM quarantine.archivos_rechazados WHERE anio = ? AND origen = ?)
ORDER BY archivo
"""


@dataclass
class EntityFeedback:
    """What one workbook holds: an entity (by the RUC text it wrote) or a file without any RUC."""

    workbook: str  # file name, e.g. 20100047218.xlsx or sin_ruc_<file>.xlsx
    ruc_entidad: str | None
    nombre_entidad: str | None
    rows: pd.DataFrame  # ROW_COLUMNS
    files: pd.DataFrame  # FILE_COLUMNS
    distinct_rows: int | None = None  # distinct (archivo, fila) in `rows`; group_feedback counts them all at once

    def observed_rows(self) -> int:
        if self.distinct_rows is None:
            self.distinct_rows = int(self.rows[["archivo", "fila"]].drop_duplicates().shape[0])
        return self.distinct_rows


def read_feedback_inputs(conn, anio: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(quarantined rows with the row's RUC text, rejected files, the RUC texts raw shows for every file
    with an observation and how many rows carry each)."""

    empty_rows = pd.DataFrame(columns=[*ROW_COLUMNS, "ruc_entidad", "nombre_entidad"])
    empty_files = pd.DataFrame(columns=FILE_COLUMNS)
    empty_map = pd.DataFrame(columns=["archivo", "ruc_entidad", "filas"])
    has_raw, has_rows, has_files = (
        table_exists(conn, table) for table in ("raw.declaraciones", "quarantine.filas_rechazadas", "quarantine.archivos_rechazados")
    )
    if has_rows:
        if has_raw:
            rows = conn.execute(ROWS_SQL, [anio, ORIGEN]).df()
        else:
            rows = conn.execute(
                "SELECT archivo, hoja, fila, columna, regla, valor, mensaje, NULL AS ruc_entidad, NULL AS nombre_entidad "
                "FROM quarantine.filas_rechazadas WHERE anio = ? AND origen = ? ORDER BY archivo, fila, columna, regla, hoja, valor, mensaje",
                [anio, ORIGEN],
            ).df()
    else:
        rows = empty_rows
    files = conn.execute(FILES_SQL, [anio, ORIGEN]).df() if has_files else empty_files
    file_rucs = conn.execute(FILE_RUCS_SQL, [anio, anio, ORIGEN, anio, ORIGEN]).df() if has_raw and has_rows and has_files else empty_map
    if has_files and table_exists(conn, "meta.archivos"):
        # a file rejected whole has no row to show a RUC; the ledger knows its entity when its name holds one
        named = conn.execute(NAMED_REJECTED_SQL, [anio, ORIGEN, anio, ORIGEN]).df()
        named = named[~named["archivo"].isin(file_rucs["archivo"])]
        file_rucs = pd.concat([file_rucs, named], ignore_index=True) if not named.empty else file_rucs
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


def file_entities(file_rucs: pd.DataFrame) -> dict[str, list[str]]:
    """archivo → the valid RUCs its rows carry, most rows first (ties: in RUC order); files without one are left out."""
    if file_rucs.empty:
        return {}
    frame = pd.DataFrame({
        "archivo": file_rucs["archivo"],
        "ruc": [clean_text(v) for v in file_rucs["ruc_entidad"]],
        "filas": file_rucs["filas"],
    }).dropna(subset=["ruc"])
    frame = frame[is_valid_ruc(frame["ruc"].astype("str"))]
    frame = frame.groupby(["archivo", "ruc"], as_index=False)["filas"].sum().sort_values(["archivo", "filas", "ruc"], ascending=[True, False, True])
    return frame.groupby("archivo")["ruc"].agg(list).to_dict()


def row_keys(rows: pd.DataFrame, entities: dict[str, list[str]]) -> list[str]:
    """The workbook key of every quarantined row: ruc:<its RUC> when it is one of the valid RUCs of its file
    (`file_entities`), else ruc:<the RUC most of its file's rows carry> (a mistyped RUC still reaches the
    entity that sent the file), else ruc:<its RUC text>, else archivo:<its file> when there is no text at all."""
    rucs = [clean_text(v) for v in rows["ruc_entidad"]] if "ruc_entidad" in rows else [None] * len(rows)
    keys = []
    for ruc, archivo in zip(rucs, rows["archivo"], strict=True):
        declared = entities.get(archivo, ())
        owner = ruc if ruc in declared else next(iter(declared), ruc)
        keys.append(f"ruc:{owner}" if owner else f"archivo:{archivo}")
    return keys


def split_rows(rows: pd.DataFrame, keys: list[str]) -> dict[str, tuple[pd.DataFrame, int]]:
    """key → (its rows in their original order, ROW_COLUMNS only; its distinct (archivo, fila) count).

    One stable sort by key, then one slice per key: no boolean selection per entity. The columns are
    Python objects (ints stay ints), so each slice turns into cell values without per-column conversions.
    """
    frame = rows[ROW_COLUMNS].reset_index(drop=True).astype(object)
    if frame.empty:
        return {}
    key_array = np.asarray(keys, dtype=object)
    order = np.argsort(key_array, kind="stable")
    ordered, sorted_keys = frame.take(order).reset_index(drop=True), key_array[order]
    starts = [0, *(np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1).tolist()]
    stops = [*starts[1:], len(sorted_keys)]
    distinct = pd.DataFrame({"_key": key_array, "archivo": frame["archivo"], "fila": frame["fila"]}).drop_duplicates()
    distinct_by_key = distinct.groupby("_key").size().to_dict()
    return {
        sorted_keys[start]: (ordered.iloc[start:stop].reset_index(drop=True), int(distinct_by_key[sorted_keys[start]]))
        for start, stop in zip(starts, stops, strict=True)
    }


def most_common_names(keys: list[str], names: Iterable[str | None]) -> dict[str, str]:
    """key → the entity name most of its rows carry (ties: the first in sort order); blank names do not count."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for key, name in zip(keys, names, strict=True):
        if name:
            counts[key][name] += 1
    return {key: min(counter, key=lambda name: (-counter[name], name)) for key, counter in counts.items()}


def file_targets(files: pd.DataFrame, file_rucs: pd.DataFrame, entities: dict[str, list[str]]) -> dict[str, list[tuple[str, str]]]:
    """key → [(archivo, motivo)]: a rejected file goes to the valid RUC(s) raw shows for it, else to the RUC
    texts it shows, else to a key of its own."""
    rucs_by_file: dict[str, set[str]] = defaultdict(set)
    for archivo, ruc in zip(file_rucs["archivo"], map(clean_text, file_rucs["ruc_entidad"]), strict=True):
        if ruc:
            rucs_by_file[archivo].add(ruc)
    targets: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for archivo, motivo in zip(files["archivo"], files["motivo"], strict=True):
        for ruc in sorted(entities.get(archivo) or rucs_by_file.get(archivo, ())) or [None]:
            targets[f"ruc:{ruc}" if ruc else f"archivo:{archivo}"].append((archivo, motivo))
    return targets


def workbook_names(keys: Iterable[str]) -> dict[str, str]:
    """key → file name, unique case-insensitively and never the summary's name (in key order)."""
    used: set[str] = set()
    names: dict[str, str] = {}
    for key in sorted(keys):
        kind, text = key.split(":", 1)
        name = workbook_name_for_ruc(text) if kind == "ruc" else workbook_name_for_file(text)
        if name.lower() in used or name.lower() == SUMMARY_FILE:
            name = f"{name[:-5]}_{short_hash(key)}.xlsx"
        used.add(name.lower())
        names[key] = name
    return names


def group_feedback(rows: pd.DataFrame, files: pd.DataFrame, file_rucs: pd.DataFrame) -> list[EntityFeedback]:
    """Every quarantined row goes to the workbook of the entity that sent it (`row_keys`); every rejected
    file to the workbook(s) of the RUC(s) its file shows in raw, else to a workbook named after the file."""
    entities_by_file = file_entities(file_rucs)
    keys = row_keys(rows, entities_by_file)
    parts = split_rows(rows, keys)
    entity_names = most_common_names(keys, map(clean_text, rows["nombre_entidad"]) if "nombre_entidad" in rows else [None] * len(rows))
    targets = file_targets(files, file_rucs, entities_by_file)
    no_rows = pd.DataFrame(columns=ROW_COLUMNS, dtype=object)  # shared by the entities without rows; never modified
    no_files = pd.DataFrame(columns=FILE_COLUMNS, dtype=object)  # likewise, for the entities without rejected files
    entities: list[EntityFeedback] = []
    for key, name in workbook_names(set(parts) | set(targets)).items():
        kind, text = key.split(":", 1)
        mine, distinct = parts.get(key, (no_rows, 0))
        entities.append(
            EntityFeedback(
                workbook=name,
                ruc_entidad=text if kind == "ruc" else None,
                nombre_entidad=entity_names.get(key),
                rows=mine,
                files=pd.DataFrame(targets[key], columns=FILE_COLUMNS) if key in targets else no_files,
                distinct_rows=distinct,
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
                "filas_en_cuarentena": e.observed_rows(),
                "reglas_incumplidas": len(e.rows),
                "archivos_rechazados": len(e.files),
            }
            for e in entities
        ],
        columns=["ruc_entidad", "nombre_entidad", "libro", "filas_en_cuarentena", "reglas_incumplidas", "archivos_rechazados"],
    )
    rejected = pd.DataFrame(
        [(a, m, e.ruc_entidad or "", e.workbook) for e in entities if len(e.files) for a, m in zip(e.files["archivo"], e.files["motivo"], strict=True)],
        columns=["archivo", "motivo", "ruc_entidad", "libro"],
    )
    return {"por_entidad": per_entity, "por_regla": per_rule_frame(entities), "archivos_rechazados": rejected}


def per_rule_frame(entities: list[EntityFeedback]) -> pd.DataFrame:
    """Per rule: broken rules, distinct rows and distinct workbooks, most broken first."""
    with_rows = [e for e in entities if len(e.rows)]
    if not with_rows:
        return pd.DataFrame(columns=["regla", "reglas_incumplidas", "filas", "entidades"])
    all_rows = pd.concat([e.rows for e in with_rows], ignore_index=True)
    all_rows["libro"] = np.repeat(np.array([e.workbook for e in with_rows], dtype=object), [len(e.rows) for e in with_rows])
    all_rows["_fila"] = all_rows["archivo"].astype("str") + "#" + all_rows["fila"].astype("str")
    return (
        all_rows.groupby("regla")
        .agg(reglas_incumplidas=("regla", "size"), filas=("_fila", "nunique"), entidades=("libro", "nunique"))
        .reset_index()
        .sort_values(["reglas_incumplidas", "regla"], ascending=[False, True])
    )


# --- writing --------------------------------------------------------------------------------------


def cell_value(value: object) -> object:
    """A plain Python value for a cell: None for any missing value, numpy scalars unwrapped."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalar → Python
        return value.item()
    return value


def frame_records(frame: pd.DataFrame, columns: Sequence[str]) -> list[list[object]]:
    columns = list(columns)
    if frame.empty:
        return []
    chosen = frame if list(frame.columns) == columns else frame[columns]
    return [[cell_value(value) for value in record] for record in chosen.to_numpy(dtype=object).tolist()]


ROW_WIDTHS = {"archivo": 30, "hoja": 16, "fila": 7, "columna": 24, "regla": 24, "valor": 28, "mensaje": 90, "motivo": 90}
SUMMARY_WIDTHS = {"libro": 30, "nombre_entidad": 40, "motivo": 90, "archivo": 30, "regla": 26}
WHAT_TO_DO = (
    "Corrija las filas de la hoja «filas_observadas» (la fila es la que ve en Excel) y los archivos de la hoja "
    "«archivos_rechazados», y vuelva a enviar el archivo completo de su declaración: el archivo más reciente "
    "reemplaza a los anteriores."
)


def entity_sheets(entity: EntityFeedback, anio: int) -> list[Sheet]:
    """The entity's workbook: resumen, filas_observadas, archivos_rechazados."""
    intro = [
        ("RUC", entity.ruc_entidad or "(sin RUC legible)"),
        ("Entidad", entity.nombre_entidad or ""),
        ("Año declarado", anio),
        ("Filas observadas", entity.observed_rows()),
        ("Reglas incumplidas", len(entity.rows)),
        ("Archivos rechazados", len(entity.files)),
        ("Qué hacer", WHAT_TO_DO),
    ]
    return [
        Sheet("resumen", ["campo", "detalle"], intro, {"campo": 22, "detalle": 100}),
        Sheet("filas_observadas", ROW_COLUMNS, frame_records(entity.rows, ROW_COLUMNS), ROW_WIDTHS),
        Sheet("archivos_rechazados", FILE_COLUMNS, frame_records(entity.files, FILE_COLUMNS), ROW_WIDTHS),
    ]


def summary_sheets(summary: dict[str, pd.DataFrame]) -> list[Sheet]:
    """resumen_apci.xlsx: one sheet per summary frame."""
    return [
        Sheet(title, [str(c) for c in frame.columns], frame_records(frame, frame.columns), SUMMARY_WIDTHS)
        for title, frame in summary.items()
    ]


def assert_no_formulas(path: Path) -> None:
    """Reopen the saved workbook's XML: no cell may hold a formula (<f> element)."""
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                xml = archive.read(name)
                if b"<f>" in xml or b"<f " in xml:
                    raise ValueError(f"{path.name}: {name} contains a formula cell")


def feedback_files(folder: Path, entities: list[EntityFeedback]) -> list[Path]:
    """Every file `write_feedback` puts in the year's folder: the entities' workbooks, then the summary."""
    return [Path(folder) / e.workbook for e in entities] + [Path(folder) / SUMMARY_FILE]


@dataclass(frozen=True)
class FeedbackResult:
    folder: Path
    entities: list[EntityFeedback]
    summary: dict[str, pd.DataFrame]

    @property
    def files(self) -> list[Path]:
        return feedback_files(self.folder, self.entities)


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
            write_workbook(path, entity_sheets(entity, anio))
            assert_no_formulas(path)
        summary = summary_frames(entities)
        write_workbook(staging / SUMMARY_FILE, summary_sheets(summary))
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
