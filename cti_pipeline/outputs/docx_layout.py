"""Page and table layout shared by the .docx drafts (python-docx): A4 pages, tables sized to their content.

- `use_a4(document)`: every section on A4 (21 × 29.7 cm, or 29.7 × 21 landscape) with 2–2.5 cm margins, and
  Arial as the text font (Word has it; LibreOffice uses the metric-compatible Liberation Sans, or DejaVu Sans).
- `add_table(document, headers, rows)`: a grid table with a bold, shaded header row that repeats on every
  page, 9 pt text, columns sized by `format_table`, and space after it.
- `format_table(table, width)`: size the columns of any python-docx table from its content. A column is
  at least as wide as its longest word, so words do not break in the middle ("Unida d"), and as its short
  data (up to 2.5 cm: "95.06 %" stays on one line; titles wrap between words); the space that remains
  goes to the columns with long data; the total is never wider than `width` (the text width).
  The layout is fixed, so Word and LibreOffice both keep these widths.
- `add_picture(document, png)`: a chart centred, never wider than the text, with space before and after.

Widths are measured with DejaVu Sans, the font matplotlib ships (so the same on every machine): it is
wider than Arial and Liberation Sans, so a width that fits it fits them too.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import lru_cache

from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Emu, Length, Pt

A4_SHORT, A4_LONG = Cm(21), Cm(29.7)
MARGIN_TOP_BOTTOM, MARGIN_LEFT_RIGHT = Cm(2.5), Cm(2)
FONT = "Arial"
TABLE_FONT_SIZE = Pt(9)
CELL_PADDING = Cm(0.1)  # left and right, inside every cell (Word's default is 0.19 cm)
UNBROKEN = Cm(2.5)  # a cell text up to this wide is never wrapped (a number and its unit stay together)
SLACK = Pt(3)  # per column: rounding, and a font a little wider than the one measured
SPACE_AROUND = Pt(6)
HEADER_FILL = "E8EEF6"  # the HTML twins' header colour
TWIP = 635  # EMU: the unit Word stores table widths in


def use_a4(document, landscape: bool = False) -> None:
    """Every section on A4 with the margins above; body and headings in FONT."""
    for section in document.sections:
        section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
        section.page_width, section.page_height = (A4_LONG, A4_SHORT) if landscape else (A4_SHORT, A4_LONG)
        section.top_margin = section.bottom_margin = MARGIN_TOP_BOTTOM
        section.left_margin = section.right_margin = MARGIN_LEFT_RIGHT
    for style in document.styles:
        if style.type == WD_STYLE_TYPE.PARAGRAPH and (style.name in ("Normal", "Title") or style.name.startswith("Heading")):
            set_font(style.element, FONT)


def set_font(element, name: str) -> None:
    """Set the font of a style or run element, dropping theme fonts (which Word prefers over a named font)."""
    rpr = element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attribute in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attribute), None)
    for attribute in ("w:ascii", "w:hAnsi", "w:cs"):
        fonts.set(qn(attribute), name)


def text_width(document) -> Length:
    """The width between the margins of the document's last section (where new content goes)."""
    section = document.sections[-1]
    return Emu(section.page_width - section.left_margin - section.right_margin)


def add_table(document, headers: Sequence[str], rows: Sequence[Sequence[object]], *, font_size: Length = TABLE_FONT_SIZE):
    """A formatted table (header row bold, shaded and repeated on each page), then SPACE_AROUND below it."""
    table = document.add_table(rows=1, cols=len(headers))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, headers, strict=True):
        cell.text = str(text)
        cell.paragraphs[0].runs[0].bold = True
    for values in rows:
        for cell, text in zip(table.add_row().cells, values, strict=True):
            cell.text = "" if text is None else str(text)
    format_table(table, text_width(document), header_rows=1, font_size=font_size)
    add_space(document)
    return table


def add_space(document, height: Length = SPACE_AROUND):
    """An empty paragraph exactly `height` high: the gap after a table (a table has no spacing of its own)."""
    paragraph = document.add_paragraph()
    paragraph.paragraph_format.space_before = paragraph.paragraph_format.space_after = 0
    paragraph.paragraph_format.line_spacing = height
    return paragraph


def add_picture(document, png: bytes, width: Length | None = None):
    """A picture in its own centred paragraph: its natural size (or `width`), never wider than the text."""
    from docx.image.image import Image

    natural = Image.from_blob(png).width
    shown = min(width or natural, text_width(document))
    document.add_picture(io.BytesIO(png), width=Emu(shown))
    paragraph = document.paragraphs[-1]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.paragraph_format.space_before = SPACE_AROUND
    paragraph.paragraph_format.space_after = 2 * SPACE_AROUND
    return paragraph


