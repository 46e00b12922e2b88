"""Builders for the GPEDC round: a roster with contact columns and real multi-sheet workbooks (openpyxl)."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path

import pytest
from openpyxl import Workbook

CONTACT_NAMES = ("Rosa Huamán Soto", "Kenji Watanabe", "Elena Martín García", "Pedro Rojas Chávez", "Ana Torres Gálvez", "Luis Pérez Díaz")
CONTACT_EMAILS = tuple(f"contacto{i}@correo-{i}.example.org" for i in range(len(CONTACT_NAMES)))

# codigo, tipo, entidad, secciones
ROSTER = [
    ("GOB1", "GOBIERNO", "Centro de Planeamiento", "A.1;A.3"),
    ("SOC1", "SOCIO_DESARROLLO", "Agencia Uno", "B.1;B.2;B.3"),
    ("SOC2", "SOCIO_DESARROLLO", "Agencia Dos", "B.1; b2 ;B.3"),
    ("SOC3", "SOCIO_DESARROLLO", "Agencia Tres", "B.1;B.2;B.3"),
    ("OSC1", "OSC", "Asociación de ONG", "C.1"),
]


def roster_rows(roster: Sequence[tuple[str, str, str, str]] = ROSTER) -> list[dict[str, object]]:
    return [
        {
            "codigo_respondente": code, "tipo_respondente": kind, "entidad": entity, "secciones": sections,
            "nombre_contacto": CONTACT_NAMES[i % len(CONTACT_NAMES)], "correo": CONTACT_EMAILS[i % len(CONTACT_EMAILS)],
            "telefono": f"+51 1 555 01{i:02d}",
        }
        for i, (code, kind, entity, sections) in enumerate(roster)
    ]


def write_workbook(path: Path, sheets: dict[str, list[dict[str, object]]], mtime: float | None = None, headers: dict[str, list[str]] | None = None) -> Path:
    """One workbook, one sheet per entry; text that looks like a formula is stored as text (as Excel does with ')."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        columns = (headers or {}).get(name) or (list(rows[0].keys()) if rows else [])
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
    return {"codigo_respondente": code, "seccion": seccion, "modulo": modulo, "codigo_pregunta": pregunta, "respuesta": respuesta, "comentario": comentario}


@pytest.fixture
def round_dir(data_dir: Path) -> Path:
    folder = data_dir / "landing" / "gpedc" / "ronda4"
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def sections() -> tuple[str, ...]:
    from cti_pipeline.contracts.gpedc import load_sections

    return tuple(load_sections(None)["seccion"])
