"""The GPEDC catalogs are data: shipped as the contract has them, checked on load, replaced whole by an override.

An override in `$CTI_DATA_DIR/reference/` that adds an item, or changes an indicator's method, changes the
result with no code change.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pandas as pd
import pytest

from cti_pipeline.contracts.gpedc import GpedcCatalogs, sheet_spec
from cti_pipeline.contracts.reference import ReferenceError
from cti_pipeline.domain.gpedc_indicators import compute_indicators
from cti_pipeline.domain.gpedc_marts import RoundData, completitud
from cti_pipeline.settings import SHIPPED_REFERENCE_DIR
from cti_pipeline_tests.gpedc.conftest import answer, consolidate, flow, write_roster, write_workbook

SHARED = Path(__file__).resolve().parents[3] / "shared" / "contracts" / "reference"


@pytest.mark.parametrize("name", ["gpedc_parametros", "gpedc_preguntas", "gpedc_indicadores", "gpedc_secciones"])
def test_the_shipped_catalogs_are_the_contracts(name: str):
    if not SHARED.is_dir():
        pytest.skip("the shared contracts are not beside this checkout")
    assert (SHIPPED_REFERENCE_DIR / f"{name}.csv").read_bytes() == (SHARED / f"{name}.csv").read_bytes()


def test_the_shipped_catalogs_load(catalogs):
    assert (catalogs.anio_referencia, catalogs.umbral_intervencion_usd) == (2022, 100_000.0)
    assert [c.name for c in sheet_spec("intervenciones", catalogs).columns][5:] == ["b2_6", "b2_10", "b2_10_1", "b2_10_2", "b2_11a", "b2_11b"]
    assert [c.name for c in sheet_spec("flujos", catalogs).columns][2:] == ["b3_2", "b3_3", "b3_5", "b3_6", "b3_7", "b3_8"]
    assert [c.name for c in sheet_spec("socios", catalogs).columns][3:] == ["a3_1", "a3_2", "a3_3", "a3_4", "a5_8_1", "a5_8_2", "a5_8_3"]
    kinds = {c.name: (c.kind, c.minimum, c.rule) for c in sheet_spec("intervenciones", catalogs).columns}
    assert kinds["b2_6"][0] == "code" and kinds["b2_10"] == ("integer", 0.0, "respuesta_invalida") and kinds["b2_11a"][0] == "yes_no"
    assert len(catalogs.indicators) == 32 and catalogs.any_item_sections == {"CSS"}


def rewrite(source: Path, target: Path, edit) -> None:
    """Copy a shipped catalog to the override folder, changing its rows with `edit(rows) -> rows`."""
    rows = list(csv.DictReader(io.StringIO(source.read_text(encoding="utf-8"))))
    rows = edit(rows)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0].keys()), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(buffer.getvalue(), encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "edit", "fragment"),
    [
        ("gpedc_indicadores", lambda rows: [{**r, "metodo": "PROMEDIO_PONDERADO"} if r["indicador"] == "2.4.1.1" else r for r in rows],
         "row 15: metodo «PROMEDIO_PONDERADO» is not one of"),
        ("gpedc_indicadores", lambda rows: [{**r, "preguntas": "B3_2;B3_99"} if r["indicador"] == "2.4.1.1" else r for r in rows],
         "preguntas B3_99 are not items"),
        ("gpedc_preguntas", lambda rows: [{**r, "tipo_respuesta": "FECHA"} if r["codigo_pregunta"] == "B1_2" else r for r in rows],
         "tipo_respuesta «FECHA»"),
        ("gpedc_preguntas", lambda rows: [{**r, "categorias": ""} if r["codigo_pregunta"] == "B2_6" else r for r in rows],
         "B2_6 is CATEGORIA without categorias"),
        ("gpedc_preguntas", lambda rows: [*rows, {**rows[0]}], "item A1_1 is listed twice"),
        ("gpedc_parametros", lambda rows: [{**r, "valor": "dos mil"} if r["clave"] == "anio_referencia" else r for r in rows],
         "«anio_referencia» = 'dos mil' is not a number"),
    ],
)
def test_a_catalog_error_names_the_file_and_row(tmp_path: Path, name: str, edit, fragment: str):
    rewrite(SHIPPED_REFERENCE_DIR / f"{name}.csv", tmp_path / "reference" / f"{name}.csv", edit)
    with pytest.raises(ReferenceError, match="gpedc_") as error:
        GpedcCatalogs.load(tmp_path / "reference")
    assert fragment in str(error.value) and str(tmp_path / "reference" / f"{name}.csv") in str(error.value)


def test_an_override_that_adds_an_item_or_changes_a_method_changes_the_result_with_no_code_change(tmp_path: Path):
    folder = tmp_path / "ronda4"
    write_roster(folder)
    write_workbook(folder / "soc1.xlsx", {
        "respuestas": [answer("SOC1", "B.1", "B1_8", "SI"), answer("SOC1", "B.1", "B1_2", "NO")],
        "flujos": [{**flow("SOC1", b3_2=80.0, b3_3=100.0), "b3_9": "SI"}, {**flow("SOC1", year=2021, b3_2=1.0), "b3_9": "tal vez"}],
    })
    shipped = consolidate(folder)
    assert sorted(shipped.quarantined["regla"]) == ["pregunta_desconocida"]  # b3_9 is an extra column: ignored
    data = RoundData(shipped.roster, shipped.staged)
    shipped_values = compute_indicators(data, GpedcCatalogs.load(None)).set_index(["indicador", "codigo_socio"])["valor"]
    assert shipped_values[("2.4.1.1", "SOC1")] == 80.0 and shipped_values[("1.1.4", "SOC1")] == 0.0

    override = tmp_path / "reference"
    rewrite(SHIPPED_REFERENCE_DIR / "gpedc_preguntas.csv", override / "gpedc_preguntas.csv", lambda rows: [
        *rows,
        {**rows[0], "codigo_pregunta": "B1_8", "seccion": "B.1", "descripcion": "Un ítem que APCI encontró en el cuestionario"},
        {**rows[0], "codigo_pregunta": "B3_9", "seccion": "B.3", "hoja": "flujos", "columna": "b3_9", "descripcion": "Otro sistema"},
    ])
    rewrite(SHIPPED_REFERENCE_DIR / "gpedc_indicadores.csv", override / "gpedc_indicadores.csv", lambda rows: [
        {**r, "metodo": "MIN_SOBRE_MAX"} if r["indicador"] == "2.4.1.1" else
        {**r, "preguntas": "B1_2;B1_4;B1_8"} if r["indicador"] == "1.1.4" else r
        for r in rows
    ])
    catalogs = GpedcCatalogs.load(override)
    overridden = consolidate(folder, override)
    rules = overridden.quarantined[["columna", "regla"]].values.tolist()
    assert rules == [["b3_9", "respuesta_invalida"]]  # the new item is a column now, checked as SI_NO
    assert overridden.staged["respuestas"]["codigo_pregunta"].tolist() == ["B1_8", "B1_2"]
    data = RoundData(overridden.roster, overridden.staged)
    tracker = completitud(data, catalogs).set_index(["codigo_respondente", "seccion"])
    assert tracker.loc[("SOC1", "B.1"), "preguntas_esperadas"] == 10 and tracker.loc[("SOC1", "B.1"), "preguntas_respondidas"] == 2
    values = compute_indicators(data, catalogs).set_index(["indicador", "codigo_socio"])
    assert values.loc[("1.1.4", "SOC1"), "valor"] == 50.0  # B1_8 SI, B1_2 NO
    assert values.loc[("2.4.1.1", "SOC1"), ["valor", "metodo"]].tolist() == [80.0, "MIN_SOBRE_MAX"]  # min(80, 100) ÷ max(80, 100)
    assert values.loc[("2.4.1.1.S", "SOC1"), "metodo"] == "SOBREDESEMBOLSO"


def test_an_override_moves_the_reference_year_and_the_threshold(tmp_path: Path):
    folder = tmp_path / "ronda4"
    write_roster(folder)
    write_workbook(folder / "soc1.xlsx", {"flujos": [flow("SOC1", b3_2=50.0, b3_3=100.0), flow("SOC1", year=2023, b3_2=100.0, b3_3=100.0)]})
    override = tmp_path / "reference"
    rewrite(SHIPPED_REFERENCE_DIR / "gpedc_parametros.csv", override / "gpedc_parametros.csv",
            lambda rows: [{**r, "valor": "2023"} if r["clave"] == "anio_referencia" else r for r in rows])
    result = consolidate(folder, override)
    values = compute_indicators(RoundData(result.roster, result.staged), GpedcCatalogs.load(override))
    row = values.set_index(["indicador", "codigo_socio"]).loc[("2.4.1.1", "SOC1")]
    assert row["valor"] == 100.0 and row["anio_referencia"] == 2023
    assert set(result.quarantined["anio"]) <= {2023} and (result.files["anio"] == 2023).all()


def test_a_missing_optional_column_of_an_override_has_a_default(tmp_path: Path):
    frame = pd.read_csv(SHIPPED_REFERENCE_DIR / "gpedc_preguntas.csv", dtype="str", keep_default_na=False)
    (tmp_path / "reference").mkdir()
    frame.drop(columns=["columna", "descripcion", "verificado"]).to_csv(tmp_path / "reference" / "gpedc_preguntas.csv", index=False)
    catalogs = GpedcCatalogs.load(tmp_path / "reference")
    assert catalogs.item("B2_10.1").columna == "b2_10_1" and catalogs.item("B2_10.1").verificado == "NO"
    shutil.rmtree(tmp_path / "reference")
