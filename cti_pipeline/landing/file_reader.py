"""Reading one landed file: `read_file(file, spec)` gives a `FilePart` or a `FileRejection`.

This is the one file reader. A `FilePart` holds the contract's columns as trimmed text (Arrow
arrays), the Excel row number a person sees (`fila`), the extra columns of each row as JSON, the
cell problems found while reading (a formula saved without its value, an over-long extra cell) and
the sha256 of the file's bytes. Workbooks go through python-calamine (Rust), CSVs through pandas' C
parser. Everything a person must fix about a file is said in Spanish in the rejection's `motivo`.
`landing.folder_reader` reads a folder's files through this module (and a cache below it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from html import unescape
from itertools import zip_longest

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from python_calamine import CalamineWorkbook

from cti_pipeline.contracts.text import normalize_header
from cti_pipeline.landing.discovery import FileRejection, LandedFile
from cti_pipeline.settings import MAX_CELL_CHARS, MAX_UNPACKED_BYTES

# Rules of cells found while reading (the row is quarantined, its siblings go on).
FORMULA_WITHOUT_VALUE = "formula_sin_valor"
CELL_TOO_LONG = "celda_demasiado_larga"
# Why a file (or the sheet read of a workbook) with no row at all, not even a header, is rejected.
NO_ROWS = "El archivo no tiene filas."


@dataclass(frozen=True)
class ReadSpec:
    """What reading needs of a contract: the sheet to read and the column names (plain values)."""

    sheet: str
    names: tuple[str, ...]
    required_names: tuple[str, ...]

    @classmethod
    def of(cls, spec) -> ReadSpec:
        """From a contract's `SourceSpec` (or anything with a sheet, names and required names)."""
        return spec if isinstance(spec, ReadSpec) else cls(spec.sheet, tuple(spec.names), tuple(spec.required_names))


@dataclass
class FilePart:
    """One readable file's rows (possibly none: a header and no data)."""

    archivo: str
    hoja: str | None
    fila: list[int] | np.ndarray  # the Excel row number of each row
    columns: dict[str, pa.Array]  # the contract's columns the file has, trimmed text
    extras: list[str | None] | None  # per row, its extra columns as a JSON object; None when the file has none
    problems: list[tuple[int, str, str]]  # (row position, column, rule) found while reading
    semicolon_csv: bool  # a `;`-separated CSV: `,` may be its decimal mark
    sha256: str
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.fila)


class UnreadableFile(Exception):
    """The file cannot be read at all; the message is the Spanish `motivo` for the entity.

    `transient`: the failure may not recur (the disk or the system failed, not the file's content).
    """

    def __init__(self, motivo: str, transient: bool = False):
        super().__init__(motivo)
        self.transient = transient


def read_file(file: LandedFile, spec: ReadSpec) -> FilePart | FileRejection:
    """One file's contract columns as trimmed text, or its rejection with a reason for the entity."""
    try:
        content = read_bytes(file)
        if file.suffix == ".xlsx":
            table = read_xlsx(content, spec)
        elif file.suffix == ".csv":
            table = read_csv(content)
        else:
            raise UnreadableFile(f"Formato no admitido ({file.suffix}). Envíe el archivo como .xlsx o .csv.")
    except UnreadableFile as error:
        return FileRejection(file.name, str(error), transient=error.transient)
    except MemoryError:
        return FileRejection(file.name, "El archivo es demasiado grande para procesarlo.", transient=True)
    missing = [name for name in spec.required_names if name not in table.names]
    if missing or table.repeated:
        return FileRejection(file.name, header_reason(spec, table, missing))
    return to_part(file, spec, table, hashlib.sha256(content).hexdigest())


def read_bytes(file: LandedFile) -> bytes:
    try:
        return file.path.read_bytes()
    except OSError as error:
        raise could_not_open(error) from error


# --- the table a file holds -------------------------------------------------------------------------


@dataclass
class Table:
    """A sheet's body as untrimmed text columns under normalised header names."""

    names: list[str]  # normalised, each once
    columns: list[list[str]]  # one per name
    fila: list[int]  # the Excel row number of each body row
    hoja: str | None
    header_row: int
    repeated: list[str] = field(default_factory=list)  # names the header holds twice (the first column is kept)
    semicolon_csv: bool = False
    formulas: set[tuple[int, int]] = field(default_factory=set)  # (row number, column position) without a value
    positions: list[int] = field(default_factory=list)  # each kept column's position in the sheet
    warnings: list[str] = field(default_factory=list)


