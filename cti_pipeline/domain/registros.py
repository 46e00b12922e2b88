"""The administrative records (`registros`) of one year: seven kinds, validated, staged, quarantined.

Same reading (domain/reading.py), quarantine and "nothing lost" rules (domain/ingest.py) as the
declarations. What is specific here: the kind comes from the file name, keys are checked across
every file of a kind, and `participante_id` is personal data — pseudonymised (salted SHA-256) in
raw and staging and masked in quarantine, so the clear id is stored nowhere.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from cti_pipeline.contracts.columns import prepare_frame, typed_frame
from cti_pipeline.contracts.registros import (
    KINDS,
    PERSONAL_COLUMNS,
    REGISTROS,
    allowed_values,
    dataframe_rule_columns,
    key_frame,
    kind_of_file,
    registro_model,
    unknown_kind_reason,
)
from cti_pipeline.domain.ingest import (
    QUARANTINE_COLUMNS,
    long_extra_failures,
    model_failures,
    quarantine_rows,
    rejected_files_frame,
    row_states,
)
from cti_pipeline.domain.reading import EXTRA_COLUMN, read_source_files
from cti_pipeline.landing.discovery import FileRejection, LandedFile, discover_files
from cti_pipeline.landing.readers import ROW_COLUMN
from cti_pipeline.warehouse import qualified, table_exists

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
    warnings: list[str] = field(default_factory=list)
    # Files rejected for a failure that may not recur (disk, memory): the year must be read again next run.
    transient_rejections: int = 0

    def file_counts(self) -> pd.DataFrame:
        """Per file: kind, rows read, staged, quarantined (the "nothing lost" identity)."""
        columns = [KIND_COLUMN, "archivo", "leidas", "staged", "quarantined", "superseded"]
        if self.raw.empty:
            return pd.DataFrame(columns=columns)
        counts = pd.crosstab([self.raw[KIND_COLUMN], self.raw["archivo"]], self.raw["estado_fila"])
        for state in ("staged", "quarantined", "superseded"):
            if state not in counts:
                counts[state] = 0
        counts["leidas"] = counts[["staged", "quarantined", "superseded"]].sum(axis=1)
        return counts.reset_index()[columns]

    def quarantined_by_kind(self, kind: str) -> pd.DataFrame:
        return self.quarantined[self.quarantined["origen"] == kind]

    def rejected_by_origen(self, origen: str) -> pd.DataFrame:
        return self.rejected_files[self.rejected_files["origen"] == origen]


@dataclass
class KindResult:
    raw: pd.DataFrame
    staged: pd.DataFrame
    quarantined: pd.DataFrame
    rejected: list[FileRejection]
    warnings: list[str]


def split_by_kind(files: list[LandedFile]) -> tuple[dict[str, list[LandedFile]], list[FileRejection]]:
    by_kind: dict[str, list[LandedFile]] = defaultdict(list)
    unknown: list[FileRejection] = []
    for file in files:
        kind = kind_of_file(file.name)
        if kind is None:
            unknown.append(FileRejection(file.name, unknown_kind_reason(file.name)))
        else:
            by_kind[kind].append(file)
    return by_kind, unknown


def process_registros(
    year_dir: Path,
    anio: int,
    salt: str,
    iso3_codes: frozenset[str],
    detected_at: dt.datetime | None = None,
) -> RegistrosResult:
    """Read, validate and split every registros file of one year folder."""
    detected_at = detected_at or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    discovery = discover_files(year_dir)
    by_kind, unknown = split_by_kind(discovery.files)

    raw_parts: list[pd.DataFrame] = []
    staged: dict[str, pd.DataFrame] = {}
    quarantined: list[pd.DataFrame] = []
    rejected: list[pd.DataFrame] = [rejected_files_frame(ORIGEN_DESCONOCIDO, anio, unknown, detected_at)]
    warnings = list(discovery.warnings)
    # files refused before parsing (format, size, links) belong to the kind their name names, if any
    early: dict[str, list[FileRejection]] = defaultdict(list)
    for rejection in discovery.rejected:
        early[kind_of_file(rejection.archivo) or ORIGEN_DESCONOCIDO].append(rejection)
    rejected.append(rejected_files_frame(ORIGEN_DESCONOCIDO, anio, early.pop(ORIGEN_DESCONOCIDO, []), detected_at))

    transient = sum(r.transient for r in discovery.rejected)
    for kind in KINDS:
        result = process_kind(kind, by_kind.get(kind, []), anio, salt, iso3_codes)
        transient += sum(r.transient for r in result.rejected)
        raw_parts.append(result.raw)
        staged[kind] = result.staged
        quarantined.append(result.quarantined)
        rejected.append(rejected_files_frame(kind, anio, early.get(kind, []) + result.rejected, detected_at))
        warnings.extend(result.warnings)

    raw = pd.concat([p for p in raw_parts if not p.empty], ignore_index=True) if any(not p.empty for p in raw_parts) else empty_raw()
    quarantine = pd.concat([q for q in quarantined if not q.empty], ignore_index=True) if any(not q.empty for q in quarantined) else empty_quarantine()
    rejected_frame = pd.concat([r for r in rejected if not r.empty], ignore_index=True) if any(not r.empty for r in rejected) else rejected[0]
    return RegistrosResult(raw=raw, staged=staged, quarantined=quarantine, rejected_files=rejected_frame, warnings=warnings,
                           transient_rejections=transient)


def process_kind(
    kind: str, files: list[LandedFile], anio: int, salt: str, iso3_codes: frozenset[str]
) -> KindResult:
    spec = REGISTROS[kind]
    batch = read_source_files(files, spec)
    rows = batch.rows
    prepared = prepare_frame(spec, rows)
    prepared["archivo"] = rows["archivo"]
    model = registro_model(kind, anio, iso3_codes if kind == "proyectos_css" else frozenset())
    failures = pd.concat(
        [model_failures(model, prepared, dataframe_rule_columns(kind)), long_extra_failures(rows)], ignore_index=True
    )
    key_files = _files_per_key(kind, prepared) if spec.key else {}

    def context(rule: str, column: str, row: pd.Series) -> dict[str, object]:
        if rule == "valor_no_permitido":
            return {"permitidos": allowed_values(kind, column)}
        if rule == "clave_duplicada":
            key = ", ".join(f"{name}={row[name]}" for name in spec.key)
            files_with_key = key_files.get(row.name, "")
            return {"clave": f"{key}; archivos: {files_with_key}"}
        return {}

    shown = rows.copy()
    for column in PERSONAL_COLUMNS:
        if column in shown:
            shown[column] = mask_personal(shown[column])
    quarantined = quarantine_rows(kind, anio, shown, failures, context)
    states = row_states(rows.index, pd.Series(False, index=rows.index), pd.Index(failures["index"].unique()))
    staged_index = states.index[states == "staged"]
    return KindResult(
        raw=raw_frame(kind, rows, anio, states, salt),
        staged=staged_frame(kind, prepared, staged_index, rows.loc[staged_index], salt),
        quarantined=quarantined,
        rejected=batch.rejected,
        warnings=[f"{kind}: {w}" for w in batch.warnings],
    )


def _files_per_key(kind: str, prepared: pd.DataFrame) -> dict[object, str]:
    """Row index → the files (sorted, distinct) that hold the same normalised key."""
    keys = key_frame(kind, prepared)
    if keys.empty:
        return {}
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
    columns = ["archivo", "hoja", "fila", "anio", "anio_fila", KIND_COLUMN, *RAW_VALUE_COLUMNS, "estado_fila", EXTRA_COLUMN]
    frame = pd.DataFrame({c: pd.Series(dtype="str") for c in columns})
    return frame.astype({"fila": "int64", "anio": "int64"})


def empty_quarantine() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="str") for c in QUARANTINE_COLUMNS})
    return frame.astype({"anio": "int64", "fila": "int64"})


# --- quality queries (one per asset check) --------------------------------------------------------


def unreconciled_files(conn: duckdb.DuckDBPyConnection, anio: int) -> pd.DataFrame:
    """Files whose rows read ≠ staged + quarantined, counted from the warehouse tables themselves."""
    columns = [KIND_COLUMN, "archivo", "leidas", "staged", "quarantined"]
    if not table_exists(conn, "raw.registros"):
        return pd.DataFrame(columns=columns)
    staged_parts = [
        f"SELECT '{kind}' AS {KIND_COLUMN}, archivo, count(*) AS n FROM {qualified('staging.' + kind)} WHERE anio = $anio GROUP BY archivo"
        for kind in KINDS
        if table_exists(conn, f"staging.{kind}")
    ] or [f"SELECT NULL::VARCHAR AS {KIND_COLUMN}, NULL::VARCHAR AS archivo, 0 AS n WHERE false"]
    quarantined = (
        f"SELECT origen AS {KIND_COLUMN}, archivo, count(DISTINCT fila) AS n FROM quarantine.filas_rechazadas "
        "WHERE anio = $anio GROUP BY origen, archivo"
        if table_exists(conn, "quarantine.filas_rechazadas")
        else f"SELECT NULL::VARCHAR AS {KIND_COLUMN}, NULL::VARCHAR AS archivo, 0 AS n WHERE false"
    )
    return conn.execute(
        f"""
        WITH raw AS (
            SELECT {KIND_COLUMN}, archivo, count(*) AS leidas FROM raw.registros WHERE anio = $anio
            GROUP BY {KIND_COLUMN}, archivo
        ), staged AS ({' UNION ALL '.join(staged_parts)}), quarantined AS ({quarantined})
        SELECT raw.{KIND_COLUMN}, raw.archivo, raw.leidas, coalesce(staged.n, 0) AS staged,
               coalesce(quarantined.n, 0) AS quarantined
        FROM raw LEFT JOIN staged USING ({KIND_COLUMN}, archivo) LEFT JOIN quarantined USING ({KIND_COLUMN}, archivo)
        WHERE raw.leidas <> coalesce(staged.n, 0) + coalesce(quarantined.n, 0)
        ORDER BY 1, 2
        """,
        {"anio": anio},
    ).df()


def clear_personal_ids(conn: duckdb.DuckDBPyConnection, anio: int) -> int:
    """Rows of staging.capacitaciones whose participante_id is not a SHA-256 pseudonym (e.g. a DNI)."""
    if not table_exists(conn, "staging.capacitaciones"):
        return 0
    return conn.execute(
        "SELECT count(*) FROM staging.capacitaciones WHERE anio = ? AND participante_id IS NOT NULL "
        "AND (regexp_full_match(participante_id, '\\d{8}') OR NOT regexp_full_match(participante_id, '[0-9a-f]{64}'))",
        [anio],
    ).fetchone()[0]
