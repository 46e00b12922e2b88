"""Sample GPEDC 4th-round roster, questionnaires and validations (`landing/gpedc/ronda4/`).

A live tracker mid-round: most focal points have sent their workbook, some sections are still
missing (PENDIENTE), APCI has validated or observed a few, and some things need attention: a
workbook from a respondent not in the roster, an answer to a section not assigned to its sender,
an intervention whose aligned objectives exceed its total, and an answer typed as `=SUMA(A1)`.
The roster carries contact columns (fake names, e-mails, phones) that must never leave landing.
Deterministic: same seed → same content and modification times.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import random
from pathlib import Path

from openpyxl import Workbook

from cti_pipeline.contracts.gpedc import ANIO_REFERENCIA
from cti_pipeline.outputs import set_cell
from cti_pipeline.sample.registros import reproducible_zip

# codigo, tipo, entidad, secciones, contacto (fake), sends a workbook?, sections left out of it
ROSTER = [
    ("CEPLAN", "GOBIERNO", "Centro Nacional de Planeamiento Estratégico", "A.1", "Rosa Huamán Soto", True, ()),
    ("APCI", "GOBIERNO", "Agencia Peruana de Cooperación Internacional", "A.2;A.3;A.5;CSS", "Jorge Quispe Mamani", True, ("CSS",)),
    ("MEF", "GOBIERNO", "Ministerio de Economía y Finanzas", "A.3", "Lucía Vargas Ríos", True, ()),
    ("MIMP", "GOBIERNO", "Ministerio de la Mujer y Poblaciones Vulnerables", "A.4", "Carmen Flores Paredes", False, ()),
    ("JICA", "SOCIO_DESARROLLO", "Agencia de Cooperación Internacional del Japón", "B.1;B.2;B.3", "Kenji Sato", True, ("B.3",)),
    ("AECID", "SOCIO_DESARROLLO", "Agencia Española de Cooperación Internacional para el Desarrollo", "B.1;B.2;B.3;C.1", "Elena Martín García", True, ("C.1",)),
    ("GIZ", "SOCIO_DESARROLLO", "Cooperación Alemana al Desarrollo", "B.1;B.2;B.3", "Anna Schmidt", True, ()),
    ("KOICA", "SOCIO_DESARROLLO", "Agencia de Cooperación Internacional de Corea", "B.1;B.2;B.3", "Min-jun Park", True, ()),
    ("UE", "SOCIO_DESARROLLO", "Delegación de la Unión Europea en el Perú", "B.1;B.2;B.3;C.1", "Pierre Dubois", True, ()),
    ("PNUD", "SOCIO_DESARROLLO", "Programa de las Naciones Unidas para el Desarrollo", "B.1;B.2;B.3", "Sofía Mendoza León", True, ("B.1",)),
    ("USAID", "SOCIO_DESARROLLO", "Agencia de los Estados Unidos para el Desarrollo Internacional", "B.1;B.2;B.3", "John Miller", False, ()),
    ("BID", "SOCIO_DESARROLLO", "Banco Interamericano de Desarrollo", "B.1;B.2;B.3", "Diego Castillo Ruiz", True, ()),
    ("COSUDE", "SOCIO_DESARROLLO", "Agencia Suiza para el Desarrollo y la Cooperación", "B.1;B.2;B.3", "Martina Keller", True, ()),
    ("ANC", "OSC", "Asociación Nacional de Centros", "C.1", "Pedro Rojas Chávez", True, ()),
    ("COEECI", "OSC", "Coordinadora de Entidades Extranjeras de Cooperación Internacional", "C.1", "Ana Torres Gálvez", False, ()),
]
PARTNERS = [r[0] for r in ROSTER if r[1] == "SOCIO_DESARROLLO"]

QUESTIONS = {
    "A.1": ["A1_1", "A1_2", "A1_3", "A1_4"],
    "A.2": ["A2_1", "A2_2", "A2_3"],
    "A.3": ["A3_1", "A3_2", "A3_3", "A3_4"],
    "A.4": ["A4_1", "A4_2"],
    "A.5": ["A5_1", "A5_2", "A5_3"],
    "B.1": ["B1_1", "B1_2", "B1_3"],
    "B.2": ["B2_1", "B2_6", "B2_10", "B2_10.1", "B2_10.2"],
    "B.3": ["B3_1", "B3_2", "B3_3"],
    "C.1": ["C_1", "C_2", "C_3"],
    "CSS": ["CSS_1", "CSS_2"],
}
ANSWERS = ("SI", "NO", "Parcialmente", "No aplica")
TITLES = (
    "Agua y saneamiento rural", "Gobernanza regional", "Cadenas productivas de café", "Salud materno-infantil",
    "Gestión de riesgo de desastres", "Educación intercultural bilingüe", "Bosques y cambio climático",
    "Transformación digital del Estado", "Igualdad de género y violencia", "Empleo juvenil",
)
SHEET_HEADERS = {
    "respuestas": ["codigo_respondente", "seccion", "modulo", "codigo_pregunta", "respuesta", "comentario"],
    "intervenciones": [
        "codigo_respondente", "codigo_intervencion", "titulo", "fecha_aprobacion", "monto_usd", "objetivos_total",
        "objetivos_alineados", "indicadores_total", "indicadores_alineados", "indicadores_fuente_gobierno",
        "evaluacion_final_prevista", "evaluacion_con_gobierno",
    ],
    "flujos": ["codigo_respondente", "anio", "programado_usd", "desembolsado_usd"],
    "presupuesto": ["codigo_socio", "anio", "registrado_en_presupuesto_usd"],
}


def _email(name: str, code: str) -> str:
    parts = name.lower().replace("á", "a").replace("é", "e").replace("í", "i").replace("ó", "o").replace("ú", "u").split()
    return f"{parts[0][0]}{parts[1]}@{code.lower()}.example.org"


def _write_workbook(path: Path, sheets: dict[str, list[list[object]]]) -> None:
    workbook = Workbook()
    workbook.remove(workbook.active)
    fixed = dt.datetime(2024, 6, 1, 9, 0)
    workbook.properties.created = fixed
    workbook.properties.modified = fixed
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row, start=1):
                set_cell(sheet.cell(row=r, column=c), value)
    buffer = io.BytesIO()
    workbook.save(buffer)
    path.write_bytes(reproducible_zip(buffer.getvalue()))  # the same bytes on every run


def _answers(rng: random.Random, code: str, sections: list[str]) -> list[list[object]]:
    rows: list[list[object]] = [SHEET_HEADERS["respuestas"]]
    for seccion in sections:
        modules = (1, 2, 3, 4) if seccion == "C.1" else (None,)
        for modulo in modules:
            for question in QUESTIONS[seccion]:
                if rng.random() < 0.1:
                    answer = None  # a question left blank: received, but not answered
                elif question.startswith(("A3_", "B3_")):
                    answer = round(rng.uniform(0, 100), 1)
                else:
                    answer = rng.choice(ANSWERS)
                comment = "Según el informe anual 2022." if rng.random() < 0.2 else None
                rows.append([code, seccion, modulo, question, answer, comment])
    return rows


def _interventions(rng: random.Random, code: str) -> list[list[object]]:
    rows: list[list[object]] = [SHEET_HEADERS["intervenciones"]]
    for number in range(1, rng.randint(3, 6) + 1):
        year = ANIO_REFERENCIA if number > 1 or rng.random() < 0.5 else ANIO_REFERENCIA - 1
        objectives = rng.randint(1, 6)
        indicators = rng.randint(2, 12)
        planned = rng.random() < 0.7
        rows.append([
            code, f"{code}-{year}-{number:02d}", rng.choice(TITLES), dt.date(year, rng.randint(1, 12), rng.randint(1, 28)),
            round(rng.uniform(150_000, 8_000_000), 2), objectives, rng.randint(0, objectives), indicators,
            rng.randint(0, indicators), rng.randint(0, indicators), "SI" if planned else "NO",
            "SI" if planned and rng.random() < 0.6 else "NO",
        ])
    return rows


def _flows(rng: random.Random, code: str) -> list[list[object]]:
    rows: list[list[object]] = [SHEET_HEADERS["flujos"]]
    for year in (ANIO_REFERENCIA - 1, ANIO_REFERENCIA):
        planned = round(rng.uniform(2_000_000, 40_000_000), 2)
        rows.append([code, year, planned, round(planned * rng.uniform(0.55, 1.25), 2)])
    return rows


def write(landing: Path, years: list[int], rows: int, rng: random.Random) -> None:
    folder = landing / "gpedc" / "ronda4"
    folder.mkdir(parents=True, exist_ok=True)
    base = dt.datetime(2024, 7, 1, 9, 0).timestamp()

    # Phase 1: the roster, with contact details that must never reach a mart, an export or a log.
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(["codigo_respondente", "tipo_respondente", "entidad", "secciones", "nombre_contacto", "correo", "telefono"])
    for code, kind, entity, sections, contact, _, _ in ROSTER:
        writer.writerow([code, kind, entity, sections, contact, _email(contact, code), f"+51 1 {rng.randint(200, 799)} {rng.randint(1000, 9999)}"])
    roster_path = folder / "puntos_focales.csv"
    roster_path.write_bytes(buffer.getvalue().encode("utf-8-sig"))
    os.utime(roster_path, (base, base))

    # Phase 2: one workbook per respondent (some never arrive, some arrive incomplete).
    for position, (code, kind, entity, sections, _, sends, missing) in enumerate(ROSTER, start=1):
        if not sends:
            continue
        assigned = [s for s in sections.split(";") if s not in missing]
        sheets: dict[str, list[list[object]]] = {"respuestas": _answers(rng, code, assigned)}
        if "B.2" in assigned:
            sheets["intervenciones"] = _interventions(rng, code)
        if "B.3" in assigned:
            sheets["flujos"] = _flows(rng, code)
        if code == "MEF":  # A.3: what the national budget registers per development partner in 2022
            sheets["presupuesto"] = [SHEET_HEADERS["presupuesto"]] + [
                [partner, ANIO_REFERENCIA, round(rng.uniform(500_000, 30_000_000), 2)] for partner in PARTNERS if partner != "USAID"
            ]
        if code == "CEPLAN":  # an answer to a section CEPLAN was not assigned: quarantined
            sheets["respuestas"].append([code, "A.2", None, "A2_1", "SI", None])
        if code == "GIZ":  # a typo a focal point must correct: 7 aligned objectives of 3
            sheets["intervenciones"].append([code, "GIZ-2022-99", "Energías renovables", dt.date(2022, 9, 15), 900_000, 3, 7, 4, 2, 1, "SI", "NO"])
        if code == "KOICA":  # text that looks like a formula stays text
            sheets["respuestas"].append([code, "B.1", None, "B1_4", "=SUMA(A1)", "Se copió la fórmula de la hoja de cálculo interna."])
        path = folder / f"AGCED_ronda4_{code}.xlsx"
        _write_workbook(path, sheets)
        moment = base + position * 86_400
        os.utime(path, (moment, moment))

    # A workbook from an organisation APCI never registered as a focal point: quarantined, not dropped.
    unknown = folder / "AGCED_ronda4_FONDO_ANDINO.xlsx"
    _write_workbook(unknown, {"respuestas": _answers(rng, "FONDO_ANDINO", ["B.1"])})
    os.utime(unknown, (base + 20 * 86_400, base + 20 * 86_400))

    # Phase 3: APCI's validation log (the latest row per respondent and section counts).
    validations = [
        ("CEPLAN", "A.1", "VALIDADO", dt.date(2024, 11, 8), "Conforme."),
        ("JICA", "B.2", "OBSERVADO", dt.date(2024, 11, 12), "Precisar la fuente de los indicadores de resultados."),
        ("JICA", "B.2", "VALIDADO", dt.date(2024, 11, 26), "Conforme tras la corrección."),
        ("JICA", "B.1", "VALIDADO", dt.date(2024, 11, 12), "Conforme."),
        ("AECID", "B.3", "OBSERVADO", dt.date(2024, 11, 20), "Los desembolsos de 2022 no coinciden con lo registrado por APCI."),
        ("GIZ", "B.2", "OBSERVADO", dt.date(2024, 11, 21), "Revisar la intervención GIZ-2022-99."),
        ("MEF", "A.3", "VALIDADO", dt.date(2024, 11, 25), "Conforme."),
        ("ANC", "C.1", "OBSERVADO", dt.date(2024, 11, 27), "Completar el módulo 4."),
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["codigo_respondente", "seccion", "estado", "fecha", "observacion"])
    for code, seccion, estado, fecha, observacion in validations:
        writer.writerow([code, seccion, estado, fecha.isoformat(), observacion])
    path = folder / "validaciones.csv"
    path.write_bytes(buffer.getvalue().encode("utf-8"))
    moment = base + 150 * 86_400
    os.utime(path, (moment, moment))