def to_part(file: LandedFile, spec: ReadSpec, table: Table, sha256: str) -> FilePart:
    names = set(spec.names)
    extras = [name for name in table.names if name not in names]
    warnings = list(table.warnings)
    problems: list[tuple[int, str, str]] = []
    packed = None
    if extras:
        warnings.append(f"extra column(s) kept in raw and ignored downstream: {', '.join(extras)}")
        by_name = dict(zip(table.names, table.columns, strict=True))
        frame = pd.DataFrame({name: pd.Series(by_name[name], dtype="str").str.strip() for name in extras})
        packed = frame.to_json(orient="records", lines=True, force_ascii=False).splitlines()
        too_long = frame.apply(lambda column: column.str.len() > MAX_CELL_CHARS)
        for position, column in too_long.stack().loc[lambda s: s].index:
            problems.append((int(position), str(column), CELL_TOO_LONG))
    columns = {name: trimmed_text(column) for name, column in zip(table.names, table.columns, strict=True) if name in names}
    if table.formulas:
        row_position = {fila: position for position, fila in enumerate(table.fila)}
        for (row, column_position), name in zip(sorted(table.formulas), _names_at(table, sorted(table.formulas)), strict=True):
            if name in names and row in row_position:
                problems.append((row_position[row], name, FORMULA_WITHOUT_VALUE))
    return FilePart(
        archivo=file.name, hoja=table.hoja, fila=table.fila, columns=columns, extras=packed, problems=problems,
        semicolon_csv=table.semicolon_csv, sha256=sha256, warnings=[f"{file.name}: {w}" for w in warnings],
    )


def _names_at(table: Table, cells: list[tuple[int, int]]) -> list[str | None]:
    by_position = dict(zip(table.positions, table.names, strict=True))
    return [by_position.get(column) for _, column in cells]


def trimmed_text(values: list[str | None]) -> pa.Array:
    """Cells as trimmed Arrow text (None stays missing): the same trim as pandas' `.str.strip()`."""
    return pc.utf8_trim_whitespace(pa.array(values, type=pa.large_string()))


def header_reason(spec: ReadSpec, table: Table, missing: list[str]) -> str:
    """Why a file whose header lacks a required column, or names one twice, is rejected, for the entity.

    The cells found where the header should be are quoted only when some of them are contract column
    names: then they are a header (with typos to fix). When none is, the header row is missing and
    those cells are the first row of data, which may hold a DNI, a person's name or an e-mail; they
    are not repeated in the reason, which reaches the warehouse, the logs and the feedback workbooks.
    """
    where = f" (hoja «{table.hoja}»)" if table.hoja else ""
    advice = "Use la plantilla (cti-pipeline template) o revise que la cabecera esté en la primera fila con datos."
    if not set(table.names) & set(spec.names):
        cells = len(table.names) + len(table.repeated)
        single = " El archivo tiene una sola columna: si es un CSV, separe los valores con «,» o «;»." if cells == 1 else ""
        return (
            f"No se encontró la fila de cabecera{where}: ninguna de las {cells} celdas de "
            f"la primera fila con datos es un nombre de columna de la plantilla (faltan: {', '.join(missing)}).{single} {advice}"
        )
    if table.repeated:
        return f"La columna «{table.repeated[0]}» aparece dos veces en la cabecera (fila {table.header_row})."
    return f"Faltan columnas obligatorias{where}: {', '.join(missing)}. Columnas encontradas: {', '.join(table.names)}. {advice}"


def body_of(columns: list[list[str]], hoja: str | None) -> Table:
    """Header = first non-empty row; drop blank rows; keep the row number a person sees.

    Works on untrimmed text columns (a cell is blank when it trims to ""). A name the header holds
    twice keeps its first column and is listed in `repeated`: whether that is an error worth quoting
    depends on whether the row is a header at all (`header_reason`).
    """
    height = len(columns[0]) if columns else 0
    if height == 0:
        raise UnreadableFile(NO_ROWS)
    non_empty = list(map(bool, map(str.strip, columns[0])))
    for position, filled in enumerate(non_empty):
        if not filled:
            non_empty[position] = any(column[position].strip() for column in columns[1:])
    try:
        header_position = non_empty.index(True)
    except ValueError:
        raise UnreadableFile(NO_ROWS) from None
    headers = [normalize_header(column[header_position].strip()) for column in columns]
    body_positions = [p for p in range(header_position + 1, height) if non_empty[p]]
    if len(body_positions) == height - header_position - 1:
        body = [column[header_position + 1 :] for column in columns]
    else:
        body = [[column[p] for p in body_positions] for column in columns]
    table = Table([], [], [p + 1 for p in body_positions], hoja, header_row=header_position + 1)
    for position, name in enumerate(headers):
        if not name:
            if any(map(str.strip, body[position])):
                name = f"columna_{position + 1}"
            else:
                continue
        if name in table.names:
            table.repeated.append(name)
            continue
        table.names.append(name)
        table.columns.append(body[position])
        table.positions.append(position)
    return table


