"""Reading a folder's landed files into one frame of trimmed text with provenance.

No Dagster and no validation here (that is `domain.ingest`). Each file is read by `read_part`
(through the one reader interface, `landing.readers.read_raw`) into a `FilePart`, or rejected whole
with a Spanish reason. With a `ReadCache` (`domain.read_cache`), a file whose name, size and
modification time have not changed since it was last read is loaded from the cache instead, and
the files still to read are shared with one helper process (`domain.read_helper`) when the
machine has a second core and there are enough of them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd
import pyarrow

from cti_pipeline.contracts.columns import DECIMAL_COMMA_COLUMN
from cti_pipeline.landing.discovery import FileRejection, LandedFile
from cti_pipeline.landing.readers import ROW_COLUMN, RawTable, UnreadableFile, read_raw, text_series, trimmed_text
from cti_pipeline.memory import trim_heap
from cti_pipeline.settings import MAX_CELL_CHARS

if TYPE_CHECKING:
    from cti_pipeline.domain.read_cache import ReadCache

MTIME_COLUMN = "_mtime_ns"
EXTRA_COLUMN = "columnas_extra"
LONG_EXTRA_COLUMN = "_celda_larga_extra"
TRIM_EVERY_FILES = 100
# A helper process costs about half a second of the second core to start (Python, pandas, pyarrow,
# calamine); below this many files to read it would rarely get to read any.
HELPER_MIN_FILES = 24


class Readable(Protocol):
    """What reading needs of a contract (`contracts.columns.SourceSpec` has it)."""

    sheet: str

    @property
    def names(self) -> list[str]: ...

    @property
    def required_names(self) -> list[str]: ...


@dataclass(frozen=True)
class ReadSpec:
    """The part of a contract that decides how a file is read: plain values, so that a helper process
    can be given it without importing the contracts (and pandera)."""

    sheet: str
    names: tuple[str, ...]
    required_names: tuple[str, ...]

    @classmethod
    def of(cls, spec: Readable) -> ReadSpec:
        return cls(spec.sheet, tuple(spec.names), tuple(spec.required_names))


@dataclass
class FileBatch:
    """The rows of every readable file of one folder, as text with provenance."""

    rows: pd.DataFrame
    rejected: list[FileRejection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    read_from_cache: int = 0  # files loaded from the ReadCache instead of being read again
    read_by_helper: int = 0  # files read by the helper process


@dataclass
class FilePart:
    """One readable file's rows, as plain lists and Arrow arrays (cheap to build, store and load)."""

    raw: RawTable  # only the contract's columns, in the file's order (`columns` left empty: see `text`)
    text: dict[str, pyarrow.Array]  # the contract's columns, trimmed
    extras: list[str | None] | None  # the extra columns of each row as JSON, or None when the file has none
    long_extra: list[object] | None  # the first extra column with an over-long cell, per row
    archivo: str
    mtime_ns: int
    warnings: list[str]


def read_source_files(files: Iterable[LandedFile], spec: Readable, cache: ReadCache | None = None) -> FileBatch:
    """Read each file, reject unreadable ones or ones lacking a required column, and stack the rest into
    one frame of trimmed text with provenance columns.

    With a cache, files unchanged since they were last read are loaded from it, the rest are read
    (shared with a helper process when there are many), and the cache is rewritten with this read.
    """
    files = list(files)
    read_spec = ReadSpec.of(spec)
    started_ns = time.time_ns()
    cached = cache.load(files, read_spec) if cache is not None else {}
    outcomes: dict[LandedFile, FilePart | FileRejection | None] = {file: cached.get(file.name) for file in files}
    pending = [file for file in files if outcomes[file] is None]

    def read_here(position: int) -> None:
        outcomes[pending[position]] = read_part(pending[position], read_spec)

    by_helper = {}
    if cache is not None and len(pending) >= HELPER_MIN_FILES and usable_cores() > 1 and os.name == "posix":
        from cti_pipeline.domain.read_helper import read_with_helper

        by_helper = read_with_helper(pending, read_spec, cache.version, read_here, scratch=cache.folder)
        for file in pending:  # what the helper read (and, had it failed, what it did not)
            if outcomes[file] is None:
                outcomes[file] = by_helper.get(file.name) or read_part(file, read_spec)
    else:
        for position in range(len(pending)):
            read_here(position)
            if (position + 1) % TRIM_EVERY_FILES == 0:
                trim_heap()  # each file's cells are freed Python objects; keep the heap from growing with them
    if cache is not None and not cache.up_to_date:
        cache.save(read_spec, outcomes, read_started_ns=started_ns)
    parts: list[FilePart] = []
    batch = FileBatch(rows=pd.DataFrame(), read_from_cache=len(cached), read_by_helper=len(by_helper))
    for outcome in outcomes.values():
        if isinstance(outcome, FileRejection):
            batch.rejected.append(outcome)
        else:
            parts.append(outcome)
            batch.warnings.extend(outcome.warnings)
    batch.rows = _stack_parts(parts) if parts else empty_rows(spec)
    return batch


