"""The tracker, the pending list and every indicator method on one hand-made round of real workbooks.

The expected numbers below were worked out by hand from the rows written here (see each comment), not
from the code under test.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cti_pipeline.contracts.gpedc import METODOS, GpedcCatalogs
from cti_pipeline.domain.gpedc_indicators import METHODS, compute_indicators
from cti_pipeline.domain.gpedc_marts import RoundData, completitud, pendientes, tracker_markdown
from cti_pipeline_tests.gpedc.conftest import (
    BASE,
    answer,
    consolidate,
    flow,
    intervention,
    partner_row,
    write_csv,
    write_roster,
    write_workbook,
)


def write_round(folder: Path) -> Path:
    write_roster(folder)
    write_workbook(folder / "soc1.xlsx", {
        "respuestas": [answer("SOC1", "B.1", "B1_2", "SI"), answer("SOC1", "B.1", "B1_4", "NO"), answer("SOC1", "B.1", "B1_6", "SI"),
                       answer("SOC1", "B.1", "B1_7", None), answer("SOC1", "B.1", "B1_1.2", "SI"), answer("SOC1", "B.1", "B1_1.3", "NO")],
        "intervenciones": [
            intervention("SOC1", 1, b2_6="PLAN_NACIONAL", b2_10=4, b2_10_1=2, b2_10_2=1, b2_11a="SI", b2_11b="NO"),
            intervention("SOC1", 2, b2_6="NINGUNO", b2_10=6, b2_10_1=3, b2_11a="NO"),
            intervention("SOC1", 3, b2_10_1=1, b2_11a="SI"),  # B2_6 and the total left blank
            intervention("SOC1", 4, year=2021, b2_6="PLAN_NACIONAL", b2_10=10, b2_10_1=10),  # approved before 2022: out of scope
            intervention("SOC1", 5, monto=50_000.0, b2_6="NINGUNO", b2_10=5, b2_10_1=0),  # below the threshold: out of scope
            intervention("SOC1", 6, monto=100_000.0, b2_6="PLAN_SECTORIAL", b2_10=2, b2_10_1=2, b2_10_2=2),  # at the threshold: in
        ],
        "flujos": [flow("SOC1", b3_2=80.0, b3_3=100.0, b3_5=40.0, b3_7=20.0, b3_8=80.0), flow("SOC1", year=2021, b3_2=500.0, b3_3=100.0)],
    }, mtime=BASE + 10)
    write_workbook(folder / "soc2.xlsx", {
        "respuestas": [answer("SOC2", "B.1", "B1_2", "NO"), answer("SOC2", "B.1", "B1_4", "NO")],
        "intervenciones": [intervention("SOC2", 1, b2_6="OTRA_HERRAMIENTA_GOBIERNO", b2_10=3, b2_10_1=3, b2_10_2=0, b2_11a="NO", b2_11b="NO")],
        "flujos": [flow("SOC2", b3_2=150.0, b3_3=120.0)],
    }, mtime=BASE + 11)
    write_workbook(folder / "gob1.xlsx", {
        "respuestas": [answer("GOB1", "A.1", "A1_2", "SI"), answer("GOB1", "A.1", "A1_1", "NO"), answer("GOB1", "A.1", "A1_3", "SI"),
                       answer("GOB1", "A.1", "A1_5", "NO"), answer("GOB1", "A.1", "A1_6", None),
                       answer("GOB1", "A.5", "A5_12", "SI"), answer("GOB1", "A.5", "A5_12.1", "SI")],
        "socios": [partner_row("SOC1", a3_1="SI", a3_2="NO", a3_3="SI", a3_4=50.0, a5_8_1="SI", a5_8_2="SI", a5_8_3="NO"),
                   partner_row("SOC2", a3_1="NO", a3_2="NO", a3_4=200.0),
                   partner_row("SOC3", a3_4=30.0),
                   partner_row("SOC1", year=2021, a3_4=9999.0)],
    }, mtime=BASE + 12)
    write_workbook(folder / "osc1.xlsx", {"respuestas": [answer("OSC1", "C.1", "C_1", "Bueno", modulo=1),
                                                         answer("OSC1", "C.1", "C_2", "Regular", modulo=2)]}, mtime=BASE + 13)
    write_workbook(folder / "apci.xlsx", {"respuestas": [answer("APCI", "CSS", "CSS_1", "Sí"), answer("APCI", "CSS", "CSS_2.4", "3")]},
                   mtime=BASE + 14)
    write_csv(folder / "validaciones.csv", [
        {"codigo_respondente": "SOC1", "seccion": "B.1", "estado": "OBSERVADO", "fecha": "2024-11-03", "observacion": "Completar B1_7"},
        {"codigo_respondente": "SOC1", "seccion": "B.1", "estado": "VALIDADO", "fecha": "2024-11-10", "observacion": "Conforme"},
        {"codigo_respondente": "GOB1", "seccion": "A.1", "estado": "VALIDADO", "fecha": "2024-11-05", "observacion": ""},
    ], separator=",", mtime=BASE + 20)
    return folder


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> RoundData:
    result = consolidate(write_round(tmp_path_factory.mktemp("gpedc") / "ronda4"))
    assert result.quarantined.empty, result.quarantined[["archivo", "fila", "regla", "mensaje"]]
    return RoundData(result.roster, result.staged)


@pytest.fixture(scope="module")
def catalogs() -> GpedcCatalogs:
    return GpedcCatalogs.load(None)


@pytest.fixture(scope="module")
def values(data: RoundData, catalogs: GpedcCatalogs) -> dict[tuple[str, str], pd.Series]:
    frame = compute_indicators(data, catalogs)
    return {(r["indicador"], r["codigo_socio"]): r for _, r in frame.iterrows()}


# --- the tracker ----------------------------------------------------------------------------------


def test_tracker_expected_answered_progress_interventions_and_state(data: RoundData, catalogs: GpedcCatalogs):
    tracker = completitud(data, catalogs).set_index(["codigo_respondente", "seccion"])
    row = lambda code, section: tracker.loc[(code, section)]  # noqa: E731
    shown = {
        key: (None if pd.isna(r.preguntas_esperadas) else int(r.preguntas_esperadas), int(r.preguntas_respondidas),
              None if pd.isna(r.avance_pct) else float(r.avance_pct), int(r.intervenciones), r.estado)
        for key, r in tracker.iterrows()
    }
    assert shown == {
        ("GOB1", "A.1"): (26, 4, 15.38, 0, "VALIDADO"),  # A1_1…A1_22 + 4 sub-items; A1_6 was left blank
        ("GOB1", "A.3"): (0, 0, None, 0, "RECIBIDO"),  # A.3 is answered in `socios`
        ("GOB1", "A.5"): (10, 2, 20.0, 0, "RECIBIDO"),
        ("GOB2", "A.3"): (0, 0, None, 0, "PENDIENTE"),
        ("SOC1", "B.1"): (9, 5, 55.56, 0, "VALIDADO"),  # the latest validation counts
        ("SOC1", "B.2"): (0, 0, None, 6, "RECIBIDO"),  # every staged intervention, in scope or not
        ("SOC1", "B.3"): (0, 0, None, 0, "RECIBIDO"),
        ("SOC2", "B.1"): (9, 2, 22.22, 0, "RECIBIDO"),
        ("SOC2", "B.2"): (0, 0, None, 1, "RECIBIDO"),
        ("SOC2", "B.3"): (0, 0, None, 0, "RECIBIDO"),
        ("SOC3", "B.1"): (9, 0, 0.0, 0, "PENDIENTE"),
        ("SOC3", "B.2"): (0, 0, None, 0, "PENDIENTE"),
        ("SOC3", "B.3"): (0, 0, None, 0, "PENDIENTE"),
        ("OSC1", "C.1"): (17, 2, 11.76, 0, "RECIBIDO"),
        ("APCI", "CSS"): (None, 2, None, 0, "RECIBIDO"),  # a `*`-only section: the distinct items answered
    }
    assert row("SOC1", "B.1").ultima_actualizacion == pd.Timestamp("2024-11-10")
    assert pd.isna(row("SOC3", "B.1").ultima_actualizacion)


def test_pending_lists_answers_structured_items_and_partner_items(data: RoundData, catalogs: GpedcCatalogs):
    owed = pendientes(data, catalogs)

    def of(code: str, section: str) -> list[tuple[str, str]]:
        mine = owed[(owed["codigo_respondente"] == code) & (owed["seccion"] == section)]
        return [(p, "" if pd.isna(s) else s) for p, s in zip(mine["codigo_pregunta"], mine["codigo_socio"], strict=True)]

    assert of("SOC1", "B.1") == [("B1_1", ""), ("B1_3", ""), ("B1_5", ""), ("B1_7", "")]  # B1_7 was blank
    assert of("SOC1", "B.2") == []
    assert of("SOC1", "B.3") == [("B3_6", "")]  # the 2022 row left it blank
    assert of("SOC2", "B.3") == [("B3_5", ""), ("B3_6", ""), ("B3_7", ""), ("B3_8", "")]
    assert [p for p, _ in of("SOC3", "B.2")] == ["B2_6", "B2_10", "B2_10.1", "B2_10.2", "B2_11a", "B2_11b"]
    partner_items = [("A3_1", "SOC3"), ("A3_2", "SOC3"), ("A3_3", "SOC2"), ("A3_3", "SOC3")]
    assert of("GOB1", "A.3") == of("GOB2", "A.3") == partner_items  # per partner, whoever of A.3 sends it
    assert of("GOB1", "A.5") == [*((f"A5_{i}", "") for i in range(1, 8)), ("A5_8.1", "SOC2"), ("A5_8.1", "SOC3"), ("A5_8.2", "SOC2"),
                                 ("A5_8.2", "SOC3"), ("A5_8.3", "SOC2"), ("A5_8.3", "SOC3"), ("A5_11", "")]
    assert of("APCI", "CSS") == []
    b3_6 = owed[(owed["codigo_respondente"] == "SOC1") & (owed["codigo_pregunta"] == "B3_6")].iloc[0]
    assert (b3_6["hoja"], b3_6["descripcion"]) == ("flujos", "Del desembolso, con el sistema nacional de información financiera (USD)")


def test_the_ui_preview_lists_what_each_entity_owes(data: RoundData, catalogs: GpedcCatalogs):
    tracker = completitud(data, catalogs)
    text = tracker_markdown(tracker, pendientes(data, catalogs))
    blocks = text.split("\n\n")
    assert blocks[1].startswith("**Agencia Tres** (SOC3, SOCIO_DESARROLLO)")  # owes most: three pending sections
    assert "- Pendiente: B.3 — debe 6 ítem(s): B3_2, B3_3, B3_5, B3_6, B3_7, B3_8" in blocks[1]
    assert "A3_3 (SOC2, SOC3)" in text and "- Validado: B.1 (5 resp.) — debe 4 ítem(s): B1_1, B1_3, B1_5, B1_7" in text


# --- the indicators -------------------------------------------------------------------------------


def test_every_method_of_the_contract_is_registered_once():
    assert set(METHODS) == set(METODOS)


def test_one_row_per_indicator_and_partner_plus_total(data: RoundData, catalogs: GpedcCatalogs):
    frame = compute_indicators(data, catalogs)
    socio = [i.indicador for i in catalogs.indicators if i.nivel == "SOCIO"]
    pais = [i.indicador for i in catalogs.indicators if i.nivel == "PAIS"]
    assert len(frame) == 4 * len(socio) + len(pais)  # SOC1, SOC2, SOC3 (sent nothing) and TOTAL
    assert set(frame.loc[frame["indicador"].isin(pais), "codigo_socio"]) == {"TOTAL"}
    assert not frame.duplicated(["indicador", "codigo_socio"]).any()
    assert list(frame.columns)[:11] == ["indicador", "dimension", "nombre", "codigo_socio", "valor", "numerador", "denominador", "metodo",
                                        "fuente", "verificado", "nota"]
    assert set(frame["verificado"]) == {"NO"}


EXPECTED = {
    # PROYECTOS_ALINEADOS (B2_6): in scope SOC1-01, -02, -06 answered (-03 blank, -04 2021, -05 < 100 000); 2 of 3 not NINGUNO
    ("2.2.1.O", "SOC1"): (66.67, 2, 3), ("2.2.1.O", "SOC2"): (100.0, 1, 1), ("2.2.1.O", "SOC3"): (None, 0, 0),
    ("2.2.1.O", "TOTAL"): (75.0, 3, 4),
    # PARTE_DEL_TOTAL (B2_10.1 ÷ B2_10): SOC1 (2+3+2) ÷ (4+6+2); -03 has no total
    ("2.2.1.R", "SOC1"): (58.33, 7, 12), ("2.2.1.R", "SOC2"): (100.0, 3, 3), ("2.2.1.R", "TOTAL"): (66.67, 10, 15),
    # B2_10.2 ÷ B2_10: SOC1 (1+2) ÷ (4+2); -02 has no part
    ("2.2.1.D", "SOC1"): (50.0, 3, 6), ("2.2.1.D", "SOC2"): (0.0, 0, 3), ("2.2.1.D", "TOTAL"): (33.33, 3, 9),
    # PROMEDIO_COMPONENTES: the mean of the components' values (numerador = their sum)
    ("17.15.1", "SOC1"): (58.33, 175.0, 3), ("17.15.1", "SOC2"): (66.67, 200.0, 3), ("17.15.1", "SOC3"): (None, None, None),
    ("17.15.1", "TOTAL"): (58.33, 175.0, 3),
    # PROMEDIO_SOBRE_BASE: SOC1 mean(40, 0, 20, 80) = 35 over 80; SOC2 left all four blank
    ("2.3.3", "SOC1"): (43.75, 35.0, 80.0), ("2.3.3", "SOC2"): (None, None, None), ("2.3.3", "TOTAL"): (43.75, 35.0, 80.0),
    # DESEMBOLSADO_SOBRE_PROGRAMADO: min(d, s) ÷ s; TOTAL (80 + 120) ÷ (100 + 120)
    ("2.4.1.1", "SOC1"): (80.0, 80.0, 100.0), ("2.4.1.1", "SOC2"): (100.0, 120.0, 120.0), ("2.4.1.1", "SOC3"): (None, None, None),
    ("2.4.1.1", "TOTAL"): (90.91, 200.0, 220.0),
    # SOBREDESEMBOLSO: max(d − s, 0) ÷ d; TOTAL 30 ÷ 230
    ("2.4.1.1.S", "SOC1"): (0.0, 0.0, 80.0), ("2.4.1.1.S", "SOC2"): (20.0, 30.0, 150.0), ("2.4.1.1.S", "TOTAL"): (13.04, 30.0, 230.0),
    # MIN_SOBRE_MAX (A3_4, B3_3): SOC3 has a budget row but no flows: NULL and out of the TOTAL
    ("1.2.2", "SOC1"): (50.0, 50.0, 100.0), ("1.2.2", "SOC2"): (60.0, 120.0, 200.0), ("1.2.2", "SOC3"): (None, None, None),
    ("1.2.2", "TOTAL"): (56.67, 170.0, 300.0),
    # PROPORCION_SI on `socios` items: the rows about each partner
    ("2.4.1.2", "SOC1"): (66.67, 2, 3), ("2.4.1.2", "SOC2"): (0.0, 0, 2), ("2.4.1.2", "SOC3"): (None, 0, 0), ("2.4.1.2", "TOTAL"): (40.0, 2, 5),
    ("2.7.2", "SOC1"): (66.67, 2, 3), ("2.7.2", "SOC2"): (None, 0, 0), ("2.7.2", "TOTAL"): (66.67, 2, 3),
    # PROPORCION_SI on answers and on interventions in scope (B2_11a/b: SOC1-01 SI NO, -02 NO, -03 SI)
    ("1.1.4", "SOC1"): (50.0, 1, 2), ("1.1.4", "SOC2"): (0.0, 0, 2), ("1.1.4", "TOTAL"): (25.0, 1, 4),
    ("4.2.4", "SOC1"): (50.0, 2, 4), ("4.2.4", "SOC2"): (0.0, 0, 2), ("4.2.4", "TOTAL"): (33.33, 2, 6),
    ("3.2.2", "SOC1"): (50.0, 1, 2), ("3.2.2", "TOTAL"): (50.0, 1, 2), ("4.2.3", "TOTAL"): (100.0, 1, 1),
    ("4.3.3", "SOC1"): (None, 0, 0), ("4.3.3", "TOTAL"): (None, 0, 0),  # B1_7 left blank: not a NO
    # PAIS: every government answer
    ("1.1.1", "TOTAL"): (100.0, 1, 1), ("2.1.1", "TOTAL"): (50.0, 2, 4), ("1.2.1", "TOTAL"): (100.0, 2, 2), ("4.2.2", "TOTAL"): (0.0, 0, 1),
    ("2.5.1", "TOTAL"): (None, 0, 0),
    # EXTERNO and SIN_CALCULO: never a value
    ("2.3.1", "TOTAL"): (None, None, None), ("2.8.1", "SOC1"): (None, None, None), ("1.3.1", "TOTAL"): (None, None, None),
}


@pytest.mark.parametrize(("key", "expected"), sorted(EXPECTED.items()), ids=[f"{k[0]}-{k[1]}" for k in sorted(EXPECTED)])
def test_indicator_values_match_the_hand_computation(values, key: tuple[str, str], expected: tuple):
    row = values[key]
    valor, numerador, denominador = expected
    got = (None if pd.isna(row["valor"]) else row["valor"], None if pd.isna(row["numerador"]) else row["numerador"],
           None if pd.isna(row["denominador"]) else row["denominador"])
    assert got == (valor, None if numerador is None else float(numerador), None if denominador is None else float(denominador))
    assert (row["nota"] is not None and not pd.isna(row["nota"])) == (valor is None)  # a NULL value always says why


def test_notes_say_why_a_value_is_null(values):
    assert "Denominador 0" in values[("4.3.3", "TOTAL")]["nota"]
    assert "Sin B3_3 de 2022 para este socio" in values[("1.2.2", "SOC3")]["nota"]
    assert "Equipo Conjunto de Apoyo" in values[("2.3.1", "TOTAL")]["nota"] and "PEFA" in values[("2.3.1", "TOTAL")]["nota"]
    assert "no hay valor de vista previa" in values[("1.3.1", "TOTAL")]["nota"]
    assert values[("2.4.1.1", "SOC1")]["metodo"] == "DESEMBOLSADO_SOBRE_PROGRAMADO"


def test_rounding_is_half_up(data: RoundData, catalogs: GpedcCatalogs, tmp_path: Path):
    """1 of 8 is 12.5 %, and 1 of 800 is 0.125 %: Python's round would store 0.12."""
    write_roster(tmp_path)
    write_workbook(tmp_path / "soc1.xlsx", {"flujos": [flow("SOC1", b3_2=800.0, b3_3=799.0)]})
    result = consolidate(tmp_path)
    frame = compute_indicators(RoundData(result.roster, result.staged), catalogs).set_index(["indicador", "codigo_socio"])
    assert frame.loc[("2.4.1.1.S", "SOC1"), "valor"] == 0.13


def test_without_a_roster_there_are_no_indicator_rows(catalogs: GpedcCatalogs):
    empty = RoundData(pd.DataFrame(), {})
    assert compute_indicators(empty, catalogs).empty and completitud(empty, catalogs).empty


def test_rows_outside_the_reference_year_are_staged_but_not_counted(data: RoundData, values):
    interventions = data.sheet("intervenciones").set_index("codigo_intervencion")
    assert pd.Timestamp(interventions.loc["SOC1-04", "fecha_aprobacion"]).year == 2021 and "SOC1-05" in interventions.index
    assert set(data.sheet("flujos")["anio"]) == {2021, 2022} and set(data.sheet("socios")["anio"]) == {2021, 2022}
    assert values[("1.2.2", "SOC1")]["numerador"] == 50.0  # not the 2021 budget row (9999)