# --- xlsx -----------------------------------------------------------------------------------------

# Deflate cannot expand data more than about 1032:1, so members whose compressed sizes bound the
# unpacked total under the limit cannot be a bomb, whatever their headers declare.
DEFLATE_MAX_RATIO = 1032
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an encrypted .xlsx or an old .xls is an OLE compound file


def read_xlsx(content: bytes, spec: ReadSpec) -> Table:
    archive = open_workbook_container(content)
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(content))
        names = workbook.sheet_names
        if not names:
            raise UnreadableFile("El libro de Excel no tiene hojas.")
        chosen = next((n for n in names if n.strip().casefold() == spec.sheet.casefold()), names[0])
        rows = workbook.get_sheet_by_name(chosen).to_python(skip_empty_area=False)
        table = _sheet_table(rows, chosen)
        if chosen.strip().casefold() == spec.sheet.casefold() and (table is None or not table.fila):
            _refuse_if_data_is_elsewhere(workbook, names, chosen, spec)
    except UnreadableFile:
        raise
    except Exception as error:  # calamine raises several error types for broken workbooks
        raise unreadable_workbook(error) from error
    if table is None:
        raise UnreadableFile(NO_ROWS)
    if chosen.strip().casefold() != spec.sheet.casefold():
        table.warnings.append(f"no sheet named {spec.sheet!r}; read the first sheet {chosen!r}")
    table.formulas = formulas_without_value(archive, chosen)
    return table


def _sheet_table(rows: list[list[object]], hoja: str) -> Table | None:
    columns = [column_to_text(column) for column in zip_longest(*rows, fillvalue="")]
    try:
        return body_of(columns, hoja)
    except UnreadableFile:
        return None


def _refuse_if_data_is_elsewhere(workbook: CalamineWorkbook, names: list[str], chosen: str, spec: ReadSpec) -> None:
    """The named sheet holds no data: if another sheet holds rows under the contract's (required) header, say so."""
    for other in names:
        if other == chosen:
            continue
        table = _sheet_table(workbook.get_sheet_by_name(other).to_python(skip_empty_area=False), other)
        # The contract's whole required header: a GPEDC workbook's other questionnaire sheets share a column or two
        # with the empty one (codigo_respondente) and are not its rows.
        if table is not None and table.fila and set(spec.required_names) <= set(table.names):
            raise UnreadableFile(
                f"La hoja «{chosen}» no tiene filas de datos, pero la hoja «{other}» tiene {len(table.fila)} fila(s) "
                f"con las columnas de la plantilla. Copie esas filas a la hoja «{chosen}» (o borre la hoja vacía) "
                "y envíe el archivo de nuevo."
            )


def open_workbook_container(content: bytes) -> zipfile.ZipFile:
    """An .xlsx is a zip: refuse encrypted and old-format workbooks, bombs and corrupt archives.

    The declared sizes are checked first. Then, unless the compressed sizes alone prove the archive
    cannot unpack past the limit (stored or deflated members: at most 1032 bytes out per byte in),
    every member is read through, so a header that lies about its size fails on the size/CRC check.
    """
    if content.startswith(OLE_MAGIC):
        if "EncryptedPackage".encode("utf-16-le") in content or b"EncryptedPackage" in content:
            raise UnreadableFile(
                "El libro de Excel está protegido con contraseña y no se puede leer. Quite la contraseña "
                "(Archivo → Información → Proteger libro → Cifrar con contraseña, y deje la contraseña vacía) y envíelo de nuevo."
            )
        raise UnreadableFile(
            "El archivo es un libro de Excel antiguo (.xls) con extensión .xlsx. Ábralo en Excel y guárdelo como "
            "«Libro de Excel (.xlsx)»."
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        members = archive.infolist()
        declared = sum(member.file_size for member in members)
        if declared > MAX_UNPACKED_BYTES:
            raise UnreadableFile(_unpack_limit_message(declared))
        if not _bounded_by_compressed_size(members):
            unpacked = 0
            for member in members:
                # zipfile stops at the declared size and checks the CRC, so a lying header fails here.
                with archive.open(member) as stream:
                    while chunk := stream.read(1 << 20):
                        unpacked += len(chunk)
                        if unpacked > MAX_UNPACKED_BYTES:
                            raise UnreadableFile(_unpack_limit_message(unpacked))
        return archive
    except UnreadableFile:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError, OSError) as error:
        raise damaged_workbook(error) from error


