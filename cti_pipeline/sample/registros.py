"""Realistic, deterministic administrative records (the seven `registros` kinds), with a few mistakes.

Every id that looks like a DNI here is invented (the sample is constructed, not real). For 2023, the
year of the published compliance report, the sample writes the constructed records that follow every
count of that report (`write_report_2023`, also the fixture in data/fixtures/2023/); other years are
drawn at random from the seeded generator.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path

from openpyxl import Workbook

from cti_pipeline.contracts.registros import REGISTROS

REGIONES = (
    "Amazonas", "Áncash", "Apurímac", "Arequipa", "Ayacucho", "Cajamarca", "Callao", "Cusco", "Huancavelica",
    "Huánuco", "Ica", "Junín", "La Libertad", "Lambayeque", "Lima", "Loreto", "Madre de Dios", "Moquegua",
    "Pasco", "Piura", "Puno", "San Martín", "Tacna", "Tumbes", "Ucayali",
)
MINISTERIOS = (
    "Desarrollo Agrario y Riego", "Ambiente", "Comercio Exterior y Turismo", "Cultura", "Defensa",
    "Desarrollo e Inclusión Social", "Economía y Finanzas", "Educación", "Energía y Minas", "Interior",
    "Justicia y Derechos Humanos", "la Mujer y Poblaciones Vulnerables", "la Producción", "Relaciones Exteriores",
    "Salud", "Trabajo y Promoción del Empleo", "Transportes y Comunicaciones", "Vivienda, Construcción y Saneamiento",
)
MUNICIPALIDADES = (
    "Municipalidad Metropolitana de Lima", "Municipalidad Provincial de Arequipa", "Municipalidad Provincial del Cusco",
    "Municipalidad Provincial de Piura", "Municipalidad Provincial de Trujillo", "Municipalidad Provincial de Huancayo",
    "Municipalidad Provincial de Maynas", "Municipalidad Provincial de Chiclayo", "Municipalidad Provincial del Callao",
    "Municipalidad Distrital de San Juan de Lurigancho", "Municipalidad Distrital de Villa El Salvador",
    "Municipalidad Distrital de Independencia", "Municipalidad Provincial de Puno", "Municipalidad Provincial de Tacna",
    "Municipalidad Provincial de Coronel Portillo",
)
OTRAS_ENTIDADES = (
    "Superintendencia Nacional de Aduanas y de Administración Tributaria", "Instituto Nacional de Estadística e Informática",
    "Consejo Nacional de Ciencia, Tecnología e Innovación Tecnológica", "Servicio Nacional de Áreas Naturales Protegidas por el Estado",
    "Instituto Nacional de Innovación Agraria", "Servicio Nacional de Sanidad Agraria",
    "Comisión Nacional para el Desarrollo y Vida sin Drogas", "Autoridad Nacional del Agua", "Instituto Geofísico del Perú",
    "Servicio Nacional de Meteorología e Hidrología del Perú", "Centro Nacional de Planeamiento Estratégico",
    "Presidencia del Consejo de Ministros", "Contraloría General de la República", "Defensoría del Pueblo",
    "Seguro Social de Salud", "Instituto Nacional de Defensa Civil", "Programa Nacional de Becas y Crédito Educativo",
    "Organismo de Evaluación y Fiscalización Ambiental", "Servicio Nacional Forestal y de Fauna Silvestre",
    "Instituto del Mar del Perú", "Universidad Nacional Mayor de San Marcos", "Universidad Nacional Agraria La Molina",
    "Universidad Nacional de San Antonio Abad del Cusco", "Pontificia Universidad Católica del Perú",
    "Cámara de Comercio de Lima", "Sociedad Nacional de Industrias", "Asociación de Exportadores",
    "Confederación Nacional de Instituciones Empresariales Privadas",
)
ENTIDADES: tuple[str, ...] = (
    tuple(f"Gobierno Regional de {r}" for r in REGIONES)
    + tuple(f"Ministerio de {m}" for m in MINISTERIOS)
    + MUNICIPALIDADES
    + OTRAS_ENTIDADES
)
FOROS = ("OCDE", "AGCED", "SEGIB", "OEA", "Alianza del Pacífico", "APEC", "CELAC", "CAN", "ONU")
SECTORES = ("turismo", "gastronomía", "pesca", "transporte", "gestión pública", "agricultura", "salud", "educación",
            "desarrollo alternativo", "ciencia y tecnología", "recursos humanos")
ALC_SOCIOS = ("CRI", "BOL", "HND", "DOM", "PAN", "ECU", "URY", "COL", "ARG", "CHL", "BLZ", "PRY", "GTM", "SLV", "MEX", "CUB")
OTROS_SOCIOS = ("THA", "IND", "IDN", "MAR", "EGY", "VNM", "PHL", "KEN")
TEMAS = ("Cooperación triangular", "Canje de deuda", "Alianzas multiactor", "Cooperación descentralizada",
         "Financiamiento climático", "Cooperación Sur-Sur")

PRETTY_HEADERS = {
    "anio": "Año", "programa": "Programa", "participante_id": "Participante ID", "entidad": "Entidad",
    "es_uocti": "Es UOCTI", "nota": "Nota", "mes": "Mes", "seccion": "Sección", "accesos": "Accesos",
    "espacio_id": "Espacio ID", "nombre_espacio": "Nombre Espacio", "fecha": "Fecha",
    "entidad_participante": "Entidad Participante", "compromiso_id": "Compromiso ID", "estado": "Estado",
    "tema": "Tema", "codigo_proyecto": "Código Proyecto", "rol_peru": "Rol Perú", "pais_socio": "País Socio",
    "sector": "Sector", "iniciativa_id": "Iniciativa ID", "foro": "Foro", "liderada_por_peru": "Liderada por Perú",
}


def headers(kind: str) -> list[str]:
    return REGISTROS[kind].names


def write_xlsx(path: Path, kind: str, rows: Sequence[dict[str, object]], pretty: bool = True) -> Path:
    """A workbook with the kind's sheet, headers as a person types them."""
    workbook = Workbook(write_only=True)
    fixed = dt.datetime(2024, 6, 1, 9, 0)  # same bytes on every run
    workbook.properties.created = fixed
    workbook.properties.modified = fixed
    sheet = workbook.create_sheet(REGISTROS[kind].sheet)
    names = headers(kind)
    sheet.append([PRETTY_HEADERS[h] if pretty else h for h in names])
    for row in rows:
        sheet.append([row.get(h) for h in names])
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    workbook.save(buffer)
    path.write_bytes(reproducible_zip(buffer.getvalue()))
    return path


