"""Reading one landed file into a DataFrame of text, with Excel-like row numbers.

The one reader interface: `read_table(file, sheet)` returns a `Table` (every cell as trimmed text,
headers normalised, `fila` = the row number a person sees in Excel) or raises `UnreadableFile`
with a Spanish reason. Workbooks go through python-calamine (Rust); CSVs through pandas' C parser.
"""

from __future__ import annotations

import datetime as dt
import errno
import io
import zipfile
import zlib
from dataclasses import dataclass, field
from itertools import zip_longest

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from python_calamine import CalamineWorkbook

from cti_pipeline.contracts.text import normalize_header
from cti_pipeline.landing.discovery import LandedFile
from cti_pipeline.settings import MAX_UNPACKED_BYTES

ROW_COLUMN = "fila"


class UnreadableFile(Exception):
    """The file cannot be read at all; the message is the Spanish `motivo` for the entity.

    `transient`: the failure may not recur (the disk or the system failed, not the file's content),
    so the rejection must not be remembered as what the file reads as.
    """

    def __init__(self, motivo: str, transient: bool = False):
        super().__init__(motivo)
        self.transient = transient


@dataclass
class Table:
    """A file's rows as text. `frame` has one column per (normalised) header plus `fila`."""

    frame: pd.DataFrame
    hoja: str | None
    decimal_comma: bool = False
    encoding: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class RawTable:
    """A file's body as untrimmed text columns: what `read_table` builds its frame from.

    Plain lists, so reading many small files costs no per-file DataFrame work; `to_frame` (or
    `domain.reading.read_source_files`, for many files at once) trims and types them in bulk.
    """

    names: list[str]
    columns: list[list[str]]
    fila: list[int]
    hoja: str | None
    decimal_comma: bool = False
    encoding: str | None = None
    warnings: list[str] = field(default_factory=list)
    repeated: list[str] = field(default_factory=list)  # header names seen twice (only the first column is kept)
    header_row: int | None = None

    def repeated_reason(self) -> str | None:
        """A header that names a column twice cannot be read (which one holds the data?): the reason, or None."""
        if not self.repeated:
            return None
        return f"La columna «{self.repeated[0]}» aparece dos veces en la cabecera (fila {self.header_row})."

    def require_unique_names(self) -> None:
        if reason := self.repeated_reason():
            raise UnreadableFile(reason)

    def __len__(self) -> int:
        return len(self.fila)

    def to_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame({name: text_series(column) for name, column in zip(self.names, self.columns, strict=True)})
        frame[ROW_COLUMN] = pd.Series(self.fila, dtype="int64")
        return frame


def trimmed_text(values: list[str | None]) -> pa.Array:
    """Cells as trimmed Arrow text (None stays missing): the same trim as pandas' `.str.strip()`."""
    return pc.utf8_trim_whitespace(pa.array(values, type=pa.large_string()))


def text_series(values: list[str | None] | pa.Array | pa.ChunkedArray) -> pd.Series:
    """Cells as trimmed text in a `str` Series; Arrow input is taken as already trimmed."""
    if not isinstance(values, (pa.Array, pa.ChunkedArray)):
        values = trimmed_text(values)
    return pd.Series(pd.array(values, dtype="str"))


def read_table(file: LandedFile, sheet: str) -> Table:
    raw = read_raw(file, sheet)
    raw.require_unique_names()
    return Table(raw.to_frame(), hoja=raw.hoja, decimal_comma=raw.decimal_comma, encoding=raw.encoding, warnings=raw.warnings)


def read_raw(file: LandedFile, sheet: str) -> RawTable:
    if file.suffix == ".xlsx":
        return read_xlsx_raw(file, sheet)
    if file.suffix == ".csv":
        return read_csv_raw(file)
    raise UnreadableFile(f"Formato no admitido ({file.suffix}). Envíe el archivo como .xlsx o .csv.")


# --- xlsx -----------------------------------------------------------------------------------------


# Deflate cannot expand data more than about 1032:1, so members whose compressed sizes bound the
# unpacked total under the limit cannot be a bomb, whatever their headers declare.
DEFLATE_MAX_RATIO = 1032