def damaged_workbook(error: Exception) -> UnreadableFile:
    return UnreadableFile(
        "El archivo no es un libro de Excel .xlsx válido (está dañado o no es un .xlsx). "
        f"Ábralo en Excel y guárdelo de nuevo como .xlsx. Detalle: {error}"
    )


def unreadable_workbook(error: Exception) -> UnreadableFile:
    return UnreadableFile(f"No se pudo leer el libro de Excel: {error}. Ábralo en Excel y guárdelo de nuevo como .xlsx.")


def _bounded_by_compressed_size(members: list[zipfile.ZipInfo]) -> bool:
    bound = 0
    for member in members:
        if member.compress_type == zipfile.ZIP_STORED:
            bound += member.compress_size
        elif member.compress_type == zipfile.ZIP_DEFLATED and member.compress_size <= member.file_size + 1024:
            bound += member.compress_size * DEFLATE_MAX_RATIO
        else:  # another method, or a compressed size the declared size cannot explain: read it through
            return False
    return bound <= MAX_UNPACKED_BYTES


def _unpack_limit_message(size: int) -> str:
    return (
        f"El libro de Excel se descomprime a más de {MAX_UNPACKED_BYTES // 1_048_576} MB "
        f"({size / 1_048_576:.0f} MB o más) y no se procesa. Envíe un archivo más pequeño."
    )


_TAG = {name: re.compile(rb"<" + name + rb"\b([^>]*)>") for name in (b"sheet", b"Relationship")}
_ATTRIBUTE = re.compile(rb'([\w:]+)="([^"]*)"')
_CELL = re.compile(rb'<c\b[^>]*?\br="([A-Z]+)([0-9]+)"[^>]*?(?:/>|>(.*?)</c>)', re.S)
_FORMULA = re.compile(rb"<f[\s>/]")


def formulas_without_value(archive: zipfile.ZipFile, sheet: str) -> set[tuple[int, int]]:
    """(row number, column position) of the sheet's formula cells saved without a computed value.

    A workbook written by a program (not by Excel) keeps formulas without their results: every reader
    sees an empty cell there, which would silently become a missing value. Only sheets that hold a
    formula at all are scanned cell by cell.
    """
    try:
        path = _sheet_path(archive, sheet)
        if path is None:
            return set()
        xml = archive.read(path)
    except (KeyError, zipfile.BadZipFile, zlib.error, OSError):
        return set()
    found = set()
    for formula in _FORMULA.finditer(xml):  # `<f>`, `<f t="shared" …/>`; not `<formula1>` of a dropdown
        start, end = xml.rfind(b"<c ", 0, formula.start()), xml.find(b"</c>", formula.start())
        cell = _CELL.match(xml, start, end + len(b"</c>")) if start >= 0 and end >= 0 else None
        if cell and not re.search(rb"<v>[^<]", cell.group(3) or b""):
            found.add((int(cell.group(2)), _column_position(cell.group(1))))
    return found


def _sheet_path(archive: zipfile.ZipFile, sheet: str) -> str | None:
    sheets = [dict(_ATTRIBUTE.findall(tag)) for tag in _TAG[b"sheet"].findall(archive.read("xl/workbook.xml"))]
    ids = {unescape(attributes.get(b"name", b"").decode("utf-8")): attributes.get(b"r:id") for attributes in sheets}
    relationships = [dict(_ATTRIBUTE.findall(tag)) for tag in _TAG[b"Relationship"].findall(archive.read("xl/_rels/workbook.xml.rels"))]
    targets = {attributes.get(b"Id"): attributes.get(b"Target") for attributes in relationships}
    target = targets.get(ids.get(sheet))
    if target is None:
        return None
    target = target.decode("utf-8")
    return target.lstrip("/") if target.startswith("/") else f"xl/{target}"


