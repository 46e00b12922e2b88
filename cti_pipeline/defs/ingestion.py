"""What every ingestion asset does around its domain function (declaraciones, registros, entidades).

A source's year (or, for the registry, the whole source) is written in one transaction: raw, staging, the
quarantine of its origens, the file ledger (`meta.archivos`, counted from what was just written), the
contents seen for the first time (`meta.contenidos`) and the year's fingerprint (`meta.huellas`). A year
whose fingerprint and counts are unchanged is not read again; either way the assets report what the
warehouse holds (`defs.metadata.ingestion_results`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from cti_pipeline.contracts.tables import ARCHIVOS, ARCHIVOS_RECHAZADOS, CONTENIDOS, FILAS_RECHAZADAS, HUELLAS, Columns, SourceTables
from cti_pipeline.domain.ledger import ledger
from cti_pipeline.domain.quality import file_accounting
from cti_pipeline.unchanged import HUELLAS_TABLE, huella_frame
from cti_pipeline.warehouse import TableWrite


@dataclass
class SourceWrite:
    """Everything one source writes for one year (`anio`), or for all of it when it is not yearly (None)."""

    origen: str  # the source, in meta.archivos and meta.huellas
    anio: int | None
    tables: SourceTables
    raw: tuple[Columns, pd.DataFrame]
    staged: dict[str, tuple[Columns, pd.DataFrame]]  # staging table → (columns, rows)
    quarantined: pd.DataFrame
    rejected: pd.DataFrame
    files: pd.DataFrame
    huella: str | None  # None: no fingerprint kept (the source is always read again)
    transient_rejections: int = 0
    contents: pd.DataFrame | None = None
    extra: list[TableWrite] = field(default_factory=list)

    def writes(self) -> list[TableWrite]:
        """The year's writes, in order; the raw rows are handed over (the caller keeps no reference)."""
        anio = self.anio
        where = {"anio": anio} if anio is not None else {}
        counts = (len(self.raw[1]), sum(len(frame) for _, frame in self.staged.values()), len(self.quarantined), len(self.rejected))
        raw_columns, raw = self.raw
        self.raw = (raw_columns, pd.DataFrame())  # an empty slice would still hold every buffer of the frame
        writes = [TableWrite(self.tables.raw, raw_columns, raw, where)]
        writes += [TableWrite(table, columns, frame, where) for table, (columns, frame) in self.staged.items()]
        for origen in self.tables.origenes:
            by_origen = {**where, "origen": origen}
            writes.append(TableWrite("quarantine.filas_rechazadas", FILAS_RECHAZADAS, _of(self.quarantined, origen), by_origen))
            writes.append(TableWrite("quarantine.archivos_rechazados", ARCHIVOS_RECHAZADOS, _of(self.rejected, origen), by_origen))
        files, tables = self.files, self.tables
        writes.append(TableWrite("meta.archivos", ARCHIVOS, lambda conn: ledger(files, file_accounting(conn, tables, anio)),
                                 {**where, "origen": self.origen}))
        if self.contents is not None:
            writes.append(TableWrite("meta.contenidos", CONTENIDOS, self.contents, new_keys=("huella_contenido",)))
        writes += self.extra
        if self.huella is not None:
            huella = huella_frame(self.origen, anio, self.huella, counts, transient_rejections=self.transient_rejections)
            writes.append(TableWrite(HUELLAS_TABLE, HUELLAS, huella, {"anio": anio, "origen": self.origen}))
        return writes


def _of(frame: pd.DataFrame, origen: str) -> pd.DataFrame:
    return frame[frame["origen"] == origen]
