"""Every file of a landing folder, accounted for, and when the pipeline first saw each file's content.

- `files_frame`: one row per file found (read, rejected, or a header with no rows), which
  `ledger` completes with the row accounting into the rows of `meta.archivos`.
- `seen_order` / `new_contents`: re-submissions are ordered by when the pipeline first saw a file's
  content (its sha256, kept in `meta.contenidos`), not by modification times alone, which a copy or
  a `touch` changes; content never seen before counts from the earliest modification time of the files
  holding it, which is what is kept, so the next run orders the files as this one did.
- `file_contents`: each readable file's sha256, so that files with the same bytes count as one submission
  (`ingest.latest_per_group`).
"""

from __future__ import annotations

from collections.abc import Mapping

import duckdb
import pandas as pd

from cti_pipeline.contracts.tables import ARCHIVOS, CONTENIDOS
from cti_pipeline.landing.discovery import Discovery, FileRejection
from cti_pipeline.landing.file_reader import FilePart
from cti_pipeline.landing.folder_reader import FileBatch
from cti_pipeline.warehouse import table_exists

LEIDO, RECHAZADO, SIN_FILAS, REEMPLAZADO = "LEIDO", "RECHAZADO", "SIN_FILAS", "REEMPLAZADO"


def files_frame(origen: str, anio: int | None, discovery: Discovery, batch: FileBatch,
                ruc_by_file: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per file found in the folder: what was read of it or why it was rejected."""
    records = []
    for rejection in discovery.rejected:
        records.append({"archivo": rejection.archivo, "bytes": rejection.size, "mtime_ns": rejection.mtime_ns, "motivo": rejection.motivo})
    for file, outcome in batch.outcomes:
        record = {"archivo": file.name, "bytes": file.size, "mtime_ns": file.mtime_ns}
        if isinstance(outcome, FileRejection):
            record["motivo"] = outcome.motivo
        else:
            record.update(hoja=outcome.hoja, huella_contenido=outcome.sha256)
        records.append(record)
    frame = pd.DataFrame.from_records(records, columns=["archivo", "hoja", "bytes", "mtime_ns", "huella_contenido", "motivo"])
    return pd.DataFrame({
        "origen": pd.Series([origen] * len(frame), dtype="str"),
        "anio": pd.Series([anio] * len(frame), dtype="Int64"),
        "archivo": frame["archivo"].astype("str"),
        "hoja": frame["hoja"].astype("str"),
        "bytes": frame["bytes"].astype("Int64"),
        "modificado_en": pd.to_datetime(frame["mtime_ns"], unit="ns").astype("datetime64[us]"),
        "ruc_entidad": frame["archivo"].map(ruc_by_file or {}).astype("str"),
        "huella_contenido": frame["huella_contenido"].astype("str"),
        "motivo": frame["motivo"].astype("str"),
    })


def ledger(files: pd.DataFrame, accounting: pd.DataFrame) -> pd.DataFrame:
    """`meta.archivos` rows: each file with its row accounting and its state."""
    accounting = accounting.drop(columns="anio", errors="ignore")  # one year's (or the round's) accounting
    merged = files.merge(accounting, on="archivo", how="left")
    for column in ("filas_leidas", "filas_en_staging", "filas_en_cuarentena", "filas_reemplazadas"):
        merged[column] = merged[column].fillna(0).astype("int64")
    rejected = merged["motivo"].notna()
    empty = merged["filas_leidas"] == 0
    replaced = merged["filas_reemplazadas"] == merged["filas_leidas"]
    merged["estado_archivo"] = [
        RECHAZADO if r else SIN_FILAS if e else REEMPLAZADO if s else LEIDO for r, e, s in zip(rejected, empty, replaced, strict=True)
    ]
    return merged[list(ARCHIVOS)].sort_values("archivo", kind="stable").reset_index(drop=True)


def seen_order(batch: FileBatch, first_seen: Mapping[str, int]) -> dict[str, int]:
    """Per readable file, when its content was first seen (ns): from `first_seen` (sha256 → ns) when the
    pipeline has seen that content before, else the earliest modification time of the files holding it."""
    earliest = _earliest_per_content(batch)
    return {name: first_seen.get(sha256, earliest[sha256][0]) for name, sha256 in file_contents(batch).items()}


def file_contents(batch: FileBatch) -> dict[str, str]:
    """Per readable file, the sha256 of its bytes."""
    return {file.name: outcome.sha256 for file, outcome in batch.outcomes if isinstance(outcome, FilePart)}


def new_contents(origen: str, batch: FileBatch, first_seen: Mapping[str, int]) -> pd.DataFrame:
    """`meta.contenidos` rows for the contents this read saw for the first time: the earliest modification
    time of the files holding each (the time `seen_order` gave it) and that file."""
    rows = [(sha256, origen, name, mtime_ns) for sha256, (mtime_ns, name) in _earliest_per_content(batch).items()
            if sha256 not in first_seen]
    frame = pd.DataFrame(rows, columns=["huella_contenido", "origen", "archivo", "primera_vez_ns"])
    frame["primera_vez_ns"] = frame["primera_vez_ns"].astype("int64")
    frame["primera_vez_en"] = pd.to_datetime(frame["primera_vez_ns"], unit="ns").astype("datetime64[us]")
    return frame[list(CONTENIDOS)]


def _earliest_per_content(batch: FileBatch) -> dict[str, tuple[int, str]]:
    """Per content of the readable files: the earliest modification time of a file holding it, and that file."""
    earliest: dict[str, tuple[int, str]] = {}
    for file, outcome in batch.outcomes:
        if isinstance(outcome, FilePart):
            candidate = (file.mtime_ns, file.name)
            earliest[outcome.sha256] = min(earliest.get(outcome.sha256, candidate), candidate)
    return earliest


def first_seen(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Content sha256 → when the pipeline first saw it (ns), from `meta.contenidos`."""
    if not table_exists(conn, "meta.contenidos"):
        return {}
    return dict(conn.execute("SELECT huella_contenido, primera_vez_ns FROM meta.contenidos").fetchall())
