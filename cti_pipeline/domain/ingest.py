"""Source-independent steps of ingestion: read a folder's files, validate rows, build quarantine.

No Dagster here. Every function takes and returns plain values or DataFrames.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow
import pandera.pandas as pa

from cti_pipeline.contracts.columns import DECIMAL_COMMA_COLUMN, SourceSpec
from cti_pipeline.contracts.rules import message
from cti_pipeline.landing.discovery import FileRejection, LandedFile
from cti_pipeline.landing.readers import ROW_COLUMN, RawTable, UnreadableFile, read_raw, text_series, trimmed_text
from cti_pipeline.memory import trim_heap
from cti_pipeline.settings import MAX_CELL_CHARS

MTIME_COLUMN = "_mtime_ns"
EXTRA_COLUMN = "columnas_extra"
LONG_EXTRA_COLUMN = "_celda_larga_extra"
TRIM_EVERY_FILES = 100


QUARANTINE_COLUMNS = ["origen", "anio", "archivo", "hoja", "fila", "columna", "regla", "valor", "mensaje"]
REJECTED_FILE_COLUMNS = ["origen", "anio", "archivo", "motivo", "detectado_en"]


@dataclass
class FileBatch:
    """The rows of every readable file of one folder, as text with provenance."""

    rows: pd.DataFrame
    rejected: list[FileRejection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class FilePart:
    """One readable file's rows, as plain lists (cheap to build, and to send back from a worker process)."""

    raw: RawTable  # only the contract's columns, in the file's order (`columns` left empty: see `text`)
    text: dict[str, pyarrow.Array]  # the contract's columns, trimmed (Arrow pickles as buffers, not per string)
    extras: list[str | None] | None  # the extra columns of each row as JSON, or None when the file has none
    long_extra: list[object] | None  # the first extra column with an over-long cell, per row
    archivo: str
    mtime_ns: int
    warnings: list[str]


# Files are read one after the other in this process. A pool of worker processes was tried: `fork` can
# deadlock in a Dagster run process (it has other threads), `forkserver`/`spawn` re-import the caller's
# main module in every worker, and no gain was measured on 2 cores (docs/benchmarks.md).


def read_source_files(files: Iterable[LandedFile], spec: SourceSpec) -> FileBatch:
    """Read each file, reject unreadable ones or ones lacking a required column, and stack the rest into
    one frame of trimmed text with provenance columns."""
    outcomes = []
    for position, file in enumerate(files, start=1):
        outcomes.append(_read_part(file, spec))
        if position % TRIM_EVERY_FILES == 0:
            trim_heap()  # each file's cells are freed Python objects; keep the heap from growing with them
    parts: list[FilePart] = []
    batch = FileBatch(rows=pd.DataFrame())
    for outcome in outcomes:
        if isinstance(outcome, FileRejection):
            batch.rejected.append(outcome)
        else:
            parts.append(outcome)
            batch.warnings.extend(outcome.warnings)
    batch.rows = _stack_parts(parts) if parts else empty_rows(spec)
    return batch


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
            data[name] = pd.Series([n for part in parts for n in part.raw.fila], dtype="int64")
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


def empty_rows(spec: SourceSpec) -> pd.DataFrame:
    columns = {name: pd.Series(dtype="str") for name in [*spec.names, "archivo", "hoja", EXTRA_COLUMN, LONG_EXTRA_COLUMN]}
    columns.update({ROW_COLUMN: pd.Series(dtype="int64"), MTIME_COLUMN: pd.Series(dtype="int64")})
    columns[DECIMAL_COMMA_COLUMN] = pd.Series(dtype="bool")
    return pd.DataFrame(columns)


def _read_part(file: LandedFile, spec: SourceSpec) -> FileRejection | FilePart:
    try:
        table = read_raw(file, spec.sheet)
    except UnreadableFile as error:
        return FileRejection(file.name, str(error))
    except MemoryError:
        return FileRejection(file.name, "El archivo es demasiado grande para procesarlo.")
    missing = [name for name in spec.required_names if name not in table.names]
    if missing:
        found = ", ".join(table.names) or "ninguna"
        where = f" (hoja «{table.hoja}»)" if table.hoja else ""
        return FileRejection(
            file.name,
            f"Faltan columnas obligatorias{where}: {', '.join(missing)}. Columnas encontradas: {found}. "
            "Use la plantilla (cti-pipeline template) o revise que la cabecera esté en la primera fila con datos.",
        )
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


def pack_extras(extras: pd.DataFrame) -> pd.Series:
    """Extra columns of each row as one JSON object (vectorised through pandas' JSON writer)."""
    lines = extras.to_json(orient="records", lines=True, force_ascii=False).splitlines()
    return pd.Series(lines, index=extras.index, dtype="str")