def format_table(table, width: Length, header_rows: int = 1, font_size: Length = TABLE_FONT_SIZE) -> list[Length]:
    """Size the columns of `table` from their text (see the module docstring); returns the widths set.

    Also: fixed layout, `font_size` on every run, no spacing inside cells, rows that do not split across
    pages, and the first `header_rows` rows bold, shaded and repeated at the top of each page.
    """
    columns = len(table.columns)
    shortest = [0.0] * columns  # the longest word (or short text): narrower, and it would break
    longest = [0.0] * columns  # the longest line of data: wider is wasted
    for index, row in enumerate(table.rows):
        for column, cell in enumerate(row.cells):
            bold = index < header_rows or any(run.bold for paragraph in cell.paragraphs for run in paragraph.runs)
            for line in cell.text.split("\n"):
                line_width = text_points(line, font_size.pt, bold)
                if index >= header_rows or len(table.rows) == header_rows:  # a title may wrap to leave room for the data
                    longest[column] = max(longest[column], line_width)
                if index >= header_rows and line_width <= UNBROKEN.pt:  # "95.06 %", "505 204": kept on one line
                    shortest[column] = max(shortest[column], line_width)
                    continue
                for word in line.split():
                    shortest[column] = max(shortest[column], text_points(word, font_size.pt, bold))
    extra = 2 * CELL_PADDING.pt + SLACK.pt
    widths = column_widths([w + extra for w in shortest], [w + extra for w in longest], width.pt)
    lengths = [Emu(int(Pt(w)) // TWIP * TWIP) for w in widths]  # whole twips, rounded down: the sum still fits

    table.autofit = False  # <w:tblLayout w:type="fixed"/>
    table.alignment = WD_TABLE_ALIGNMENT.LEFT
    properties = table._tbl.tblPr
    set_child(properties, "w:tblW", {"w:w": str(sum(lengths) // TWIP), "w:type": "dxa"})
    margins = set_child(properties, "w:tblCellMar", {})
    for side in ("left", "right"):
        set_child(margins, f"w:{side}", {"w:w": str(CELL_PADDING // TWIP), "w:type": "dxa"})
    for column, length in zip(table.columns, lengths, strict=True):
        column.width = length  # the grid (<w:gridCol>), which Word uses
    for index, row in enumerate(table.rows):
        row_properties = row._tr.get_or_add_trPr()
        set_child(row_properties, "w:cantSplit", {})
        if index < header_rows:
            set_child(row_properties, "w:tblHeader", {})
        for cell, length in zip(row.cells, lengths, strict=True):
            cell.width = length  # <w:tcW>, which LibreOffice uses
            if index < header_rows:
                set_child(cell._tc.get_or_add_tcPr(), "w:shd", {"w:val": "clear", "w:color": "auto", "w:fill": HEADER_FILL})
            for paragraph in cell.paragraphs:
                paragraph.paragraph_format.space_before = paragraph.paragraph_format.space_after = 0
                for run in paragraph.runs:
                    run.font.size = font_size
                    if index < header_rows:
                        run.bold = True
    return lengths


def column_widths(shortest: Sequence[float], longest: Sequence[float], available: float) -> list[float]:
    """Column widths (points) that fill `available`: each at least `shortest` when they all fit, the rest shared
    in proportion to how much longer each column's text is; when even the shortest do not fit, scaled down."""
    longest = [max(low, high) for low, high in zip(shortest, longest, strict=True)]
    if sum(longest) <= available:  # everything on one line: spread the spare width in proportion
        return [available * high / sum(longest) for high in longest] if sum(longest) else [available / len(longest)] * len(longest)
    if sum(shortest) >= available:  # some word must break: keep the proportions of the words
        return [available * low / sum(shortest) for low in shortest]
    spare = available - sum(shortest)
    wants = [high - low for low, high in zip(shortest, longest, strict=True)]
    return [low + spare * want / sum(wants) for low, want in zip(shortest, wants, strict=True)]


@lru_cache(maxsize=4096)
def text_points(text: str, size: float, bold: bool = False) -> float:
    """The width of `text` in points, set in DejaVu Sans at `size` points."""
    from matplotlib.font_manager import FontProperties

    if not text:
        return 0.0
    font = FontProperties(family="DejaVu Sans", size=size, weight="bold" if bold else "normal")
    return _measurer().get_text_width_height_descent(text, font, ismath=False)[0]


@lru_cache(maxsize=1)
def _measurer():
    from matplotlib.textpath import TextToPath

    return TextToPath()


# What may follow each element we add, in its parent (WordprocessingML fixes the order; Word rejects others).
SUCCESSORS: dict[str, tuple[str, ...]] = {
    "w:tblW": ("w:jc", "w:tblCellSpacing", "w:tblInd", "w:tblBorders", "w:shd", "w:tblLayout", "w:tblCellMar", "w:tblLook",
               "w:tblCaption", "w:tblDescription", "w:tblPrChange"),
    "w:tblCellMar": ("w:tblLook", "w:tblCaption", "w:tblDescription", "w:tblPrChange"),
    "w:left": ("w:bottom", "w:right", "w:end"),
    "w:right": (),
    "w:cantSplit": ("w:trHeight", "w:tblHeader", "w:tblCellSpacing", "w:jc", "w:hidden", "w:ins", "w:del", "w:trPrChange"),
    "w:tblHeader": ("w:tblCellSpacing", "w:jc", "w:hidden", "w:ins", "w:del", "w:trPrChange"),
    "w:shd": ("w:noWrap", "w:tcMar", "w:textDirection", "w:tcFitText", "w:vAlign", "w:hideMark", "w:headers", "w:cellIns",
              "w:cellDel", "w:cellMerge", "w:tcPrChange"),
}


def set_child(parent, tag: str, attributes: dict[str, str]):
    """The child `tag` of `parent` (created in its schema position if missing), with `attributes` set."""
    child = parent.find(qn(tag))
    if child is None:
        child = OxmlElement(tag)
        successors = {qn(name) for name in SUCCESSORS[tag]}
        following = next((element for element in parent if element.tag in successors), None)
        if following is None:
            parent.append(child)
        else:
            following.addprevious(child)
    for name, value in attributes.items():
        child.set(qn(name), value)
    return child
