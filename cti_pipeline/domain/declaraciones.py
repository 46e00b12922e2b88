"""The Declaración Anual of one year: read, re-submissions superseded, validated, staged with `monto_usd`."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cti_pipeline.contracts.columns import prepare_frame, typed_frame
from cti_pipeline.contracts.declaracion import DECLARACION, declaracion_validation
from cti_pipeline.contracts.reference import DeclarationCatalogs
from cti_pipeline.contracts.schema import is_valid_ruc
from cti_pipeline.domain.ledger import file_contents, files_frame, new_contents, seen_order
from cti_pipeline.domain.ingest import failures_of, latest_per_group, now, quarantine_rows, rejected_files_frame, row_states
from cti_pipeline.landing.discovery import discover_files
from cti_pipeline.landing.folder_reader import EXTRA_COLUMN, ROW_COLUMN, SEMICOLON_COLUMN, read_folder
from cti_pipeline.landing.read_cache import ReadCache
from cti_pipeline.memory import collect_only_when_asked, peak_memory_mb, release_freed_memory


@dataclass
class IngestResult:
    """Everything one year of one source writes to the warehouse."""

    raw: pd.DataFrame
    staged: pd.DataFrame
    quarantined: pd.DataFrame
    rejected_files: pd.DataFrame
    files: pd.DataFrame  # one row per file found (meta.archivos without its counts)
    contents: pd.DataFrame  # meta.contenidos rows: contents seen for the first time
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase (discover, read, ...)
    peak_mb: dict[str, int] = field(default_factory=dict)  # peak resident memory at the end of each phase
    files_from_cache: int = 0  # files loaded from the read cache, unchanged since they were last read
    files_by_worker: int = 0  # files read by the worker process
    # Files rejected for a failure that may not recur (disk, memory): the year must be read again next run.
    transient_rejections: int = 0

    def hand_over_raw(self) -> pd.DataFrame:
        """The raw rows, for the caller to write; the result keeps an empty frame with the same columns
        (at a million rows, holding raw while staging is written would raise the peak by hundreds of MB)."""
        raw = self.raw
        # A new frame, not `raw.iloc[:0]`: an empty slice still holds every buffer of the full frame.
        self.raw = pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in raw.dtypes.items()})
        return raw


@collect_only_when_asked()
def process_declaraciones(
    year_dir: Path,
    anio: int,
    catalogs: DeclarationCatalogs,
    cache: ReadCache | None = None,
    first_seen: Mapping[str, int] | None = None,
    detected_at: dt.datetime | None = None,
) -> IngestResult:
    """One year's files to raw, staged and quarantined rows.

    For one RUC, the rows of the file seen latest count (`first_seen`: content sha256 → when the
    pipeline first saw that content, so copies and `touch` do not reorder re-submissions; content never
    seen before counts from the earliest modification time of the files holding it). Files with the same
    bytes are one submission: their rows count once. With a `cache`, files read before and unchanged
    since are loaded from it.
    """
    detected_at = detected_at or now()
    lap = Laps()
    discovery = discover_files(year_dir)
    lap("discover")
    batch = read_folder(discovery.files, DECLARACION, cache)
    rows = batch.rows
    release_freed_memory()
    lap("read")
    prepared = prepare_frame(DECLARACION, rows, rows["archivo"], rows[SEMICOLON_COLUMN])
    prepared["archivo"] = rows["archivo"]
    order = seen_order(batch, first_seen or {})
    superseded, tied = latest_per_group(rows["archivo"], prepared[["ruc_entidad"]], order, file_contents(batch))
    ambiguous = tied.notna() & ~superseded
    validation = declaracion_validation(catalogs, anio)
    failures = failures_of(
        validation,
        prepared,
        batch.problems,
        active=~superseded,
        extra=[pd.DataFrame({"index": prepared.index[ambiguous], "columna": "ruc_entidad", "regla": "reenvio_ambiguo"})],
    )
    lap("validate")

    def context(rule: str, column: str, row: pd.Series) -> dict[str, object]:
        if rule in ("valor_no_permitido", "area_desconocida"):
            return {"permitidos": validation.allowed_values(column)}
        if rule == "clave_duplicada":
            return {"clave": f"ruc_entidad={row['ruc_entidad']}, codigo_intervencion={row['codigo_intervencion']}"}
        if rule == "reenvio_ambiguo":
            return {"archivos": tied.at[row.name]}
        if rule == "fuera_del_anio":
            return {"valor": f"{row['fecha_inicio']} al {row['fecha_fin']}"}
        if rule == "fecha_fin_anterior":
            return {"valor": row["fecha_fin"]}
        return {}

    quarantined = quarantine_rows(DECLARACION.origen, anio, rows, failures, context)
    states = row_states(rows.index, superseded, failures)
    staged_index = states.index[states == "staged"]
    rejected = discovery.rejected + batch.rejected
    names = [file.name for file in discovery.files] + [rejection.archivo for rejection in discovery.rejected]
    files = files_frame(DECLARACION.origen, anio, discovery, batch, main_ruc(prepared, names))  # before staging consumes `prepared`
    del superseded, tied, ambiguous, failures
    release_freed_memory()  # validation's garbage, before staging allocates the typed copy
    lap("quarantine")
    result = IngestResult(
        raw=raw_frame(rows, anio, states),
        staged=staged_frame(prepared, staged_index, rows.loc[staged_index, ["archivo", ROW_COLUMN]], catalogs),
        quarantined=quarantined,
        rejected_files=rejected_files_frame(DECLARACION.origen, anio, rejected, detected_at),
        files=files,
        contents=new_contents(DECLARACION.origen, batch, first_seen or {}),
        warnings=discovery.warnings + batch.warnings,
        files_from_cache=batch.read_from_cache,
        files_by_worker=batch.read_by_worker,
        transient_rejections=sum(r.transient for r in rejected),
    )
    del prepared, rows, batch
    release_freed_memory()  # before the caller's warehouse write needs memory of its own
    lap("stage")
    result.timings, result.peak_mb = lap.seconds, lap.peak_mb
    return result


def main_ruc(prepared: pd.DataFrame, names: list[str]) -> dict[str, str]:
    """Per file, the entity that sent it: the valid RUC most of its rows carry; for a file with no row (rejected,
    or a header alone) a valid RUC in its name (`20100047218_2024.xlsx`), if any."""
    # counted per (file, RUC) first: a few pairs per file, so the check digit runs on those, not on every row
    counts = prepared[["archivo", "ruc_entidad"]].value_counts().reset_index(name="n")
    counts = counts[is_valid_ruc(counts["ruc_entidad"].astype("str")).to_numpy(dtype=bool)] if not counts.empty else counts
    found: dict[str, str] = {}
    if not counts.empty:
        counts = counts.sort_values(["archivo", "n", "ruc_entidad"], ascending=[True, False, True])
        found = dict(counts.drop_duplicates("archivo")[["archivo", "ruc_entidad"]].itertuples(index=False, name=None))
    unnamed = [name for name in names if name not in found]
    in_names = pd.Series(unnamed, dtype="str").str.extract(r"(?<![0-9])((?:10|15|16|17|20)[0-9]{9})(?![0-9])")[0]
    valid = in_names.notna() & is_valid_ruc(in_names.fillna("")).astype(bool)
    found.update(zip(pd.Series(unnamed)[valid], in_names[valid], strict=True))
    return found


class Laps:
    """Wall-clock seconds of consecutive phases: `lap("read")` closes the phase that started at the last lap.

    `peak_mb` keeps the process's peak resident memory (MiB) at the end of each phase, which shows the
    phase in which the peak rose.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_mb: dict[str, int] = {}
        self._last = time.perf_counter()

    def __call__(self, phase: str) -> None:
        current = time.perf_counter()
        self.seconds[phase] = round(self.seconds.get(phase, 0.0) + current - self._last, 4)
        self.peak_mb[phase] = peak_memory_mb()
        self._last = current


