"""The GPEDC results report from hand-made marts: ND where a value is missing, every text escaped."""

import datetime as dt

import pandas as pd

from cti_pipeline.outputs.gpedc_results import INDICATORS, build_results, render_html, render_markdown

NOW = dt.datetime(2025, 2, 3, 12, 0, tzinfo=dt.timezone.utc)


def test_missing_values_are_nd_and_names_are_escaped():
    indicadores = pd.DataFrame(
        [("previsibilidad_anual", "SOC1", 80.0, 8.0, 10.0), ("previsibilidad_anual", "TOTAL", None, 0.0, 0.0)],
        columns=["indicador", "codigo_socio", "valor", "numerador", "denominador"],
    )
    completitud = pd.DataFrame(
        [("SOC1", "<script>alert(1)</script> & Cía", "SOCIO_DESARROLLO", "B.1", 3, "VALIDADO"),
         ("SOC1", "<script>alert(1)</script> & Cía", "SOCIO_DESARROLLO", "B.2", 0, "PENDIENTE"),
         ("CEPLAN", "CEPLAN", "GOBIERNO", "A.1", 2, "RECIBIDO")],
        columns=["codigo_respondente", "entidad", "tipo_respondente", "seccion", "preguntas_respondidas", "estado"],
    )
    results = build_results(indicadores, completitud, 2022, NOW)
    totals = {row[0]: row[2] for row in results.totals}
    assert list(totals) == list(INDICATORS)
    assert totals["previsibilidad_anual"] == "ND" and totals["objetivos_alineados"] == "ND"
    assert results.partners.set_index("codigo_socio").loc["SOC1", "previsibilidad_anual"] == "80 %"
    assert results.participation == [["Gobierno", "1", "1", "0", "0", "1", "0"], ["Socios para el desarrollo", "1", "2", "1", "0", "0", "1"]]
    page = render_html(results)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Cía" in page
    assert "| previsibilidad_anual | ND |" in render_markdown(results)


def test_empty_marts_give_a_report_that_says_so():
    results = build_results(pd.DataFrame(columns=["indicador", "codigo_socio", "valor", "numerador", "denominador"]),
                            pd.DataFrame(), 2022, NOW)
    assert results.warnings and results.partners.empty and results.participation == []
    assert all(row[2] == "ND" for row in results.totals)
    assert "Advertencia" in render_html(results)