FIXED_ZIP_TIME = (2024, 6, 1, 9, 0, 0)


def reproducible_zip(data: bytes) -> bytes:
    """The same workbook bytes on every run: fixed member times and a fixed `modified` property."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            content = source.read(member)
            if member.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>2024-06-01T09:00:00Z", content)
            target.writestr(zipfile.ZipInfo(member.filename, date_time=FIXED_ZIP_TIME), content, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def write_csv(path: Path, kind: str, rows: Sequence[dict[str, object]], encoding: str = "utf-8", separator: str = ",") -> Path:
    """A CSV as Excel writes it: `;` and decimal comma and DD/MM/YYYY dates in Spanish locales."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=separator, lineterminator="\r\n")
    names = headers(kind)
    writer.writerow(names)
    for row in rows:
        values = []
        for name in names:
            value = row.get(name)
            if isinstance(value, dt.date):
                value = value.strftime("%d/%m/%Y") if separator == ";" else value.isoformat()
            elif isinstance(value, float):
                value = f"{value:g}".replace(".", ",") if separator == ";" else f"{value:g}"
            values.append("" if value is None else value)
        writer.writerow(values)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def invented_dni(rng: random.Random, used: set[str]) -> str:
    """An 8-digit id that looks like a DNI but is invented (never a real person's)."""
    while True:
        value = f"{rng.randrange(10_000_000, 79_999_999):08d}"
        if value not in used:
            used.add(value)
            return value


def spell_variant(rng: random.Random, name: str) -> str:
    """How another clerk types the same entity: upper case without accents, extra spaces, lower case."""
    from cti_pipeline.contracts.text import strip_accents

    choice = rng.randrange(3)
    if choice == 0:
        return strip_accents(name).upper()
    if choice == 1:
        return "  " + name.replace(" de ", "  de ") + " "
    return name.lower()


