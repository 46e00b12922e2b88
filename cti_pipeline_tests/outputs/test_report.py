"""The compliance report draft built from a mart table the test writes into a real DuckDB file."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from docx import Document

from cti_pipeline.contracts.reference import load_catalog
from cti_pipeline.outputs.report import build_report, read_report_inputs, render_markdown, write_report

PROBLEMA = (
    "Insuficiente eficacia de la Cooperación Técnica Internacional (CTI) orientada a complementar esfuerzos por lograr "
    "el desarrollo sostenible, acorde al rol dual del país."
)  # copied from the seed report

# Only the columns the contract (warehouse.md) fixes for marts.pncti_indicadores.
MART_DDL = """
CREATE SCHEMA marts;
CREATE TABLE marts.pncti_indicadores (
  indicador VARCHAR, anio INTEGER, nombre VARCHAR, nivel VARCHAR, objetivo_prioritario VARCHAR, unidad VARCHAR,
  valor DOUBLE, valor_esperado DOUBLE, avance_pct DOUBLE, estado VARCHAR, valor_reportado DOUBLE, coincide_reportado BOOLEAN
);
CREATE SCHEMA quarantine;
CREATE TABLE quarantine.filas_rechazadas (origen VARCHAR, anio INTEGER, archivo VARCHAR, hoja VARCHAR, fila INTEGER,
  columna VARCHAR, regla VARCHAR, valor VARCHAR, mensaje VARCHAR);
CREATE TABLE quarantine.archivos_rechazados (origen VARCHAR, anio INTEGER, archivo VARCHAR, motivo VARCHAR, detectado_en TIMESTAMP);
"""

ROWS_2024 = [
    # indicador, nombre, nivel, objetivo, unidad, valor, esperado, avance, estado, reportado, coincide
    ("IOP.01.01", "Porcentaje de montos alineados", "OBJETIVO", "OP.01", "%", 62.5, 70.0, 89.29, "DISPONIBLE", None, None),
    ("IOP.01.02", "Porcentaje <script>alert(1)</script> ODS", "OBJETIVO", "OP.01", "%", None, 50.0, None, "ND", None, None),
    ("IOP.01.03", "Número de personas beneficiarias", "OBJETIVO", "OP.01", "número", 12840.0, None, None, "DISPONIBLE", None, None),
    ("IOP.03.01", "Porcentaje de proyectos CSS en ALC", "OBJETIVO", "OP.03", "%", 44.44, 48.76, 91.14, "DISPONIBLE", 45.83, False),
    ("IOP.04.01", "Porcentaje de iniciativas lideradas", "OBJETIVO", "OP.04", "%", 80.0, None, None, "DISPONIBLE", 80.0, True),
    ("ISS.01.02.01.01", "Servidores UOCTI capacitados", "SERVICIO", "OP.01", "número", 142.0, 407.0, 34.89, "DISPONIBLE", 142.0, True),
    ("ISS.02.03.01.01", "Entidades asistidas", "SERVICIO", "OP.02", "número", 13.0, 10.0, 130.0, "DISPONIBLE", 13.0, True),
]
OTHER_YEAR = ("IOP.01.01", "Porcentaje de montos alineados", "OBJETIVO", "OP.01", "%", 1.0, 2.0, 50.0, "DISPONIBLE", None, None)


@pytest.fixture
def mart_db(tmp_path: Path) -> Path:
    path = tmp_path / "cti.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute(MART_DDL)
        for row in ROWS_2024:
            conn.execute("INSERT INTO marts.pncti_indicadores VALUES (?, 2024, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", list(row))
        conn.execute("INSERT INTO marts.pncti_indicadores VALUES (?, 2023, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", list(OTHER_YEAR))
        quarantine = [("declaraciones", "a.xlsx", 3, "moneda"), ("declaraciones", "a.xlsx", 3, "ods"),
                      ("declaraciones", "b.csv", 7, "ruc_entidad"), ("capacitaciones", "c.xlsx", 2, "nota")]
        for origen, archivo, fila, columna in quarantine:
            conn.execute("INSERT INTO quarantine.filas_rechazadas VALUES (?, 2024, ?, NULL, ?, ?, 'r', 'v', 'm')", [origen, archivo, fila, columna])
        conn.execute("INSERT INTO quarantine.filas_rechazadas VALUES ('declaraciones', 2023, 'z.csv', NULL, 9, 'x', 'r', 'v', 'm')")
        conn.execute("INSERT INTO quarantine.archivos_rechazados VALUES ('declaraciones', 2024, 'roto.xlsx', 'dañado', now())")
    return path


def build(mart_db: Path, catalog: pd.DataFrame | None = None):
    with duckdb.connect(str(mart_db), read_only=True) as conn:
        indicadores, quarantine = read_report_inputs(conn, 2024)
    return build_report(indicadores, 2024, quarantine, catalog)


def fmt(value: float | None, unidad: str) -> str:
    """The test's own expectation of a number in the report."""
    if value is None:
        return "ND"
    text = str(int(value)) if float(value).is_integer() else f"{value:.2f}".rstrip("0").rstrip(".")
    if len(text) > 3 and text.isdigit():
        text = f"{int(text):,}".replace(",", " ")
    return f"{text} %" if unidad == "%" else text


def docx_tables(path: Path) -> list[list[list[str]]]:
    return [[[cell.text for cell in row.cells] for row in table.rows] for table in Document(str(path)).tables]


