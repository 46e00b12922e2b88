"""Valid rows of each registros kind (year 2024) and helpers to land them as real files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cti_pipeline.contracts.registros import REGISTROS
from cti_pipeline_tests.factories import write_csv, write_xlsx

ANIO = 2024

VALID: dict[str, dict[str, object]] = {
    "capacitaciones": {"anio": ANIO, "programa": "CTI", "participante_id": "45678912", "entidad": "Gobierno Regional de Junín",
                       "es_uocti": "SI", "nota": 15.5},
    "accesos_web": {"anio": ANIO, "mes": 5, "seccion": "BECAS", "accesos": 120},
    "espacios_coordinacion": {"anio": ANIO, "espacio_id": "EC-01", "nombre_espacio": "Mesa de CTI", "fecha": dt.date(ANIO, 6, 1),
                              "entidad_participante": "Ministerio de Salud"},
    "compromisos": {"anio": ANIO, "compromiso_id": "C-001", "espacio_id": "EC-01", "estado": "CUMPLIDO"},
    "asistencia_tecnica": {"anio": ANIO, "entidad": "Gobierno Regional de Cusco", "fecha": dt.date(ANIO, 3, 4), "tema": "Canje de deuda"},
    "proyectos_css": {"anio": ANIO, "codigo_proyecto": "CSS-001", "rol_peru": "OFERENTE", "pais_socio": "BOL", "sector": "pesca"},
    "iniciativas_internacionales": {"anio": ANIO, "iniciativa_id": "INI-01", "foro": "OCDE", "liderada_por_peru": "SI"},
}


def row(kind: str, **overrides: object) -> dict[str, object]:
    values = dict(VALID[kind])
    values.update(overrides)
    return values


def folder(data_dir: Path, anio: int = ANIO) -> Path:
    return data_dir / "landing" / "registros" / str(anio)


def land(data_dir: Path, name: str, kind: str, rows: list[dict[str, object]], anio: int = ANIO, **options: object) -> Path:
    """Write `rows` as a real file `name` (.xlsx with the kind's sheet, or .csv) in the year folder."""
    path = folder(data_dir, anio) / name
    headers = REGISTROS[kind].names
    if name.endswith(".xlsx"):
        return write_xlsx(path, rows, headers=headers, sheet=REGISTROS[kind].sheet, **options)
    return write_csv(path, rows, headers=headers, **options)
