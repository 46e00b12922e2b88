"""Sample GPEDC 4th-round roster, questionnaires and validations (`landing/gpedc/ronda4/`), on the 2023–2026 framework.

A live tracker mid-round: most focal points have sent their workbook with every sheet of the round
(`respuestas`, `intervenciones`, `flujos`, `socios`), answering the items of the shipped catalog; some sections
are still missing (PENDIENTE), APCI re-sent part of its workbook, and APCI's validation log has validated or
observed a few. A few rows break each rule a focal point can break: an item id that is not in the catalog, an
item answered in the wrong sheet, «tal vez» for a yes/no item, a category outside its list, an amount typed
with full-width digits, a part larger than its total, a module where none belongs, a partner that is not in
the roster, a section not assigned to its sender, a repeated key, and a workbook from an organisation APCI
never registered. The roster carries contact columns (fake names, e-mails, phones) that must never leave
landing. Deterministic: same seed → same bytes and modification times.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import random
from pathlib import Path

from openpyxl import Workbook

from cti_pipeline.contracts.gpedc import ANY_ITEM, NINGUNO, RESPUESTAS, GpedcCatalogs, Item
from cti_pipeline.outputs import set_cell
from cti_pipeline.sample.registros import reproducible_zip

# codigo, tipo, entidad, secciones, contacto (fake), sends a workbook?, sections left out of it
ROSTER = [
    ("CEPLAN", "GOBIERNO", "Centro Nacional de Planeamiento Estratégico", "A.1", "Rosa Huamán Soto", True, ()),
    ("APCI", "GOBIERNO", "Agencia Peruana de Cooperación Internacional", "A.2;A.3;A.5;CSS", "Jorge Quispe Mamani", True, ()),
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
CSS_ITEMS = ("CSS_1", "CSS_2", "CSS_3.1", "CSS_4")  # the pilot's items are not fixed: the catalog's `*` row accepts any
TITLES = (
    "Agua y saneamiento rural", "Gobernanza regional", "Cadenas productivas de café", "Salud materno-infantil",
    "Gestión de riesgo de desastres", "Educación intercultural bilingüe", "Bosques y cambio climático",
    "Transformación digital del Estado", "Igualdad de género y violencia", "Empleo juvenil",
)
FREE_TEXT = (
    "Sí, con consultas regionales.", "En preparación para 2024.", "Parcialmente; ver informe anual 2022.",
    "Se coordina con la mesa de cooperantes.", "No aplica en este periodo.",
)
HEADERS = {
    "respuestas": ["codigo_respondente", "seccion", "modulo", "codigo_pregunta", "respuesta", "comentario"],
    "intervenciones": ["codigo_respondente", "codigo_intervencion", "titulo", "fecha_aprobacion", "monto_usd"],
    "flujos": ["codigo_respondente", "anio"],
    "socios": ["codigo_socio", "anio"],
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


def _answer(rng: random.Random, item: Item) -> object:
    if rng.random() < 0.08:
        return None  # received, but not answered
    match item.tipo:
        case "SI_NO":
            return "SI" if rng.random() < 0.65 else "NO"
        case "CATEGORIA":
            return rng.choice(item.categorias)
        case "ENTERO" | "NUMERO" | "MONTO_USD":
            return rng.randint(0, 20)
        case "URL":
            return "https://www.gob.pe/apci"
        case _:
            return rng.choice(FREE_TEXT)


def _answers(rng: random.Random, catalogs: GpedcCatalogs, code: str, sections: list[str]) -> list[list[object]]:
    rows: list[list[object]] = [HEADERS["respuestas"]]
    for seccion in sections:
        items = [i for i in catalogs.items if i.seccion == seccion and i.hoja == RESPUESTAS]
        for modulo in ((1, 2, 3, 4) if seccion == "C.1" else (None,)):
            for item in items:
                if item.clave == ANY_ITEM:
                    for pilot in CSS_ITEMS:
                        rows.append([code, seccion, modulo, pilot, rng.choice(FREE_TEXT), None])
                    continue
                comment = "Según el informe anual 2022." if rng.random() < 0.15 else None
                rows.append([code, seccion, modulo, item.codigo, _answer(rng, item), comment])
    return rows


def _columns(catalogs: GpedcCatalogs, sheet: str) -> list[str]:
    return [item.columna for item in catalogs.items_of_sheet(sheet)]


def _interventions(rng: random.Random, catalogs: GpedcCatalogs, code: str) -> list[list[object]]:
    anio = catalogs.anio_referencia
    rows: list[list[object]] = [HEADERS["intervenciones"] + _columns(catalogs, "intervenciones")]
    categories = [c for c in catalogs.item("B2_6").categorias]
    for number in range(1, rng.randint(3, 6) + 1):
        year = anio if number > 1 or rng.random() < 0.5 else anio - 1  # some were approved before the reference year
        amount = round(rng.uniform(150_000, 8_000_000), 2) if number != 3 else 60_000.0  # one below the threshold
        indicators = rng.randint(2, 12)
        origin = NINGUNO if rng.random() < 0.25 else rng.choice([c for c in categories if c != NINGUNO])
        rows.append([
            code, f"{code}-{year}-{number:02d}", rng.choice(TITLES), dt.date(year, rng.randint(1, 12), rng.randint(1, 28)), amount,
            origin, indicators, rng.randint(0, indicators), rng.randint(0, indicators),
            rng.choice(("SI", "NO", None)), rng.choice(("SI", "NO")),
        ])
    return rows


def _flows(rng: random.Random, catalogs: GpedcCatalogs, code: str) -> list[list[object]]:
    rows: list[list[object]] = [HEADERS["flujos"] + _columns(catalogs, "flujos")]
    for year in (catalogs.anio_referencia - 1, catalogs.anio_referencia):
        scheduled = round(rng.uniform(2_000_000, 40_000_000), 2)
        disbursed = round(scheduled * rng.uniform(0.55, 1.25), 2)
        systems = [round(disbursed * rng.uniform(0.2, 0.9), 2) if rng.random() < 0.8 else None for _ in range(4)]
        rows.append([code, year, disbursed, scheduled, *systems])
    return rows


def _partner_rows(rng: random.Random, catalogs: GpedcCatalogs, partners: list[str], year: int) -> list[list[object]]:
    rows = []
    for partner in partners:
        plans = ["SI" if rng.random() < 0.6 else "NO" for _ in range(3)]
        reporting = ["SI" if rng.random() < 0.7 else "NO" for _ in range(3)]
        rows.append([partner, year, *plans, round(rng.uniform(500_000, 30_000_000), 2), *reporting])
    return rows


def write(landing: Path, years: list[int], rows: int, rng: random.Random) -> None:
    catalogs = GpedcCatalogs.load(None)  # the shipped catalogs: the sample answers their items
    anio = catalogs.anio_referencia
    folder = landing / "gpedc" / "ronda4"
    folder.mkdir(parents=True, exist_ok=True)
    base = dt.datetime(2024, 7, 1, 9, 0).timestamp()

    def stamp(path: Path, days: float) -> None:
        moment = base + days * 86_400
        os.utime(path, (moment, moment))

    # Phase 1: the roster, with contact details that must never reach a mart, an export or a log.
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(["codigo_respondente", "tipo_respondente", "entidad", "secciones", "nombre_contacto", "correo", "telefono"])
    for code, kind, entity, sections, contact, _, _ in ROSTER:
        writer.writerow([code, kind, entity, sections, contact, _email(contact, code), f"+51 1 {rng.randint(200, 799)} {rng.randint(1000, 9999)}"])
    roster_path = folder / "puntos_focales.csv"
    roster_path.write_bytes(buffer.getvalue().encode("utf-8-sig"))
    stamp(roster_path, 0)

    # Phase 2: one workbook per respondent (some never arrive, some arrive incomplete).
    socios_header = HEADERS["socios"] + _columns(catalogs, "socios")
    for position, (code, kind, entity, sections, _, sends, missing) in enumerate(ROSTER, start=1):
        if not sends:
            continue
        assigned = [s for s in sections.split(";") if s not in missing]
        sheets: dict[str, list[list[object]]] = {"respuestas": _answers(rng, catalogs, code, assigned)}
        if "B.2" in assigned:
            sheets["intervenciones"] = _interventions(rng, catalogs, code)
        if "B.3" in assigned:
            sheets["flujos"] = _flows(rng, catalogs, code)
        if code == "APCI":  # A.3 and A.5 per development partner (MEF sends USAID's row)
            sheets["socios"] = [socios_header, *_partner_rows(rng, catalogs, [p for p in PARTNERS if p != "USAID"], anio),
                                *_partner_rows(rng, catalogs, ["JICA"], anio - 1),
                                ["FONDO_XYZ", anio, "SI", "SI", "NO", 100_000, "SI", "NO", "NO"]]  # socio_desconocido
        if code == "MEF":
            sheets["socios"] = [["codigo_respondente", *socios_header[:6]], ["MEF", "USAID", anio, "SI", "NO", "NO", 4_500_000]]
        if code == "CEPLAN":  # an answer to a section CEPLAN was not assigned: seccion_no_asignada
            sheets["respuestas"].append([code, "A.2", None, "A2_1", "SI", None])
        if code == "JICA":  # an item id the catalog does not list for B.1: pregunta_desconocida
            sheets["respuestas"].append([code, "B.1", None, "B1_9", "SI", "Ítem agregado por error"])
        if code == "AECID":  # a module where none belongs: modulo_invalido
            sheets["respuestas"].append([code, "B.1", 2, "B1_5", "Con el plan bicentenario", None])
        if code == "GIZ":  # an item of another sheet (pregunta_en_otra_hoja) and 7 of 3 indicators (parte_mayor_que_total)
            sheets["respuestas"].append([code, "B.3", None, "B3_2", 1_250_000, None])
            sheets["intervenciones"].append([code, "GIZ-2022-99", "Energías renovables", dt.date(anio, 9, 15), 900_000,
                                             "PLAN_SECTORIAL", 3, 7, 2, "SI", "NO"])
        if code == "KOICA":  # «tal vez» for a yes/no item (respuesta_invalida); text that looks like a formula stays text
            sheets["respuestas"] = [r for r in sheets["respuestas"] if r[3] not in ("B1_3", "B1_4")] + [
                [code, "B.1", None, "B1_4", "tal vez", None],
                [code, "B.1", None, "B1_3", "=SUMA(A1)", "Se copió la fórmula de la hoja de cálculo interna."]]
        if code == "BID":  # a category outside the list, and an amount typed with full-width digits
            sheets["intervenciones"].append([code, "BID-2022-50", "Vivienda social", dt.date(anio, 4, 2), 2_000_000,
                                             "PLAN_LOCAL", 5, 2, 1, "SI", "SI"])
            sheets["flujos"][-1][3] = "１２０００００"
        if code == "COSUDE":  # of b3_2, more used the budget system than was disbursed: parte_mayor_que_total
            sheets["flujos"][-1][4] = sheets["flujos"][-1][2] * 2
        if code == "PNUD":  # the same intervention twice: clave_duplicada (both rows)
            sheets["intervenciones"].append(list(sheets["intervenciones"][1]))
        if code == "ANC":  # module 5 of C.1
            sheets["respuestas"].append([code, "C.1", 5, "C_1", "Sí", None])
        path = folder / f"AGCED_ronda4_{code}.xlsx"
        _write_workbook(path, sheets)
        stamp(path, position)

    # APCI re-sends section A.2 and GIZ's partner row later: those replace the first file's (superseded), the rest stays.
    again = folder / "AGCED_ronda4_APCI_correccion.xlsx"
    corrected = [r for r in _answers(rng, catalogs, "APCI", ["A.2"])]
    _write_workbook(again, {"respuestas": corrected, "socios": [socios_header, *_partner_rows(rng, catalogs, ["GIZ"], anio)]})
    stamp(again, 40)

    # A workbook from an organisation APCI never registered as a focal point: quarantined, not dropped.
    unknown = folder / "AGCED_ronda4_FONDO_ANDINO.xlsx"
    _write_workbook(unknown, {"respuestas": _answers(rng, catalogs, "FONDO_ANDINO", ["B.1"])[:4]})
    stamp(unknown, 20)

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
    stamp(path, 150)
