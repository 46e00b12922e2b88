"""Builders for the GPEDC round: a roster with contact columns and real multi-sheet workbooks (openpyxl)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

CONTACT_NAMES = ("Rosa Huamán Soto", "Kenji Watanabe", "Elena Martín García", "Pedro Rojas Chávez", "Ana Torres Gálvez", "Luis Pérez Díaz")
CONTACT_EMAILS = tuple(f"contacto{i}@correo-{i}.example.org" for i in range(len(CONTACT_NAMES)))
BASE = dt.datetime(2024, 7, 1, 9, 0).timestamp()

# codigo, tipo, entidad, secciones
ROSTER = [
    ("GOB1", "GOBIERNO", "Centro de Planeamiento", "A.1;A.3;A.5"),
    ("GOB2", "GOBIERNO", "Ministerio de Finanzas", "A.3"),
    ("SOC1", "SOCIO_DESARROLLO", "Agencia Uno", "B.1;B.2;B.3"),
    ("SOC2", "SOCIO_DESARROLLO", "Agencia Dos", "B.1; b2 ;B.3"),
    ("SOC3", "SOCIO_DESARROLLO", "Agencia Tres", "B.1;B.2;B.3"),
    ("OSC1", "OSC", "Asociación de ONG", "C.1"),
    ("APCI", "GOBIERNO", "Agencia Peruana de Cooperación Internacional", "CSS"),
]
INTERVENTION_ITEMS = ("b2_6", "b2_10", "b2_10_1", "b2_10_2", "b2_11a", "b2_11b")
FLOW_ITEMS = ("b3_2", "b3_3", "b3_5", "b3_6", "b3_7", "b3_8")
PARTNER_ITEMS = ("a3_1", "a3_2", "a3_3", "a3_4", "a5_8_1", "a5_8_2", "a5_8_3")


def roster_rows(roster: Sequence[tuple[str, str, str, str]] = ROSTER) -> list[dict[str, object]]:
    return [
        {
            "codigo_respondente": code, "tipo_respondente": kind, "entidad": entity, "secciones": sections,
            "nombre_contacto": CONTACT_NAMES[i % len(CONTACT_NAMES)], "correo": CONTACT_EMAILS[i % len(CONTACT_EMAILS)],
            "telefono": f"+51 1 555 01{i:02d}",
        }
        for i, (code, kind, entity, sections) in enumerate(roster)
    ]


def write_workbook(path: Path, sheets: dict[str, list[dict[str, object]]], mtime: float | None = None,
                   headers: dict[str, list[str]] | None = None) -> Path:
    """One workbook, one sheet per entry; text that looks like a formula is stored as text (as Excel does with ')."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        columns = (headers or {}).get(name) or list(dict.fromkeys(k for row in rows for k in row))
        sheet.append(columns)
        for r, row in enumerate(rows, start=2):
            for c, column in enumerate(columns, start=1):
                cell = sheet.cell(row=r, column=c)
                cell.value = row.get(column)
                if isinstance(cell.value, str):
                    cell.data_type = "s"
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def write_csv(path: Path, rows: list[dict[str, object]], separator: str = ";", encoding: str = "utf-8-sig", mtime: float | None = None) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=separator, lineterminator="\r\n")
    columns = list(rows[0].keys())
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue().encode(encoding))
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def answer(code: str, seccion: str, pregunta: str, respuesta: object = "SI", modulo: object = None, comentario: object = None) -> dict[str, object]:
    return {"codigo_respondente": code, "seccion": seccion, "modulo": modulo, "codigo_pregunta": pregunta, "respuesta": respuesta,
            "comentario": comentario}


def intervention(code: str, number: int, year: int = 2022, monto: float = 250_000.0, **items: object) -> dict[str, object]:
    row: dict[str, object] = {"codigo_respondente": code, "codigo_intervencion": f"{code}-{number:02d}", "titulo": f"Proyecto {number}",
                              "fecha_aprobacion": dt.date(year, 3, number % 28 + 1), "monto_usd": monto}
    row.update({name: items.get(name) for name in INTERVENTION_ITEMS})
    return row


def flow(code: str, year: int = 2022, **items: object) -> dict[str, object]:
    return {"codigo_respondente": code, "anio": year, **{name: items.get(name) for name in FLOW_ITEMS}}


def partner_row(socio: str, year: int = 2022, respondent: str | None = None, **items: object) -> dict[str, object]:
    row: dict[str, object] = {"codigo_socio": socio, "anio": year}
    if respondent is not None:
        row = {"codigo_respondente": respondent, **row}
    return {**row, **{name: items.get(name) for name in PARTNER_ITEMS}}


def write_roster(folder: Path, roster: Sequence[tuple[str, str, str, str]] = ROSTER, name: str = "puntos_focales.csv",
                 mtime: float | None = BASE) -> Path:
    return write_csv(folder / name, roster_rows(roster), mtime=mtime)


def consolidate(folder: Path, override_dir: Path | None = None, first_seen: dict[str, int] | None = None):
    from cti_pipeline.contracts.gpedc import GpedcCatalogs
    from cti_pipeline.domain import gpedc

    return gpedc.consolidate(folder, GpedcCatalogs.load(override_dir), first_seen)


def rules_of(result, archivo: str | None = None) -> list[tuple[str, int, str, str]]:
    """(hoja, fila, columna, regla) of the quarantine, in order."""
    frame = result.quarantined if archivo is None else result.quarantined[result.quarantined["archivo"] == archivo]
    return sorted(zip(frame["hoja"].fillna(""), frame["fila"], frame["columna"], frame["regla"], strict=True))


def message_of(result, regla: str) -> str:
    found = result.quarantined[result.quarantined["regla"] == regla]["mensaje"].tolist()
    assert len(found) == 1, (regla, found)
    return found[0]


def states(result) -> dict[tuple[str, str], pd.Series]:
    counts = result.file_counts()
    return {(r.archivo, r.hoja): r for r in counts.itertuples()}


@pytest.fixture
def round_dir(data_dir: Path) -> Path:
    folder = data_dir / "landing" / "gpedc" / "ronda4"
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def catalogs():
    from cti_pipeline.contracts.gpedc import GpedcCatalogs

    return GpedcCatalogs.load(None)
