"""Where every column is validated: pandera schemas built from the column specs.

`validation(spec, ...)` turns each `Column` of a `SourceSpec` into pandera checks named after the rule
they enforce (`regla`): the kind's own rule (`entero_invalido`, `decimal_invalido`, `fecha_invalida`,
`si_no_invalido`, `ruc_invalido`), the code list (`valor_no_permitido`, or the column's own rule),
the range (`negativo`, or the column's range rule), the folder's year (`anio_distinto_carpeta`,
`fecha_fuera_del_anio`), `obligatorio` for a required column, `celda_demasiado_larga` for every
column, and `clave_duplicada` for the key. Only what spans columns or rows beyond the key is written
by hand, as a `RowRule` beside the source's columns (an end date before its start, a part larger
than its total, a section not assigned to a respondent).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pandera.pandas as pa

from cti_pipeline.contracts.columns import Column, SourceSpec, as_date, as_number, is_decimal, is_integer, per_unique
from cti_pipeline.contracts.text import normalize_name
from cti_pipeline.settings import MAX_CELL_CHARS

KIND_RULES = {
    "integer": "entero_invalido",
    "decimal": "decimal_invalido",
    "date": "fecha_invalida",
    "yes_no": "si_no_invalido",
    "ruc": "ruc_invalido",
    "url": "url_invalida",
}
RULE_SEPARATOR = "@"  # a row rule's pandera name is `regla@columna`


@dataclass(frozen=True)
class RowRule:
    """A rule across columns (or rows): `passes(frame)` is True for the rows that keep it; `column` is
    the one a person should correct."""

    rule: str
    column: str
    passes: Callable[[pd.DataFrame], pd.Series]


@dataclass(frozen=True)
class Validation:
    """A source's pandera schema, and the code lists its messages name."""

    spec: SourceSpec
    schema: pa.DataFrameSchema
    allowed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def failures(self, prepared: pd.DataFrame) -> pd.DataFrame:
        """One row per (row index, column, rule) that failed, the schema run lazily on canonical text."""
        if prepared.empty:  # no row can break a rule (and pandera's set-up costs more than the check)
            return empty_failures()
        try:
            self.schema.validate(prepared, lazy=True)
        except pa.errors.SchemaErrors as errors:
            cases = errors.failure_cases
        else:
            return empty_failures()
        cases = cases[cases["index"].notna()]
        check = cases["check"].astype("str")
        rule = check.str.split(RULE_SEPARATOR, n=1).str[0].where(check != "not_nullable", "obligatorio")
        column = check.str.split(RULE_SEPARATOR, n=1).str[1].where(check.str.contains(RULE_SEPARATOR, regex=False), cases["column"].astype("str"))
        failures = pd.DataFrame({"index": cases["index"].astype("int64"), "columna": column, "regla": rule})
        return failures.drop_duplicates().reset_index(drop=True)

    def allowed_values(self, column: str) -> str:
        """The list a `valor_no_permitido` (or catalog) message shows."""
        return ", ".join(self.allowed.get(column, ()))


def empty_failures() -> pd.DataFrame:
    return pd.DataFrame({"index": pd.Series(dtype="int64"), "columna": pd.Series(dtype="str"), "regla": pd.Series(dtype="str")})


def validation(
    spec: SourceSpec,
    *,
    anio: int | None = None,
    codes: Mapping[str, Collection[str]] | None = None,
    rules: Sequence[RowRule] = (),
) -> Validation:
    """The schema of `spec` for the folder year `anio`, with the catalogs' code lists in `codes`
    (keyed by `Column.catalog`) and the source's hand-written `rules`."""
    codes = codes or {}
    allowed: dict[str, tuple[str, ...]] = {}
    columns = {}
    for column in spec.columns:
        listed = column.codes or tuple(sorted(codes.get(column.catalog, ()))) if column.catalog else column.codes
        if listed or column.catalog:
            allowed[column.name] = listed
        columns[column.name] = pa.Column(nullable=not column.required, checks=column_checks(column, listed, anio), required=False)
    frame_checks = [row_check(rule) for rule in rules]
    if spec.key:
        key_column = spec.key_column or spec.key[-1]
        frame_checks.append(row_check(RowRule("clave_duplicada", key_column, lambda df: ~duplicated_key(spec, df))))
    schema = pa.DataFrameSchema(columns, checks=frame_checks, strict=False)
    return Validation(spec, schema, allowed)


