"""The export writer on its own: text that looks like a formula, masked e-mails, the formula guard."""

from __future__ import annotations

import io

import pandas as pd
from openpyxl import Workbook, load_workbook

from cti_pipeline.outputs.gpedc_export import FILE_NAME, GpedcExportData, audit, formula_cells, render, write_export


def data(answers: list[dict[str, object]]) -> GpedcExportData:
    roster = pd.DataFrame({"codigo_respondente": ["SOC1"], "tipo_respondente": ["SOCIO_DESARROLLO"], "entidad": ["=Agencia"], "secciones": ["B.1"]})
    tracker = pd.DataFrame({"codigo_respondente": ["SOC1"], "entidad": ["=Agencia"], "tipo_respondente": ["SOCIO_DESARROLLO"], "seccion": ["B.1"],
                            "preguntas_respondidas": [len(answers)], "estado": ["VALIDADO"], "ultima_actualizacion": [pd.Timestamp("2024-11-02")]})
    validations = pd.DataFrame({"codigo_respondente": ["SOC1"], "seccion": ["B.1"], "estado": ["VALIDADO"], "fecha": [pd.Timestamp("2024-11-02")],
                                "observacion": ["-revisado por x.y@apci.example.gob.pe"]})
    empty = pd.DataFrame()
    return GpedcExportData(
        sections=pd.DataFrame({"seccion": ["B.1", "B.2"]}), roster=roster, respuestas=pd.DataFrame(answers),
        validaciones_vigentes=validations, completitud=tracker, indicadores=empty, intervenciones=empty, flujos=empty, presupuesto=empty,
    )


def test_formula_like_text_stays_text_and_emails_are_masked(tmp_path):
    tricky = ["=SUMA(A1)", "+51 999", "-", "@here", "=HYPERLINK(\"http://x\",\"y\")"]
    answers = [
        {"codigo_respondente": "SOC1", "seccion": "B.1", "modulo": None, "codigo_pregunta": f"B1_{i}", "respuesta": text,
         "comentario": "ver correo ana.perez@ejemplo.org"}
        for i, text in enumerate(tricky, start=1)
    ]
    path = write_export(tmp_path, data(answers))
    assert path == tmp_path / FILE_NAME and not list(tmp_path.glob(".*tmp"))
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["B.1", "B.2", "intervenciones", "flujos", "presupuesto", "completitud", "indicadores"]
    cells = [c for sheet in workbook.worksheets for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    rows = list(workbook["B.1"].iter_rows(values_only=True))
    header = rows[0]
    assert [r[header.index("respuesta")] for r in rows[1:]] == tricky
    assert {r[header.index("entidad")] for r in rows[1:]} == {"=Agencia"}
    assert {r[header.index("estado_validacion")] for r in rows[1:]} == {"VALIDADO"}
    text = "\n".join(str(c.value) for c in cells if c.value is not None)
    assert "ana.perez@ejemplo.org" not in text and "x.y@apci.example.gob.pe" not in text
    assert "[correo omitido]" in text
    assert list(workbook["B.2"].iter_rows(values_only=True))[0][0] == "codigo_respondente"  # empty section: header only


def test_the_formula_guard_sees_a_real_formula():
    workbook = Workbook()
    workbook.active["A1"] = "=1+1"
    workbook.active["B2"] = "escriba a ana@ejemplo.org"
    workbook.save(buffer := io.BytesIO())
    assert formula_cells(io.BytesIO(buffer.getvalue())) == ["Sheet!A1"]
    assert audit(io.BytesIO(buffer.getvalue())).emails == ["Sheet!B2"]
    assert formula_cells(io.BytesIO(render(data([])))) == []