def random_date(rng: random.Random, anio: int, first_month: int = 1) -> dt.date:
    start = dt.date(anio, first_month, 1).toordinal()
    return dt.date.fromordinal(rng.randrange(start, dt.date(anio, 12, 31).toordinal() + 1))


# --- one year -------------------------------------------------------------------------------------


def capacitaciones(rng: random.Random, anio: int) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """Two rosters (first and second half of the year); some people are trained twice."""
    used: set[str] = set()
    people = [
        {"id": invented_dni(rng, used), "entidad": rng.choice(ENTIDADES), "uocti": rng.random() < 0.75}
        for _ in range(rng.randrange(180, 260))
    ]
    programmes = ["CTI"] if anio < 2024 else ["CTI", "CSS"]
    first: list[dict[str, object]] = []
    second: list[dict[str, object]] = []
    for person in people:
        programa = rng.choice(programmes) if len(programmes) > 1 and rng.random() < 0.3 else "CTI"
        sessions = 2 if rng.random() < 0.15 else 1
        for session in range(sessions):
            nota = None if rng.random() < 0.08 else round(rng.uniform(8, 19.5) * 2) / 2
            row = {
                "anio": anio,
                "programa": programa if rng.random() < 0.9 else programa.lower(),
                "participante_id": person["id"],
                "entidad": person["entidad"] if rng.random() < 0.85 else spell_variant(rng, person["entidad"]),
                "es_uocti": rng.choice(("SI", "Sí", "si")) if person["uocti"] else rng.choice(("NO", "No")),
                "nota": nota,
            }
            (first if session == 0 and rng.random() < 0.6 else second).append(row)
    # mistakes: a grade on the wrong scale, a missing id, a grade typed as text
    first.append({"anio": anio, "programa": "CTI", "participante_id": people[0]["id"], "entidad": people[0]["entidad"], "es_uocti": "SI", "nota": 85})
    second.append({"anio": anio, "programa": "CTI", "participante_id": None, "entidad": rng.choice(ENTIDADES), "es_uocti": "SI", "nota": 15})
    second.append({"anio": anio, "programa": "CTI", "participante_id": people[1]["id"], "entidad": people[1]["entidad"], "es_uocti": "NO", "nota": "aprobado"})
    return first, second


def accesos_web(rng: random.Random, anio: int) -> list[dict[str, object]]:
    rows = []
    for mes in range(1, 13):
        for seccion, base in (("BECAS", 30), ("ESTADISTICAS", 55), ("EXPERIENCIAS_EXITOSAS", 12), ("TRIANGULAR", 8)):
            if seccion == "TRIANGULAR" and (anio, mes) < (2024, 7):
                continue  # the triangular-cooperation page went live in July 2024
            rows.append({"anio": anio, "mes": mes, "seccion": seccion if rng.random() < 0.9 else seccion.lower(),
                         "accesos": max(0, int(rng.gauss(base * (1 + 0.1 * (anio - 2023)), base / 4)))})
    rows.append({"anio": anio, "mes": 13, "seccion": "BECAS", "accesos": 12})  # a 13th month
    return rows


def espacios(rng: random.Random, anio: int) -> list[dict[str, object]]:
    rows = []
    names = ("Mesa de Coordinación de la CTI con Gobiernos Regionales", "Encuentro Nacional del Sistema de CTI",
             "Comité de Cooperación Sur-Sur", "Mesa de Cooperación Descentralizada")
    for number in range(1, rng.randrange(3, 5)):
        espacio_id = f"EC-{anio}-{number:02d}"
        fecha = random_date(rng, anio, 3)
        for entidad in rng.sample(ENTIDADES, rng.randrange(25, 55)):
            rows.append({"anio": anio, "espacio_id": espacio_id, "nombre_espacio": names[number - 1], "fecha": fecha,
                         "entidad_participante": entidad if rng.random() < 0.85 else spell_variant(rng, entidad)})
    # minutes of last year's session filed in this year's folder
    rows.append({"anio": anio, "espacio_id": f"EC-{anio - 1}-09", "nombre_espacio": "Reunión de cierre",
                 "fecha": dt.date(anio - 1, 12, 15), "entidad_participante": rng.choice(ENTIDADES)})
    return rows