def test_docx_has_the_ceplan_structure_values_nd_annex_and_charts(mart_db: Path, tmp_path: Path):
    report = build(mart_db)
    written = write_report(report, tmp_path / "exports")
    assert written.docx.name == "reporte_cumplimiento_pncti_2024.docx"
    assert sorted(p.name for p in written.docx.parent.iterdir()) == ["reporte_cumplimiento_pncti_2024.docx",
                                                                     "reporte_cumplimiento_pncti_2024.html"]
    document = Document(str(written.docx))
    tables = docx_tables(written.docx)

    header = dict((row[0], row[1]) for row in tables[0])
    assert header["Política nacional"] == "Política Nacional de Cooperación Técnica Internacional (PNCTI) al 2030"
    assert header["Ministerio rector o conductor"] == "Ministerio de Relaciones Exteriores (MRE)"
    assert header["Problema público identificado"] == PROBLEMA
    assert header["Dispositivo legal"] == "Decreto Supremo N° 008-2023-RE"
    resumen = header["Resumen del reporte de cumplimiento"]
    available = sum(r[5] is not None for r in ROWS_2024)
    assert f"Se reportan {len(ROWS_2024)} indicadores" in resumen
    assert f"{available} con valor disponible y {len(ROWS_2024) - available} no disponibles (ND)" in resumen
    assert "IOP.03.01" in resumen

    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    for start in ("I. Cumplimiento de los objetivos prioritarios", "II. Situación de las principales actividades",
                  "III. Alternativas para mejorar", "Anexo"):
        assert any(h.startswith(start) for h in headings), start
    for objective in ("OP.01", "OP.02", "OP.03", "OP.04"):
        assert any(h.startswith(f"{objective}. ") for h in headings)
    assert any(h.startswith("SS.01.02.01") for h in headings) and any(h.startswith("SS.02.03.01") for h in headings)
    assert any("[PENDIENTE – TEXTO DE LOS ANALISTAS]" in p.text for p in document.paragraphs)

    indicator_tables = [t for t in tables if t[0] == ["Código", "Indicador", "Unidad", "Valor", "Logro esperado", "Avance (%)", "Estado"]]
    body_rows = {row[0]: row for table in indicator_tables for row in table[1:]}
    assert len(body_rows) == len(ROWS_2024)
    for codigo, _, _, _, unidad, valor, esperado, avance, estado, _, _ in ROWS_2024:
        row = body_rows[codigo]
        assert row[3:7] == [fmt(valor, unidad), fmt(esperado, unidad), fmt(avance, "%"), estado], codigo

    annex = next(t for t in tables if t[0][:4] == ["Código", "Indicador", "Valor calculado", "Valor publicado"])
    assert [row[0] for row in annex[1:]] == ["IOP.03.01"]
    assert annex[1][2:4] == ["44.44 %", "45.83 %"]
    counts = next(t for t in tables if t[0][0] == "Origen")
    assert {row[0]: row[1:] for row in counts[1:]} == {"capacitaciones": ["1", "1", "0"], "declaraciones": ["2", "3", "1"]}

    objectives_with_indicators = {r[3] for r in ROWS_2024 if r[2] == "OBJETIVO"}
    assert len(document.inline_shapes) == len(objectives_with_indicators) == len(written.charts)
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in written.charts.values())


def test_html_twin_is_escaped_and_self_contained(mart_db: Path, tmp_path: Path):
    written = write_report(build(mart_db), tmp_path)
    page = written.html.read_text("utf-8")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == len(written.charts)
    assert base64.b64decode(images[0]).startswith(b"\x89PNG")
    assert "Decreto Supremo N° 008-2023-RE" in page and PROBLEMA in page
    assert "III. Alternativas para mejorar" in page and "PENDIENTE" in page


def test_markdown_twin_for_the_ui(mart_db: Path):
    report = build(mart_db)
    markdown = render_markdown(report, thumbnail=b"\x89PNG fake")
    assert markdown.startswith("# Reporte de cumplimiento")
    assert "| Dispositivo legal | Decreto Supremo N° 008-2023-RE |" in markdown
    assert "![Gráfico del primer objetivo](data:image/png;base64," in markdown
    assert all(row[0] in markdown for row in ROWS_2024)
    assert "| IOP.03.01 | Porcentaje de proyectos CSS en ALC | 44.44 % | 45.83 % |" in markdown


def test_catalog_indicators_missing_from_the_mart_appear_as_nd(mart_db: Path):
    catalog = load_catalog("pncti_indicadores")
    report = build(mart_db, catalog)
    codes = {line.codigo: line for line in report.indicators}
    assert set(codes) == set(catalog["codigo"]) | {r[0] for r in ROWS_2024}
    missing = set(catalog["codigo"]) - {r[0] for r in ROWS_2024}
    assert missing and all(codes[c].estado == "ND" and codes[c].valor is None for c in missing)
    assert any("sin fila en el mart" in w for w in report.warnings)
    iss = [l for l in report.indicators if l.codigo == "ISS.02.05.01.01"][0]
    assert iss.servicio == "SS.02.05.01"


def test_year_without_mart_rows_is_all_nd_with_a_warning(tmp_path: Path):
    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()
    with duckdb.connect(str(path), read_only=True) as conn:
        indicadores, quarantine = read_report_inputs(conn, 2030)
    report = build_report(indicadores, 2030, quarantine, load_catalog("pncti_indicadores"))
    assert report.indicators and all(l.valor is None for l in report.indicators)
    assert any("no tiene filas para 2030" in w for w in report.warnings)
    written = write_report(report, tmp_path / "out")
    assert "Advertencia" in written.html.read_text("utf-8")
