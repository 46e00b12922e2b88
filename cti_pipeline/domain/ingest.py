"""Source-independent steps of ingestion: read a folder's files, validate rows, build quarantine.

No Dagster here. Every function takes and returns plain values or DataFrames.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pandas as pd
import pandera.pandas as pa

from cti_pipeline.contracts.columns import DECIMAL_COMMA_COLUMN, SourceSpec
from cti_pipeline.contracts.rules import message
from cti_pipeline.landing.discovery import FileRejection, LandedFile
from cti_pipeline.landing.readers import ROW_COLUMN, UnreadableFile, read_table
from cti_pipeline.settings import MAX_CELL_CHARS

MTIME_COLUMN = "_mtime_ns"
EXTRA_COLUMN = "columnas_extra"
LONG_EXTRA_COLUMN = "_celda_larga_extra"

QUARANTINE_COLUMNS = ["origen", "anio", "archivo", "hoja", "fila", "columna", "regla", "valor", "mensaje"]
REJECTED_FILE_COLUMNS = ["origen", "anio", "archivo", "motivo", "detectado_en"]


@dataclass
class FileBatch:
    """The rows of every readable file of one folder, as text with provenance."""

    rows: pd.DataFrame
    rejected: list[FileRejection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def read_source_files(files: Iterable[LandedFile], spec: SourceSpec, workers: int = 2) -> FileBatch:
    """Read each file (in parallel threads), reject unreadable ones or ones lacking a required column."""
    files = list(files)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        outcomes = list(pool.map(lambda f: _read_one(f, spec), files))
    frames: list[pd.DataFrame] = []
    batch = FileBatch(rows=pd.DataFrame())
    for outcome in outcomes:
        if isinstance(outcome, FileRejection):
            batch.rejected.append(outcome)
        else:
            frame, warnings = outcome
            frames.append(frame)
            batch.warnings.extend(warnings)
    batch.rows = pd.concat(frames, ignore_index=True) if frames else empty_rows(spec)
    return batch


def empty_rows(spec: SourceSpec) -> pd.DataFrame:
    columns = {name: pd.Series(dtype="str") for name in [*spec.names, "archivo", "hoja", EXTRA_COLUMN, LONG_EXTRA_COLUMN]}
    columns.update({ROW_COLUMN: pd.Series(dtype="int64"), MTIME_COLUMN: pd.Series(dtype="int64")})
    columns[DECIMAL_COMMA_COLUMN] = pd.Series(dtype="bool")
    return pd.DataFrame(columns)


def _read_one(file: LandedFile, spec: SourceSpec) -> FileRejection | tuple[pd.DataFrame, list[str]]:
    try:
        table = read_table(file, spec.sheet)
    except UnreadableFile as error:
        return FileRejection(file.name, str(error))
    except MemoryError:
        return FileRejection(file.name, "El archivo es demasiado grande para procesarlo.")
    frame = table.frame
    missing = [name for name in spec.required_names if name not in frame.columns]
    if missing:
        found = ", ".join(c for c in frame.columns if c != ROW_COLUMN) or "ninguna"
        where = f" (hoja «{table.hoja}»)" if table.hoja else ""
        return FileRejection(
            file.name,
            f"Faltan columnas obligatorias{where}: {', '.join(missing)}. Columnas encontradas: {found}. "
            f"Use la plantilla de la declaración o revise que la cabecera esté en la primera fila con datos.",
        )
    extras = [c for c in frame.columns if c not in spec.names and c != ROW_COLUMN]
    warnings = [f"{file.name}: {w}" for w in table.warnings]
    if extras:
        warnings.append(f"{file.name}: extra column(s) kept in raw and ignored downstream: {', '.join(extras)}")
    out = frame[[c for c in frame.columns if c in spec.names] + [ROW_COLUMN]].copy()
    out[EXTRA_COLUMN] = pack_extras(frame[extras]) if extras else pd.Series(pd.NA, index=frame.index, dtype="str")
    out[LONG_EXTRA_COLUMN] = first_long_cell_column(frame[extras]) if extras else pd.Series(pd.NA, index=frame.index, dtype="str")
    out["archivo"] = file.name
    out["hoja"] = table.hoja
    out[MTIME_COLUMN] = file.mtime_ns
    out[DECIMAL_COMMA_COLUMN] = table.decimal_comma
    return out, warnings


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
