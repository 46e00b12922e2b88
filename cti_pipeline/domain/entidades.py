"""APCI's registry of entities (`landing/entidades/`): read, validated, the latest file counts.

The registry is one snapshot, not a yearly source: every file of the folder is read, and the rows of the
file seen latest (when the pipeline first saw its content, as for re-submitted declarations) are the
registry; an earlier file's rows are `superseded`. Two readable files seen at the same moment are
ambiguous: their rows are quarantined (`registro_ambiguo`) rather than one chosen silently, unless they
hold the same bytes (one file landed twice: its rows count once). A file that
cannot be read never hides a readable older one. Extra columns of the registry (a legal representative,
an e-mail) are personal data: raw keeps which extra columns came, never their values.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cti_pipeline.contracts.columns import prepare_frame, typed_frame
from cti_pipeline.contracts.entidades import ENTIDADES, entidades_validation
from cti_pipeline.domain.ingest import failures_of, latest_per_group, now, quarantine_rows, rejected_files_frame, row_states
from cti_pipeline.domain.ledger import file_contents, files_frame, new_contents, seen_order
from cti_pipeline.landing.discovery import discover_files
from cti_pipeline.landing.folder_reader import EXTRA_COLUMN, ROW_COLUMN, SEMICOLON_COLUMN, read_folder

ORIGEN = ENTIDADES.origen


@dataclass
class RegistryResult:
    raw: pd.DataFrame
    staged: pd.DataFrame
    quarantined: pd.DataFrame
    rejected_files: pd.DataFrame
    files: pd.DataFrame
    contents: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    transient_rejections: int = 0


def process_entidades(folder: Path, first_seen: Mapping[str, int] | None = None, detected_at: dt.datetime | None = None) -> RegistryResult:
    detected_at = detected_at or now()
    discovery = discover_files(folder)
    batch = read_folder(discovery.files, ENTIDADES)
    rows = batch.rows
    prepared = prepare_frame(ENTIDADES, rows, rows["archivo"], rows[SEMICOLON_COLUMN])
    prepared["archivo"] = rows["archivo"]
    order = seen_order(batch, first_seen or {})
    whole_folder = pd.DataFrame({"registro": pd.Series("entidades", index=rows.index, dtype="str")})
    superseded, tied = latest_per_group(rows["archivo"], whole_folder, order, file_contents(batch))
    ambiguous = tied.notna() & ~superseded
    validation = entidades_validation()
    failures = failures_of(
        validation, prepared, batch.problems, active=~superseded,
        extra=[pd.DataFrame({"index": prepared.index[ambiguous], "columna": "ruc_entidad", "regla": "registro_ambiguo"})],
    )

    def context(rule: str, column: str, row: pd.Series) -> dict[str, object]:
        if rule == "valor_no_permitido":
            return {"permitidos": validation.allowed_values(column)}
        if rule == "clave_duplicada":
            return {"clave": f"ruc_entidad={row['ruc_entidad']}"}
        if rule == "registro_ambiguo":
            return {"archivos": tied.at[row.name]}
        return {}

    quarantined = quarantine_rows(ORIGEN, None, rows, failures, context)
    states = row_states(rows.index, superseded, failures)
    staged_index = states.index[states == "staged"]
    staged = typed_frame(ENTIDADES, prepared, staged_index)
    staged["archivo"] = rows.loc[staged_index, "archivo"]
    staged["fila"] = rows.loc[staged_index, ROW_COLUMN].astype("int64")
    rejected = discovery.rejected + batch.rejected
    return RegistryResult(
        raw=raw_frame(rows, states),
        staged=staged.reset_index(drop=True),
        quarantined=quarantined,
        rejected_files=rejected_files_frame(ORIGEN, None, rejected, detected_at),
        files=files_frame(ORIGEN, None, discovery, batch),
        contents=new_contents(ORIGEN, batch, first_seen or {}),
        warnings=discovery.warnings + batch.warnings,
        transient_rejections=sum(r.transient for r in rejected),
    )


def raw_frame(rows: pd.DataFrame, states: pd.Series) -> pd.DataFrame:
    """Every row read, as text; of the extra columns only their names (they may hold personal data)."""
    raw = pd.DataFrame({"archivo": rows["archivo"], "hoja": rows["hoja"], "fila": rows[ROW_COLUMN].astype("int64")})
    for name in ENTIDADES.names:
        raw[name] = rows[name] if name in rows else pd.Series(pd.NA, index=rows.index, dtype="str")
    raw["estado_fila"] = states
    raw[EXTRA_COLUMN] = rows[EXTRA_COLUMN].map(lambda text: json.dumps(sorted(json.loads(text))), na_action="ignore").astype("str")
    return raw.reset_index(drop=True)
