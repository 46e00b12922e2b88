"""A sample of APCI's registry of entities (`landing/entidades/entidades.xlsx`) that fits the sample declarations.

Every entity that filed is registered except one (it filed without being registered: obligada NO), plus
three that never file (OMISA), one whose only file is rejected (RECHAZADA), one deregistered before the
sample years (not obliged) and one registered after them. The registry's extra columns (a legal
representative, an e-mail) are personal data the pipeline must never keep.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import random
from pathlib import Path

from openpyxl import Workbook

from cti_pipeline.sample.declaraciones import NEVER_FILING, REJECTED_ENTITY, Entity, fixed_entity
from cti_pipeline.sample.registros import reproducible_zip

HEADERS = ["RUC Entidad", "Nombre Entidad", "Tipo Entidad", "Fecha Inscripción", "Fecha Baja", "Representante Legal", "Correo"]
DEREGISTERED = fixed_entity("2060099905", "Asociación Dada de Baja", "ONGD")
REGISTERED_LATER = fixed_entity("2060099906", "Fundación Recién Inscrita", "ONGD")


def write(landing: Path, years: list[int], filers: list[Entity], rng: random.Random) -> Path:
    first = min(years) if years else 2023
    registered = filers[:-1]  # the last entity that files is not registered
    rows = [(entity, dt.date(first - 3 - rng.randrange(5), 1 + rng.randrange(12), 1), None) for entity in registered]
    rows += [(entity, dt.date(first - 2, 6, 1), None) for entity in (*NEVER_FILING, REJECTED_ENTITY)]
    rows.append((DEREGISTERED, dt.date(first - 6, 3, 1), dt.date(first - 1, 12, 31)))
    rows.append((REGISTERED_LATER, dt.date(max(years or [first]) + 1, 2, 1), None))
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "entidades"
    sheet.append(HEADERS)
    for number, (entity, since, until) in enumerate(rows, start=1):
        sheet.append([entity.ruc, entity.nombre, entity.tipo, since, until, f"Representante {number}", f"contacto{number}@ejemplo.org.pe"])
    folder = landing / "entidades"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "entidades.xlsx"
    buffer = io.BytesIO()
    workbook.save(buffer)
    path.write_bytes(reproducible_zip(buffer.getvalue()))
    stamp = dt.datetime(first + 1, 1, 5, 9, 0).timestamp()
    os.utime(path, (stamp, stamp))
    return path
