"""The .docx drafts on A4 with tables that fit the page: the real builders, real files, and LibreOffice's PDF.

The PDF tests need LibreOffice (`soffice`; Debian: `apt-get install --no-install-recommends
libreoffice-writer-nogui`) and skip without it; the word check also needs `pdftotext` (poppler-utils).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from docx import Document
from docx.oxml.ns import qn
from docx.shared import Cm

from cti_pipeline.contracts.reference import load_catalog
from cti_pipeline.outputs.docx_layout import column_widths, format_table, text_points
from cti_pipeline.outputs.gpedc_results import build_results, write_results
from cti_pipeline.outputs.report import build_report, write_report

A4 = (Cm(21), Cm(29.7))
A4_POINTS = (595.3, 841.9)
TOLERANCE = Cm(0.05)  # Word stores page sizes in twips


def pncti_report(tmp_path: Path) -> Path:
    """The 2024 report of every catalog indicator (long names, every section, charts, both annex tables)."""
    catalog = load_catalog("pncti_indicadores")
    rows = []
    for position, entry in enumerate(catalog.itertuples(index=False)):
        valor = None if position % 5 == 4 else round(12.5 * (position + 1) + 0.37, 2) * (1000 if entry.unidad != "%" else 1)
        esperado = None if position % 3 == 2 else 50.0 + position
        rows.append({
            "indicador": entry.codigo, "anio": 2024, "nombre": entry.nombre, "nivel": entry.nivel,
            "objetivo_prioritario": entry.objetivo_prioritario, "unidad": entry.unidad, "valor": valor,
            "valor_esperado": esperado, "avance_pct": round(100 * valor / esperado, 2) if valor and esperado else None,
            "estado": "DISPONIBLE" if valor is not None else "ND",
            "valor_reportado": (valor + 1.5) if valor is not None and position % 4 == 0 else valor,
            "coincide_reportado": (position % 4 != 0) if valor is not None else None,
        })
    quarantine = pd.DataFrame(
        [("declaraciones", 13, 14, 2), ("capacitaciones", 3, 3, 0), ("espacios_coordinacion", 1, 1, 0), ("registros", 0, 0, 1)],
        columns=["origen", "filas", "reglas", "archivos"],
    )
    report = build_report(pd.DataFrame(rows), 2024, quarantine, catalog)
    assert report.reconciliation and len(report.indicators) == len(catalog)
    return write_report(report, tmp_path / "exports").docx


PARTNERS = {
    "AECID": "Agencia Española de Cooperación Internacional para el Desarrollo",
    "BID": "Banco Interamericano de Desarrollo",
    "COSUDE": "Agencia Suiza para el Desarrollo y la Cooperación",
    "GIZ": "Cooperación Alemana al Desarrollo",
    "JICA": "Agencia de Cooperación Internacional del Japón",
    "KOICA": "Agencia de Cooperación Internacional de Corea",
    "PNUD": "Programa de las Naciones Unidas para el Desarrollo",
    "UE": "Delegación de la Unión Europea en el Perú",
    "USAID": "Agencia de los Estados Unidos para el Desarrollo Internacional",
}


def gpedc_report(tmp_path: Path) -> Path:
    """The GPEDC results with nine partners with their long names, every catalog indicator (long names, notes of ND
    values), one chart per partner-level indicator and a long pending list."""
    from cti_pipeline.contracts.gpedc import GpedcCatalogs

    catalogs = GpedcCatalogs.load(None)
    values = []
    for i, indicator in enumerate(catalogs.indicators):
        for j, socio in enumerate([*PARTNERS, "TOTAL"] if indicator.nivel == "SOCIO" else ["TOTAL"]):
            valor = None if (i + j) % 4 == 3 or indicator.metodo in ("EXTERNO", "SIN_CALCULO") else round(100 * (i + 1) / (j + 2) % 100, 2)
            nota = None if valor is not None else "Denominador 0: ninguna respuesta SI o NO a A2_1, A2_2, A2_3, A2_4, A2_5, A2_6."
            values.append((indicator.indicador, socio, valor, float(i + 1) * 123_456.78, float(j + 2) * 234_567.89, nota))
    indicadores = pd.DataFrame(values, columns=["indicador", "codigo_socio", "valor", "numerador", "denominador", "nota"])
    completitud = pd.DataFrame(
        [(code, name, "SOCIO_DESARROLLO", section, 4, state)
         for code, name in PARTNERS.items() for section, state in (("B.1", "VALIDADO"), ("B.2", "PENDIENTE"))]
        + [("MEF", "Ministerio de Economía y Finanzas", "GOBIERNO", "A.3", 2, "RECIBIDO")],
        columns=["codigo_respondente", "entidad", "tipo_respondente", "seccion", "preguntas_respondidas", "estado"],
    )
    pendientes = pd.DataFrame(
        [(code, name, "SOCIO_DESARROLLO", "B.2", "intervenciones", item, None, "x")
         for code, name in PARTNERS.items() for item in ("B2_6", "B2_10", "B2_10.1", "B2_10.2", "B2_11a", "B2_11b")]
        + [("MEF", "Ministerio de Economía y Finanzas", "GOBIERNO", "A.3", "socios", "A3_4", code, "x") for code in PARTNERS],
        columns=["codigo_respondente", "entidad", "tipo_respondente", "seccion", "hoja", "codigo_pregunta", "codigo_socio", "descripcion"],
    )
    results = build_results(indicadores, completitud, pendientes, catalogs, dt.datetime(2025, 2, 3, tzinfo=dt.timezone.utc))
    assert len(results.charts) == sum(1 for i in catalogs.indicators if i.nivel == "SOCIO" and i.metodo not in ("EXTERNO", "SIN_CALCULO"))
    return write_results(results, tmp_path / "exports")[0]


@pytest.fixture(scope="module", params=["pncti", "gpedc"])
def draft(request, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Each draft built once for the module's tests, which only read it."""
    return {"pncti": pncti_report, "gpedc": gpedc_report}[request.param](tmp_path_factory.mktemp(request.param))


