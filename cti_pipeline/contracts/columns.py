"""Column specifications, and the text preparation every contract shares.

A contract column is declared once, as a `Column` in `contracts/<source>.py`: its kind, whether it is
required, its code list (or the catalog that supplies it), its range, and whether it is part of the
key. `contracts/schema.py` builds the pandera checks from these specs; this module turns a landed
file's text into canonical text (`prepare_frame`: trimmed, blank → missing, codes upper-cased,
`Sí` → `SI`, `8` → `08`, `DD/MM/YYYY` → ISO, each file's decimal mark → `.`) so the checks see one
spelling of each value, and converts the rows that passed into their warehouse types (`typed_frame`).

Digits are ASCII digits only: `１２３` or `١٢٣` are not numbers here (they would pass a `\\d` check and
then become NULL). A value the checks accept is never turned into NULL afterwards: `typed_frame`
raises `StagingMismatch` if a conversion loses one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cti_pipeline.contracts.text import blank_to_na, normalize_code, normalize_yes_no, strip_invisible

Kind = Literal["text", "integer", "decimal", "date", "code", "yes_no", "ruc", "iso3", "departamento", "url"]
SQL_TYPES = {"integer": "BIGINT", "decimal": "DOUBLE", "date": "DATE"}


@dataclass(frozen=True)
class Column:
    """One contract column. Its checks follow from it (contracts/schema.py): the kind's own rule, the
    code list, the range, and `obligatorio` when required."""

    name: str
    kind: Kind
    required: bool = False
    codes: tuple[str, ...] = ()  # the allowed values of a code
    catalog: str | None = None  # ...or the catalog that supplies them when validating (areas, departamentos, iso3)
    rule: str | None = None  # the rule a malformed value breaks (default: the kind's own)
    minimum: float | None = None
    maximum: float | None = None
    range_rule: str | None = None  # the rule a number outside [minimum, maximum] breaks (default: negativo for ≥ 0)
    folder_year: bool = False  # must equal the year of the folder the file came from (anio_distinto_carpeta)
    within_year: bool = False  # a date that must fall in the folder's year (fecha_fuera_del_anio)


@dataclass(frozen=True)
class SourceSpec:
    """One kind of input file: its quarantine `origen`, the sheet read, its columns and its key."""

    origen: str
    sheet: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    key_scope: Literal["file", "all"] = "all"  # a key unique within each file, or across the folder's files
    key_column: str | None = None  # where a repeated key is reported (default: the key's last column)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_names(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def sql_types(self) -> dict[str, str]:
        return {c.name: SQL_TYPES.get(c.kind, "VARCHAR") for c in self.columns}


INTEGER_TEXT = r"-?[0-9]{1,18}"  # 18 digits always fit a 64-bit integer
DECIMAL_TEXT = r"-?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?"
ISO_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
# A text that never passes a check: a cell that cannot be read under its file's decimal mark.
MALFORMED = "\ufffd"


# --- preparation ------------------------------------------------------------------------------------


def prepare_frame(spec: SourceSpec, rows: pd.DataFrame, files: pd.Series | None = None, semicolon: pd.Series | None = None) -> pd.DataFrame:
    """Canonical text for every contract column (missing optional columns become all-missing).

    `files` and `semicolon` (per row: its file, and whether that file is a `;`-separated CSV) let each
    file's decimal mark be decided from all of its cells (`prepare_decimal`).
    """
    keys = set(spec.key)
    prepared = pd.DataFrame(index=rows.index)
    for column in spec.columns:
        series = rows[column.name] if column.name in rows else pd.Series(pd.NA, index=rows.index, dtype="str")
        if column.kind == "decimal":
            value = prepare_decimal(series, files, semicolon)
        else:
            value = per_unique(lambda s, c=column: prepare_value(c, s, c.name in keys), series)
        prepared[column.name] = value.astype("str")
    return prepared


def prepare_value(column: Column, series: pd.Series, is_key: bool = False) -> pd.Series:
    """Canonical text of one column whose cells are read on their own (every kind but decimal)."""
    match column.kind:
        case "integer":
            return prepare_integer(series)
        case "date":
            return prepare_date(series)
        case "code":
            return normalize_code(series)
        case "yes_no":
            return normalize_yes_no(series)
        case "iso3":
            return strip_invisible(blank_to_na(series)).str.upper()
        case "ruc":
            return strip_invisible(blank_to_na(series))
        case "departamento":
            text = prepare_integer(series)
            return text.where(~text.str.fullmatch(r"[0-9]", na=False), text.str.zfill(2))
        case _:
            text = blank_to_na(series)
            return strip_invisible(text) if is_key else text  # a key compares without invisible characters


def prepare_integer(series: pd.Series) -> pd.Series:
    """A number cell of Excel (`1500.0`) is the integer a person sees (`1500`)."""
    return strip_invisible(blank_to_na(series)).str.replace(r"^(-?[0-9]+)\.0+$", r"\1", regex=True)


def prepare_date(series: pd.Series) -> pd.Series:
    """`DD/MM/YYYY` → ISO; a date cell with a time of day (`2024-01-05 14:30:00`) → its date."""
    text = strip_invisible(blank_to_na(series))
    dmy = text.str.extract(r"^([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})$")
    iso_from_dmy = dmy[2] + "-" + dmy[1].str.zfill(2) + "-" + dmy[0].str.zfill(2)
    text = iso_from_dmy.where(dmy[2].notna(), text)
    return text.str.replace(rf"^({ISO_DATE})[ T][0-9]{{1,2}}:[0-9]{{2}}(:[0-9]{{2}}(\.[0-9]+)?)?$", r"\1", regex=True)


THOUSANDS = r"-?[0-9]{1,3}(\.[0-9]{3})+(,[0-9]*)?"


def prepare_decimal(series: pd.Series, files: pd.Series | None, semicolon: pd.Series | None) -> pd.Series:
    """Decimal text with `.` as its mark. Workbooks and `,`-separated CSVs write `.`; a `;`-separated CSV
    (Excel in a Spanish locale) may write `,` and group thousands with `.` (`1.234.567,89`). Its mark is
    decided once per file and column, from all of the column's cells:

    - some cell has a `,`: the comma is the decimal mark and a `.` may only group thousands;
    - else some cell has a `.` that cannot group thousands (`3.5`, `1234.56`): the point is the mark;
    - else every `.` groups thousands (`1.200`, `12.500`): what a Spanish-locale `#.##0` writes.

    A cell that does not fit its file's mark cannot be read one way: it is left malformed, so it is
    quarantined (`decimal_invalido`) rather than staged as a number it may not be.
    """
    text = strip_invisible(blank_to_na(series)).str.replace(r"[ \u00a0\u202f]", "", regex=True)
    if semicolon is None or not semicolon.any():
        return text
    in_csv = semicolon.to_numpy(dtype=bool) & text.notna().to_numpy()
    if not in_csv.any():
        return text
    cells = pd.DataFrame({"archivo": files[in_csv], "text": text[in_csv]})
    has_comma = cells["text"].str.contains(",", regex=False)
    has_point = cells["text"].str.contains(".", regex=False)
    grouped = cells["text"].str.fullmatch(THOUSANDS)
    comma_file = has_comma.groupby(cells["archivo"]).transform("any")
    point_file = (has_point & ~grouped).groupby(cells["archivo"]).transform("any") & ~comma_file
    as_comma = cells["text"].where(~has_point | grouped, MALFORMED).str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    as_point = cells["text"].where(~has_comma, MALFORMED)
    as_grouped = cells["text"].str.replace(".", "", regex=False)
    decided = as_point.where(point_file, as_comma.where(comma_file, as_grouped))
    decided = decided.where(~decided.str.contains(MALFORMED, regex=False), MALFORMED + cells["text"])
    out = text.copy()
    out[in_csv] = decided.to_numpy()
    return out


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


# --- canonical text → values --------------------------------------------------------------------


def is_integer(series: pd.Series) -> pd.Series:
    return per_unique(lambda s: s.str.fullmatch(INTEGER_TEXT), series)


def is_decimal(series: pd.Series) -> pd.Series:
    return series.str.fullmatch(DECIMAL_TEXT)


def as_number(series: pd.Series) -> pd.Series:
    return per_unique(lambda s: to_float(s.where(s.str.fullmatch(DECIMAL_TEXT, na=False))), series)


def to_float(text: pd.Series) -> pd.Series:
    """Number text (or missing) → float64, NaN where it is no number. Arrow parses it, correctly rounded as
    Python's `float` is, an order of magnitude faster than `pd.to_numeric` on a million cells."""
    try:
        values = pc.cast(_arrow_text(text), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # some cell is no number: the slow path tells which
        return pd.to_numeric(text, errors="coerce").astype("float64")
    return pd.Series(values.to_numpy(zero_copy_only=False), index=text.index, name=text.name)


def _arrow_text(text: pd.Series) -> pa.ChunkedArray | pa.Array:
    """The Arrow text under a `str` Series, chunk by chunk (no copy of a million rows to combine them)."""
    if hasattr(text.array, "__arrow_array__"):
        return text.array.__arrow_array__()
    return pa.array(text, type=pa.large_string(), from_pandas=True)


def to_int(text: pd.Series) -> pd.Series:
    """Integer text (or missing) → Int64, missing where it is no integer (or does not fit in 64 bits)."""
    try:
        values = pc.cast(_arrow_text(text), pa.int64())
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # some cell is no integer, or too large: missing there
        number = pd.to_numeric(text, errors="coerce")
        return number.where(number.abs().lt(2**63) & number.mod(1).eq(0)).astype("Int64")
    return pd.Series(values.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get).array, index=text.index, name=text.name)


