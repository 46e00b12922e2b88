"""Deterministic landing zones at scale for the benchmark, with a manifest of what the pipeline must do.

    .venv/bin/python bench/generate.py --rows 100000 --files 500 --out bench/out/zone_100k

writes `OUT/data/landing/declaraciones/<anio>/` (about 70 % .xlsx, the rest CSV in UTF-8, UTF-8 with
BOM and Windows-1252, `,` or `;` with decimal comma), about 2 % spoiled rows, one re-submission
(the entity's first file becomes `superseded`), one pair of files tied at the same modification
time (`reenvio_ambiguo`), three files rejected whole and an office lock file, plus
`OUT/manifest.json`: every file, its rows, which rows were spoiled and how, and the counts the
warehouse must hold, computed here from what was written (not by running the pipeline).

Workbooks are written as minimal SpreadsheetML (shared strings, a date style) with `zipfile`:
openpyxl would take minutes for a million rows. Generation time is not part of any measurement.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import json
import os
import random
import sys
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cti_pipeline.sample.declaraciones import (  # noqa: E402
    HEADERS,
    MISTAKES,
    ORGANISATION_WORDS,
    PRETTY_HEADERS,
    PUBLIC_ENTITIES,
    Entity,
    make_row,
    make_ruc,
    write_csv,
)

DEFAULT_YEAR = 2024
SPOIL_RATE = 0.02
XLSX_SHARE = 0.70
# (encoding, separator) of the CSV files, in rotation: Spanish-locale Excel writes `;` + decimal comma.
CSV_STYLES = (("utf-8", ","), ("utf-8-sig", ","), ("cp1252", ";"), ("utf-8-sig", ";"), ("cp1252", ","))
# Rules each mistake of cti_pipeline.sample.declaraciones.MISTAKES breaks (the end date five years
# before the declared year is both before the start and outside the year).
RULES_BY_MISTAKE = {
    "ruc_entidad": ["ruc_invalido"],
    "titulo": ["obligatorio"],
    "area_prioritaria": ["area_desconocida"],
    "monto_ejecutado": ["negativo"],
    "fecha_fin": ["fecha_fin_anterior", "fuera_del_anio"],
    "moneda": ["valor_no_permitido"],
    "ods": ["ods_fuera_de_rango"],
}
EPOCH = dt.date(1899, 12, 30)
COLUMN_LETTERS = [chr(ord("A") + i) for i in range(len(HEADERS))]


@dataclass
class FilePlan:
    name: str
    format: str  # xlsx | csv
    entity: int
    rows: int
    seed: int
    mtime: float
    encoding: str | None = None
    separator: str | None = None
    numeric_codes: bool = False  # the workbook stores RUC and departamento as number cells
    role: str = "normal"  # normal | superseded | resubmission | tied
    spoilable: bool = True  # the RUC mistake would change which rows a re-submission supersedes


@dataclass
class FileRecord:
    name: str
    format: str
    encoding: str | None
    separator: str | None
    role: str
    ruc: str
    rows: int
    bytes: int
    spoiled: list[dict[str, object]] = field(default_factory=list)  # {"fila": n, "columna": c, "reglas": [...]}


# --- entities and plan -------------------------------------------------------------------------


def make_many_entities(rng: random.Random, count: int) -> list[Entity]:
    """Like sample.make_entities, but for thousands: unique RUCs, names made unique by a number."""
    entities: list[Entity] = []
    rucs: set[str] = set()
    names: set[str] = set()
    while len(entities) < count:
        tipo = rng.choices(("ONGD", "ENIEX", "IPREDA", "ENTIDAD_PUBLICA"), weights=(50, 20, 10, 20))[0]
        base = rng.choice(PUBLIC_ENTITIES) if tipo == "ENTIDAD_PUBLICA" else " ".join(rng.choice(w) for w in ORGANISATION_WORDS)
        nombre = base if base not in names else f"{base} {len(entities) + 1}"
        ruc = make_ruc(rng)
        if ruc in rucs or nombre in names:
            continue
        rucs.add(ruc)
        names.add(nombre)
        entities.append(Entity(ruc, nombre, tipo))
    return entities


def split_rows(rng: random.Random, total: int, parts: int) -> list[int]:
    """`total` rows over `parts` files, unevenly (a few entities declare much more), each ≥ 1."""
    weights = [rng.lognormvariate(0, 0.6) for _ in range(parts)]
    scale = (total - parts) / sum(weights)
    counts = [1 + int(w * scale) for w in weights]
    for i in range(total - sum(counts)):
        counts[i % parts] += 1
    return counts


def plan_files(rows: int, files: int, anio: int, seed: int) -> tuple[list[Entity], list[FilePlan]]:
    rng = random.Random(seed)
    entities = make_many_entities(rng, files)
    # One file per entity, plus a corrected re-submission of entity 0 and a tied twin of entity 1.
    counts = split_rows(rng, rows, files + 2)
    base_time = dt.datetime(anio + 1, 2, 1, 9, 0).timestamp()
    plans: list[FilePlan] = []
    xlsx_slots = set(rng.sample(range(files), round(files * XLSX_SHARE)))
    csv_turn = 0
    for position, entity in enumerate(entities):
        slug = f"{position + 1:05d}_{entity.ruc}"
        mtime = base_time + position * 60
        if position in xlsx_slots:
            plan = FilePlan(f"Declaracion Anual {anio} - {slug}.xlsx", "xlsx", position, counts[position], rng.randrange(2**32), mtime,
                            numeric_codes=rng.random() < 0.15)
        else:
            encoding, separator = CSV_STYLES[csv_turn % len(CSV_STYLES)]
            csv_turn += 1
            plan = FilePlan(f"declaracion_{slug}.csv", "csv", position, counts[position], rng.randrange(2**32), mtime, encoding, separator)
        plans.append(plan)
    # Re-submission: entity 0 sends a corrected workbook later; its first file is superseded.
    plans[0].role, plans[0].spoilable = "superseded", False
    plans.append(FilePlan(f"Declaracion Anual {anio} - {1:05d}_{entities[0].ruc} (corregida).xlsx", "xlsx", 0, counts[files],
                          rng.randrange(2**32), base_time + 90 * 86400, role="resubmission", spoilable=False))
    # Tie: entity 1's file and a copy with other rows, both with the same modification time.
    plans[1].role, plans[1].spoilable = "tied", False
    plans.append(FilePlan(f"declaracion_{2:05d}_{entities[1].ruc} (copia).csv", "csv", 1, counts[files + 1], rng.randrange(2**32),
                          plans[1].mtime, "utf-8", ",", role="tied", spoilable=False))
    return entities, plans


# --- writing ---------------------------------------------------------------------------------------


def file_rows(plan: FilePlan, entity: Entity, anio: int) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    rng = random.Random(plan.seed)
    first_number = 5001 if "(copia)" in plan.name else 1  # the tied copy declares other interventions
    rows = [make_row(rng, entity, anio, first_number + n) for n in range(plan.rows)]
    spoiled: list[dict[str, object]] = []
    for index, row in enumerate(rows):
        if rng.random() < SPOIL_RATE:
            choices = [m for m in MISTAKES if plan.spoilable or m[0] != "ruc_entidad"]
            column, mistake = rng.choice(choices)
            row[column] = mistake(row)
            spoiled.append({"fila": index + 2, "columna": column, "reglas": RULES_BY_MISTAKE[column]})
    return rows, spoiled


def xlsx_bytes(rows: list[dict[str, object]], numeric_codes: bool) -> bytes:
    """A minimal, valid .xlsx: one sheet `Intervenciones`, shared strings, dates as styled serials."""
    strings: dict[str, int] = {}

    def sst(text: str) -> int:
        index = strings.get(text)
        if index is None:
            index = strings[text] = len(strings)
        return index

    def cell(ref: str, value: object) -> str:
        if value is None or value == "":
            return ""
        if isinstance(value, str):
            return f'<c r="{ref}" t="s"><v>{sst(value)}</v></c>'
        if isinstance(value, dt.date):
            return f'<c r="{ref}" s="1"><v>{(value - EPOCH).days}</v></c>'
        return f'<c r="{ref}"><v>{value!r}</v></c>'

    parts = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>']
    header = "".join(cell(f"{letter}1", PRETTY_HEADERS[h]) for letter, h in zip(COLUMN_LETTERS, HEADERS, strict=True))
    parts.append(f'<row r="1">{header}</row>')
    for number, row in enumerate(rows, start=2):
        cells = []
        for letter, name in zip(COLUMN_LETTERS, HEADERS, strict=True):
            value = row[name]
            if numeric_codes and name in ("ruc_entidad", "departamento") and isinstance(value, str) and value.isdigit():
                value = int(value)
            cells.append(cell(f"{letter}{number}", value))
        parts.append(f'<row r="{number}">{"".join(cells)}</row>')
    parts.append("</sheetData></worksheet>")
    sheet = "".join(parts)
    shared = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
              f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{len(strings)}" uniqueCount="{len(strings)}">']
    shared.extend(f"<si><t>{escape(text)}</t></si>" for text in strings)
    shared.append("</sst>")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name, text in (("[Content_Types].xml", CONTENT_TYPES), ("_rels/.rels", ROOT_RELS), ("xl/workbook.xml", WORKBOOK),
                           ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS), ("xl/styles.xml", STYLES),
                           ("xl/sharedStrings.xml", "".join(shared)), ("xl/worksheets/sheet1.xml", sheet)):
            archive.writestr(zipfile.ZipInfo(name, date_time=(2025, 2, 1, 9, 0, 0)), text, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>"""
