"""Realistic, deterministic Declaración Anual files, with deliberate mistakes an entity would make."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import random
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook

from cti_pipeline.contracts.declaracion import DECLARACION
from cti_pipeline.contracts.schema import ruc_check_digit
from cti_pipeline.sample.registros import reproducible_zip

ORGANISATION_WORDS = (
    ("Asociación", "Centro", "Instituto", "Fundación", "Red", "Consorcio", "Servicio", "Programa"),
    ("Andino", "Amazónico", "Peruano", "Regional", "Rural", "Comunitario", "Solidario", "Sostenible"),
    ("para el Desarrollo", "de Salud Integral", "de Educación Popular", "de Agua y Saneamiento",
     "de Gestión Ambiental", "de Promoción Social", "de Innovación Agraria", "de Derechos Humanos"),
)
PUBLIC_ENTITIES = (
    "Gobierno Regional de Cusco", "Gobierno Regional de Junín", "Municipalidad Provincial de Piura",
    "Ministerio de Salud", "Ministerio de Educación", "Ministerio del Ambiente",
    "Municipalidad Distrital de San Juan de Lurigancho", "Gobierno Regional de Loreto",
)
SOURCES = (  # (fuente_cooperante, pais_fuente, tipo_cooperacion)
    ("Agencia de Cooperación Internacional del Japón (JICA)", "JPN", "BILATERAL"),
    ("Agencia Española de Cooperación Internacional para el Desarrollo (AECID)", "ESP", "BILATERAL"),
    ("Cooperación Alemana (GIZ)", "DEU", "BILATERAL"),
    ("Agencia de Cooperación Internacional de Corea (KOICA)", "KOR", "BILATERAL"),
    ("Cooperación Suiza (SECO)", "CHE", "BILATERAL"),
    ("Global Affairs Canada", "CAN", "BILATERAL"),
    ("Unión Europea", "", "MULTILATERAL"),
    ("Programa de las Naciones Unidas para el Desarrollo (PNUD)", "", "MULTILATERAL"),
    ("Fondo de las Naciones Unidas para la Infancia (UNICEF)", "", "MULTILATERAL"),
    ("Banco Interamericano de Desarrollo (BID)", "", "MULTILATERAL"),
    ("Fundación Ford", "USA", "PRIVADA"),
    ("Fundación Bill y Melinda Gates", "USA", "PRIVADA"),
    ("Manos Unidas", "ESP", "PRIVADA"),
    ("Misereor", "DEU", "PRIVADA"),
)
TOPICS = (
    "Fortalecimiento de capacidades en", "Mejora del acceso a", "Gestión integral de", "Promoción de",
    "Innovación en", "Articulación territorial para",
)
SUBJECTS = (
    "agua potable y saneamiento rural", "salud materno-infantil", "educación intercultural bilingüe",
    "cadenas productivas de café y cacao", "gestión de riesgos de desastres", "conservación de bosques amazónicos",
    "gobernanza regional", "prevención de la violencia de género", "empleo juvenil", "seguridad alimentaria",
)
AREAS = ("AP01", "AP02", "AP03", "AP04", "AP99")
AREA_WEIGHTS = (30, 20, 25, 18, 7)
HEADERS = [c.name for c in DECLARACION.columns]
PRETTY_HEADERS = {  # how a person types the headers in a workbook; the pipeline matches them loosely
    "anio": "Año", "ruc_entidad": "RUC Entidad", "nombre_entidad": "Nombre Entidad", "tipo_entidad": "Tipo Entidad",
    "codigo_intervencion": "Código Intervención", "titulo": "Título", "fuente_cooperante": "Fuente Cooperante",
    "pais_fuente": "País Fuente", "tipo_cooperacion": "Tipo Cooperación", "area_prioritaria": "Área Prioritaria",
    "ods": "ODS", "departamento": "Departamento", "moneda": "Moneda", "monto_ejecutado": "Monto Ejecutado",
    "beneficiarios": "Beneficiarios", "participa_empresa_privada": "Participa Empresa Privada",
    "fecha_inicio": "Fecha Inicio", "fecha_fin": "Fecha Fin",
}


@dataclass(frozen=True)
class Entity:
    ruc: str
    nombre: str
    tipo: str


LATE_POSITION = 5  # this entity's only file arrives after the deadline


def LATE_FILING(anio: int) -> dt.datetime:  # noqa: N802 - a constant of the sample, by year
    return dt.datetime(anio + 1, 4, 15, 10, 0)


def fixed_entity(first_ten: str, nombre: str, tipo: str) -> Entity:
    return Entity(first_ten + str(ruc_check_digit(first_ten)), nombre, tipo)


# A registered entity whose only declaration is rejected (RECHAZADA), and ones that never file (OMISA).
REJECTED_ENTITY = fixed_entity("2060099901", "Fundación Sin Moneda", "ONGD")
NEVER_FILING = (
    fixed_entity("2060099902", "Asociación Andina Omisa", "ONGD"),
    fixed_entity("2060099903", "Cooperación Técnica del Sur Omisa", "ENIEX"),
    fixed_entity("2060099904", "Municipalidad Provincial Omisa", "ENTIDAD_PUBLICA"),
)


def make_ruc(rng: random.Random, prefix: str = "20") -> str:
    first_ten = prefix + "".join(str(rng.randint(0, 9)) for _ in range(8))
    return first_ten + str(ruc_check_digit(first_ten))


def make_entities(rng: random.Random, count: int) -> list[Entity]:
    entities: list[Entity] = []
    names: set[str] = set()
    while len(entities) < count:
        tipo = rng.choices(("ONGD", "ENIEX", "IPREDA", "ENTIDAD_PUBLICA"), weights=(50, 20, 10, 20))[0]
        if tipo == "ENTIDAD_PUBLICA":
            nombre = rng.choice(PUBLIC_ENTITIES)
        else:
            nombre = " ".join(rng.choice(words) for words in ORGANISATION_WORDS)
        if nombre in names:
            continue
        names.add(nombre)
        entities.append(Entity(make_ruc(rng), nombre, tipo))
    return entities


def make_row(rng: random.Random, entity: Entity, anio: int, number: int) -> dict[str, object]:
    fuente, pais, tipo_cooperacion = rng.choice(SOURCES)
    start = dt.date(anio - rng.randint(0, 3), rng.randint(1, 12), 1)
    end = dt.date(anio + rng.randint(0, 2), rng.randint(1, 12), 28)
    moneda = rng.choice(("PEN", "PEN", "USD"))
    monto = round(rng.lognormvariate(11 if moneda == "PEN" else 10, 1.1), 2)
    return {
        "anio": anio,
        "ruc_entidad": entity.ruc,
        "nombre_entidad": entity.nombre,
        "tipo_entidad": entity.tipo,
        "codigo_intervencion": f"{entity.ruc[-4:]}-{anio}-{number:03d}",
        "titulo": f"{rng.choice(TOPICS)} {rng.choice(SUBJECTS)}",
        "fuente_cooperante": fuente,
        "pais_fuente": pais,
        "tipo_cooperacion": tipo_cooperacion,
        "area_prioritaria": rng.choices(AREAS, weights=AREA_WEIGHTS)[0],
        "ods": rng.choice((1, 2, 3, 4, 5, 6, 8, 10, 13, 15, 16, 17, None)),
        "departamento": f"{rng.randint(0, 25):02d}",
        "moneda": moneda,
        "monto_ejecutado": monto,
        "beneficiarios": rng.choice((None, rng.randint(20, 5000))),
        "participa_empresa_privada": rng.choices(("SI", "NO"), weights=(15, 85))[0],
        "fecha_inicio": start,
        "fecha_fin": max(end, start + dt.timedelta(days=90), dt.date(anio, 1, 31)),
    }


MISTAKES = (
    ("ruc_entidad", lambda row: row["ruc_entidad"][:-1] + str((int(row["ruc_entidad"][-1]) + 1) % 10)),
    ("titulo", lambda row: ""),
    ("area_prioritaria", lambda row: "AP07"),
    ("monto_ejecutado", lambda row: -abs(float(row["monto_ejecutado"]))),
    ("fecha_fin", lambda row: dt.date(row["anio"] - 5, 1, 1)),
    ("moneda", lambda row: "EUR"),
    ("ods", lambda row: 18),
)


def spoil(rng: random.Random, row: dict[str, object]) -> None:
    column, mistake = rng.choice(MISTAKES)
    row[column] = mistake(row)


def write_xlsx(path: Path, rows: list[dict[str, object]]) -> None:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Intervenciones")
    sheet.append([PRETTY_HEADERS[h] for h in HEADERS])
    for row in rows:
        sheet.append([row[h] for h in HEADERS])
    buffer = io.BytesIO()
    workbook.save(buffer)
    path.write_bytes(reproducible_zip(buffer.getvalue()))


def write_csv(path: Path, rows: list[dict[str, object]], encoding: str, separator: str) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=separator, lineterminator="\r\n")
    writer.writerow(HEADERS)
    for row in rows:
        values = []
        for header in HEADERS:
            value = row[header]
            if isinstance(value, dt.date):
                value = value.strftime("%d/%m/%Y") if separator == ";" else value.isoformat()
            elif isinstance(value, float) and separator == ";":
                value = f"{value:.2f}".replace(".", ",")
            values.append("" if value is None else value)
        writer.writerow(values)
    path.write_bytes(buffer.getvalue().encode(encoding))


def write_year(landing: Path, anio: int, rows: int, rng: random.Random, entities: list[Entity]) -> list[Path]:
    """One file per entity (xlsx or CSV in several encodings), a re-submission and a few bad files."""
    folder = landing / "declaraciones" / str(anio)
    folder.mkdir(parents=True, exist_ok=True)
    per_entity = max(1, rows // len(entities))
    base_time = dt.datetime(anio + 1, 2, 1, 9, 0).timestamp()
    written: list[Path] = []
    for position, entity in enumerate(entities):
        data = [make_row(rng, entity, anio, n + 1) for n in range(per_entity)]
        for row in data:
            if rng.random() < 0.02:
                spoil(rng, row)
        slug = f"{position + 1:03d}_{entity.ruc}"
        style = position % 5
        if style == 3:
            path = folder / f"declaracion_{slug}.csv"
            write_csv(path, data, "cp1252", ";")
        elif style == 4:
            path = folder / f"declaracion_{slug}.csv"
            write_csv(path, data, "utf-8-sig", ",")
        else:
            path = folder / f"Declaracion Anual {anio} - {slug}.xlsx"
            write_xlsx(path, data)
        # One entity files after the first-quarter deadline (the filing tracker's fuera_de_plazo).
        filed_at = LATE_FILING(anio).timestamp() if position == LATE_POSITION else base_time + position * 3600
        os.utime(path, (filed_at, filed_at))
        written.append(path)

    # A corrected re-submission of the first entity: the earlier file's rows become `superseded`.
    first = entities[0]
    corrected = [make_row(rng, first, anio, n + 1) for n in range(per_entity)]
    path = folder / f"Declaracion Anual {anio} - 001_{first.ruc} (corregida).xlsx"
    write_xlsx(path, corrected)
    os.utime(path, (base_time + 90 * 86400, base_time + 90 * 86400))
    written.append(path)

    # Files an entity should hear about: not a workbook, and one without the `moneda` column (the only file of
    # a registered entity, which is then RECHAZADA in the filing tracker).
    (folder / "declaracion_escaneada.xlsx").write_bytes(b"%PDF-1.4 not really a workbook")
    broken = [{k: v for k, v in make_row(rng, entities[1], anio, 900).items()}]
    broken[0].update(ruc_entidad=REJECTED_ENTITY.ruc, nombre_entidad=REJECTED_ENTITY.nombre, tipo_entidad=REJECTED_ENTITY.tipo)
    path = folder / f"declaracion_{REJECTED_ENTITY.ruc}_sin_moneda.csv"
    write_csv(path, broken, "utf-8", ",")
    text = path.read_text(encoding="utf-8").splitlines()
    header = text[0].split(",")
    drop = header.index("moneda")
    path.write_text("\r\n".join(",".join(c for i, c in enumerate(line.split(",")) if i != drop) for line in text) + "\r\n", encoding="utf-8")
    for rejected in (path, folder / "declaracion_escaneada.xlsx"):
        os.utime(rejected, (base_time, base_time))
    # An office lock file left open by a colleague: ignored silently.
    (folder / f"~$Declaracion Anual {anio} - 002.xlsx").write_bytes(b"lock")
    return written


def write(landing: Path, years: list[int], rows: int, rng: random.Random) -> list[Entity]:
    """The declarations of every year; the entities that filed (the registry is written from them)."""
    entities = make_entities(rng, 24)
    for anio in years:
        write_year(landing, anio, rows, rng, entities)
    return entities