def _column_position(letters: bytes) -> int:
    position = 0
    for letter in letters:
        position = position * 26 + (letter - 64)
    return position - 1


def workbook_sheet_names(file: LandedFile) -> list[str]:
    """The sheet names of a workbook (after the same container checks as `read_file`), for inputs with
    several sheets (GPEDC questionnaires) that must know which sheets exist."""
    content = read_bytes(file)
    open_workbook_container(content)
    try:
        return list(CalamineWorkbook.from_filelike(io.BytesIO(content)).sheet_names)
    except Exception as error:  # calamine raises several error types for broken workbooks
        raise unreadable_workbook(error) from error


def cell_to_text(value: object) -> str:
    """A calamine cell as the text a person reads in Excel (numbers without a spurious `.0`)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "SI" if value else "NO"
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else str(value)


def column_to_text(values: tuple[object, ...]) -> list[str]:
    """`cell_to_text` of every cell of a column, with fast paths for the usual columns
    (all text; text and numbers; text and dates) that give exactly the same strings."""
    kinds = set(map(type, values))
    if kinds <= {str}:
        return list(values)
    if kinds <= {str, float}:
        return [v if type(v) is str else _float_text(v) for v in values]
    if kinds <= {str, dt.date}:
        return [v if type(v) is str else v.isoformat() for v in values]
    return [v if type(v) is str else cell_to_text(v) for v in values]


def _float_text(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


# --- csv ------------------------------------------------------------------------------------------


def decode_csv(raw: bytes) -> str:
    """UTF-8 (with or without BOM) or Windows-1252; anything else is refused with a reason."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnreadableFile(
            "El CSV está en UTF-16, codificación no admitida. Guárdelo como «CSV UTF-8 (delimitado por comas)»."
        )
    if b"\x00" in raw[:65536]:
        raise UnreadableFile(
            "El archivo contiene bytes nulos: no es un CSV de texto (¿un archivo binario o UTF-16?). "
            "Guárdelo como «CSV UTF-8»."
        )
    if raw.startswith(b"\xef\xbb\xbf"):
        try:
            return raw[3:].decode("utf-8")
        except UnicodeDecodeError as error:
            raise UnreadableFile(f"El CSV declara UTF-8 pero tiene bytes inválidos ({error}).") from error
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError as error:
        raise UnreadableFile(
            "No se reconoce la codificación del CSV (se aceptan UTF-8 y Windows-1252). Guárdelo como «CSV UTF-8»."
        ) from error


def sniff_separator(text: str) -> str:
    """`;` when the first non-empty line has more semicolons than commas (Excel in Spanish locales)."""
    for line in text.split("\n"):
        if line.strip():
            return ";" if line.count(";") > line.count(",") else ","
    return ","


def read_csv(content: bytes) -> Table:
    text = decode_csv(content)
    if not text.strip():
        raise UnreadableFile(NO_ROWS)
    separator = sniff_separator(text)
    # An upper bound of the fields in any line (quoted separators only add empty columns, which are
    # dropped), so that a blank first line or a long row never makes the parser fail.
    width = max(line.count(separator) for line in text.split("\n")) + 1
    try:
        frame = pd.read_csv(
            io.StringIO(text), sep=separator, header=None, names=range(width), dtype="str",
            keep_default_na=False, na_filter=False, skip_blank_lines=False, engine="c",
        )
    except (pd.errors.ParserError, ValueError) as error:
        raise UnreadableFile(
            f"El CSV no tiene una estructura de columnas consistente (separador «{separator}»): {error}"
        ) from error
    table = body_of([frame[column].fillna("").tolist() for column in frame.columns], hoja=None)
    table.semicolon_csv = separator == ";"
    return table


def could_not_open(error: OSError) -> UnreadableFile:
    """The file could not be read from disk (permissions, a file being replaced, I/O): the disk's failure,
    not the file's, so it may not recur (`transient`). Once the bytes are read, every error is the file's."""
    return UnreadableFile(
        f"No se pudo abrir el archivo en el servidor ({error.strerror or error}). "
        "Se leerá de nuevo en la próxima ejecución de este año; no hace falta reenviarlo.",
        transient=True,
    )
