"""Dagster metadata: Markdown previews, row counts, column schemas, and what an ingestion's assets show.

An ingestion (declaraciones, registros) reports what the warehouse holds for its year
(`quality.summarize`) whether the run wrote the year or found it unchanged: one path, so a skipped
run shows the same previews and counts as the run that wrote them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import dagster as dg
import pandas as pd

from cti_pipeline.contracts.descriptions import describe
from cti_pipeline.contracts.tables import Columns
from cti_pipeline.domain.quality import SourceSummary


def markdown_table(frame: pd.DataFrame, max_rows: int = 15, max_chars: int = 60) -> str:
    """A small Markdown table (no extra dependency); long cells are cut, pipes escaped."""
    if frame.empty:
        return "_(sin filas)_"
    shown = frame.head(max_rows)
    header = "| " + " | ".join(str(c) for c in shown.columns) + " |"
    rule = "|" + "|".join(" --- " for _ in shown.columns) + "|"
    lines = [header, rule]
    for row in shown.itertuples(index=False):
        cells = []
        for value in row:
            text = "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)
            text = text.replace("|", "\\|").replace("\n", " ")
            cells.append(text if len(text) <= max_chars else text[: max_chars - 1] + "…")
        lines.append("| " + " | ".join(cells) + " |")
    if len(frame) > max_rows:
        lines.append(f"\n_… {len(frame) - max_rows} filas más_")
    return "\n".join(lines)


def column_schema(table: str, columns: Columns, items: Mapping[str, str] | None = None) -> dg.TableSchema:
    """The table's columns with their types and what each means (contracts/descriptions.py)."""
    described = describe(table, columns, items)
    return dg.TableSchema(
        columns=[dg.TableColumn(name=name, type=sql_type, description=described[name] or None) for name, sql_type in columns.items()]
    )


def table_metadata(table: str, columns: Columns, rows: int, preview: pd.DataFrame | None = None,
                   items: Mapping[str, str] | None = None, **extra: object) -> dict:
    metadata: dict[str, object] = {
        "dagster/row_count": dg.MetadataValue.int(int(rows)),
        "dagster/table_name": table,
        "dagster/column_schema": column_schema(table, columns, items),
    }
    if preview is not None:
        metadata["preview"] = dg.MetadataValue.md(markdown_table(preview))
    metadata.update(extra)
    return metadata


def unchanged_metadata(unchanged: bool, huella: str, note: str) -> dict:
    """What an asset that may skip unchanged work says of its run: sin_cambios, the fingerprint, and on a skip why."""
    return {"sin_cambios": unchanged, "huella": huella, **({"nota": note} if unchanged else {})}


@dataclass(frozen=True)
class StagedTable:
    key: dg.AssetKey
    table: str
    columns: Columns
    origen: str  # its quarantine origen


@dataclass(frozen=True)
class IngestionAssets:
    """The assets one ingestion materialises: raw, one or more staging tables, quarantine."""

    raw: dg.AssetKey
    raw_table: str
    raw_columns: Columns
    staged: tuple[StagedTable, ...]
    quarantine: dg.AssetKey


def ingestion_results(
    assets: IngestionAssets,
    summary: SourceSummary,
    common: Mapping[str, object],
    raw_extra: Mapping[str, object] | None = None,
    staged_extra: Mapping[str, Mapping[str, object]] | None = None,
) -> Iterator[dg.MaterializeResult]:
    """The materialisations of an ingestion's assets, from what the warehouse holds for the year."""
    files = summary.files
    shown_files = files[["archivo", "estado_archivo", "filas_leidas", "filas_en_staging", "filas_en_cuarentena", "filas_reemplazadas"]] if not files.empty else files
    yield dg.MaterializeResult(
        asset_key=assets.raw,
        metadata=table_metadata(
            assets.raw_table, assets.raw_columns, summary.raw_rows,
            archivos=dg.MetadataValue.int(len(files)),
            filas_por_archivo=dg.MetadataValue.md(markdown_table(shown_files, max_rows=50)),
            **common, **(raw_extra or {}),
        ),
    )
    for staged in assets.staged:
        preview = summary.previews.get(staged.table)
        yield dg.MaterializeResult(
            asset_key=staged.key,
            metadata=table_metadata(
                staged.table, staged.columns, summary.staged.get(staged.table, 0),
                preview if preview is not None and not preview.empty else None,
                filas_en_cuarentena=dg.MetadataValue.int(summary.quarantined_rows_of(staged.origen)),
                **common, **(staged_extra or {}).get(staged.table, {}),
            ),
        )
    yield dg.MaterializeResult(
        asset_key=assets.quarantine,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(summary.broken_rules),
            "reglas_incumplidas": dg.MetadataValue.int(summary.broken_rules),
            "filas_en_cuarentena": dg.MetadataValue.int(summary.quarantined_rows),
            "archivos_rechazados": dg.MetadataValue.int(len(summary.rejected)),
            "por_regla": dg.MetadataValue.md(markdown_table(summary.by_rule[["origen", "regla", "filas"]] if not summary.by_rule.empty else summary.by_rule)),
            "archivos_rechazados_detalle": dg.MetadataValue.md(markdown_table(summary.rejected, max_chars=160)),
            "preview": dg.MetadataValue.md(markdown_table(summary.quarantine_preview, max_chars=120)),
            **common,
        },
    )


def check_result(name: str, asset: dg.AssetKey, problems: pd.DataFrame, label: str, **extra: object) -> dg.AssetCheckResult:
    """A check that passes when `problems` is empty, showing them as a Markdown table."""
    return dg.AssetCheckResult(
        check_name=name, asset_key=asset, passed=problems.empty,
        metadata={label: dg.MetadataValue.md(markdown_table(problems, max_rows=30)), **extra},
    )
