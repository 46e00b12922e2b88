"""What every source does after reading: validate rows, build the quarantine, give each row its state.

No Dagster here. Every function takes and returns plain values or DataFrames. Reading a folder's
files into one frame of text is `landing.folder_reader`; the checks are `contracts.schema`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from cti_pipeline.contracts.rules import message
from cti_pipeline.contracts.schema import Validation, empty_failures
from cti_pipeline.contracts.text import mask_emails
from cti_pipeline.landing.discovery import FileRejection
from cti_pipeline.landing.file_reader import FORMULA_WITHOUT_VALUE
from cti_pipeline.landing.folder_reader import EXTRA_COLUMN, ROW_COLUMN

QUARANTINE_COLUMNS = ["origen", "anio", "archivo", "hoja", "fila", "columna", "regla", "valor", "mensaje"]
REJECTED_FILE_COLUMNS = ["origen", "anio", "archivo", "motivo", "detectado_en"]

MessageContext = Callable[[str, str, pd.Series], dict[str, object]]


def failures_of(
    validation: Validation,
    prepared: pd.DataFrame,
    problems: pd.DataFrame,
    active: pd.Series | None = None,
    extra: Sequence[pd.DataFrame] = (),
) -> pd.DataFrame:
    """Every broken rule of the `active` rows (default: all): the schema's, the cells found wrong while
    reading (`problems`) and `extra` ones (index, columna, regla). The schema runs on every prepared row
    (no copy of a million-row frame) and the failures of inactive rows are dropped: its row checks
    look at one row, and its key check groups rows that are active or inactive together.

    A formula saved without its value is reported as such, not also as the empty cell it reads as.
    """
    found = pd.concat([validation.failures(prepared), problems, *extra], ignore_index=True)
    if active is not None and not active.all():
        found = found[active.to_numpy()[found["index"].to_numpy()]]
    formulas = found.loc[found["regla"] == FORMULA_WITHOUT_VALUE, ["index", "columna"]]
    if not formulas.empty:
        cell = pd.MultiIndex.from_frame(found[["index", "columna"]])
        shadowed = cell.isin(pd.MultiIndex.from_frame(formulas)) & (found["regla"] != FORMULA_WITHOUT_VALUE).to_numpy()
        found = found[~shadowed]
    return found.drop_duplicates().reset_index(drop=True) if not found.empty else empty_failures()


def quarantine_rows(origen: str, anio: int | None, rows: pd.DataFrame, failures: pd.DataFrame, context: MessageContext | None = None) -> pd.DataFrame:
    """One quarantine row per failure, with the value as the entity wrote it (e-mail addresses in it masked)
    and a Spanish message."""
    if failures.empty:
        return empty_quarantine()
    failures = failures.sort_values(["index", "columna", "regla"], kind="stable")
    source = rows.loc[failures["index"]]
    values, messages = [], []
    for (_, source_row), column, rule in zip(source.iterrows(), failures["columna"], failures["regla"], strict=True):
        value = _raw_value(source_row, column)  # e-mail addresses masked: personal data
        fields = {"columna": column, "valor": value, "anio": anio}
        if context is not None:
            fields.update(context(rule, column, source_row))
        values.append(value)
        messages.append(mask_emails(message(rule, **fields)))
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


def empty_quarantine() -> pd.DataFrame:
    return _EMPTY_QUARANTINE.copy()


_EMPTY_QUARANTINE = pd.DataFrame({c: pd.Series(dtype="str") for c in QUARANTINE_COLUMNS}).astype({"anio": "int64", "fila": "int64"})


def _raw_value(row: pd.Series, column: str) -> str | None:
    value = row.get(column)
    if value is None and isinstance(row.get(EXTRA_COLUMN), str):  # an extra column, packed as JSON
        value = json.loads(row[EXTRA_COLUMN]).get(column)
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return None
    text = mask_emails(str(value))  # before the cut, which could leave half an address unmatched
    return text if len(text) <= 200 else text[:200] + "…"


def rejected_files_frame(origen: str, anio: int | None, rejected: list[FileRejection], detected_at: dt.datetime) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "origen": pd.Series([origen] * len(rejected), dtype="str"),
            "anio": pd.Series([anio] * len(rejected), dtype="Int64"),  # none for a source that is not yearly
            "archivo": pd.Series([r.archivo for r in rejected], dtype="str"),
            "motivo": pd.Series([r.motivo for r in rejected], dtype="str"),
            "detectado_en": pd.Series([detected_at] * len(rejected), dtype="datetime64[us]"),
        }
    )


def row_states(index: pd.Index, superseded: pd.Series | None, failures: pd.DataFrame) -> pd.Series:
    """`estado_fila` of every row read: superseded wins, then quarantined, else staged."""
    state = pd.Series("staged", index=index, dtype="str")
    state[index.isin(pd.Index(failures["index"].unique()))] = "quarantined"
    if superseded is not None:
        state[superseded.reindex(index, fill_value=False).to_numpy(dtype=bool)] = "superseded"
    return state


def now() -> dt.datetime:
    """A naive UTC timestamp, as the warehouse stores them."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def latest_per_group(files: pd.Series, groups: pd.DataFrame, order: Mapping[str, int],
                     contents: Mapping[str, str] | None = None) -> tuple[pd.Series, pd.Series]:
    """For rows grouped by `groups` (rows with a missing group value take no part), the rows of the file
    latest in `order` (per file: when its content was first seen) count.

    With `contents` (per file, the sha256 of its bytes), files with the same bytes at a group's latest
    order are one submission landed twice (`declaracion.xlsx`, `declaracion (1).xlsx`): the rows of the
    last of them by name count and the others' are superseded, whatever their modification times.

    Returns `superseded` (an earlier row of its group) and `tied`: per row at its group's latest order
    that more than one file reaches, the names of those files (which of them counts cannot be told);
    missing elsewhere. Decided per (group, file) pair, of which there are a few per file, and spread
    back to the rows: a million rows cost one pass of integer codes, not a grouping of their text.
    """
    superseded = pd.Series(False, index=files.index, dtype=bool)
    tied = pd.Series(pd.NA, index=files.index, dtype="str")
    rows = np.flatnonzero(groups.notna().all(axis=1).to_numpy())
    if not len(rows):
        return superseded, tied
    group = _codes([pd.factorize(groups[c])[0][rows] for c in groups.columns])  # on Arrow text: no Python str per row
    file, names = pd.factorize(files)
    file = file[rows]
    pair, pair_of_row = np.unique(group * len(names) + file, return_inverse=True)
    pairs = pd.DataFrame({"grupo": pair // len(names), "archivo": names.to_numpy(dtype=object)[pair % len(names)]})
    pairs["orden"] = pairs["archivo"].map(order)
    pairs["contenido"] = pairs["archivo"].map(contents) if contents is not None else None
    late = pairs["orden"] < pairs.groupby("grupo")["orden"].transform("max")
    if contents is not None:  # the same bytes twice at the latest order: the last by name counts
        kept = pairs[~late].groupby(["grupo", "contenido"], dropna=False)["archivo"].transform("max")
        late[~late] = (kept.notna() & (pairs.loc[~late, "archivo"] != kept)).to_numpy()
    at_latest = pairs[~late]
    several = at_latest.groupby("grupo")["archivo"].transform("size") > 1
    listed = at_latest[several].groupby("grupo")["archivo"].agg(lambda s: ", ".join(sorted(s)))
    pair_tied = pd.Series(pairs["grupo"].map(listed).where(~late), dtype="str")
    superseded.iloc[rows] = late.to_numpy()[pair_of_row]
    tied.iloc[rows] = pair_tied.to_numpy()[pair_of_row]
    return superseded, tied


def _codes(columns: list[np.ndarray]) -> np.ndarray:
    """One integer per distinct combination of the columns' codes."""
    if len(columns) == 1:
        return columns[0].astype(np.int64)
    return np.unique(np.column_stack(columns), axis=0, return_inverse=True)[1].reshape(-1).astype(np.int64)
    keys = [groups.loc[complete, c] for c in groups.columns]
    latest = order[complete].groupby(keys).transform("max")
    superseded[complete] = (order[complete] < latest).to_numpy()
    at_latest = complete & ~superseded.to_numpy()
    if contents is not None:
        copies = groups[at_latest].assign(_contenido=contents[at_latest], _archivo=files[at_latest])
        kept = copies.groupby([*groups.columns, "_contenido"])["_archivo"].transform("max")
        superseded[at_latest] = (kept.notna() & (copies["_archivo"] != kept)).to_numpy()
        at_latest = complete & ~superseded.to_numpy()
    frame = groups[at_latest].assign(archivo=files[at_latest])
    names = frame.groupby(list(groups.columns))["archivo"].transform(lambda s: ", ".join(sorted(set(s))) if s.nunique() > 1 else None)
    tied[at_latest] = names.astype("str").to_numpy()
    return superseded, tied
