"""The administrative records (`registros`) of one year: seven kinds, validated, staged, quarantined.

Same reading (landing/folder_reader.py), quarantine and "nothing lost" rules (domain/ingest.py) as the
declarations. What is specific here: the kind comes from the file name, keys are checked across
every file of a kind, and `participante_id` is personal data — pseudonymised (salted SHA-256) in
raw and staging and masked in quarantine, so the clear id is stored nowhere.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cti_pipeline.contracts.columns import prepare_frame, typed_frame
from cti_pipeline.contracts.registros import KINDS, PERSONAL_COLUMNS, REGISTROS, kind_of_file, registro_validation, unknown_kind_reason
from cti_pipeline.contracts.schema import key_frame
from cti_pipeline.domain.ingest import empty_quarantine, failures_of, now, quarantine_rows, rejected_files_frame, row_states
from cti_pipeline.domain.ledger import files_frame
from cti_pipeline.landing.discovery import Discovery, FileRejection, LandedFile, discover_files
from cti_pipeline.landing.folder_reader import EXTRA_COLUMN, ROW_COLUMN, SEMICOLON_COLUMN, FileBatch, read_folder
from cti_pipeline.landing.read_cache import ReadCache

ORIGEN = "registros"  # the source, in meta.huellas and meta.archivos
ORIGEN_DESCONOCIDO = "registros"  # quarantine origen of a file whose kind is unknown
KIND_COLUMN = "tipo_registro"
RAW_VALUE_COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys(name for spec in REGISTROS.values() for name in spec.names if name != "anio")
)


# --- personal data --------------------------------------------------------------------------------


def canonical_person_id(series: pd.Series) -> pd.Series:
    """One spelling per person: trimmed, no inner spaces, upper-case; a DNI that lost its leading
    zero in Excel (7 digits) is padded back to 8."""
    text = series.astype("str").str.strip().str.replace(r"\s+", "", regex=True).str.upper()
    text = text.mask(text == "")
    return text.where(~text.str.fullmatch(r"\d{7}", na=False), text.str.zfill(8))


def pseudonymise(series: pd.Series, salt: str) -> pd.Series:
    """Salted SHA-256 (hex) of the canonical id; missing stays missing."""
    canonical = canonical_person_id(series)
    prefix = salt.encode("utf-8") + b"\x1f"
    hashed = [
        None if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value))
        else hashlib.sha256(prefix + str(value).encode("utf-8")).hexdigest()
        for value in canonical.tolist()
    ]
    return pd.Series(hashed, index=series.index, dtype="str")


def mask_personal(series: pd.Series) -> pd.Series:
    """What quarantine shows of a personal id: stars and its last two characters (`******78`)."""
    text = series.astype("str")
    masked = text.map(lambda v: "*" * min(len(v) - 2, 10) + v[-2:] if len(v) > 4 else "*" * len(v), na_action="ignore")
    return masked.astype("str")


# --- one year -------------------------------------------------------------------------------------


@dataclass
class RegistrosResult:
    """Everything one year of administrative records writes to the warehouse."""

    raw: pd.DataFrame
    staged: dict[str, pd.DataFrame]
    quarantined: pd.DataFrame
    rejected_files: pd.DataFrame
    files: pd.DataFrame  # one row per file found (meta.archivos without its counts)
    warnings: list[str] = field(default_factory=list)
    # Files rejected for a failure that may not recur (disk, memory): the year must be read again next run.
    transient_rejections: int = 0

    def quarantined_by_kind(self, kind: str) -> pd.DataFrame:
        return self.quarantined[self.quarantined["origen"] == kind]

    def rejected_by_origen(self, origen: str) -> pd.DataFrame:
        return self.rejected_files[self.rejected_files["origen"] == origen]


def split_by_kind(files: list[LandedFile]) -> tuple[dict[str, list[LandedFile]], list[FileRejection]]:
    by_kind: dict[str, list[LandedFile]] = defaultdict(list)
    unknown: list[FileRejection] = []
    for file in files:
        kind = kind_of_file(file.name)
        if kind is None:
            unknown.append(FileRejection(file.name, unknown_kind_reason(file.name), size=file.size, mtime_ns=file.mtime_ns))
        else:
            by_kind[kind].append(file)
    return by_kind, unknown


def process_registros(
    year_dir: Path,
    anio: int,
    salt: str,
    iso3_codes: frozenset[str],
    cache_dir: Path | None = None,
    detected_at: dt.datetime | None = None,
) -> RegistrosResult:
    """Read, validate and split every registros file of one year folder (each kind's reads cached in
    `cache_dir/<kind>/` when given)."""
    detected_at = detected_at or now()
    discovery = discover_files(year_dir)
    by_kind, unknown = split_by_kind(discovery.files)
    # files refused before parsing (format, size, links) belong to the kind their name names, if any
    early: dict[str, list[FileRejection]] = defaultdict(list)
    for rejection in discovery.rejected:
        early[kind_of_file(rejection.archivo) or ORIGEN_DESCONOCIDO].append(rejection)
    early[ORIGEN_DESCONOCIDO] += unknown

    raw, staged, quarantined, rejected, files = [], {}, [], [], []
    warnings = list(discovery.warnings)
    transient = sum(r.transient for r in discovery.rejected)
    for kind in KINDS:
        if not by_kind.get(kind) and not early.get(kind):  # no file of this kind: nothing to read or account
            staged[kind] = _empty_staged(kind).copy()
            continue
        cache = ReadCache(cache_dir / kind) if cache_dir is not None else None
        batch = read_folder(by_kind.get(kind, []), REGISTROS[kind], cache)
        kind_raw, staged[kind], kind_quarantined = process_kind(kind, batch, anio, salt, iso3_codes)
        raw.append(kind_raw)
        quarantined.append(kind_quarantined)
        rejected.append(rejected_files_frame(kind, anio, early.get(kind, []) + batch.rejected, detected_at))
        files.append(files_frame(ORIGEN, anio, Discovery(rejected=early.get(kind, [])), batch))
        warnings.extend(f"{kind}: {w}" for w in batch.warnings)
        transient += sum(r.transient for r in batch.rejected)
    rejected.append(rejected_files_frame(ORIGEN_DESCONOCIDO, anio, early[ORIGEN_DESCONOCIDO], detected_at))
    files.append(files_frame(ORIGEN, anio, Discovery(rejected=early[ORIGEN_DESCONOCIDO]), FileBatch(pd.DataFrame(), pd.DataFrame())))
    return RegistrosResult(
        raw=_concat(raw, empty_raw()),
        staged=staged,
        quarantined=_concat(quarantined, empty_quarantine()),
        rejected_files=_concat(rejected, rejected[-1]),
        files=_concat(files, files[-1]).sort_values("archivo", kind="stable").reset_index(drop=True),
        warnings=warnings,
        transient_rejections=transient,
    )


def _concat(frames: list[pd.DataFrame], empty: pd.DataFrame) -> pd.DataFrame:
    frames = [frame for frame in frames if not frame.empty]
    return pd.concat(frames, ignore_index=True) if frames else empty


def process_kind(kind: str, batch: FileBatch, anio: int, salt: str, iso3_codes: frozenset[str]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(raw, staged, quarantined) rows of one kind's files."""
    spec = REGISTROS[kind]
    rows = batch.rows
    if rows.empty:  # no file of this kind (or none readable): nothing to validate
        return empty_raw(), _empty_staged(kind).copy(), empty_quarantine()
    prepared = prepare_frame(spec, rows, rows["archivo"], rows[SEMICOLON_COLUMN])
    prepared["archivo"] = rows["archivo"]
    validation = registro_validation(kind, anio, iso3_codes)
    failures = failures_of(validation, prepared, batch.problems)
    key_files = _files_per_key(kind, prepared) if spec.key else {}

    def context(rule: str, column: str, row: pd.Series) -> dict[str, object]:
        if rule == "valor_no_permitido":
            return {"permitidos": validation.allowed_values(column)}
        if rule == "clave_duplicada":
            key = ", ".join(f"{name}={row[name]}" for name in spec.key)
            return {"clave": f"{key}; archivos: {key_files.get(row.name, '')}"}
        return {}

    shown = rows.copy()
    for column in PERSONAL_COLUMNS:
        if column in shown:
            shown[column] = mask_personal(shown[column])
    quarantined = quarantine_rows(kind, anio, shown, failures, context)
    states = row_states(rows.index, None, failures)
    staged_index = states.index[states == "staged"]
    return raw_frame(kind, rows, anio, states, salt), staged_frame(kind, prepared, staged_index, rows.loc[staged_index], salt), quarantined