def check_workbook_container(file: LandedFile) -> None:
    """An .xlsx is a zip: refuse bombs (declared or actual unpacked size) and corrupt archives.

    The declared sizes are checked first. Then, unless the compressed sizes alone prove the archive
    cannot unpack past the limit (stored or deflated members: at most 1032 bytes out per byte in),
    every member is read through, so a header that lies about its size fails on the size/CRC check.
    An error opening the file is the disk's (`could_not_open`); one while parsing it is the file's
    (a damaged zip can make zipfile seek to a negative offset: OSError EINVAL), unless it is an I/O error.
    """
    try:
        handle = open(file.path, "rb")  # closed by the `with` below
    except OSError as error:
        raise could_not_open(error) from error
    try:
        with handle, zipfile.ZipFile(handle) as archive:
            members = archive.infolist()
            declared = sum(member.file_size for member in members)
            if declared > MAX_UNPACKED_BYTES:
                raise UnreadableFile(_unpack_limit_message(declared))
            if _bounded_by_compressed_size(members):
                return
            unpacked = 0
            for member in members:
                # zipfile stops at the declared size and checks the CRC, so a lying header fails here.
                with archive.open(member) as stream:
                    while chunk := stream.read(1 << 20):
                        unpacked += len(chunk)
                        if unpacked > MAX_UNPACKED_BYTES:
                            raise UnreadableFile(_unpack_limit_message(unpacked))
    except UnreadableFile:
        raise
    except OSError as error:
        if is_disk_failure(error):
            raise could_not_open(error) from error
        raise damaged_workbook(error) from error
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError) as error:
        raise damaged_workbook(error) from error


def damaged_workbook(error: Exception) -> UnreadableFile:
    return UnreadableFile(
        "El archivo no es un libro de Excel .xlsx válido (está dañado o no es un .xlsx). "
        f"Ábralo en Excel y guárdelo de nuevo como .xlsx. Detalle: {error}"
    )


# Errors of the disk or the system, not of the file's content: the same bytes may read fine next time.
DISK_ERRNOS = frozenset({errno.EIO, errno.EACCES, errno.EPERM, errno.ENOENT, errno.ESTALE, errno.EAGAIN, errno.EBUSY,
                         errno.ENOMEM, errno.EMFILE, errno.ENFILE, errno.ETIMEDOUT, errno.EISDIR})


def is_disk_failure(error: OSError) -> bool:
    return error.errno in DISK_ERRNOS


def could_not_open(error: OSError) -> UnreadableFile:
    """The file could not be opened or read from disk (permissions, a file being replaced, I/O)."""
    return UnreadableFile(
        f"No se pudo abrir el archivo en el servidor ({error.strerror or error}). "
        "Se leerá de nuevo en la próxima ejecución de este año; no hace falta reenviarlo.",
        transient=True,
    )


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


def read_xlsx(file: LandedFile, sheet: str) -> Table:
    raw = read_xlsx_raw(file, sheet)
    raw.require_unique_names()
    return Table(raw.to_frame(), hoja=raw.hoja, warnings=raw.warnings)


def read_xlsx_raw(file: LandedFile, sheet: str) -> RawTable:
    check_workbook_container(file)
    try:
        workbook = CalamineWorkbook.from_path(str(file.path))
        names = workbook.sheet_names
        if not names:
            raise UnreadableFile("El libro de Excel no tiene hojas.")
        chosen = next((n for n in names if n.strip().casefold() == sheet.casefold()), names[0])
        rows = workbook.get_sheet_by_name(chosen).to_python(skip_empty_area=False)
    except UnreadableFile:
        raise
    except OSError as error:
        if is_disk_failure(error):
            raise could_not_open(error) from error
        raise UnreadableFile(
            f"No se pudo leer el libro de Excel: {error}. Ábralo en Excel y guárdelo de nuevo como .xlsx."
        ) from error
    except Exception as error:  # calamine raises several error types for broken workbooks
        raise UnreadableFile(
            f"No se pudo leer el libro de Excel: {error}. Ábralo en Excel y guárdelo de nuevo como .xlsx."
        ) from error
    warnings = [] if chosen.casefold() == sheet.casefold() else [f"no sheet named {sheet!r}; read the first sheet {chosen!r}"]
    columns = [column_to_text(column) for column in zip_longest(*rows, fillvalue="")]
    header = _columns_to_table(columns)
    return RawTable(header.names, header.body, header.fila, hoja=chosen, warnings=warnings, repeated=header.repeated, header_row=header.row)