def usable_cores() -> int:
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _stack_parts(parts: list[FilePart]) -> pd.DataFrame:
    """The rows of every part in one frame; columns in order of first appearance, like `pd.concat`."""
    lengths = [len(part.raw) for part in parts]
    provenance = [ROW_COLUMN, EXTRA_COLUMN, LONG_EXTRA_COLUMN, "archivo", "hoja", MTIME_COLUMN, DECIMAL_COMMA_COLUMN]
    order: dict[str, None] = {}
    for part in parts:
        order.update(dict.fromkeys(part.raw.names))
        order.update(dict.fromkeys(provenance))
    data: dict[str, pd.Series] = {}
    for name in order:
        if name == ROW_COLUMN:
            data[name] = pd.Series(np.concatenate([np.asarray(part.raw.fila, dtype="int64") for part in parts]), dtype="int64")
        elif name == EXTRA_COLUMN:
            data[name] = pd.Series(_chain([part.extras for part in parts], lengths), dtype="str")
        elif name == LONG_EXTRA_COLUMN:
            data[name] = pd.Series(_chain([part.long_extra for part in parts], lengths), dtype="str")
        elif name == "archivo":
            data[name] = pd.Series(_chain([[part.archivo] * n for part, n in zip(parts, lengths, strict=True)], lengths), dtype="str")
        elif name == "hoja":
            hojas = [part.raw.hoja for part in parts]
            values = _chain([[hoja] * n for hoja, n in zip(hojas, lengths, strict=True)], lengths)
            data[name] = pd.Series(values, dtype="object" if None in hojas else "str")
        elif name == MTIME_COLUMN:
            data[name] = pd.Series(np.repeat([part.mtime_ns for part in parts], lengths), dtype="int64")
        elif name == DECIMAL_COMMA_COLUMN:
            data[name] = pd.Series(np.repeat([part.raw.decimal_comma for part in parts], lengths), dtype="bool")
        else:
            chunks = [part.text.get(name) for part in parts]
            chunks = [c if c is not None else pyarrow.nulls(n, pyarrow.large_string()) for c, n in zip(chunks, lengths, strict=True)]
            data[name] = text_series(pyarrow.chunked_array(chunks, type=pyarrow.large_string()))
    return pd.DataFrame(data)


def _chain(pieces: list[list[object] | None], lengths: list[int]) -> list[object]:
    """Concatenate per-file lists; a file without the column contributes missing values."""
    out: list[object] = []
    for piece, n in zip(pieces, lengths, strict=True):
        out.extend(piece if piece is not None else [None] * n)
    return out


def empty_rows(spec: Readable) -> pd.DataFrame:
    columns = {name: pd.Series(dtype="str") for name in [*spec.names, "archivo", "hoja", EXTRA_COLUMN, LONG_EXTRA_COLUMN]}
    columns.update({ROW_COLUMN: pd.Series(dtype="int64"), MTIME_COLUMN: pd.Series(dtype="int64")})
    columns[DECIMAL_COMMA_COLUMN] = pd.Series(dtype="bool")
    return pd.DataFrame(columns)


def read_part(file: LandedFile, spec: Readable) -> FileRejection | FilePart:
    """One file's contract columns as trimmed text, or its rejection with a reason for the entity."""
    try:
        table = read_raw(file, spec.sheet)
    except UnreadableFile as error:
        return FileRejection(file.name, str(error), transient=error.transient)
    except MemoryError:
        return FileRejection(file.name, "El archivo es demasiado grande para procesarlo.", transient=True)
    missing = [name for name in spec.required_names if name not in table.names]
    if missing or table.repeated:
        return FileRejection(file.name, header_reason(spec, table, missing))
    extras = [c for c in table.names if c not in spec.names]
    warnings = [f"{file.name}: {w}" for w in table.warnings]
    packed = long_extra = None
    if extras:
        warnings.append(f"{file.name}: extra column(s) kept in raw and ignored downstream: {', '.join(extras)}")
        by_name = dict(zip(table.names, table.columns, strict=True))
        frame = pd.DataFrame({name: text_series(by_name[name]) for name in extras})
        packed = pack_extras(frame).tolist()
        long_extra = first_long_cell_column(frame).tolist()
    kept = {name: trimmed_text(column) for name, column in zip(table.names, table.columns, strict=True) if name in spec.names}
    contract_only = RawTable(list(kept), [], table.fila, table.hoja, table.decimal_comma, table.encoding)
    return FilePart(contract_only, kept, packed, long_extra, file.name, file.mtime_ns, warnings)


def header_reason(spec: Readable, table: RawTable, missing: list[str]) -> str:
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
        return table.repeated_reason()
    return f"Faltan columnas obligatorias{where}: {', '.join(missing)}. Columnas encontradas: {', '.join(table.names)}. {advice}"


def pack_extras(extras: pd.DataFrame) -> pd.Series:
    """Extra columns of each row as one JSON object (vectorised through pandas' JSON writer)."""
    lines = extras.to_json(orient="records", lines=True, force_ascii=False).splitlines()
    return pd.Series(lines, index=extras.index, dtype="str")


def first_long_cell_column(extras: pd.DataFrame) -> pd.Series:
    too_long = extras.apply(lambda column: column.str.len() > MAX_CELL_CHARS)
    name = too_long.idxmax(axis=1).where(too_long.any(axis=1))
    return name.astype("str")

