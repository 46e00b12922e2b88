"""Source-independent steps of ingestion after reading: validate rows, build quarantine and states.

No Dagster here. Every function takes and returns plain values or DataFrames. Reading a folder's
files into one frame of text is `domain.reading`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import pandas as pd
import pandera.pandas as pa

from cti_pipeline.contracts.rules import message
from cti_pipeline.domain.reading import EXTRA_COLUMN, LONG_EXTRA_COLUMN
from cti_pipeline.landing.discovery import FileRejection
from cti_pipeline.landing.readers import ROW_COLUMN

QUARANTINE_COLUMNS = ["origen", "anio", "archivo", "hoja", "fila", "columna", "regla", "valor", "mensaje"]
REJECTED_FILE_COLUMNS = ["origen", "anio", "archivo", "motivo", "detectado_en"]


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