def test_every_section_is_a4_and_no_table_is_wider_than_the_text(draft: Path):
    document = Document(str(draft))
    for section in document.sections:
        size = sorted((section.page_width, section.page_height))
        assert all(abs(got - want) <= TOLERANCE for got, want in zip(size, A4, strict=True)), (draft.name, size)
        for margin in (section.left_margin, section.right_margin, section.top_margin, section.bottom_margin):
            assert Cm(2) - TOLERANCE <= margin <= Cm(2.5) + TOLERANCE
    width = document.sections[0].page_width - document.sections[0].left_margin - document.sections[0].right_margin
    assert document.tables
    for table in document.tables:
        grid = [int(col.get(qn("w:w"))) * 635 for col in table._tbl.tblGrid.findall(qn("w:gridCol"))]
        assert sum(grid) <= width, (draft.name, table.rows[0].cells[0].text)
        assert table._tbl.tblPr.find(qn("w:tblLayout")).get(qn("w:type")) == "fixed"
        for row in table.rows:
            assert [cell.width for cell in row.cells] == [table.columns[i].width for i in range(len(row.cells))]
            assert all(run.font.size.pt == 9 for cell in row.cells for p in cell.paragraphs for run in p.runs)
    for shape in document.inline_shapes:
        assert shape.width <= width


def test_no_column_is_narrower_than_its_longest_word(draft: Path):
    document = Document(str(draft))
    for table in document.tables:
        for column, cells in enumerate(zip(*[row.cells for row in table.rows], strict=True)):
            bold_rows = {0} if table.rows[0].cells[0].paragraphs[0].runs[0].bold else set()
            longest_word = max(
                (text_points(word, 9, index in bold_rows or any(r.bold for p in cell.paragraphs for r in p.runs))
                 for index, cell in enumerate(cells) for word in cell.text.split()),
                default=0.0,
            )
            assert table.columns[column].width.pt >= longest_word, (draft.name, cells[0].text, longest_word)