def compromisos(rng: random.Random, anio: int) -> list[dict[str, object]]:
    rows = [
        {"anio": anio, "compromiso_id": f"COMP-{anio}-{n:03d}", "espacio_id": f"EC-{anio}-{rng.randrange(1, 3):02d}",
         "estado": rng.choices(("CUMPLIDO", "EN_PROCESO", "PENDIENTE", "en proceso"), (6, 3, 1, 1))[0]}
        for n in range(1, rng.randrange(12, 30))
    ]
    rows.append(dict(rows[-1], estado="CUMPLIDO"))  # the same commitment typed twice: both quarantined
    return rows


def asistencia(rng: random.Random, anio: int) -> list[dict[str, object]]:
    rows = []
    for entidad in rng.sample(ENTIDADES, rng.randrange(10, 20)):
        for _ in range(rng.randrange(1, 4)):
            rows.append({"anio": anio, "entidad": entidad if rng.random() < 0.8 else spell_variant(rng, entidad),
                         "fecha": random_date(rng, anio), "tema": rng.choice(TEMAS) if rng.random() < 0.9 else None})
    return rows


def proyectos(rng: random.Random, anio: int) -> list[dict[str, object]]:
    rows = []
    for n in range(1, rng.randrange(60, 90)):
        rol = rng.choices(("OFERENTE", "RECEPTOR", "DOBLE"), (45, 45, 10))[0]
        socio = rng.choice(ALC_SOCIOS) if rng.random() < 0.85 else rng.choice(OTROS_SOCIOS)
        rows.append({"anio": anio, "codigo_proyecto": f"CSS-{anio}-{n:03d}", "rol_peru": rol if rng.random() < 0.9 else rol.capitalize(),
                     "pais_socio": socio, "sector": rng.choice(SECTORES)})
    rows.append({"anio": anio, "codigo_proyecto": f"CSS-{anio}-900", "rol_peru": "OFERENTE", "pais_socio": "Tailandia", "sector": "pesca"})
    return rows


def iniciativas(rng: random.Random, anio: int) -> list[dict[str, object]]:
    return [
        {"anio": anio if n < 12 else anio - 1, "iniciativa_id": f"INI-{anio}-{n:02d}", "foro": rng.choice(FOROS),
         "liderada_por_peru": rng.choice(("SI", "Sí", "S", "1")) if rng.random() < 0.7 else rng.choice(("NO", "No", "0"))}
        for n in range(1, rng.randrange(10, 14))
    ]


# --- the 2023 compliance report, constructed (also data/fixtures/2023) ------------------------------

REPORT_YEAR = 2023
# What the 2023 report publishes (reference/reportado_2023.csv) and how the fixture reaches it.
UOCTI_TRAINED = 142  # ISS.01.02.01.01
UOCTI_GOOD = 48  # ISS.01.02.01.02: 48 / 142 = 33.80 %, published as 34 %
UOCTI_NO_GRADE = 12
CSS_PROJECTS = 72  # IOP.03.01 / IOP.03.02
OFFERED_IN_ALC = 32  # 32 / 72 = 44.44 % (the report prints 45.83 % = 33 / 72: flagged)
OFFERED_TO_THAILAND = 3  # 3 / 72 = 4.17 %
ENTITIES_IN_SPACES = 81  # ISS.02.01.01.01, in 2 spaces (ISS.02.01.01.02)
ENTITIES_ASSISTED = 13  # ISS.02.03.01.01
BECAS = (22, 25, 31, 28, 35, 30, 33, 40, 32)  # April–December: 276 (ISS.01.02.02.01)
ESTADISTICAS = (48, 55, 62, 51, 60, 58, 64, 67, 61)  # April–December: 526 (ISS.02.05.01.01)
COMMITMENTS = {"CUMPLIDO": 9, "EN_PROCESO": 4, "PENDIENTE": 2}  # 9 / 15 = 60 % (IOP.02.01)
INITIATIVES_LED, INITIATIVES_NOT_LED = 8, 2  # 8 / 10 = 80 % (IOP.04.01)
ALC_PARTNERS = ("CRI", "BOL", "HND", "DOM", "PAN", "ECU", "URY", "COL", "ARG", "CHL", "BLZ")  # named in the report
RECEIVING_PARTNERS = ("MEX", "BRA", "CHL", "COL", "ARG", "CUB", "URY", "CHN", "IND", "KOR", "TUR", "SGP")
YES = ("SI", "Sí", "si", "S")