def raw_frame(rows: pd.DataFrame, anio: int, states: pd.Series) -> pd.DataFrame:
    """Every row read, as text, with the partition year and the row's own `anio` kept apart."""
    columns: dict[str, object] = {
        "archivo": rows["archivo"],
        "hoja": rows["hoja"],
        "fila": rows[ROW_COLUMN].astype("int64"),
        "anio": pd.Series(anio, index=rows.index, dtype="int64"),
        "anio_fila": rows["anio"] if "anio" in rows else pd.Series(pd.NA, index=rows.index, dtype="str"),
    }
    for name in DECLARACION.names:
        if name != "anio":
            columns[name] = rows[name] if name in rows else pd.Series(pd.NA, index=rows.index, dtype="str")
    columns["estado_fila"] = states
    columns[EXTRA_COLUMN] = rows[EXTRA_COLUMN]
    # copy=False: the text columns are shared with `rows` (copy-on-write), not duplicated.
    return pd.DataFrame(columns, copy=False).reset_index(drop=True)


def staged_frame(prepared: pd.DataFrame, staged_index: pd.Index, rows: pd.DataFrame, catalogs: DeclarationCatalogs) -> pd.DataFrame:
    """Typed valid rows (`staged_index` of `prepared`) with `monto_usd`, `es_prioritaria` and the names of codes.

    Consumes `prepared`: its columns are dropped as they are converted (memory at a million rows).
    """
    staged = typed_frame(DECLARACION, prepared, staged_index, release_prepared=True)
    rate = staged["anio"].map(catalogs.pen_por_usd).astype("float64")
    is_usd = staged["moneda"] == "USD"
    staged["monto_usd"] = staged["monto_ejecutado"].where(is_usd, staged["monto_ejecutado"] / rate)
    areas = catalogs.areas.set_index("codigo")
    staged["area_prioritaria_nombre"] = staged["area_prioritaria"].map(areas["nombre"]).astype("str")
    staged["es_prioritaria"] = staged["area_prioritaria"].map(areas["es_prioritaria"]).astype("str")
    departamentos = catalogs.departamentos.set_index("codigo")["nombre"]
    staged["departamento_nombre"] = staged["departamento"].map(departamentos).astype("str")
    staged["archivo"] = rows["archivo"]
    staged["fila"] = rows[ROW_COLUMN].astype("int64")
    return staged.reset_index(drop=True)