def test_widths_share_the_spare_room_and_never_exceed_the_text():
    assert column_widths([10, 10], [10, 30], 100) == [25.0, 75.0]  # everything fits on one line: proportional
    assert column_widths([10, 20], [50, 100], 60) == pytest.approx([10 + 30 * 40 / 120, 20 + 30 * 80 / 120])
    assert column_widths([60, 60], [80, 80], 100) == [50.0, 50.0]  # words wider than the page: scaled to it


def test_format_table_keeps_short_values_whole_and_wraps_titles_between_words():
    document = Document()
    table = document.add_table(rows=2, cols=3)
    for cell, text in zip(table.rows[0].cells, ["Código", "Indicador", "Avance (%)"], strict=True):
        cell.text = text
    for cell, text in zip(table.rows[1].cells, ["IOP.01.01", "Porcentaje de montos ejecutados alineados " * 4, "95.06 %"], strict=True):
        cell.text = text
    widths = format_table(table, Cm(12))
    assert sum(w for w in widths) <= Cm(12)
    assert widths[2].pt >= text_points("95.06 %", 9)  # the value stays on one line
    assert widths[2].pt < text_points("Avance (%)", 9, bold=True)  # its title wraps to leave room for the text column
    assert widths[0].pt >= text_points("IOP.01.01", 9)


def convert_to_pdf(docx: Path, out: Path) -> Path:
    """LibreOffice headless, with its own profile (parallel test workers must not share one)."""
    profile = out / "lo-profile"
    done = subprocess.run(
        ["soffice", f"-env:UserInstallation={profile.as_uri()}", "--headless", "--convert-to", "pdf", "--outdir", str(out), str(docx)],
        capture_output=True, text=True, timeout=180,
    )
    pdf = out / (docx.stem + ".pdf")
    assert done.returncode == 0 and pdf.exists(), done.stderr
    return pdf


def page_sizes(pdf: Path) -> list[tuple[float, float]]:
    """The MediaBox (width, height in points) of every page (LibreOffice writes page objects uncompressed)."""
    boxes = re.findall(rb"/MediaBox\s*\[\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*\]", pdf.read_bytes())
    return [(float(x1) - float(x0), float(y1) - float(y0)) for x0, y0, x1, y1 in boxes]


needs_libreoffice = pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")


@pytest.mark.slow
@needs_libreoffice
def test_libreoffice_prints_the_drafts_on_a4(draft: Path, tmp_path: Path):
    pdf = convert_to_pdf(draft, tmp_path / "pdf")
    sizes = page_sizes(pdf)
    assert sizes and len(sizes) >= 2, sizes
    for width, height in sizes:
        assert sorted((round(width, 1), round(height, 1))) == sorted(A4_POINTS), (draft.name, width, height)


@pytest.mark.slow
@needs_libreoffice
@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed")
def test_libreoffice_breaks_no_word_of_a_table(draft: Path, tmp_path: Path):
    """Every word of the document is whole in the PDF's text as often as in the .docx (a word cut in a
    narrow column, "DISPONIBL E", would be missing once)."""
    pdf = convert_to_pdf(draft, tmp_path / "pdf")
    printed = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    document = Document(str(draft))
    texts = [p.text for p in document.paragraphs] + [cell.text for t in document.tables for row in t.rows for cell in row.cells]

    def words(text: str) -> list[str]:
        return re.findall(r"\w{4,}", text)

    printed_words = words(printed)
    for word in sorted(set(w for text in texts for w in words(text))):
        wanted = sum(words(text).count(word) for text in texts)
        assert printed_words.count(word) >= wanted, (draft.name, word, wanted, printed_words.count(word))
