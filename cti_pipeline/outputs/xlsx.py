"""A small, fast writer of plain .xlsx workbooks: a bold frozen header, column widths, then rows of
text, numbers, booleans and dates.

Feedback writes one workbook per entity with quarantined rows: hundreds at 100k declaration rows,
thousands at a million. openpyxl has a fixed cost per workbook even in write-only mode (temporary
files, one descriptor object per cell and style) that dominated the feedback step; this writes the same
SpreadsheetML parts directly with `zipfile` (both measured in docs/benchmarks.md, «What made it fast»). Text is always an inline string, so a
value such as "=1+1" stays text and no cell can hold a formula. Characters that XML 1.0 cannot carry
(control characters other than tab and line breaks) are dropped, as Excel cannot show them either.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

EXCEL_EPOCH = dt.datetime(1899, 12, 30)
MAX_SHEET_TITLE = 31
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# cellXfs below: 0 plain, 1 bold header, 2 date, 3 date and time
HEADER_STYLE, DATE_STYLE, DATETIME_STYLE = 1, 2, 3


@dataclass(frozen=True)
class Sheet:
    title: str
    columns: Sequence[str]
    records: Iterable[Sequence[object]]
    widths: Mapping[str, float] = field(default_factory=dict)
    default_width: float = 18


def write_workbook(path: Path, sheets: Sequence[Sheet]) -> Path:
    """Write `sheets` to `path` as one .xlsx workbook (the first sheet is the one that opens)."""
    titles = [sheet.title[:MAX_SHEET_TITLE] for sheet in sheets]
    if len(set(titles)) != len(titles) or not titles:
        raise ValueError(f"sheet titles must be unique and at least one: {titles}")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        archive.writestr("[Content_Types].xml", _content_types(len(sheets)))
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr("xl/workbook.xml", _workbook(titles))
        archive.writestr("xl/_rels/workbook.xml.rels", _workbook_rels(len(sheets)))
        archive.writestr("xl/styles.xml", _STYLES)
        for number, sheet in enumerate(sheets, start=1):
            archive.writestr(f"xl/worksheets/sheet{number}.xml", _worksheet(sheet))
    return Path(path)


def column_letter(position: int) -> str:
    """1 → A, 27 → AA."""
    letters = ""
    while position:
        position, remainder = divmod(position - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def cell_xml(reference: str, value: object, style: int = 0) -> str:
    """One <c> element, or "" for an empty cell."""
    styled = f' s="{style}"' if style else ""
    if value is None:
        return ""
    if isinstance(value, bool):
        return f'<c r="{reference}"{styled} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return ""
        return f'<c r="{reference}"{styled}><v>{value!r}</v></c>'
    if isinstance(value, dt.datetime):
        serial = (value.replace(tzinfo=None) - EXCEL_EPOCH) / dt.timedelta(days=1)
        return f'<c r="{reference}" s="{style or DATETIME_STYLE}"><v>{serial!r}</v></c>'
    if isinstance(value, dt.date):
        serial = (dt.datetime(value.year, value.month, value.day) - EXCEL_EPOCH).days
        return f'<c r="{reference}" s="{style or DATE_STYLE}"><v>{serial}</v></c>'
    text = _ILLEGAL_XML.sub("", str(value))
    return f'<c r="{reference}"{styled} t="inlineStr"><is><t xml:space="preserve">{escape(text)}</t></is></c>'


def _worksheet(sheet: Sheet) -> str:
    letters = [column_letter(position) for position in range(1, len(sheet.columns) + 1)]
    parts = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<sheetViews><sheetView workbookViewId="0">'
        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
        '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
        '<sheetFormatPr defaultRowHeight="15"/>'
    ]
    if letters:
        parts.append("<cols>")
        for position, name in enumerate(sheet.columns, start=1):
            width = sheet.widths.get(str(name), sheet.default_width)
            parts.append(f'<col min="{position}" max="{position}" width="{width}" customWidth="1"/>')
        parts.append("</cols>")
    parts.append('<sheetData><row r="1">')
    parts.extend(cell_xml(f"{letter}1", str(name), HEADER_STYLE) for letter, name in zip(letters, sheet.columns))
    parts.append("</row>")
    for number, values in enumerate(sheet.records, start=2):
        parts.append(f'<row r="{number}">')
        parts.extend(cell_xml(f"{letter}{number}", value) for letter, value in zip(letters, values))
        parts.append("</row>")
    parts.append('</sheetData><pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></worksheet>')
    return "".join(parts)


def _content_types(sheets: int) -> str:
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{n}.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for n in range(1, sheets + 1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        f"{overrides}</Types>"
    )


def _workbook(titles: Sequence[str]) -> str:
    sheets = "".join(f'<sheet name={quoteattr(title)} sheetId="{n}" r:id="rId{n}"/>' for n, title in enumerate(titles, start=1))
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f'<bookViews><workbookView activeTab="0"/></bookViews><sheets>{sheets}</sheets></workbook>'
    )


def _workbook_rels(sheets: int) -> str:
    relations = "".join(
        f'<Relationship Id="rId{n}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
        f'Target="worksheets/sheet{n}.xml"/>'
        for n in range(1, sheets + 1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f"{relations}"
        f'<Relationship Id="rId{sheets + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
        'Target="styles.xml"/></Relationships>'
    )


_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)

_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="22" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
)