def as_date(series: pd.Series) -> pd.Series:
    def convert(s: pd.Series) -> pd.Series:
        return pd.to_datetime(s.where(s.str.fullmatch(ISO_DATE, na=False)), format="%Y-%m-%d", errors="coerce")

    return per_unique(convert, series)


class StagingMismatch(AssertionError):
    """A value that passed validation could not be converted: the checks and the conversion disagree."""


def typed_frame(spec: SourceSpec, prepared: pd.DataFrame, rows: pd.Index | None = None, release_prepared: bool = False) -> pd.DataFrame:
    """Warehouse types for rows that passed validation (`rows`: their labels, default all).

    Selecting column by column keeps one copy of the selected rows, not two. With `release_prepared`,
    each column of `prepared` is dropped from it once converted (memory at a million rows). A value
    present before the conversion and missing after it stops the run (`StagingMismatch`): the checks
    accepted something the conversion cannot represent, and staging it as NULL would change the data.
    """
    typed = pd.DataFrame(index=prepared.index if rows is None else rows)
    for column in spec.columns:
        series = prepared[column.name] if rows is None else prepared[column.name].loc[rows]
        if release_prepared:
            del prepared[column.name]
        match column.kind:
            case "integer":
                value = per_unique(to_int, series)
            case "decimal":
                value = per_unique(to_float, series)
            case "date":
                value = as_date(series)  # DuckDB casts to DATE on insert
            case _:
                value = series
        lost = series.notna().to_numpy() & value.isna().to_numpy()
        if lost.any():
            examples = ", ".join(repr(v) for v in series[lost].unique()[:5])
            raise StagingMismatch(
                f"{spec.origen}.{column.name}: {int(lost.sum())} value(s) passed validation but cannot be stored as "
                f"{column.kind} ({examples}); fix the check or the conversion"
            )
        typed[column.name] = value
    return typed