def workbook_sheet_names(file: LandedFile) -> list[str]:
    """The sheet names of a workbook (after the same container checks as `read_xlsx`).

    For multi-sheet inputs (GPEDC questionnaires) that must know which sheets exist, since
    `read_table` falls back to the first sheet when the named one is missing.
    """
    check_workbook_container(file)
    try:
        return list(CalamineWorkbook.from_path(str(file.path)).sheet_names)
    except Exception as error:  # calamine raises several error types for broken workbooks
        raise UnreadableFile(
            f"No se pudo leer el libro de Excel: {error}. Ábralo en Excel y guárdelo de nuevo como .xlsx."
        ) from error


def cell_to_text(value: object) -> str:
    """A calamine cell as the text a person reads in Excel (numbers without a spurious `.0`)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "SI" if value else "NO"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
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


def decode_csv(raw: bytes) -> tuple[str, str]:
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
            return raw[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as error:
            raise UnreadableFile(f"El CSV declara UTF-8 pero tiene bytes inválidos ({error}).") from error
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252"), "cp1252"
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


def read_csv(file: LandedFile) -> Table:
    raw = read_csv_raw(file)
    raw.require_unique_names()
    return Table(raw.to_frame(), hoja=None, decimal_comma=raw.decimal_comma, encoding=raw.encoding)


def read_csv_raw(file: LandedFile) -> RawTable:
    try:
        content = file.path.read_bytes()
    except OSError as error:
        raise could_not_open(error) from error
    text, encoding = decode_csv(content)
    if not text.strip():
        raise UnreadableFile("El archivo no tiene filas.")
    separator = sniff_separator(text)
    # An upper bound of the fields in any line (quoted separators only add empty columns, which are
    # dropped), so that a blank first line or a long row never makes the parser fail.
    width = max(line.count(separator) for line in text.split("\n")) + 1
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=separator,
            header=None,
            names=range(width),
            dtype="str",
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            engine="c",
        )
    except (pd.errors.ParserError, ValueError) as error:
        raise UnreadableFile(
            f"El CSV no tiene una estructura de columnas consistente (separador «{separator}»): {error}"
        ) from error
    frame = frame.fillna("")
    header = _columns_to_table([frame[column].tolist() for column in frame.columns])
    return RawTable(
        header.names, header.body, header.fila, hoja=None, decimal_comma=separator == ";", encoding=encoding,
        repeated=header.repeated, header_row=header.row,
    )


# --- shared ---------------------------------------------------------------------------------------


@dataclass
class _Body:
    names: list[str]  # normalised, each once
    body: list[list[str]]  # untrimmed text columns, one per name
    fila: list[int]  # the Excel row number of each body row
    repeated: list[str]  # names the header holds more than once
    row: int  # the header's row number


def _columns_to_table(columns: list[list[str]]) -> _Body:
    """Header = first non-empty row; drop blank rows; keep the row number a person sees.

    Works on untrimmed text columns (a cell is blank when it trims to ""). A name the header holds
    twice keeps its first column and is listed in `repeated`: whether that is an error worth quoting
    depends on whether the row is a header at all (`domain.reading.read_part`), since a file without
    its header row has a row of data there.
    """
    height = len(columns[0]) if columns else 0
    if height == 0:
        raise UnreadableFile("El archivo no tiene filas.")
    non_empty = list(map(bool, map(str.strip, columns[0])))
    for position, filled in enumerate(non_empty):
        if not filled:
            non_empty[position] = any(column[position].strip() for column in columns[1:])
    try:
        header_position = non_empty.index(True)
    except ValueError:
        raise UnreadableFile("El archivo no tiene filas.") from None
    header_row = header_position + 1
    headers = [normalize_header(column[header_position].strip()) for column in columns]
    body_positions = [p for p in range(header_position + 1, height) if non_empty[p]]
    if len(body_positions) == height - header_position - 1:
        body = [column[header_position + 1 :] for column in columns]
    else:
        body = [[column[p] for p in body_positions] for column in columns]
    names: list[str] = []
    kept: list[list[str]] = []
    repeated: list[str] = []
    for position, name in enumerate(headers):
        if not name:
            if any(map(str.strip, body[position])):
                name = f"columna_{position + 1}"
            else:
                continue
        if name in names:
            repeated.append(name)
            continue
        names.append(name)
        kept.append(body[position])
    return _Body(names, kept, [p + 1 for p in body_positions], repeated, header_row)
