"""`exports/omisas_<anio>.xlsx`: the entities APCI must remind, from the filing tracker.

Entities that must file and sent nothing (OMISA), and entities whose files gave nothing (RECHAZADA), with
what is missing. Entity names and RUCs only: no person's name or contact.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from cti_pipeline.domain.cumplimiento import OMISA, RECHAZADA, STATES
from cti_pipeline.outputs import write_bytes_atomic
from cti_pipeline.outputs.xlsx import Sheet, write_workbook

COLUMNS = ["ruc_entidad", "nombre_entidad", "tipo_entidad", "obligada", "estado", "que_falta", "archivos", "filas_en_cuarentena", "fecha_limite"]


def omisas_path(exports_dir: Path, anio: int) -> Path:
    return Path(exports_dir) / f"omisas_{anio}.xlsx"


def follow_up(tracker: pd.DataFrame) -> pd.DataFrame:
    """The entities to remind, OMISA first, with a sentence on what is missing."""
    pending = tracker[tracker["estado"].isin((OMISA, RECHAZADA))].copy()
    pending["fecha_limite"] = pd.to_datetime(pending["fecha_limite"]).dt.date  # a date cell, not a date and time
    pending["que_falta"] = [
        missing(estado, anio, limite, archivos, quarantined)
        for estado, anio, limite, archivos, quarantined in zip(
            pending["estado"], pending["anio"], pending["fecha_limite"], pending["archivos"], pending["filas_en_cuarentena"], strict=True)
    ]
    order = {estado: position for position, estado in enumerate((OMISA, RECHAZADA))}
    pending = pending.assign(_o=pending["estado"].map(order)).sort_values(["_o", "tipo_entidad", "nombre_entidad", "ruc_entidad"], kind="stable")
    return pending[COLUMNS].reset_index(drop=True)


def missing(estado: str, anio: int, limite, archivos: int, quarantined: int) -> str:
    """What an entity to remind still owes, by cause."""
    if estado == OMISA:
        return f"No presentó la Declaración Anual {anio} (plazo: {limite:%d/%m/%Y})."
    if quarantined:
        return (f"Envió {archivos} archivo(s) pero ninguna intervención pasó la validación: corrija lo observado "
                "(libro de observaciones) y envíe de nuevo.")
    return (f"Envió {archivos} archivo(s) pero ninguno trajo intervenciones que leer (archivo rechazado o solo "
            "encabezados): envíe de nuevo la Declaración Anual en la plantilla oficial.")


def write_omisas(tracker: pd.DataFrame, anio: int, exports_dir: Path) -> Path:
    pending = follow_up(tracker)
    counts = tracker["estado"].value_counts()
    summary = [(estado, int(counts.get(estado, 0))) for estado in STATES]
    sheets = [
        Sheet("omisas", COLUMNS, pending.astype(object).where(pending.notna(), None).itertuples(index=False, name=None),
              widths={"nombre_entidad": 48, "que_falta": 80}),
        Sheet("resumen", ["estado", "entidades"], summary),
    ]
    target = omisas_path(exports_dir, anio)
    with tempfile.TemporaryDirectory() as scratch:
        written = write_workbook(Path(scratch) / target.name, sheets)
        return write_bytes_atomic(target, written.read_bytes())