ROOT_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"""
WORKBOOK = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Intervenciones" sheetId="1" r:id="rId1"/></sheets></workbook>"""
WORKBOOK_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>"""
STYLES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>"""


def write_file(folder: Path, plan: FilePlan, entity: Entity, anio: int) -> FileRecord:
    rows, spoiled = file_rows(plan, entity, anio)
    path = folder / plan.name
    if plan.format == "xlsx":
        path.write_bytes(xlsx_bytes(rows, plan.numeric_codes))
    else:
        write_csv(path, rows, plan.encoding, plan.separator)
    os.utime(path, (plan.mtime, plan.mtime))
    return FileRecord(plan.name, plan.format, plan.encoding, plan.separator, plan.role, entity.ruc, plan.rows,
                      path.stat().st_size, spoiled)


def _write_chunk(args: tuple[str, list[FilePlan], list[Entity], int]) -> list[FileRecord]:
    folder, plans, entities, anio = args
    return [write_file(Path(folder), plan, entities[plan.entity], anio) for plan in plans]


def write_rejected_files(folder: Path, entity: Entity, anio: int, mtime: float) -> list[str]:
    """Files rejected whole (a PDF named .xlsx, a CSV without `moneda`, a .txt) and a lock file (ignored)."""
    (folder / "declaracion_escaneada.xlsx").write_bytes(b"%PDF-1.4 not really a workbook")
    rng = random.Random(7)
    rows = [make_row(rng, entity, anio, 9000 + n) for n in range(5)]
    text = io.StringIO()
    write_csv(folder / "declaracion_sin_moneda.csv", rows, "utf-8", ",")
    lines = (folder / "declaracion_sin_moneda.csv").read_text(encoding="utf-8").splitlines()
    drop = lines[0].split(",").index("moneda")
    text.write("\r\n".join(",".join(c for i, c in enumerate(line.split(",")) if i != drop) for line in lines) + "\r\n")
    (folder / "declaracion_sin_moneda.csv").write_text(text.getvalue(), encoding="utf-8", newline="")
    (folder / "notas de la entidad.txt").write_text("Enviaremos la declaración corregida la próxima semana.\n", encoding="utf-8")
    (folder / f"~$Declaracion Anual {anio} - 00003.xlsx").write_bytes(b"lock")
    for name in ("declaracion_escaneada.xlsx", "declaracion_sin_moneda.csv", "notas de la entidad.txt"):
        os.utime(folder / name, (mtime, mtime))
    return ["declaracion_escaneada.xlsx", "declaracion_sin_moneda.csv", "notas de la entidad.txt"]


