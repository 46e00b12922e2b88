"""Reading one landed file into a DataFrame of text, with Excel-like row numbers.

The one reader interface: `read_table(file, sheet)` returns a `Table` (every cell as trimmed text,
headers normalised, `fila` = the row number a person sees in Excel) or raises `UnreadableFile`
with a Spanish reason. Workbooks go through python-calamine (Rust); CSVs through pandas' C parser.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
import zlib
from dataclasses import dataclass, field

import pandas as pd
from python_calamine import CalamineWorkbook

from cti_pipeline.contracts.text import normalize_header
from cti_pipeline.landing.discovery import LandedFile
from cti_pipeline.settings import MAX_UNPACKED_BYTES

ROW_COLUMN = "fila"


class UnreadableFile(Exception):
    """The file cannot be read at all; the message is the Spanish `motivo` for the entity."""


@dataclass
class Table:
    """A file's rows as text. `frame` has one column per (normalised) header plus `fila`."""

    frame: pd.DataFrame
    hoja: str | None
    decimal_comma: bool = False
    encoding: str | None = None
    warnings: list[str] = field(default_factory=list)


def read_table(file: LandedFile, sheet: str) -> Table:
    if file.suffix == ".xlsx":
        return read_xlsx(file, sheet)
    if file.suffix == ".csv":
        return read_csv(file)
    raise UnreadableFile(f"Formato no admitido ({file.suffix}). Envíe el archivo como .xlsx o .csv.")


# --- xlsx -----------------------------------------------------------------------------------------


def check_workbook_container(file: LandedFile) -> None:
    """An .xlsx is a zip: refuse bombs (declared or actual unpacked size) and corrupt archives."""
    try:
        with zipfile.ZipFile(file.path) as archive:
            members = archive.infolist()
            declared = sum(member.file_size for member in members)
            if declared > MAX_UNPACKED_BYTES:
                raise UnreadableFile(_unpack_limit_message(declared))
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
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError, OSError) as error:
        raise UnreadableFile(
            "El archivo no es un libro de Excel .xlsx válido (está dañado o no es un .xlsx). "
            f"Ábralo en Excel y guárdelo de nuevo como .xlsx. Detalle: {error}"
        ) from error


def _unpack_limit_message(size: int) -> str:
    return (
        f"El libro de Excel se descomprime a más de {MAX_UNPACKED_BYTES // 1_048_576} MB "
        f"({size / 1_048_576:.0f} MB o más) y no se procesa. Envíe un archivo más pequeño."
    )


def read_xlsx(file: LandedFile, sheet: str) -> Table:
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
    except Exception as error:  # calamine raises several error types for broken workbooks
        raise UnreadableFile(
            f"No se pudo leer el libro de Excel: {error}. Ábralo en Excel y guárdelo de nuevo como .xlsx."
        ) from error
    warnings = [] if chosen.casefold() == sheet.casefold() else [f"no sheet named {sheet!r}; read the first sheet {chosen!r}"]
    frame = pd.DataFrame(rows, dtype="object") if rows else pd.DataFrame()
    frame = frame.map(cell_to_text) if not frame.empty else frame
    return Table(_rows_to_table(frame, first_row_number=1), hoja=chosen, warnings=warnings)


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
    text, encoding = decode_csv(file.path.read_bytes())
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
    table = _rows_to_table(frame, first_row_number=1)
    return Table(table, hoja=None, decimal_comma=separator == ";", encoding=encoding)


# --- shared ---------------------------------------------------------------------------------------


def _rows_to_table(frame: pd.DataFrame, first_row_number: int) -> pd.DataFrame:
    """Header = first non-empty row; drop blank rows; keep the row number a person sees."""
    if frame.empty:
        raise UnreadableFile("El archivo no tiene filas.")
    frame = frame.astype("str").apply(lambda column: column.str.strip())
    frame.index = pd.RangeIndex(first_row_number, first_row_number + len(frame))
    non_empty = (frame != "").any(axis=1)
    if not non_empty.any():
        raise UnreadableFile("El archivo no tiene filas.")
    header_row = non_empty.idxmax()
    headers = [normalize_header(h) for h in frame.loc[header_row]]
    body = frame.loc[header_row + 1 :]
    body = body[(body != "").any(axis=1)]
    keep: list[int] = []
    names: list[str] = []
    for position, name in enumerate(headers):
        column = body.iloc[:, position]
        if not name:
            if (column != "").any():
                name = f"columna_{position + 1}"
            else:
                continue
        if name in names:
            raise UnreadableFile(f"La columna «{name}» aparece dos veces en la cabecera (fila {header_row}).")
        keep.append(position)
        names.append(name)
    table = body.iloc[:, keep].copy()
    table.columns = names
    table[ROW_COLUMN] = table.index.astype("int64")
    return table.reset_index(drop=True)