@functools.cache
def _empty_staged(kind: str) -> pd.DataFrame:
    spec = REGISTROS[kind]
    return typed_frame(spec, prepare_frame(spec, pd.DataFrame())).assign(archivo=pd.Series(dtype="str"), fila=pd.Series(dtype="int64"))


def _files_per_key(kind: str, prepared: pd.DataFrame) -> dict[object, str]:
    """Row index → the files (sorted, distinct) that hold the same normalised key."""
    keys = key_frame(REGISTROS[kind], prepared)
    complete = keys.notna().all(axis=1)
    if not complete.any():
        return {}
    label = keys[complete].astype("str").agg("\x1f".join, axis=1)
    files = prepared.loc[complete, "archivo"].groupby(label).agg(lambda s: ", ".join(sorted(set(s))))
    return label.map(files).to_dict()


def raw_frame(kind: str, rows: pd.DataFrame, anio: int, states: pd.Series, salt: str) -> pd.DataFrame:
    """Every row read, as text, with its kind; personal ids pseudonymised like in staging."""
    raw = pd.DataFrame(
        {
            "archivo": rows["archivo"],
            "hoja": rows["hoja"],
            "fila": rows[ROW_COLUMN].astype("int64"),
            "anio": pd.Series(anio, index=rows.index, dtype="int64"),
            "anio_fila": rows["anio"] if "anio" in rows else pd.Series(pd.NA, index=rows.index, dtype="str"),
            KIND_COLUMN: pd.Series(kind, index=rows.index, dtype="str"),
        }
    )
    names = set(REGISTROS[kind].names)
    for name in RAW_VALUE_COLUMNS:
        if name in names and name in rows:
            raw[name] = pseudonymise(rows[name], salt) if name in PERSONAL_COLUMNS else rows[name]
        else:
            raw[name] = pd.Series(pd.NA, index=rows.index, dtype="str")
    raw["estado_fila"] = states
    extras = rows[EXTRA_COLUMN] if EXTRA_COLUMN in rows else pd.Series(pd.NA, index=rows.index, dtype="str")
    if kind == "capacitaciones":
        # a roster's extra columns may hold names or e-mails: keep which columns came, not their values
        extras = extras.map(lambda text: json.dumps(sorted(json.loads(text))), na_action="ignore")
    raw[EXTRA_COLUMN] = extras
    return raw.reset_index(drop=True)


def staged_frame(kind: str, prepared: pd.DataFrame, staged_index: pd.Index, rows: pd.DataFrame, salt: str) -> pd.DataFrame:
    spec = REGISTROS[kind]
    staged = typed_frame(spec, prepared, staged_index)
    for column in PERSONAL_COLUMNS:
        if column in staged:
            staged[column] = pseudonymise(staged[column], salt)
    staged["archivo"] = rows["archivo"]
    staged["fila"] = rows[ROW_COLUMN].astype("int64")
    return staged.reset_index(drop=True)


def empty_raw() -> pd.DataFrame:
    return _EMPTY_RAW.copy()


_EMPTY_RAW = pd.DataFrame({c: pd.Series(dtype="str") for c in [
    "archivo", "hoja", "fila", "anio", "anio_fila", KIND_COLUMN, *RAW_VALUE_COLUMNS, "estado_fila", EXTRA_COLUMN,
]}).astype({"fila": "int64", "anio": "int64"})