def report_capacitaciones(rng: random.Random) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    used: set[str] = set()
    ids = [invented_dni(rng, used) for _ in range(UOCTI_TRAINED)]
    ids[5] = "0" + ids[5][1:]  # a DNI with a leading zero (Excel drops it in the CSV below)
    ids[20] = "0" + ids[20][1:]
    entidades = [rng.choice(ENTIDADES) for _ in ids]
    first: list[dict[str, object]] = []
    second: list[dict[str, object]] = []

    def row(i: int, nota: float | None, **extra: object) -> dict[str, object]:
        return {"anio": REPORT_YEAR, "programa": "CTI", "participante_id": ids[i], "entidad": entidades[i],
                "es_uocti": YES[i % len(YES)], "nota": nota, **extra}

    good_in_second = range(10)  # best grade only in the second-semester roster
    for i in range(UOCTI_TRAINED):
        if i < UOCTI_GOOD:
            if i in good_in_second:
                first.append(row(i, rng.choice((11.0, 12.0, 12.5, 13.0, 13.5))))
                second.append(row(i, rng.choice((14.0, 15.0, 16.5, 18.0)), participante_id=ids[i].lstrip("0")))
            else:
                first.append(row(i, rng.choice((14.0, 14.5, 15.0, 16.0, 17.0, 19.0))))
                if i < 15:  # trained twice in the same roster: one participant, best grade counts
                    first.append(row(i, rng.choice((10.0, 11.5, 13.0))))
        elif i < UOCTI_TRAINED - UOCTI_NO_GRADE:
            first.append(row(i, rng.choice((8.0, 9.5, 10.0, 11.0, 12.0, 12.5, 13.0, 13.5, 13.99))))
            if i < 56:
                second.append(row(i, rng.choice((9.0, 11.0, 13.5)), participante_id=f"  {ids[i]} "))
        else:
            first.append(row(i, None))  # not evaluated: counts in the denominator
            if i < UOCTI_TRAINED - UOCTI_NO_GRADE + 3:
                second.append(row(i, None))
    # 30 CTI trainees outside the UOCTI (not counted), some with good grades
    for _ in range(30):
        second.append({"anio": REPORT_YEAR, "programa": "CTI", "participante_id": invented_dni(rng, used),
                       "entidad": rng.choice(ENTIDADES), "es_uocti": rng.choice(("NO", "No", "N")),
                       "nota": rng.choice((12.0, 15.0, 17.5, None))})
    # noise that must be quarantined: a grade on the wrong scale for someone whose real best is < 14
    second.append(row(60, 25.0))
    return first, second


def report_accesos_web() -> list[dict[str, object]]:
    rows = []
    for offset, (becas, estadisticas) in enumerate(zip(BECAS, ESTADISTICAS, strict=True)):
        mes = 4 + offset  # measured from the policy's approval (April) to December
        rows.append({"anio": REPORT_YEAR, "mes": mes, "seccion": "BECAS" if mes % 2 else "Becas", "accesos": becas})
        rows.append({"anio": REPORT_YEAR, "mes": mes, "seccion": "ESTADISTICAS" if mes % 3 else "Estadísticas", "accesos": estadisticas})
    rows.append({"anio": REPORT_YEAR, "mes": 13, "seccion": "BECAS", "accesos": 12})  # noise: a 13th month
    return rows


def report_espacios(rng: random.Random) -> list[dict[str, object]]:
    entities = list(ENTIDADES[:ENTITIES_IN_SPACES])
    first = {"espacio_id": "EC-2023-01", "nombre_espacio": "Mesa de Coordinación de la CTI con Gobiernos Regionales",
             "fecha": dt.date(2023, 6, 15)}
    second = {"espacio_id": "EC-2023-02", "nombre_espacio": "Encuentro Nacional del Sistema Nacional Descentralizado de CTI",
              "fecha": dt.date(2023, 11, 20)}
    rows = [{"anio": REPORT_YEAR, **first, "entidad_participante": name} for name in entities[:50]]
    for position, name in enumerate(entities[36:]):  # 14 entities attend both spaces, typed differently
        shown = spell_variant(rng, name) if position < 14 else name
        espacio = dict(second, espacio_id="ec-2023-02 ") if position % 10 == 9 else second
        rows.append({"anio": REPORT_YEAR, **espacio, "entidad_participante": shown})
    # noise: last year's minutes filed in this folder (the entity is counted through its 2023 row)
    rows.append({"anio": REPORT_YEAR, **second, "fecha": dt.date(2022, 11, 20), "entidad_participante": entities[3]})
    return rows


