"""The GPEDC results report from hand-made marts: dimensions, partner values beside TOTAL, charts, pending, escaping."""

import datetime as dt
import io
import re

import pandas as pd
from docx import Document

from cti_pipeline.contracts.gpedc import GpedcCatalogs
from cti_pipeline.outputs.gpedc_results import build_results, render_docx, render_html, render_markdown

NOW = dt.datetime(2025, 2, 3, 12, 0, tzinfo=dt.timezone.utc)
CATALOGS = GpedcCatalogs.load(None)
COLUMNS = ["indicador", "codigo_socio", "valor", "numerador", "denominador", "nota"]


def marts() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    indicadores = pd.DataFrame(
        [("2.4.1.1", "SOC1", 80.0, 80.0, 100.0, None), ("2.4.1.1", "SOC2", None, None, None, "Sin B3_3 de 2022 para este socio"),
         ("2.4.1.1", "TOTAL", 80.0, 80.0, 100.0, None), ("2.3.1", "TOTAL", None, None, None, "Lo calcula el Equipo Conjunto de Apoyo"),
         ("2.8.1", "SOC1", None, None, None, "externo"), ("2.8.1", "SOC2", None, None, None, "externo"), ("2.8.1", "TOTAL", None, None, None, "x"),
         ("1.1.1", "TOTAL", 100.0, 1.0, 1.0, None)],
        columns=COLUMNS,
    )
    completitud = pd.DataFrame(
        [("SOC1", "<script>alert(1)</script> & Cía", "SOCIO_DESARROLLO", "B.1", 3, "VALIDADO"),
         ("SOC1", "<script>alert(1)</script> & Cía", "SOCIO_DESARROLLO", "B.3", 0, "PENDIENTE"),
         ("SOC2", "Agencia Dos", "SOCIO_DESARROLLO", "B.1", 0, "PENDIENTE"),
         ("CEPLAN", "CEPLAN", "GOBIERNO", "A.1", 2, "RECIBIDO")],
        columns=["codigo_respondente", "entidad", "tipo_respondente", "seccion", "preguntas_respondidas", "estado"],
    )
    pendientes = pd.DataFrame(
        [("SOC1", "<script>alert(1)</script> & Cía", "SOCIO_DESARROLLO", "B.3", "flujos", "B3_3", None, "Programado"),
         ("CEPLAN", "CEPLAN", "GOBIERNO", "A.1", "respuestas", "A1_5", None, "elemento 5"),
         ("CEPLAN", "CEPLAN", "GOBIERNO", "A.3", "socios", "A3_4", "SOC1", "presupuesto"),
         ("CEPLAN", "CEPLAN", "GOBIERNO", "A.3", "socios", "A3_4", "SOC2", "presupuesto")],
        columns=["codigo_respondente", "entidad", "tipo_respondente", "seccion", "hoja", "codigo_pregunta", "codigo_socio", "descripcion"],
    )
    return indicadores, completitud, pendientes


def test_indicators_by_dimension_with_method_and_verified_partner_values_beside_total_charts_and_pending():
    results = build_results(*marts(), CATALOGS, NOW)
    titles = [title for title, _, _ in results.dimensions]
    assert titles == ["Dimensión 1. Enfoque de toda la sociedad", "Dimensión 2. Estado y uso de los sistemas del país",
                      "Dimensión 3. Transparencia", "Dimensión 4. No dejar a nadie atrás"]
    rows = {row[0]: row for _, table, _ in results.dimensions for row in table}
    assert set(rows) == {i.indicador for i in CATALOGS.indicators}  # every catalog indicator, ND when the mart has nothing
    assert rows["2.4.1.1"] == ["2.4.1.1", "Previsibilidad anual: desembolsado sobre lo programado para el sector gubernamental", "80 %",
                               "Desembolsado (hasta lo programado) ÷ programado", "No (provisional)"]
    assert rows["2.3.1"][2] == "ND" and rows["1.1.1"][2] == "100 %"
    notes = [n for _, _, ns in results.dimensions for n in ns]
    assert "2.3.1: Lo calcula el Equipo Conjunto de Apoyo" in notes
    partner = {p.indicador: p for p in results.partner_indicators}
    assert partner["2.4.1.1"].rows == [["<script>alert(1)</script> & Cía (SOC1)", "80 %", "80", "100"], ["Agencia Dos (SOC2)", "ND", "", ""],
                                       ["TOTAL", "80 %", "80", "100"]]
    assert [p.indicador for p in results.charted] == ["2.4.1.1"]  # the only partner-level indicator with a partner value
    assert set(results.charts) == {"2.4.1.1"} and results.charts["2.4.1.1"].startswith(b"\x89PNG")
    assert "2.8.1" in [p.indicador for p in results.without_values]
    assert results.pending == [["<script>alert(1)</script> & Cía", "B.3", "Pendiente", "B3_3"], ["CEPLAN", "A.1", "Recibido", "A1_5"],
                               ["CEPLAN", "A.3", "", "A3_4 (SOC1, SOC2)"]]
    assert results.participation == [["Gobierno", "1", "1", "0", "0", "1", "0"], ["Socios para el desarrollo", "2", "3", "1", "0", "0", "2"]]
    page = render_html(results)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Cía" in page
    assert page.count("data:image/png;base64,") == 1 and "Cifras provisionales" in page
    assert "| 2.4.1.1 | 80 % | Desembolsado (hasta lo programado) ÷ programado | No (provisional) |" in render_markdown(results)


def test_the_docx_headers_are_words_not_snake_case_and_no_contact_appears():
    results = build_results(*marts(), CATALOGS, NOW)
    document = Document(io.BytesIO(render_docx(results)))
    for table in document.tables:
        header = [cell.text for cell in table.rows[0].cells]
        assert not any(re.fullmatch(r"[a-z]+(_[a-z]+)+", text) for text in header), header
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert "2.4.1.1. Previsibilidad anual: desembolsado sobre lo programado para el sector gubernamental" in headings
    assert len(document.inline_shapes) == 1
    assert "@" not in "\n".join(p.text for p in document.paragraphs)


def test_empty_marts_give_a_report_that_says_so():
    empty = pd.DataFrame(columns=COLUMNS)
    results = build_results(empty, pd.DataFrame(), pd.DataFrame(), CATALOGS, NOW)
    assert results.warnings and results.participation == [] and results.pending == [] and results.charts == {}
    assert all(row[2] == "ND" for _, rows, _ in results.dimensions for row in rows)
    assert "Advertencia" in render_html(results)
    Document(io.BytesIO(render_docx(results)))  # still a document