def column_checks(column: Column, listed: Collection[str], anio: int | None) -> list[pa.Check]:
    rule = column.rule
    checks = [pa.Check(lambda s: s.str.len() <= MAX_CELL_CHARS, name="celda_demasiado_larga")]
    if column.kind in KIND_RULES:
        checks.append(pa.Check(KIND_CHECKS[column.kind], name=rule or KIND_RULES[column.kind]))
    if column.codes or column.catalog:
        allowed = frozenset(listed)
        checks.append(pa.Check(lambda s: s.isin(allowed), name=rule or "valor_no_permitido"))
    if column.minimum is not None or column.maximum is not None:
        low = -float("inf") if column.minimum is None else column.minimum
        high = float("inf") if column.maximum is None else column.maximum
        default = "negativo" if column.minimum == 0 and column.maximum is None else "fuera_de_rango"
        checks.append(pa.Check(lambda s: number_between(s, low, high), name=column.range_rule or default))
    if column.folder_year and anio is not None:
        checks.append(pa.Check(lambda s: number_between(s, anio, anio), name="anio_distinto_carpeta"))
    if column.within_year and anio is not None:
        start, end = dt.datetime(anio, 1, 1), dt.datetime(anio, 12, 31)
        checks.append(pa.Check(lambda s: date_between(s, start, end), name="fecha_fuera_del_anio"))
    return checks


def row_check(rule: RowRule) -> pa.Check:
    return pa.Check(rule.passes, name=f"{rule.rule}{RULE_SEPARATOR}{rule.column}")


# --- the predicates the checks use (missing values are skipped by pandera) -----------------------


def number_between(series: pd.Series, low: float, high: float) -> pd.Series:
    """True where the value is not a number (its kind's rule reports that) or lies in [low, high]."""
    number = as_number(series)
    return number.isna() | ((number >= low) & (number <= high))


def date_between(series: pd.Series, start: dt.datetime, end: dt.datetime) -> pd.Series:
    date = as_date(series)
    return date.isna() | ((date >= start) & (date <= end))


RUC_WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def is_valid_ruc(series: pd.Series) -> pd.Series:
    """SUNAT RUC: 11 ASCII digits, prefix 10/15/16/17/20, 11th digit = check digit (vectorised)."""
    shaped = series.str.fullmatch(r"(10|15|16|17|20)[0-9]{9}").fillna(False).astype(bool)
    text = series.where(shaped, "00000000000").to_numpy(dtype="S11")  # ASCII digits, one byte each
    digits = np.frombuffer(text.tobytes(), dtype=np.uint8).reshape(-1, 11) - ord("0")
    total = np.zeros(len(digits), dtype=np.int32)
    for position, weight in enumerate(RUC_WEIGHTS):
        total += digits[:, position].astype(np.int32) * weight
    check = 11 - total % 11
    check = np.where(check < 10, check, check - 10)  # r=10 → 0, r=11 → 1
    return shaped & pd.Series(digits[:, 10] == check, index=series.index)


def ruc_check_digit(first_ten: str) -> int:
    """The SUNAT check digit of the first ten digits of a RUC (used to make valid sample RUCs)."""
    check = 11 - sum(int(d) * w for d, w in zip(first_ten, RUC_WEIGHTS, strict=True)) % 11
    return check - 10 if check >= 10 else check


KIND_CHECKS: dict[str, Callable[[pd.Series], pd.Series]] = {
    "integer": is_integer,
    "decimal": is_decimal,
    "date": lambda s: as_date(s).notna(),
    "yes_no": lambda s: s.isin(("SI", "NO")),
    "ruc": lambda s: per_unique(is_valid_ruc, s),  # a few hundred entities declare a year's rows
    "url": lambda s: s.str.fullmatch(r"(?i)https?://[^\s/$.?#][^\s]*"),
}


# --- keys -----------------------------------------------------------------------------------------


def key_frame(spec: SourceSpec, df: pd.DataFrame) -> pd.DataFrame:
    """The key as comparable text: names normalised, numbers as numbers, optional parts blank, and the
    file when the key is unique per file."""
    parts: dict[str, pd.Series] = {}
    if spec.key_scope == "file":
        parts["archivo"] = df["archivo"]
    for name in spec.key:
        column = spec.column(name)
        if column.kind == "integer":
            number = as_number(df[name])
            part = number.astype("str").where(number.notna(), df[name])
        elif column.kind in ("text", "code"):
            part = per_unique(normalize_name, df[name]) if df[name].notna().any() else df[name]
        else:
            part = df[name]
        parts[name] = part.fillna("") if not column.required else part
    return pd.DataFrame(parts, index=df.index)


def duplicated_key(spec: SourceSpec, df: pd.DataFrame) -> pd.Series:
    """True for every row whose complete key is shared with another row (all of them, not all but one)."""
    keys = key_frame(spec, df)
    complete = keys.notna().all(axis=1)
    return complete & keys.duplicated(keep=False)
