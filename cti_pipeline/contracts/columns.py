"""Column specifications and the vectorised text preparation every contract shares.

A landed file is read as text. `prepare_frame` turns each contract column into canonical text
(trimmed, blank → missing, codes upper-cased, `Sí` → `SI`, `8` → `08`, `DD/MM/YYYY` → ISO,
decimal comma → point) so that the pandera models check one spelling of each value, and
`typed_frame` converts the rows that passed into their warehouse types.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from cti_pipeline.contracts.text import blank_to_na, normalize_code, normalize_yes_no

Kind = Literal["text", "integer", "decimal", "date", "code", "yes_no", "ruc", "iso3", "departamento"]

DECIMAL_COMMA_COLUMN = "_coma_decimal"


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool
    codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceSpec:
    """One kind of input file: where its rows come from and which columns it has."""

    origen: str  # `declaraciones` or a registros kind; the value of quarantine.*.origen
    sheet: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_names(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


_INTEGER_TEXT = r"-?\d+"
_DECIMAL_TEXT = r"-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?"
_DMY = r"^(\d{1,2})/(\d{1,2})/(\d{4})$"


def prepare_integer(series: pd.Series) -> pd.Series:
    return blank_to_na(series).str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True)


def prepare_decimal(series: pd.Series, decimal_comma: pd.Series | None) -> pd.Series:
    text = blank_to_na(series).str.replace(" ", "", regex=False)
    if decimal_comma is not None and decimal_comma.any():
        with_comma = decimal_comma & text.str.contains(",", regex=False, na=False)
        comma_to_point = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
        text = text.where(~with_comma, comma_to_point)
    return text


def prepare_date(series: pd.Series) -> pd.Series:
    text = blank_to_na(series)
    dmy = text.str.extract(_DMY)
    iso_from_dmy = dmy[2] + "-" + dmy[1].str.zfill(2) + "-" + dmy[0].str.zfill(2)
    return iso_from_dmy.where(dmy[2].notna(), text)


def prepare_departamento(series: pd.Series) -> pd.Series:
    text = prepare_integer(series)
    return text.where(~text.str.fullmatch(r"\d", na=False), text.str.zfill(2))


def prepare_column(column: Column, series: pd.Series, decimal_comma: pd.Series | None) -> pd.Series:
    match column.kind:
        case "integer":
            return prepare_integer(series)
        case "decimal":
            return prepare_decimal(series, decimal_comma)
        case "date":
            return prepare_date(series)
        case "code":
            return normalize_code(series)
        case "yes_no":
            return normalize_yes_no(series)
        case "iso3":
            return blank_to_na(series).str.upper()
        case "departamento":
            return prepare_departamento(series)
        case _:
            return blank_to_na(series)


# Kinds whose preparation maps each cell on its own (decimal also looks at the row's decimal mark).
ELEMENTWISE_KINDS = frozenset({"text", "integer", "date", "code", "yes_no", "ruc", "iso3", "departamento"})


def prepare_frame(spec: SourceSpec, raw: pd.DataFrame) -> pd.DataFrame:
    """Canonical text for every contract column (missing optional columns become all-missing)."""
    decimal_comma = raw[DECIMAL_COMMA_COLUMN] if DECIMAL_COMMA_COLUMN in raw else None
    prepared = pd.DataFrame(index=raw.index)
    for column in spec.columns:
        series = raw[column.name] if column.name in raw else pd.Series(pd.NA, index=raw.index, dtype="str")
        if column.kind in ELEMENTWISE_KINDS:
            value = per_unique(lambda s, c=column: prepare_column(c, s, None), series)
        else:
            value = prepare_column(column, series, decimal_comma)
        prepared[column.name] = value.astype("str")
    return prepared


def per_unique(function: Callable[[pd.Series], pd.Series], series: pd.Series) -> pd.Series:
    """`function(series)` for an element-wise `function`, computed once per distinct value.

    Codes, dates, years and entity names repeat across a million rows: the string work runs on the
    few thousand distinct values and the result is spread back with one `take`. Columns that are
    mostly distinct (or not text) go straight through `function`.
    """
    if len(series) < 1000 or not isinstance(series.dtype, pd.StringDtype):
        return function(series)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    if len(uniques) * 4 > len(series):
        return function(series)
    distinct = pd.Series([*uniques, None], dtype=series.dtype)  # the last one stands for a missing value
    result = function(distinct)
    if result.dtype == series.dtype and result.equals(distinct):
        return series  # already canonical (clean codes, names): share the column instead of copying it
    spread = result.take(np.where(codes < 0, len(uniques), codes))
    spread.index = series.index
    return spread.rename(series.name)


# --- vectorised predicates the pandera models use (missing values are skipped by pandera) -------


def is_integer(series: pd.Series) -> pd.Series:
    return per_unique(lambda s: s.str.fullmatch(_INTEGER_TEXT), series)


def is_decimal(series: pd.Series) -> pd.Series:
    return series.str.fullmatch(_DECIMAL_TEXT)


def as_number(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series.where(series.str.fullmatch(_DECIMAL_TEXT, na=False)), errors="coerce")


def is_date(series: pd.Series) -> pd.Series:
    return as_date(series).notna()


def as_date(series: pd.Series) -> pd.Series:
    return per_unique(lambda s: pd.to_datetime(s, format="%Y-%m-%d", errors="coerce"), series)


def number_at_least(series: pd.Series, minimum: float) -> pd.Series:
    """True where the value is not a number (another rule reports that) or is ≥ minimum."""
    number = as_number(series)
    return number.isna() | (number >= minimum)


def number_between(series: pd.Series, low: float, high: float) -> pd.Series:
    number = as_number(series)
    return number.isna() | ((number >= low) & (number <= high))


def typed_frame(
    spec: SourceSpec, prepared: pd.DataFrame, rows: pd.Index | None = None, release_prepared: bool = False
) -> pd.DataFrame:
    """Warehouse types for rows that passed validation (`rows`: their labels, default all).

    Selecting column by column keeps one copy of the selected rows, not two (the selection and
    its typed version). With `release_prepared`, each column of `prepared` is dropped from it once
    converted, so that at a million rows the prepared and typed frames are not both held in full.
    """
    typed = pd.DataFrame(index=prepared.index if rows is None else rows)
    for column in spec.columns:
        series = prepared[column.name] if rows is None else prepared[column.name].loc[rows]
        if release_prepared:
            del prepared[column.name]
        match column.kind:
            case "integer":
                typed[column.name] = pd.to_numeric(series, errors="coerce").astype("Int64")
            case "decimal":
                typed[column.name] = pd.to_numeric(series, errors="coerce").astype("float64")
            case "date":
                typed[column.name] = as_date(series)  # DuckDB casts to DATE on insert
            case _:
                typed[column.name] = series
    return typed
