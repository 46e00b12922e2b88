"""Builders of real input files for tests: openpyxl workbooks and encoded CSVs written to disk."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from openpyxl import Workbook

from cti_pipeline.contracts.declaracion import DECLARACION
from cti_pipeline.contracts.schema import ruc_check_digit

DECLARACION_HEADERS = [c.name for c in DECLARACION.columns]


def valid_ruc(first_ten: str = "2010004721") -> str:
    return first_ten + str(ruc_check_digit(first_ten))


def declaracion_row(**overrides: object) -> dict[str, object]:
    """A row that satisfies every rule of the Declaración Anual for 2024."""
    row: dict[str, object] = {
        "anio": 2024,
        "ruc_entidad": valid_ruc(),
        "nombre_entidad": "Asociación Civil Agua para Todos",
        "tipo_entidad": "ONGD",
        "codigo_intervencion": "INT-001",
        "titulo": "Agua potable en comunidades altoandinas",
        "fuente_cooperante": "Agencia Española de Cooperación Internacional para el Desarrollo",
        "pais_fuente": "ESP",
        "tipo_cooperacion": "BILATERAL",
        "area_prioritaria": "AP01",
        "ods": 6,
        "departamento": "08",
        "moneda": "USD",
        "monto_ejecutado": 1000.0,
        "beneficiarios": 250,
        "participa_empresa_privada": "NO",
        "fecha_inicio": dt.date(2023, 3, 1),
        "fecha_fin": dt.date(2025, 2, 28),
    }
    row.update(overrides)
    return row


def write_xlsx(
    path: Path,
    rows: Iterable[dict[str, object]],
    headers: Sequence[str] | None = None,
    sheet: str = "intervenciones",
    mtime: float | None = None,
    leading_blank_rows: int = 0,
    extra_sheets: Sequence[str] = (),
) -> Path:
    rows = list(rows)
    headers = list(headers or (rows[0].keys() if rows else DECLARACION_HEADERS))
    workbook = Workbook()
    workbook.remove(workbook.active)
    for name in extra_sheets:
        workbook.create_sheet(name).append(["otra", "hoja"])
    worksheet = workbook.create_sheet(sheet)
    for _ in range(leading_blank_rows):
        worksheet.append([])
    worksheet.append(headers)
    for row in rows:
        worksheet.append([row.get(h, row.get(_key(h))) for h in headers])
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def write_csv(
    path: Path,
    rows: Iterable[dict[str, object]],
    headers: Sequence[str] | None = None,
    encoding: str = "utf-8",
    separator: str = ",",
    decimal_comma: bool = False,
    mtime: float | None = None,
) -> Path:
    rows = list(rows)
    headers = list(headers or (rows[0].keys() if rows else DECLARACION_HEADERS))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=separator, lineterminator="\r\n")
    writer.writerow(headers)
    for row in rows:
        values = []
        for header in headers:
            value = row.get(header, row.get(_key(header)))
            if isinstance(value, dt.date):
                value = value.isoformat()
            elif isinstance(value, float) and decimal_comma:
                value = repr(value).replace(".", ",")
            values.append("" if value is None else value)
        writer.writerow(values)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue().encode(encoding))
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def _key(header: str) -> str:
    """Test headers may be written loosely (`Código Intervención`); rows are keyed by contract names."""
    from cti_pipeline.contracts.text import normalize_header

    return normalize_header(header)


def file_counts(raw: pd.DataFrame) -> pd.DataFrame:
    """Per file of a raw frame: rows read and their fates (the test's own count of the "nothing lost" identity)."""
    counts = pd.crosstab(raw["archivo"], raw["estado_fila"]).reindex(columns=["staged", "quarantined", "superseded"], fill_value=0)
    return counts.assign(leidas=counts.sum(axis=1)).reset_index()


def materialize_year(assets, resources, year: int | str, **kwargs):
    """`dg.materialize` of a year partition on the test's instance (DAGSTER_HOME), with the year added as
    the sensors and the command line add it."""
    import dagster as dg

    from cti_pipeline.defs.partitions import add_years

    with dg.DagsterInstance.get() as instance:
        add_years(instance, [year])
        return dg.materialize(assets, resources=resources, partition_key=str(year), instance=instance, **kwargs)
