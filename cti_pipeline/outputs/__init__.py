"""Outputs people use: the PNCTI compliance report draft, feedback workbooks, Excel templates.

Shared helpers for anything written back to disk: atomic file writes and Excel cells that are
data, never formulas (contract README: "Text cells are data, never formulas").
"""

from __future__ import annotations

import html
import os
import uuid
from pathlib import Path

FORMULA_PREFIXES = ("=", "+", "-", "@")


def write_bytes_atomic(path: Path, payload: bytes) -> Path:
    """Write `payload` next to `path` in a temporary file, then rename it over `path`.

    The file gets the permissions any new file gets (0666 less the umask), so a report on a shared folder
    is as readable as the folder's other files (`tempfile.mkstemp` would make it 0600).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(payload)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def year_outputs(exports_dir: Path, anio: int) -> list[Path]:
    """Everything written for one year under the exports folder (reports, feedback, follow-up lists) and the
    records that let them be kept (`.huellas/`)."""
    root = Path(exports_dir)
    found = [*root.glob(f"*_{anio}.*"), *root.glob(f".huellas/*_{anio}.json"), *root.glob(f"*/{anio}")]
    return sorted(path for path in found if path.exists())


def html_table(headers: list[str], rows: list[list[object]]) -> str:
    """A plain HTML table; every header and cell is escaped."""
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_page_start(title: str, width_em: int, extra_style: str = "") -> list[str]:
    """The head of a self-contained Spanish page (no external resources), up to the opening <body>."""
    return [
        "<!DOCTYPE html>",
        '<html lang="es"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>body{{font-family:Arial,Helvetica,sans-serif;max-width:{width_em}em;margin:2em auto;line-height:1.4}}"
        "table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #888;padding:.25em .5em;vertical-align:top}"
        f"th{{background:#e8eef6}}.aviso{{color:#b00000}}{extra_style}</style></head><body>",
    ]


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
