"""The export writer on its own: the contract's sheets, text that looks like a formula, masked e-mails, the formula guard."""

from __future__ import annotations

import io

import pandas as pd
from openpyxl import Workbook, load_workbook

from cti_pipeline.contracts.gpedc import GpedcCatalogs
from cti_pipeline.domain.gpedc_marts import RoundData, completitud, latest_validations, pendientes
from cti_pipeline.outputs.gpedc_export import FILE_NAME, GpedcExportData, audit, formula_cells, render, write_export
from cti_pipeline_tests.gpedc.conftest import answer, consolidate, flow, intervention, partner_row, write_csv, write_roster, write_workbook

TRICKY = ["=SUMA(A1)", "+51 999", "-", "@here", "=HYPERLINK(\"http://x\",\"y\")"]


def export_data(folder) -> GpedcExportData:
    catalogs = GpedcCatalogs.load(None)
    result = consolidate(folder)
    data = RoundData(result.roster, result.staged)
    return GpedcExportData(catalogs, data, latest_validations(data.sheet("validaciones")), completitud(data, catalogs),
                           pd.DataFrame({"indicador": ["1.1.1"], "valor": [None]}), pendientes(data, catalogs))


def test_the_contracts_sheets_with_descriptions_states_partners_and_what_is_pending(tmp_path):
    folder = tmp_path / "ronda4"
    write_roster(folder, [("SOC1", "SOCIO_DESARROLLO", "=Agencia", "B.1;B.2;B.3;C.1"), ("GOB1", "GOBIERNO", "Planeamiento", "A.3;A.5")])
    write_workbook(folder / "soc1.xlsx", {
        "respuestas": [answer("SOC1", section, item, text, modulo=1 if section == "C.1" else None, comentario="ver ana.perez@ejemplo.org")
                       for (section, item), text in zip((("B.1", "B1_1"), ("B.1", "B1_3"), ("B.1", "B1_5"), ("C.1", "C_1"), ("C.1", "C_2")),
                                                        TRICKY, strict=True)],
        "intervenciones": [intervention("SOC1", 1, b2_6="NINGUNO"), intervention("SOC1", 2, monto=5_000.0, b2_6="NINGUNO")],
        "flujos": [flow("SOC1", b3_2=1.0, b3_3=2.0)],
    })
    write_workbook(folder / "gob1.xlsx", {"socios": [partner_row("SOC1", respondent="GOB1", a3_1="SI")]})
    write_csv(folder / "validaciones.csv", [{"codigo_respondente": "SOC1", "seccion": "B.1", "estado": "VALIDADO", "fecha": "2024-11-02",
                                             "observacion": "-revisado por x.y@apci.example.gob.pe"}], separator=",")
    data = export_data(folder)
    path = write_export(tmp_path / "exports", data)
    assert path.name == FILE_NAME and not list(path.parent.glob(".*tmp"))
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["A.1", "A.2", "A.3", "A.4", "A.5", "B.1", "B.2", "B.3", "C.1", "CSS", "intervenciones", "flujos",
                                   "socios", "pendientes", "completitud", "indicadores"]
    cells = [c for sheet in workbook.worksheets for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    rows = list(workbook["B.1"].iter_rows(values_only=True))
    header = rows[0]
    assert header == ("codigo_respondente", "entidad", "modulo", "codigo_pregunta", "descripcion", "respuesta", "comentario",
                      "estado_validacion", "fecha_validacion", "observacion_validacion")
    by_item = {r[header.index("codigo_pregunta")]: dict(zip(header, r, strict=True)) for r in rows[1:]}
    c1 = list(workbook["C.1"].iter_rows(values_only=True))
    assert [by_item[i]["respuesta"] for i in ("B1_1", "B1_3", "B1_5")] + [r[5] for r in c1[1:]] == TRICKY
    assert by_item["B1_3"]["descripcion"] == "Alineamiento de la estrategia con el plan nacional"
    assert [r[2] for r in c1[1:]] == [1, 1] and c1[1][4] == "Entorno favorable para las OSC: pregunta 1"
    assert {r["entidad"] for r in by_item.values()} == {"=Agencia"} and {r["estado_validacion"] for r in by_item.values()} == {"VALIDADO"}
    interventions = list(workbook["intervenciones"].iter_rows(values_only=True))
    assert interventions[0][:7] == ("codigo_respondente", "entidad", "codigo_intervencion", "titulo", "fecha_aprobacion", "monto_usd",
                                    "en_alcance")
    assert [r[6] for r in interventions[1:]] == ["SI", "NO"]  # the second is below the threshold
    socios = list(workbook["socios"].iter_rows(values_only=True))
    assert socios[0][:5] == ("codigo_respondente", "entidad", "codigo_socio", "entidad_socio", "anio")
    assert socios[1][:4] == ("GOB1", "Planeamiento", "SOC1", "=Agencia")
    pending = list(workbook["pendientes"].iter_rows(values_only=True))
    owed = {(r[0], r[5], r[6]) for r in pending[1:]}
    assert ("SOC1", "B1_2", None) in owed and ("SOC1", "B3_5", None) in owed and ("GOB1", "A3_2", "SOC1") in owed
    assert ("SOC1", "B1_1", None) not in owed
    text = "\n".join(str(c.value) for c in cells if c.value is not None)
    assert "ana.perez@ejemplo.org" not in text and "x.y@apci.example.gob.pe" not in text and "[correo omitido]" in text
    assert list(workbook["A.1"].iter_rows(values_only=True))[0][0] == "codigo_respondente"  # an empty section: header only


def test_the_formula_guard_sees_a_real_formula(tmp_path):
    workbook = Workbook()
    workbook.active["A1"] = "=1+1"
    workbook.active["B2"] = "escriba a ana@ejemplo.org"
    workbook.save(buffer := io.BytesIO())
    assert formula_cells(io.BytesIO(buffer.getvalue())) == ["Sheet!A1"]
    assert audit(io.BytesIO(buffer.getvalue())).emails == ["Sheet!B2"]
    folder = tmp_path / "ronda4"
    write_roster(folder)
    assert formula_cells(io.BytesIO(render(export_data(folder)))) == []
