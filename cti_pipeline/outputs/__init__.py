"""Outputs people use: the PNCTI compliance report draft, feedback workbooks, Excel templates.

Shared helpers for anything written back to disk: atomic file writes and Excel cells that are
data, never formulas (contract README: "Text cells are data, never formulas").
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

FORMULA_PREFIXES = ("=", "+", "-", "@")


def write_bytes_atomic(path: Path, payload: bytes) -> Path:
    """Write `payload` next to `path` in a temporary file, then rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def set_cell(cell, value: object) -> None:
    """Set an openpyxl cell; text is always stored as a text cell, even when it looks like a formula."""
    if value is None:
        cell.value = None
        return
    if isinstance(value, float) and value != value:  # NaN
        cell.value = None
        return
    if isinstance(value, str):
        cell.value = value
        cell.data_type = "s"  # openpyxl would otherwise turn "=..." into a formula
        return
    cell.value = value