# --- expectations --------------------------------------------------------------------------------


def expected_counts(records: list[FileRecord], rejected: list[str]) -> dict[str, object]:
    """What the contract says the warehouse holds, from the generator's own record of the files.

    Superseded files: all their rows are `superseded` (none had its RUC spoiled). Tied files: every
    row is quarantined with `reenvio_ambiguo`, plus whatever rule its own spoiling broke. Any other
    spoiled row is quarantined once per rule it breaks; every other row is staged.
    """
    read = superseded = quarantined_rows = 0
    failures: dict[str, int] = {}
    for record in records:
        read += record.rows
        if record.role == "superseded":
            superseded += record.rows
            continue
        if record.role == "tied":
            quarantined_rows += record.rows
            failures["reenvio_ambiguo"] = failures.get("reenvio_ambiguo", 0) + record.rows
        else:
            quarantined_rows += len(record.spoiled)
        for spoil in record.spoiled:
            for rule in spoil["reglas"]:
                failures[rule] = failures.get(rule, 0) + 1
    return {
        "filas_leidas": read,
        "staged": read - superseded - quarantined_rows,
        "superseded": superseded,
        "filas_en_cuarentena": quarantined_rows,
        "filas_rechazadas": sum(failures.values()),
        "filas_rechazadas_por_regla": dict(sorted(failures.items())),
        "archivos_leidos": len(records),
        "archivos_rechazados": len(rejected),
    }