def first_long_cell_column(extras: pd.DataFrame) -> pd.Series:
    too_long = extras.apply(lambda column: column.str.len() > MAX_CELL_CHARS)
    name = too_long.idxmax(axis=1).where(too_long.any(axis=1))
    return name.astype("str")


# --- validation ---------------------------------------------------------------------------------

FAILURE_COLUMNS = ["index", "columna", "regla"]


def model_failures(
    model: type[pa.DataFrameModel], prepared: pd.DataFrame, dataframe_rule_columns: dict[str, str]
) -> pd.DataFrame:
    """Run the pandera model lazily; one row per (row index, column, rule) that failed."""
    try:
        model.validate(prepared, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
    else:
        return pd.DataFrame({"index": pd.Series(dtype="int64"), "columna": pd.Series(dtype="str"), "regla": pd.Series(dtype="str")})
    cases = cases[cases["index"].notna()]
    rule = cases["check"].astype("str").where(cases["check"] != "not_nullable", "obligatorio")
    is_frame_rule = cases["schema_context"] == "DataFrameSchema"
    column = cases["column"].astype("str").where(~is_frame_rule, rule.map(dataframe_rule_columns))
    failures = pd.DataFrame({"index": cases["index"].astype("int64"), "columna": column, "regla": rule})
    return failures.drop_duplicates().reset_index(drop=True)


def long_extra_failures(rows: pd.DataFrame) -> pd.DataFrame:
    flagged = rows[LONG_EXTRA_COLUMN].dropna()
    return pd.DataFrame({"index": flagged.index.astype("int64"), "columna": flagged.values, "regla": "celda_demasiado_larga"})


def quarantine_rows(
    origen: str,
    anio: int,
    rows: pd.DataFrame,
    failures: pd.DataFrame,
    message_context: Callable[[str, str, pd.Series], dict[str, object]] | None = None,
) -> pd.DataFrame:
    """One quarantine row per failure, with the value as the entity wrote it and a Spanish message."""
    if failures.empty:
        return pd.DataFrame({c: pd.Series(dtype="str") for c in QUARANTINE_COLUMNS}).astype({"anio": "int64", "fila": "int64"})
    failures = failures.sort_values(["index", "columna", "regla"], kind="stable")
    source = rows.loc[failures["index"]]
    values = [
        _raw_value(source_row, column)
        for (_, source_row), column in zip(source.iterrows(), failures["columna"], strict=True)
    ]
    messages = []
    for (_, source_row), column, rule, value in zip(source.iterrows(), failures["columna"], failures["regla"], values, strict=True):
        context = {"columna": column, "valor": value, "anio": anio}
        if message_context is not None:
            context.update(message_context(rule, column, source_row))
        messages.append(message(rule, **context))
    return pd.DataFrame(
        {
            "origen": origen,
            "anio": anio,
            "archivo": source["archivo"].to_numpy(),
            "hoja": source["hoja"].to_numpy(),
            "fila": source[ROW_COLUMN].to_numpy(),
            "columna": failures["columna"].to_numpy(),
            "regla": failures["regla"].to_numpy(),
            "valor": values,
            "mensaje": messages,
        }
    )


def _raw_value(row: pd.Series, column: str) -> str | None:
    value = row.get(column)
    if value is None and isinstance(row.get(EXTRA_COLUMN), str):  # an extra column, packed as JSON
        value = json.loads(row[EXTRA_COLUMN]).get(column)
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return None
    text = str(value)
    return text if len(text) <= 200 else text[:200] + "…"


def rejected_files_frame(origen: str, anio: int, rejected: list[FileRejection], detected_at: dt.datetime) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "origen": pd.Series([origen] * len(rejected), dtype="str"),
            "anio": pd.Series([anio] * len(rejected), dtype="int64"),
            "archivo": pd.Series([r.archivo for r in rejected], dtype="str"),
            "motivo": pd.Series([r.motivo for r in rejected], dtype="str"),
            "detectado_en": pd.Series([detected_at] * len(rejected), dtype="datetime64[us]"),
        }
    )


def row_states(index: pd.Index, superseded: pd.Series, quarantined_index: pd.Index) -> pd.Series:
    """`estado_fila` of every row read: superseded wins, then quarantined, else staged."""
    state = pd.Series("staged", index=index, dtype="str")
    state[index.isin(quarantined_index)] = "quarantined"
    state[superseded.reindex(index, fill_value=False).to_numpy()] = "superseded"
    return state