def report_compromisos() -> list[dict[str, object]]:
    spellings = {"CUMPLIDO": ("CUMPLIDO", "Cumplido", "cumplido "), "EN_PROCESO": ("EN_PROCESO", "En proceso"), "PENDIENTE": ("Pendiente",)}
    rows = []
    for estado, count in COMMITMENTS.items():
        for k in range(count):
            n = len(rows) + 1
            rows.append({"anio": REPORT_YEAR, "compromiso_id": f"COMP-2023-{n:03d}", "espacio_id": f"EC-2023-0{1 + n % 2}",
                         "estado": spellings[estado][k % len(spellings[estado])]})
    rows.append({"anio": REPORT_YEAR, "compromiso_id": "COMP-2023-016", "espacio_id": "EC-2023-01", "estado": "ANULADO"})
    rows.append({"anio": REPORT_YEAR, "compromiso_id": "COMP-2023-017", "espacio_id": "EC-2023-02", "estado": "CUMPLIDO"})
    rows.append({"anio": REPORT_YEAR, "compromiso_id": "comp-2023-017", "espacio_id": "EC-2023-02", "estado": "PENDIENTE"})
    return rows


def report_asistencia(rng: random.Random) -> list[dict[str, object]]:
    chosen = [ENTIDADES[i] for i in (11, 3, 7, 19, 20, 22, 25, 27, 43, 45, 52, 58, 61)]
    assert len(set(chosen)) == ENTITIES_ASSISTED
    temas = ("Cooperación triangular", "Canje de deuda", "Alianzas multiactor", "Cooperación descentralizada")
    rows = []
    for i, name in enumerate(chosen):
        rows.append({"anio": REPORT_YEAR, "entidad": name, "fecha": dt.date(2023, 5 + i % 7, 3 + i), "tema": temas[i % 4]})
        if i < 6:  # assisted again later in the year, typed by another clerk
            rows.append({"anio": REPORT_YEAR, "entidad": spell_variant(rng, name), "fecha": dt.date(2023, 9 + i % 3, 10 + i),
                         "tema": None if i == 0 else temas[(i + 1) % 4]})
    rows.append({"anio": REPORT_YEAR, "entidad": chosen[0], "fecha": "31/02/2023", "tema": "Canje de deuda"})  # noise
    return rows


def report_proyectos() -> list[dict[str, object]]:
    rows = []
    sectores = ("turismo", "gastronomía", "pesca", "transporte", "gestión pública", "agricultura")
    for k in range(OFFERED_IN_ALC):
        rol = "DOBLE" if k % 8 == 7 else ("OFERENTE" if k % 3 else "oferente")
        rows.append({"pais_socio": ALC_PARTNERS[k % len(ALC_PARTNERS)], "rol_peru": rol, "sector": sectores[k % len(sectores)]})
    for sector in ("desarrollo alternativo", "ciencia y tecnología", "desarrollo de recursos humanos"):
        rows.append({"pais_socio": "THA", "rol_peru": "OFERENTE", "sector": sector})
    receiving = CSS_PROJECTS - OFFERED_IN_ALC - OFFERED_TO_THAILAND
    for k in range(receiving):
        rows.append({"pais_socio": RECEIVING_PARTNERS[k % len(RECEIVING_PARTNERS)].lower() if k % 5 == 0 else RECEIVING_PARTNERS[k % len(RECEIVING_PARTNERS)],
                     "rol_peru": "Receptor" if k % 4 == 0 else "RECEPTOR", "sector": sectores[(k + 2) % len(sectores)]})
    rows = [{"anio": REPORT_YEAR, "codigo_proyecto": f"CSS-2023-{n:03d}", **row} for n, row in enumerate(rows, start=1)]
    # noise: the country typed as a name ("TAI" is no ISO code): quarantined, so 72 projects remain
    rows.append({"anio": REPORT_YEAR, "codigo_proyecto": "CSS-2023-073", "rol_peru": "OFERENTE", "pais_socio": "TAI", "sector": "pesca"})
    return rows


