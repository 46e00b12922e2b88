"""The Declaración Anual of one year: supersession, validation, staging with `monto_usd`."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cti_pipeline.contracts.columns import prepare_frame, typed_frame
from cti_pipeline.contracts.declaracion import DATAFRAME_RULE_COLUMNS, DECLARACION, allowed_values, declaracion_model
from cti_pipeline.contracts.reference import DeclarationCatalogs
from cti_pipeline.domain.ingest import long_extra_failures, model_failures, quarantine_rows, rejected_files_frame, row_states
from cti_pipeline.domain.read_cache import ReadCache
from cti_pipeline.domain.reading import EXTRA_COLUMN, LONG_EXTRA_COLUMN, MTIME_COLUMN, read_source_files
from cti_pipeline.landing.discovery import discover_files
from cti_pipeline.landing.readers import ROW_COLUMN
from cti_pipeline.memory import collect_only_when_asked, peak_memory_mb, release_freed_memory


@dataclass
class IngestResult:
    """Everything one year of one source writes to the warehouse."""

    raw: pd.DataFrame
    staged: pd.DataFrame
    quarantined: pd.DataFrame
    rejected_files: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase (discover, read, ...)
    peak_mb: dict[str, int] = field(default_factory=dict)  # peak resident memory at the end of each phase
    files_from_cache: int = 0  # files loaded from the read cache, unchanged since they were last read
    files_by_helper: int = 0  # files read by the helper process
    # Files rejected for a failure that may not recur (disk, memory): the year must be read again next run.
    transient_rejections: int = 0

    def hand_over_raw(self) -> pd.DataFrame:
        """The raw rows, for the caller to write; the result keeps an empty frame with the same columns
        (at a million rows, holding raw while staging is written costs about 500 MB)."""
        raw = self.raw
        # A new frame, not `raw.iloc[:0]`: an empty slice still holds every buffer of the full frame.
        self.raw = pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in raw.dtypes.items()})
        return raw

    def file_counts(self) -> pd.DataFrame:
        """Per file: rows read, staged, quarantined, superseded (the "nothing lost" identity)."""
        if self.raw.empty:
            return pd.DataFrame(columns=["archivo", "leidas", "staged", "quarantined", "superseded"])
        counts = pd.crosstab(self.raw["archivo"], self.raw["estado_fila"])
        for state in ("staged", "quarantined", "superseded"):
            if state not in counts:
                counts[state] = 0
        counts["leidas"] = counts[["staged", "quarantined", "superseded"]].sum(axis=1)
        return counts.reset_index()[["archivo", "leidas", "staged", "quarantined", "superseded"]]


def supersession(prepared: pd.DataFrame, mtime_ns: pd.Series) -> tuple[pd.Series, pd.Series, dict[str, str]]:
    """For each RUC, the latest-modified file that declares it counts.

    Returns (superseded mask, ambiguous mask, RUC → names of the files tied at the latest time).
    """
    declared = pd.DataFrame({"ruc": prepared["ruc_entidad"], "archivo": prepared["archivo"], "mtime": mtime_ns})
    declared = declared[declared["ruc"].notna()]
    latest = declared.groupby("ruc")["mtime"].transform("max")
    superseded = (declared["mtime"] < latest).reindex(prepared.index, fill_value=False)
    at_latest = declared[declared["mtime"] == latest]
    files_at_latest = at_latest.drop_duplicates(["ruc", "archivo"]).groupby("ruc")["archivo"].agg(sorted)
    tied = files_at_latest[files_at_latest.map(len) > 1]
    ambiguous = (declared["ruc"].isin(tied.index) & (declared["mtime"] == latest)).reindex(prepared.index, fill_value=False)
    return superseded, ambiguous, {ruc: ", ".join(names) for ruc, names in tied.items()}


@collect_only_when_asked()
def process_declaraciones(
    year_dir: Path,
    anio: int,
    catalogs: DeclarationCatalogs,
    detected_at: dt.datetime | None = None,
    cache: ReadCache | None = None,
) -> IngestResult:
    """One year's files to raw, staged and quarantined rows. With a `cache`, files read before and
    unchanged since are loaded from it (`domain.read_cache`)."""
    detected_at = detected_at or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    lap = Laps()
    discovery = discover_files(year_dir)
    lap("discover")
    batch = read_source_files(discovery.files, DECLARACION, cache)
    rows = batch.rows
    release_freed_memory()
    lap("read")
    prepared = prepare_frame(DECLARACION, rows)
    prepared["archivo"] = rows["archivo"]

    superseded, ambiguous, tied_files = supersession(prepared, rows[MTIME_COLUMN])
    # Superseded rows are not validated. The model runs on every prepared row (no copy of the frame,
    # which at a million rows costs more memory than anything else) and their failures are dropped:
    # its checks are row-wise, and the one across rows (clave_duplicada) groups by file and RUC, which
    # are either superseded or active together (supersession is per RUC and file).
    model = model_failures(declaracion_model(catalogs, anio), prepared, DATAFRAME_RULE_COLUMNS)
    failures = pd.concat(
        [
            model[~superseded.to_numpy()[model["index"].to_numpy()]] if superseded.any() else model,
            long_extra_failures(rows.loc[~superseded, [LONG_EXTRA_COLUMN]]),
            pd.DataFrame({"index": prepared.index[ambiguous & ~superseded], "columna": "ruc_entidad", "regla": "reenvio_ambiguo"}),
        ],
        ignore_index=True,
    )
    lap("validate")

    def context(rule: str, column: str, row: pd.Series) -> dict[str, object]:
        if rule in ("valor_no_permitido", "area_desconocida"):
            return {"permitidos": allowed_values(column, catalogs)}
        if rule == "clave_duplicada":
            return {"clave": f"ruc_entidad={row['ruc_entidad']}, codigo_intervencion={row['codigo_intervencion']}"}
        if rule == "reenvio_ambiguo":
            return {"archivos": tied_files.get(prepared.at[row.name, "ruc_entidad"], "")}
        if rule in ("fecha_fin_anterior", "fuera_del_anio"):
            return {"valor": f"{row['fecha_inicio']} al {row['fecha_fin']}" if rule == "fuera_del_anio" else row["fecha_fin"]}
        return {}

    quarantined = quarantine_rows(DECLARACION.origen, anio, rows, failures, context)
    del model
    release_freed_memory()  # validation's garbage, before staging allocates the typed copy
    lap("quarantine")
    states = row_states(rows.index, superseded, pd.Index(failures["index"].unique()))
    staged_index = states.index[states == "staged"]
    result = IngestResult(
        raw=raw_frame(rows, anio, states),
        staged=staged_frame(prepared, staged_index, rows.loc[staged_index, ["archivo", ROW_COLUMN]], catalogs),
        quarantined=quarantined,
        rejected_files=rejected_files_frame(DECLARACION.origen, anio, discovery.rejected + batch.rejected, detected_at),
        warnings=discovery.warnings + batch.warnings,
        files_from_cache=batch.read_from_cache,
        files_by_helper=batch.read_by_helper,
        transient_rejections=sum(r.transient for r in discovery.rejected + batch.rejected),
    )
    del prepared, rows, batch
    release_freed_memory()  # before the caller's warehouse write needs memory of its own
    lap("stage")
    result.timings = lap.seconds
    result.peak_mb = lap.peak_mb
    return result


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
        now = time.perf_counter()
        self.seconds[phase] = round(self.seconds.get(phase, 0.0) + now - self._last, 4)
        self.peak_mb[phase] = peak_memory_mb()
        self._last = now


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
