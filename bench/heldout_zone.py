"""A held-out landing zone for the benchmark: about 100,000 declaration rows in about 500 entity files.

    .venv/bin/python bench/heldout_zone.py --out bench/out/heldout_100k/data
    .venv/bin/python bench/run.py --zone bench/out/heldout_100k/data --year 2024 --sensor-files 0

What it writes (year 2024 by default):
- `OUT/landing/declaraciones/2024/`: with the defaults 496 files (488 entities' first files, 4 later or
  tied files of re-submitting entities, 4 files to reject), ~70 % `.xlsx` and ~30 % `.csv`.
  * Workbooks start from the official template (`cti-pipeline template declaracion`, sheets
    `intervenciones`, `instrucciones`, `listas`, its dropdowns and column formats) and are filled and
    saved with openpyxl in normal mode, as an entity filling the template in Excel would leave them:
    real date cells, cells keeping the template's column format (`@` for text), and per entity some
    habits: RUCs stored as numbers (all or some rows), `departamento` typed as a number (`8`),
    numeric intervention codes, headers retyped with accents and capitals (`Código Intervención`,
    `Año`), an extra `observaciones` column, the sheet renamed `Intervenciones` or `Intervenciones 2024`
    (then no sheet has the contract's name and the first sheet is read).
  * CSV files in the encodings and separators the contract allows: UTF-8 with `,` and ISO dates;
    UTF-8 with BOM and `;` with decimal comma or with `.`; Windows-1252 with `;`, decimal comma,
    `DD/MM/YYYY` dates and `departamento` without its leading zero. `SI`/`NO` spelt as Excel users
    do (`Sí`, `si`, `No`, and in one file `S`/`N`, all meaning SI/NO by the contract's matching rules).
- about 2 % of the rows break one rule of the contract (see SPOILS; counts in the manifest), and
  some pairs of rows repeat an intervention code within a file (`clave_duplicada`, both rows);
- re-submissions: three entities send a corrected file later (their first file is superseded),
  one entity sends two files with the same modification time (`reenvio_ambiguo`), one entity's
  newer file is an unreadable workbook (rejected, so its older file still counts);
- files rejected whole: the unreadable workbook above, a workbook whose `moneda` column was
  deleted, a CSV without `fecha_fin`, an empty CSV; plus an office lock file (ignored silently);
- `OUT/../heldout_manifest.json`: every file, its format, rows, spoiled rows by kind, and the counts
  the contract implies (rows read, superseded, quarantined, staged), computed from the plan here.
  `bench/run.py --zone` checks the warehouse against bench/naive.py's counts only; compare it with
  this manifest's `expected` as well.

Why it is independent of the project: it does not import `cti_pipeline` (no `cti_pipeline.sample`
row factories, no `bench/generate.py`, not the project's RUC helper); it reads only the template
the CLI writes (what entities receive) and the reference catalogs in `data/reference/*.csv` (what
the contract points to). Names, sources, sizes, spoil kinds and seed (7341) are its own, and the
workbooks are real openpyxl workbooks from the template rather than minimal SpreadsheetML.
Deterministic: one seeded plan, and one RNG per file seeded from (seed, file number); CSV files are
byte-identical between runs, workbooks identical in content (openpyxl stamps the save time in them).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "data" / "reference"
CLI = str(Path(sys.executable).parent / "cti-pipeline")

COLUMNS = ["anio", "ruc_entidad", "nombre_entidad", "tipo_entidad", "codigo_intervencion", "titulo", "fuente_cooperante",
           "pais_fuente", "tipo_cooperacion", "area_prioritaria", "ods", "departamento", "moneda", "monto_ejecutado",
           "beneficiarios", "participa_empresa_privada", "fecha_inicio", "fecha_fin"]
PRETTY = {"anio": "Año", "ruc_entidad": "RUC Entidad", "nombre_entidad": "Nombre Entidad",
          "tipo_entidad": "Tipo Entidad", "codigo_intervencion": "Código Intervención", "titulo": "Título",
          "fuente_cooperante": "Fuente Cooperante", "pais_fuente": "País Fuente", "tipo_cooperacion": "Tipo Cooperación",
          "area_prioritaria": "Área Prioritaria", "ods": "ODS", "departamento": "Departamento", "moneda": "Moneda",
          "monto_ejecutado": "Monto Ejecutado", "beneficiarios": "Beneficiarios",
          "participa_empresa_privada": "Participa Empresa Privada", "fecha_inicio": "Fecha Inicio", "fecha_fin": "Fecha Fin"}

# --- the contract's RUC rule, written out again from declaracion_anual.md ---------------------------------

WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def check_digit(first_ten: str) -> int:
    r = 11 - sum(int(d) * w for d, w in zip(first_ten, WEIGHTS)) % 11
    return {10: 0, 11: 1}.get(r, r)


def make_ruc(rng: random.Random, prefix: str) -> str:
    body = prefix + "".join(rng.choice("0123456789") for _ in range(8))
    return body + str(check_digit(body))


# --- vocabulary (this file's own) ------------------------------------------------------------------------

BILATERAL = [("Agencia de Cooperación Internacional del Japón - JICA", "JPN"), ("Deutsche Gesellschaft für Internationale Zusammenarbeit (GIZ)", "DEU"),
             ("USAID Perú", "USA"), ("AECID - Oficina Técnica de Cooperación en Perú", "ESP"), ("KOICA Perú", "KOR"),
             ("Cooperación Suiza en Perú - SECO", "CHE"), ("Global Affairs Canada", "CAN"), ("Agence Française de Développement", "FRA"),
             ("Agenzia Italiana per la Cooperazione allo Sviluppo", "ITA"), ("Embajada de los Países Bajos", "NLD"),
             ("Enabel - Agencia Belga de Desarrollo", "BEL"), ("AGCID Chile", "CHL"), ("AMEXCID", "MEX"),
             ("Foreign, Commonwealth & Development Office", "GBR"), ("Asdi - Agencia Sueca de Cooperación", "SWE"),
             ("Ministerio de Asuntos Exteriores de Finlandia", "FIN"), ("Norad", "NOR"), ("Agência Brasileira de Cooperação", "BRA"),
             ("APC-Colombia", "COL"), ("Fundación Interamericana (IAF)", "USA"), ("Embajada de Australia", "AUS"), ("TIKA", "TUR")]
MULTILATERAL = ["PNUD", "UNICEF", "FAO", "OPS/OMS", "UNFPA", "OIT", "ONU Mujeres", "Banco Interamericano de Desarrollo",
                "Banco Mundial", "Unión Europea", "CAF - Banco de Desarrollo de América Latina", "FIDA", "Programa Mundial de Alimentos",
                "ACNUR", "OIM", "UNESCO", "UNODC", "Fondo Mundial de lucha contra el Sida, la Tuberculosis y la Malaria", "GEF"]
PRIVATE = [("Fundación Bill & Melinda Gates", "USA"), ("Ford Foundation", "USA"), ("W.K. Kellogg Foundation", "USA"), ("Manos Unidas", "ESP"),
           ("Misereor", "DEU"), ("Pan para el Mundo", "DEU"), ("Oxfam Intermón", "ESP"), ("Fundación Avina", "PAN"), ("Plan International", "GBR"),
           ("World Vision International", "USA"), ("Save the Children International", "GBR"), ("Caritas Alemania", "DEU"),
           ("Open Society Foundations", "USA"), ("Ayuda en Acción", "ESP"), ("CARE USA", "USA"), ("Heifer International", "USA"),
           ("Terre des Hommes Suiza", "CHE"), ("MacArthur Foundation", "USA"), ("Broederlijk Delen", "BEL"), ("Cordaid", "NLD"),
           ("Acción Cuaresmal (Fastenopfer)", "CHE"), ("Welthungerhilfe", "DEU")]
ACTIONS = ["Fortalecimiento de", "Mejora de", "Promoción de", "Apoyo a", "Desarrollo de", "Implementación de", "Ampliación de",
           "Recuperación de", "Gestión integral de", "Articulación de"]
OBJECTS = ["capacidades productivas de mujeres rurales", "la cadena de valor del cacao", "servicios de agua y saneamiento",
           "la atención primaria de salud materno-infantil", "la educación intercultural bilingüe", "la gobernanza forestal comunitaria",
           "la prevención de la violencia de género", "emprendimientos juveniles", "sistemas de alerta temprana ante heladas",
           "la seguridad alimentaria y nutricional", "la inclusión financiera", "la conservación de bosques amazónicos",
           "la transparencia en la gestión municipal", "la reinserción de población migrante", "la innovación agraria",
           "la reducción de la anemia infantil", "los derechos de personas con discapacidad", "la adaptación al cambio climático",
           "la formalización minera", "el turismo rural comunitario", "la salud mental comunitaria", "los residuos sólidos"]
ORG_WORDS = ["Andino", "Amazónico", "Pachamama", "Solidaridad", "Esperanza", "Progreso", "Wiñay", "Allin Kawsay", "Integral",
             "Nuevo Horizonte", "Manantial", "Sembrando", "Raíces", "Ayni", "Qhapaq", "Vida Digna", "Mujer y Familia", "Tierra Fértil",
             "Sur Sostenible", "Chirapaq", "Illariy", "Minka", "Kusi", "Yachay", "Sumaq", "Tinkuy"]
PUBLIC = ["Gobierno Regional de {d}", "Municipalidad Provincial de {d}", "Municipalidad Distrital de San Juan de {d}",
          "Universidad Nacional de {d}", "Dirección Regional de Salud {d}", "Hospital Regional de {d}"]
MINISTRIES = ["Ministerio de Salud", "Ministerio de Educación", "Ministerio del Ambiente", "Ministerio de Desarrollo Agrario y Riego",
              "Ministerio de la Mujer y Poblaciones Vulnerables", "Ministerio de Desarrollo e Inclusión Social", "Ministerio de la Producción",
              "Servicio Nacional de Áreas Naturales Protegidas", "Instituto Nacional de Innovación Agraria", "CONCYTEC"]

# spoil kind -> (weight, allowed in xlsx). The template's validations stop some errors at typing time, but
# entities paste rows from other sheets (validation does not run on paste), so xlsx gets them too, less often.
SPOILS = {
    "ruc_digito_verificador": (12, True),   # 11 digits, right prefix, wrong check digit
    "ruc_10_digitos": (3, False),           # a digit lost
    "obligatorio_vacio": (12, True),        # a required cell left blank
    "area_desconocida": (9, True),          # AP06, AP10, AP00
    "monto_negativo": (9, True),
    "monto_no_numerico": (2, False),        # "n/d", "S/ 1200"
    "fecha_fin_anterior": (9, True),        # end before start
    "fuera_del_anio": (7, True),            # the intervention does not overlap the declared year
    "fecha_invalida": (3, False),           # 31/02/2024, 2024-13-05
    "moneda_invalida": (6, True),           # EUR, SOLES, S/
    "ods_fuera_de_rango": (6, True),        # 0, 18, 20
    "departamento_desconocido": (4, True),  # 26, 99
    "pais_invalido": (4, True),             # PERU, UK, XXX
    "anio_distinto": (4, True),             # 2023 in the 2024 folder
    "tipo_entidad_invalido": (3, True),     # ONG, PUBLICA
    "beneficiarios_negativo": (2, True),
}
SPOIL_RATE = 0.0185  # plus the duplicated-key pairs (~0.15 % of rows): about 2 % in all
DUP_PAIR_RATE = 0.0008


@dataclass
class Entity:
    ruc: str
    nombre: str
    tipo: str
    sigla: str
    home: str  # a departamento code where most of its work is


@dataclass
class FileSpec:
    number: int
    name: str
    entity: Entity
    fmt: str  # xlsx | csv
    style: dict[str, object]
    rows: int
    mtime_ns: int
    role: str = "normal"  # normal | superseded_later | resubmission | ambiguous | corrupt | no_moneda | no_fecha_fin | empty
    spoils: dict[int, str] = field(default_factory=dict)  # row index (0-based data row) -> kind
    dup_pairs: list[tuple[int, int]] = field(default_factory=list)  # (source row, copy row)


# --- the plan ----------------------------------------------------------------------------------------------


def read_codes(name: str, column: str) -> list[str]:
    with open(REFERENCE / name, encoding="utf-8", newline="") as handle:
        return [row[column] for row in csv.DictReader(handle)]


def entity_name(rng: random.Random, tipo: str, departamentos: dict[str, str]) -> tuple[str, str]:
    """A name for an entity of `tipo`, and the departamento where it mostly works."""
    dep = rng.choice([c for c in departamentos if c != "00"])
    place = departamentos[dep]
    word = rng.choice(ORG_WORDS)
    if tipo == "ENTIDAD_PUBLICA":
        name = rng.choice(MINISTRIES) if rng.random() < 0.15 else rng.choice(PUBLIC).format(d=place)
        if name in MINISTRIES:
            dep = "00"
    elif tipo == "ONGD":
        name = rng.choice(["Asociación {w}", "Centro de Estudios {w}", "Instituto {w} para el Desarrollo", "Asociación Civil {w} - {p}",
                           "ONG {w}"]).format(w=word, p=place)
    elif tipo == "ENIEX":
        name = rng.choice(["{w} International - Sucursal Perú", "Fundación {w} (Perú)", "Stichting {w} Perú", "{w} e.V. Oficina Perú"]).format(w=word)
    else:
        name = rng.choice(["Congregación Hermanas de {w}", "Hogar de Ancianos {w}", "Asilo {w} de {p}", "Obra Social {w}"]).format(w=word, p=place)
    return name, dep


def row_counts(rng: random.Random, files: int, total: int) -> list[int]:
    """Heavy-tailed sizes (a few big NGOs and ministries, many small ones) summing exactly to `total`."""
    raw = [math.exp(rng.gauss(0, 1.0)) for _ in range(files)]
    scale = total / sum(raw)
    counts = [max(3, min(3000, round(r * scale))) for r in raw]
    i = 0
    while sum(counts) != total:  # nudge to the exact total
        step = 1 if sum(counts) < total else -1
        j = i % files
        if 3 <= counts[j] + step <= 3000:
            counts[j] += step
        i += 1
    return counts


def plan(seed: int, anio: int, total_rows: int, entity_files: int) -> list[FileSpec]:
    rng = random.Random(seed)
    departamentos = dict(zip(read_codes("departamentos.csv", "codigo"), read_codes("departamentos.csv", "nombre")))
    seen: set[str] = set()
    entities: list[Entity] = []
    while len(entities) < entity_files:
        tipo = rng.choices(["ONGD", "ENIEX", "IPREDA", "ENTIDAD_PUBLICA"], [45, 20, 10, 25])[0]
        ruc = make_ruc(rng, rng.choices(["20", "15", "16", "17"], [94, 2, 2, 2])[0])
        if ruc in seen:
            continue
        seen.add(ruc)
        nombre, home = entity_name(rng, tipo, departamentos)
        sigla = "".join(part[0] for part in nombre.replace("-", " ").split() if part[0].isupper())[:5] or "ENT"
        entities.append(Entity(ruc, nombre, tipo, sigla, home))

    # the extra files of the re-submission cases take their rows from the same budget
    resubmit = [0, 1, 2]  # entity indices (after shuffling) that send a corrected file later
    ambiguous, corrupt_newer = 3, 4
    counts = row_counts(rng, entity_files + len(resubmit) + 1, total_rows)
    base = int(dt.datetime(2025, 3, 3, 8, 30).timestamp()) * 10**9
    specs: list[FileSpec] = []
    csv_styles = ["utf8_comma", "utf8bom_semicolon_comma", "utf8bom_semicolon_dot", "cp1252_semicolon_comma"]
    for i, entity in enumerate(entities):
        fmt = "xlsx" if rng.random() < 0.70 else "csv"
        specs.append(FileSpec(i, file_name(rng, entity, anio, fmt), entity, fmt, style(rng, fmt, csv_styles), counts[i],
                              base + i * 83 * 10**9 + rng.randrange(10**9)))
    # later corrected files: 12 to 20 days after the first, another name, maybe another format
    for k, idx in enumerate(resubmit):
        first = specs[idx]
        first.role = "superseded_later"
        fmt = rng.choice(["xlsx", "csv"])
        name = Path(first.name).stem + rng.choice([" - corregido", "_v2", " (rectificación)"]) + "." + fmt
        specs.append(FileSpec(len(specs), name, first.entity, fmt, style(rng, fmt, csv_styles), counts[entity_files + k],
                              first.mtime_ns + rng.randint(12, 20) * 86400 * 10**9, role="resubmission"))
    # two files of one RUC with the very same modification time
    first = specs[ambiguous]
    first.role = "ambiguous"
    specs.append(FileSpec(len(specs), Path(first.name).stem + "_copia.xlsx", first.entity, "xlsx", style(rng, "xlsx", csv_styles),
                          counts[entity_files + len(resubmit)], first.mtime_ns, role="ambiguous"))
    # an unreadable newer file of an entity whose older file is fine
    older = specs[corrupt_newer]
    specs.append(FileSpec(len(specs), Path(older.name).stem + "_final.xlsx", older.entity, "xlsx", {}, 0,
                          older.mtime_ns + 5 * 86400 * 10**9, role="corrupt"))
    # files rejected whole for a missing required column, and an empty CSV (their rows are not read)
    extra_entities = []
    for role, fmt in (("no_moneda", "xlsx"), ("no_fecha_fin", "csv"), ("empty", "csv")):
        tipo = rng.choice(["ONGD", "IPREDA"])
        nombre, home = entity_name(rng, tipo, departamentos)
        sigla = "".join(part[0] for part in nombre.replace("-", " ").split() if part[0].isupper())[:5] or "ENT"
        entity = Entity(make_ruc(rng, "20"), nombre, tipo, sigla, home)
        extra_entities.append(entity)
        specs.append(FileSpec(len(specs), file_name(rng, entity, anio, fmt), entity, fmt, style(rng, fmt, csv_styles),
                              0 if role == "empty" else rng.randint(40, 160), base + rng.randrange(40_000) * 10**9, role=role))

    # spoiled rows and duplicated keys, planned here so that the manifest knows them
    kinds = list(SPOILS)
    for spec in specs:
        if spec.role in ("corrupt", "empty"):
            continue
        allowed = [k for k in kinds if spec.fmt == "csv" or SPOILS[k][1]]
        weights = [SPOILS[k][0] for k in allowed]
        for row in range(spec.rows):
            if rng.random() < SPOIL_RATE:
                spec.spoils[row] = rng.choices(allowed, weights)[0]
        clean = [r for r in range(spec.rows) if r not in spec.spoils]
        pairs = sum(rng.random() < DUP_PAIR_RATE * 2 for _ in range(spec.rows)) // 2 if spec.rows >= 4 else 0
        for _ in range(min(pairs, len(clean) // 2)):
            a, b = rng.sample(clean, 2)
            clean.remove(a)
            clean.remove(b)
            spec.dup_pairs.append((min(a, b), max(a, b)))
    return specs


USED_NAMES: set[str] = set()


def file_name(rng: random.Random, entity: Entity, anio: int, fmt: str) -> str:
    """A file name as entities choose them; the RUC is added when the short form is already taken."""
    pattern = rng.choice(["DA{y}_{ruc}", "Declaracion Anual {y} - {sigla}", "declaracion_{y}_{ruc}", "{sigla} DACTI {y}",
                          "Plantilla declaración {y} {ruc}", "{ruc}-{y}-intervenciones", "DA {y} {sigla} ({ruc})"])
    name = pattern.format(y=anio, ruc=entity.ruc, sigla=entity.sigla)
    if name.lower() in USED_NAMES:
        name = f"{name} {entity.ruc}"
    USED_NAMES.add(name.lower())
    return name + "." + fmt


def style(rng: random.Random, fmt: str, csv_styles: list[str]) -> dict[str, object]:
    if fmt == "xlsx":
        return {
            "ruc_numeric": rng.choices(["no", "all", "some"], [70, 20, 10])[0],
            "departamento_numeric": rng.random() < 0.15,
            "numeric_codes": rng.random() < 0.10,
            "pretty_headers": rng.random() < 0.30,
            "extra_column": rng.random() < 0.05,
            # the sheet renamed: only the capital (the contract's name still matches), or with the year
            # (no sheet of the contract's name is left: the first sheet is read)
            "sheet_title": rng.choice(["Intervenciones", "Intervenciones 2024"]) if rng.random() < 0.05 else None,
        }
    encoding = rng.choices(csv_styles, [40, 20, 10, 30])[0]
    return {
        "csv": encoding,
        "si_no": rng.choices(["SI/NO", "Sí/No", "si/no", "S/N"], [60, 25, 14, 1])[0],
        "pretty_headers": rng.random() < 0.25,
        "departamento_unpadded": encoding.startswith("cp1252") and rng.random() < 0.5,
    }


# --- one row -------------------------------------------------------------------------------------------------


def make_row(rng: random.Random, spec: FileSpec, index: int, anio: int, codes: dict[str, list[str]], departamentos: dict[str, str]) -> dict:
    entity = spec.entity
    tipo_coop = rng.choices(["BILATERAL", "MULTILATERAL", "PRIVADA"], [45, 30, 25])[0]
    if tipo_coop == "BILATERAL":
        fuente, pais = rng.choice(BILATERAL)
    elif tipo_coop == "MULTILATERAL":
        fuente, pais = rng.choice(MULTILATERAL), None
    else:
        fuente, pais = rng.choice(PRIVATE)
    dep = entity.home if rng.random() < 0.6 else rng.choice(codes["departamentos"])
    start = dt.date(2017, 1, 1) + dt.timedelta(days=int((dt.date(anio, 12, 31) - dt.date(2017, 1, 1)).days * rng.random() ** 0.6))
    end = start + dt.timedelta(days=rng.randint(60, 1800))
    if end < dt.date(anio, 1, 1):
        end = dt.date(anio, 1, 1) + dt.timedelta(days=rng.randint(0, 900))
    moneda = "USD" if (entity.tipo == "ENIEX") == (rng.random() < 0.8) else "PEN"
    monto = round(math.exp(rng.uniform(math.log(800), math.log(3_000_000))), 2)
    if spec.style.get("numeric_codes"):
        codigo: object = 1000 + index
    else:
        codigo = f"{entity.sigla}-{anio}-{index + 1:04d}"
    place = departamentos.get(dep, "") if dep != "00" else "el ámbito nacional"
    return {
        "anio": anio,
        "ruc_entidad": entity.ruc,
        "nombre_entidad": entity.nombre,
        "tipo_entidad": entity.tipo,
        "codigo_intervencion": codigo,
        "titulo": f"{rng.choice(ACTIONS)} {rng.choice(OBJECTS)} en {place}".replace(" de el ", " del "),
        "fuente_cooperante": fuente,
        "pais_fuente": pais,
        "tipo_cooperacion": tipo_coop,
        "area_prioritaria": rng.choices(codes["areas"], [22, 18, 22, 22, 16])[0],
        "ods": rng.randint(1, 17) if rng.random() < 0.85 else None,
        "departamento": dep,
        "moneda": moneda,
        "monto_ejecutado": monto,
        "beneficiarios": int(math.exp(rng.uniform(math.log(5), math.log(60_000)))) if rng.random() < 0.75 else None,
        "participa_empresa_privada": "SI" if rng.random() < 0.2 else "NO",
        "fecha_inicio": start,
        "fecha_fin": end,
    }


def spoil(rng: random.Random, row: dict, kind: str, anio: int) -> None:
    if kind == "ruc_digito_verificador":
        ruc = row["ruc_entidad"]
        row["ruc_entidad"] = ruc[:10] + str((int(ruc[10]) + rng.randint(1, 9)) % 10)
    elif kind == "ruc_10_digitos":
        ruc = row["ruc_entidad"]
        cut = rng.randrange(2, 11)
        row["ruc_entidad"] = ruc[:cut] + ruc[cut + 1:]
    elif kind == "obligatorio_vacio":
        row[rng.choice(["nombre_entidad", "titulo", "fuente_cooperante", "codigo_intervencion", "tipo_cooperacion", "area_prioritaria",
                        "departamento", "moneda", "monto_ejecutado", "participa_empresa_privada", "fecha_inicio", "fecha_fin",
                        "anio", "tipo_entidad"])] = None
    elif kind == "area_desconocida":
        row["area_prioritaria"] = rng.choice(["AP06", "AP10", "AP00", "AP5"])
    elif kind == "monto_negativo":
        row["monto_ejecutado"] = -row["monto_ejecutado"]
    elif kind == "monto_no_numerico":
        row["monto_ejecutado"] = rng.choice(["n/d", "S/ 1200", "por confirmar"])
    elif kind == "fecha_fin_anterior":
        start = dt.date(anio, rng.randint(2, 12), rng.randint(1, 28))
        row["fecha_inicio"], row["fecha_fin"] = start, start - dt.timedelta(days=rng.randint(1, 30))
    elif kind == "fuera_del_anio":
        if rng.random() < 0.7:
            row["fecha_inicio"], row["fecha_fin"] = dt.date(anio - 3, rng.randint(1, 12), 1), dt.date(anio - 1, rng.randint(1, 12), 28)
        else:
            row["fecha_inicio"], row["fecha_fin"] = dt.date(anio + 1, rng.randint(1, 6), 1), dt.date(anio + 2, rng.randint(1, 12), 15)
    elif kind == "fecha_invalida":
        row[rng.choice(["fecha_inicio", "fecha_fin"])] = rng.choice([f"31/02/{anio}", f"{anio}-13-05", "marzo 2024", f"00/01/{anio}"])
    elif kind == "moneda_invalida":
        row["moneda"] = rng.choice(["EUR", "SOLES", "S/", "DOLARES"])
    elif kind == "ods_fuera_de_rango":
        row["ods"] = rng.choice([0, 18, 20])
    elif kind == "departamento_desconocido":
        row["departamento"] = rng.choice(["26", "99"])
    elif kind == "pais_invalido":
        row["pais_fuente"] = rng.choice(["PERU", "UK", "XXX", "ALEMANIA"])
    elif kind == "anio_distinto":
        row["anio"] = anio - 1
    elif kind == "tipo_entidad_invalido":
        row["tipo_entidad"] = rng.choice(["ONG", "PUBLICA", "COOPERANTE"])
    elif kind == "beneficiarios_negativo":
        row["beneficiarios"] = -rng.randint(1, 500)
    else:
        raise ValueError(kind)


def rows_of(spec: FileSpec, seed: int, anio: int, codes: dict[str, list[str]], departamentos: dict[str, str]) -> list[dict]:
    rng = random.Random(f"{seed}/{spec.number}")
    rows = [make_row(rng, spec, i, anio, codes, departamentos) for i in range(spec.rows)]
    for index, kind in spec.spoils.items():
        spoil(rng, rows[index], kind, anio)
    for source, copy in spec.dup_pairs:
        rows[copy]["codigo_intervencion"] = rows[source]["codigo_intervencion"]
    return rows


# --- writing ---------------------------------------------------------------------------------------------------


def write_xlsx(path: Path, spec: FileSpec, rows: list[dict], template: bytes, anio: int) -> None:
    wb = openpyxl.load_workbook(io.BytesIO(template))
    ws = wb["intervenciones"]
    columns = [c for c in COLUMNS if not (spec.role == "no_moneda" and c == "moneda")]
    if spec.role == "no_moneda":
        ws.delete_cols(COLUMNS.index("moneda") + 1)  # the entity deleted the column (and its header)
    formats = {c: ws.column_dimensions[openpyxl.utils.get_column_letter(j + 1)].number_format for j, c in enumerate(columns)}
    if spec.style.get("pretty_headers"):
        for j, c in enumerate(columns):
            ws.cell(1, j + 1, PRETTY[c])
    if spec.style.get("extra_column"):
        ws.cell(1, len(columns) + 1, "observaciones")
    some_numeric = random.Random(f"ruc/{spec.number}")
    for r, row in enumerate(rows, start=2):
        for j, c in enumerate(columns):
            value = row[c]
            if value is None:
                continue
            if c == "ruc_entidad" and value.isdigit() and (spec.style["ruc_numeric"] == "all" or
                                                           (spec.style["ruc_numeric"] == "some" and some_numeric.random() < 0.4)):
                cell = ws.cell(r, j + 1, int(value))  # pasted as a number into a General cell
                continue
            if c == "departamento" and spec.style.get("departamento_numeric") and str(value).isdigit():
                ws.cell(r, j + 1, int(value))
                continue
            cell = ws.cell(r, j + 1, value)
            if formats[c] != "General" and not isinstance(value, (int, float)):
                cell.number_format = formats[c]  # typed into the template's formatted column (@, yyyy-mm-dd)
        if spec.style.get("extra_column") and r % 7 == 0:
            ws.cell(r, len(columns) + 1, "revisar con el área de presupuesto")
    if spec.style.get("sheet_title"):
        ws.title = "tmp"  # openpyxl compares titles case-insensitively, the sheet's own included
        ws.title = spec.style["sheet_title"]
    wb.save(path)


def csv_text(value: object, column: str, spec: FileSpec) -> str:
    style = spec.style
    comma = style["csv"] in ("utf8bom_semicolon_comma", "cp1252_semicolon_comma")
    dmy = style["csv"].startswith(("cp1252", "utf8bom_semicolon_comma"))
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y") if dmy else value.isoformat()
    if isinstance(value, float):
        text = f"{value:.2f}"
        return text.replace(".", ",") if comma else text
    if column == "participa_empresa_privada":
        yes, no = style["si_no"].split("/")
        return {"SI": yes, "NO": no}.get(value, value)
    if column == "departamento" and style.get("departamento_unpadded") and str(value).isdigit():
        return str(int(value))
    return str(value)


def write_csv(path: Path, spec: FileSpec, rows: list[dict]) -> None:
    encoding, sep = {"utf8_comma": ("utf-8", ","), "utf8bom_semicolon_comma": ("utf-8-sig", ";"),
                     "utf8bom_semicolon_dot": ("utf-8-sig", ";"), "cp1252_semicolon_comma": ("cp1252", ";")}[spec.style["csv"]]
    columns = [c for c in COLUMNS if not (spec.role == "no_fecha_fin" and c == "fecha_fin")]
    headers = [PRETTY[c] if spec.style.get("pretty_headers") else c for c in columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=sep, lineterminator="\r\n")  # as Excel "Guardar como CSV" writes
    writer.writerow(headers)
    for row in rows:
        writer.writerow([csv_text(row[c], c, spec) for c in columns])
    path.write_bytes(buffer.getvalue().encode(encoding))


def write_one(args: tuple) -> tuple[str, int]:
    spec, folder, seed, anio, codes, departamentos, template = args
    path = Path(folder) / spec.name
    if spec.role == "corrupt":
        # a workbook cut short by a failed upload: a zip's local header and then nothing useful
        data = template[: len(template) // 3]
        path.write_bytes(data)
    elif spec.role == "empty":
        path.write_bytes(b"")
    else:
        rows = rows_of(spec, seed, anio, codes, departamentos)
        if spec.fmt == "xlsx":
            write_xlsx(path, spec, rows, template, anio)
        else:
            write_csv(path, spec, rows)
    os.utime(path, ns=(spec.mtime_ns, spec.mtime_ns))
    return spec.name, path.stat().st_size


# --- what the contract implies for this plan -------------------------------------------------------------------


def expected(specs: list[FileSpec], seed: int, anio: int, codes: dict[str, list[str]], departamentos: dict[str, str]) -> dict:
    """Rows read, superseded, quarantined and staged as declaracion_anual.md reads this plan."""
    readable = [s for s in specs if s.role not in ("corrupt", "empty", "no_moneda", "no_fecha_fin")]
    ruc_files: dict[str, set[int]] = {}
    per_row: list[tuple[FileSpec, int, str | None, str | None]] = []  # spec, row, ruc (as the row says), kind
    for spec in readable:
        kinds = dict(spec.spoils)
        for a, b in spec.dup_pairs:
            kinds[a] = kinds[b] = "clave_duplicada"
        rows = rows_of(spec, seed, anio, codes, departamentos)
        for i, row in enumerate(rows):
            ruc = row["ruc_entidad"]
            per_row.append((spec, i, ruc, kinds.get(i)))
            if ruc is not None:
                ruc_files.setdefault(ruc, set()).add(spec.number)
    mtime = {s.number: s.mtime_ns for s in readable}
    status = Counter()
    quarantined_by_kind = Counter()
    for spec, _, ruc, kind in per_row:
        files = ruc_files.get(ruc, {spec.number})
        latest = max(mtime[f] for f in files)
        if mtime[spec.number] < latest:
            status["superseded"] += 1
        elif sum(mtime[f] == latest for f in files) > 1:
            status["quarantined"] += 1
            quarantined_by_kind["reenvio_ambiguo" + (f"+{kind}" if kind else "")] += 1
        elif kind:
            status["quarantined"] += 1
            quarantined_by_kind[kind] += 1
        else:
            status["staged"] += 1
    return {
        "filas_leidas": len(per_row),
        "staged": status["staged"],
        "superseded": status["superseded"],
        "filas_en_cuarentena": status["quarantined"],
        "archivos_rechazados": len(specs) - len(readable),
        "filas_en_cuarentena_por_tipo": dict(sorted(quarantined_by_kind.items())),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="the CTI data directory to create (replaced if it exists)")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=488, help="entity files besides the re-submission and rejected ones")
    parser.add_argument("--year", type=int, default=2024)
    parser.add_argument("--seed", type=int, default=7341)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    anio = args.year
    if out.exists():
        shutil.rmtree(out)
    folder = out / "landing" / "declaraciones" / str(anio)
    folder.mkdir(parents=True)

    with tempfile.TemporaryDirectory() as tmp:  # the official template, as entities download it
        subprocess.run([CLI, "template", "declaracion", "--out", f"{tmp}/plantilla.xlsx"], check=True, stdout=subprocess.DEVNULL)
        template = Path(f"{tmp}/plantilla.xlsx").read_bytes()
    codes = {"areas": read_codes("areas_prioritarias.csv", "codigo"), "departamentos": read_codes("departamentos.csv", "codigo")}
    departamentos = dict(zip(codes["departamentos"], read_codes("departamentos.csv", "nombre")))
    iso3 = set(read_codes("paises_iso3.csv", "iso3"))
    assert all(p in iso3 for _, p in BILATERAL + PRIVATE), "a source country is not in paises_iso3.csv"

    specs = plan(args.seed, anio, args.rows, args.files)
    names = Counter(s.name.lower() for s in specs)
    assert max(names.values()) == 1, [n for n, c in names.items() if c > 1]
    jobs = [(s, str(folder), args.seed, anio, codes, departamentos, template) for s in specs]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        sizes = dict(pool.map(write_one, jobs, chunksize=4))
    lock = folder / f"~${specs[10].name}"  # Excel's owner file left behind while someone had it open
    lock.write_bytes(b"\x0bAPCI-USER  " + b" " * 150)

    spoiled = Counter(k for s in specs if s.role not in ("corrupt", "empty", "no_moneda", "no_fecha_fin") for k in s.spoils.values())
    readable = [s for s in specs if s.role not in ("corrupt", "empty", "no_moneda", "no_fecha_fin")]
    manifest = {
        "generator": "bench/heldout_zone.py",
        "seed": args.seed,
        "anio": anio,
        "data_dir": str(out),
        "landing": str(folder),
        "files": len(specs),
        "formats": dict(Counter(s.fmt for s in specs)),
        "csv_styles": dict(Counter(s.style["csv"] for s in specs if s.fmt == "csv" and s.style)),
        "xlsx_habits": {k: sum(bool(s.style.get(k)) and s.style.get(k) != "no" for s in specs if s.fmt == "xlsx")
                        for k in ("ruc_numeric", "departamento_numeric", "numeric_codes", "pretty_headers", "extra_column", "sheet_title")},
        "si_no_spellings": dict(Counter(s.style["si_no"] for s in specs if s.fmt == "csv" and s.style)),
        "bytes": sum(sizes.values()),
        "rows_in_readable_files": sum(s.rows for s in readable),
        "spoiled_rows_by_kind": dict(sorted(spoiled.items())),
        "duplicated_key_pairs": sum(len(s.dup_pairs) for s in readable),
        "roles": {s.name: s.role for s in specs if s.role != "normal"},
        "expected": expected(specs, args.seed, anio, codes, departamentos),
        "file_list": [{"name": s.name, "format": s.fmt, "role": s.role, "rows": s.rows, "ruc": s.entity.ruc, "mtime_ns": s.mtime_ns,
                       "style": s.style, "spoils": {str(k): v for k, v in sorted(s.spoils.items())},
                       "dup_pairs": s.dup_pairs} for s in specs],
    }
    (out.parent / "heldout_manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
    summary = {k: manifest[k] for k in ("files", "formats", "csv_styles", "xlsx_habits", "si_no_spellings", "bytes",
                                        "rows_in_readable_files", "spoiled_rows_by_kind", "duplicated_key_pairs", "roles", "expected")}
    print(json.dumps(summary, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
