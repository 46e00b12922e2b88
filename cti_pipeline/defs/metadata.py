"""Dagster metadata helpers: Markdown previews, row counts and column schemas for the UI."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from cti_pipeline.contracts.tables import Columns


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


def column_schema(columns: Columns) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name=name, type=sql_type) for name, sql_type in columns.items()])


def table_metadata(table: str, columns: Columns, rows: int, preview: pd.DataFrame | None = None, **extra: object) -> dict:
    metadata: dict[str, object] = {
        "dagster/row_count": dg.MetadataValue.int(int(rows)),
        "dagster/table_name": table,
        "dagster/column_schema": column_schema(columns),
    }
    if preview is not None:
        metadata["preview"] = dg.MetadataValue.md(markdown_table(preview))
    metadata.update(extra)
    return metadata


def fingerprint_metadata(unchanged: bool, huella: str, note: str) -> dict:
    """What an asset with a fingerprint skip says of its run: sin_cambios, the fingerprint, and on a skip why."""
    return {"sin_cambios": unchanged, "huella": huella, **({"nota": note} if unchanged else {})}