def report_iniciativas() -> list[dict[str, object]]:
    foros = ("OCDE", "AGCED", "SEGIB", "OEA", "Alianza del Pacífico", "APEC", "CELAC", "ONU", "CAN", "OCDE")
    led = list(YES) * 2
    rows = [
        {"anio": REPORT_YEAR, "iniciativa_id": f"INI-2023-{n + 1:02d}", "foro": foros[n],
         "liderada_por_peru": led[n] if n < INITIATIVES_LED else ("NO", "No")[n % 2]}
        for n in range(INITIATIVES_LED + INITIATIVES_NOT_LED)
    ]
    rows.append({"anio": REPORT_YEAR, "iniciativa_id": "INI-2023-11", "foro": "OEA", "liderada_por_peru": "en evaluación"})  # noise
    return rows

def write_report_2023(folder: Path) -> None:
    """The constructed 2023 records that follow every count of the published 2023 compliance report
    (data/fixtures/2023/LEEME.md): the sample's 2023 and the fixture are these same files."""
    rng = random.Random(2023)
    folder.mkdir(parents=True, exist_ok=True)
    first, second = report_capacitaciones(rng)
    write_xlsx(folder / "capacitaciones_2023_programa_cti.xlsx", "capacitaciones", first)
    write_csv(folder / "capacitaciones_2023_segundo_semestre.csv", "capacitaciones", second, encoding="cp1252", separator=";")
    write_csv(folder / "accesos_web_2023_gobpe.csv", "accesos_web", report_accesos_web(), encoding="utf-8-sig", separator=";")
    write_xlsx(folder / "espacios_coordinacion_2023.xlsx", "espacios_coordinacion", report_espacios(rng))
    write_csv(folder / "compromisos_2023.csv", "compromisos", report_compromisos())
    write_xlsx(folder / "asistencia_tecnica_2023.xlsx", "asistencia_tecnica", report_asistencia(rng))
    write_xlsx(folder / "proyectos_css_2023.xlsx", "proyectos_css", report_proyectos())
    write_csv(folder / "iniciativas_internacionales_2023.csv", "iniciativas_internacionales", report_iniciativas(), encoding="cp1252")


def write_random_year(folder: Path, anio: int, rng: random.Random) -> None:
    first, second = capacitaciones(rng, anio)
    write_xlsx(folder / f"capacitaciones_{anio}_primer_semestre.xlsx", "capacitaciones", first)
    write_csv(folder / f"capacitaciones_{anio}_segundo_semestre.csv", "capacitaciones", second, encoding="cp1252", separator=";")
    write_csv(folder / f"accesos_web_{anio}.csv", "accesos_web", accesos_web(rng, anio), encoding="utf-8-sig")
    write_xlsx(folder / f"espacios_coordinacion_{anio}.xlsx", "espacios_coordinacion", espacios(rng, anio))
    write_csv(folder / f"compromisos_{anio}.csv", "compromisos", compromisos(rng, anio), separator=";")
    write_xlsx(folder / f"asistencia_tecnica_{anio}.xlsx", "asistencia_tecnica", asistencia(rng, anio))
    write_xlsx(folder / f"proyectos_css_{anio}.xlsx", "proyectos_css", proyectos(rng, anio))
    write_csv(folder / f"iniciativas_internacionales_{anio}.csv", "iniciativas_internacionales", iniciativas(rng, anio))


def write(landing: Path, years: list[int], rows: int, rng: random.Random) -> None:
    """For each year: the seven kinds (xlsx and CSV, several encodings), bad rows, and an unknown-kind file."""
    for anio in years:
        folder = landing / "registros" / str(anio)
        folder.mkdir(parents=True, exist_ok=True)
        if anio == REPORT_YEAR:
            write_report_2023(folder)  # the year a compliance report was published: follow its counts
        else:
            write_random_year(folder, anio, rng)
        if anio == max(years):
            # a file nobody defined a kind for: rejected whole, with the list of kinds
            (folder / f"becas_postulantes_{anio}.csv").write_text(f"anio,beca,postulantes\r\n{anio},Japón MEXT,310\r\n", encoding="utf-8")