def generate(out: Path, rows: int, files: int, anio: int = DEFAULT_YEAR, seed: int = 2030, workers: int = 2) -> dict[str, object]:
    started = time.perf_counter()
    folder = out / "data" / "landing" / "declaraciones" / str(anio)
    if folder.exists():
        for child in folder.iterdir():
            child.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    entities, plans = plan_files(rows, files, anio, seed)
    chunks = [plans[i::max(1, workers * 4)] for i in range(max(1, workers * 4))]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_write_chunk, [(str(folder), chunk, entities, anio) for chunk in chunks]))
    else:
        results = [_write_chunk((str(folder), chunk, entities, anio)) for chunk in chunks]
    by_name = {record.name: record for chunk in results for record in chunk}
    records = [by_name[plan.name] for plan in plans]
    rejected = write_rejected_files(folder, entities[2], anio, plans[2].mtime + 30)
    manifest = {
        "anio": anio,
        "seed": seed,
        "rows": rows,
        "entity_files": files,
        "landing": str(folder),
        "data_dir": str(out / "data"),
        "bytes": sum(r.bytes for r in records),
        "formats": {
            "xlsx": sum(r.format == "xlsx" for r in records),
            "csv": sum(r.format == "csv" for r in records),
            "csv_styles": sorted({f"{r.encoding} {r.separator}" for r in records if r.format == "csv"}),
        },
        "rejected_files": rejected,
        "expected": expected_counts(records, rejected),
        "files": [asdict(r) for r in records],
        "generated_in_s": round(time.perf_counter() - started, 2),
    }
    manifest["fingerprint"] = hashlib.sha256(json.dumps(manifest["files"], sort_keys=True).encode()).hexdigest()[:16]
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="declaration rows in readable files (default 100000)")
    parser.add_argument("--files", type=int, default=None, help="entity files (default rows/200, at least 10)")
    parser.add_argument("--year", type=int, default=DEFAULT_YEAR)
    parser.add_argument("--seed", type=int, default=2030)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    files = args.files or max(10, args.rows // 200)
    manifest = generate(args.out, args.rows, files, args.year, args.seed, args.workers)
    print(json.dumps({k: v for k, v in manifest.items() if k != "files"}, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
