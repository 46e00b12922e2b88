"""Every rule of the GPEDC contract on real workbooks (openpyxl) read by `domain.gpedc.consolidate`.

Each bad row is quarantined with a Spanish message that says what to fix; nothing else of its workbook is lost.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cti_pipeline_tests.gpedc.conftest import (
    BASE,
    answer,
    consolidate,
    flow,
    intervention,
    message_of,
    partner_row,
    rules_of,
    write_csv,
    write_roster,
    write_workbook,
)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "ronda4"
    write_roster(path)
    return path


def staged(result, sheet: str) -> pd.DataFrame:
    return result.staged[sheet]


def test_item_ids_match_as_codes_and_answers_are_staged_canonical(folder: Path):
    write_workbook(folder / "soc1.xlsx", {"respuestas": [
        answer("soc1", "b1", " b1_2 ", "Sí"), answer("SOC1", "B.1", "b1_1.2", "no"), answer("SOC1", "B.1", "B1_3", "Texto libre"),
        answer("SOC1", "B.1", "B1_4", None),  # blank: staged, not answered
    ]})
    result = consolidate(folder)
    assert result.quarantined.empty
    respuestas = staged(result, "respuestas")
    assert respuestas[["codigo_respondente", "seccion", "codigo_pregunta"]].values.tolist() == [
        ["SOC1", "B.1", "B1_2"], ["SOC1", "B.1", "B1_1.2"], ["SOC1", "B.1", "B1_3"], ["SOC1", "B.1", "B1_4"]]
    assert respuestas["respuesta"].tolist()[:3] == ["SI", "NO", "Texto libre"] and pd.isna(respuestas["respuesta"].iloc[3])


def test_pregunta_desconocida_names_the_catalog_and_an_id_of_another_section_is_unknown_here(folder: Path):
    write_workbook(folder / "soc1.xlsx", {"respuestas": [
        answer("SOC1", "B.1", "B1_9"), answer("SOC1", "B.1", "A1_2"), answer("SOC1", "B.1", "B1_2"),
    ]})
    write_workbook(folder / "apci.xlsx", {"respuestas": [answer("APCI", "CSS", "CSS_cualquiera_7", "Se ofreció asistencia")]})
    result = consolidate(folder)
    assert rules_of(result) == [("respuestas", 2, "codigo_pregunta", "pregunta_desconocida"),
                                ("respuestas", 3, "codigo_pregunta", "pregunta_desconocida")]
    text = result.quarantined["mensaje"].iloc[0]
    assert "«B1_9» no es un ítem de la sección B.1" in text and "reference/gpedc_preguntas.csv" in text and "Respondente SOC1" in text
    assert sorted(staged(result, "respuestas")["codigo_pregunta"]) == ["B1_2", "CSS_CUALQUIERA_7"]  # `*` accepts any id of CSS


def test_pregunta_en_otra_hoja_names_the_sheet_and_column(folder: Path):
    write_workbook(folder / "soc1.xlsx", {"respuestas": [answer("SOC1", "B.3", "B3_2", 1000), answer("SOC1", "B.2", "b2_10.1", 3)]})
    result = consolidate(folder)
    assert [r[3] for r in rules_of(result)] == ["pregunta_en_otra_hoja"] * 2
    messages = sorted(result.quarantined["mensaje"])
    assert "va en la hoja «intervenciones», columna «b2_10_1»" in messages[0]
    assert "El ítem B3_2 no se responde en la hoja «respuestas»: va en la hoja «flujos», columna «b3_2»" in messages[1]


@pytest.mark.parametrize(
    ("sheet", "row", "column", "value", "expected"),
    [
        ("respuestas", answer("SOC1", "B.1", "B1_2", "tal vez"), "respuesta", "tal vez", "se espera SI o NO"),
        ("intervenciones", intervention("SOC1", 1, b2_6="PLAN_LOCAL"), "b2_6", "PLAN_LOCAL",
         "se espera una de las categorías PLAN_NACIONAL, PLAN_SECTORIAL, PLAN_SUBNACIONAL, PLAN_INSTITUCIONAL, OTRA_HERRAMIENTA_GOBIERNO, NINGUNO"),
        ("intervenciones", intervention("SOC1", 1, b2_10=-5), "b2_10", "-5", "se espera un número entero mayor o igual que 0"),
        ("intervenciones", intervention("SOC1", 1, b2_10="3.5"), "b2_10", "3.5", "se espera un número entero mayor o igual que 0"),
        ("intervenciones", intervention("SOC1", 1, b2_11a="quizás"), "b2_11a", "quizás", "se espera SI o NO"),
        ("flujos", flow("SOC1", b3_2="-5"), "b3_2", "-5", "se espera un monto en USD mayor o igual que 0"),
        ("flujos", flow("SOC1", b3_3="１２０００００"), "b3_3", "１２０００００", "se espera un monto en USD"),
        ("socios", partner_row("SOC1", respondent="GOB1", a3_1="tal vez"), "a3_1", "tal vez", "se espera SI o NO"),
    ],
)
def test_respuesta_invalida_says_what_the_item_expects(folder: Path, sheet: str, row: dict, column: str, value: str, expected: str):
    good = {"respuestas": answer("SOC1", "B.1", "B1_4", "NO"), "intervenciones": intervention("SOC1", 9, b2_6="PLAN_NACIONAL"),
            "flujos": flow("SOC1", year=2021, b3_2=1.0), "socios": partner_row("SOC2", respondent="GOB1", a3_1="SI")}[sheet]
    write_workbook(folder / "libro.xlsx", {sheet: [row, good]})
    result = consolidate(folder)
    assert rules_of(result) == [(sheet, 2, column, "respuesta_invalida")]
    text = message_of(result, "respuesta_invalida")
    assert f"«{value}» no es una respuesta válida para el ítem" in text and expected in text
    assert len(staged(result, sheet)) == 1  # its sibling row is staged
    assert result.staged.get(sheet).notna().any().any()


def test_unicode_digits_are_quarantined_never_staged_as_null(folder: Path):
    write_workbook(folder / "soc1.xlsx", {
        "flujos": [flow("SOC1", b3_2="٥٠٠", b3_3=1000.0)],
        "intervenciones": [intervention("SOC1", 1, monto="２５００００", b2_10=4), intervention("SOC1", 2, b2_10="４")],
    })
    result = consolidate(folder)
    assert rules_of(result) == [("flujos", 2, "b3_2", "respuesta_invalida"), ("intervenciones", 2, "monto_usd", "decimal_invalido"),
                                ("intervenciones", 3, "b2_10", "respuesta_invalida")]
    assert staged(result, "flujos").empty and staged(result, "intervenciones").empty


def test_parte_mayor_que_total_for_indicators_and_country_systems(folder: Path):
    write_workbook(folder / "soc1.xlsx", {
        "intervenciones": [intervention("SOC1", 1, b2_10=3, b2_10_1=7, b2_10_2=3), intervention("SOC1", 2, b2_10=None, b2_10_1=7)],
        "flujos": [flow("SOC1", b3_2=100.0, b3_3=100.0, b3_5=100.0, b3_6=150.5, b3_8=None)],
    })
    result = consolidate(folder)
    assert rules_of(result) == [("flujos", 2, "b3_6", "parte_mayor_que_total"), ("intervenciones", 2, "b2_10_1", "parte_mayor_que_total")]
    messages = " ".join(result.quarantined["mensaje"])
    assert "«b2_10_1» (7) es mayor que su total «b2_10» (3)" in messages and "«b3_6» (150.5) es mayor que su total «b3_2» (100)" in messages
    assert staged(result, "intervenciones")["codigo_intervencion"].tolist() == ["SOC1-02"]  # a blank total is not judged


def test_modulo_invalido_c1_needs_a_module_and_other_sections_none(folder: Path):
    write_workbook(folder / "osc.xlsx", {"respuestas": [
        answer("OSC1", "C.1", "C_1", "Sí", modulo=1), answer("OSC1", "C.1", "C_1", "x", modulo=5), answer("OSC1", "C.1", "C_2", "x"),
    ]})
    write_workbook(folder / "soc1.xlsx", {"respuestas": [answer("SOC1", "B.1", "B1_2", "SI", modulo=2)]})
    result = consolidate(folder)
    assert [(r.archivo, r.fila, r.regla) for r in result.quarantined.itertuples()] == [
        ("osc.xlsx", 3, "modulo_invalido"), ("osc.xlsx", 4, "modulo_invalido"), ("soc1.xlsx", 2, "modulo_invalido")]
    assert "en la sección C.1 indique el módulo (1 a 4)" in result.quarantined["mensaje"].iloc[0]


def test_socio_desconocido_and_sections_each_partner_cell_needs(folder: Path):
    write_workbook(folder / "gob2.xlsx", {"socios": [
        partner_row("SOC1", respondent="GOB2", a3_1="SI", a3_4=100.0),
        partner_row("SOC2", respondent="GOB2", a5_8_1="SI"),  # GOB2 has A.3, not A.5
        partner_row("OSC1", respondent="GOB2", a3_1="SI"),  # not a development partner
        partner_row("NADIE", respondent="GOB2", a3_1="NO"),
    ]})
    result = consolidate(folder)
    assert rules_of(result) == [("socios", 3, "a5_8_1", "seccion_no_asignada"), ("socios", 4, "codigo_socio", "socio_desconocido"),
                                ("socios", 5, "codigo_socio", "socio_desconocido")]
    text = result.quarantined["mensaje"].iloc[0]
    assert "La sección A.5 no está asignada al respondente GOB2" in text and "(secciones asignadas: A.3)" in text
    assert "SOC1, SOC2, SOC3" in result.quarantined["mensaje"].iloc[1]


def test_the_respondent_of_a_socios_sheet_is_the_one_the_workbook_names(folder: Path):
    write_workbook(folder / "gob1.xlsx", {
        "respuestas": [answer("GOB1", "A.1", "A1_2", "SI")],
        "socios": [partner_row("SOC1", a3_1="SI", a5_8_1="NO")],
    })
    write_workbook(folder / "solo_socios.xlsx", {"socios": [partner_row("SOC2", a3_1="SI")]})
    result = consolidate(folder)
    assert staged(result, "socios")[["codigo_respondente", "codigo_socio"]].values.tolist() == [["GOB1", "SOC1"]]
    assert rules_of(result, "solo_socios.xlsx") == [("socios", 2, "codigo_respondente", "respondente_no_identificado")]


def test_a_socios_row_nobody_can_be_told_to_have_sent_supersedes_nothing(folder: Path):
    write_workbook(folder / "gob1.xlsx", {
        "respuestas": [answer("GOB1", "A.1", "A1_2", "SI")],
        "socios": [partner_row("SOC1", a3_1="SI")],
    }, mtime=BASE)
    write_workbook(folder / "solo_socios.xlsx", {"socios": [partner_row("SOC1", a3_1="NO")]}, mtime=BASE + 100)  # newer
    result = consolidate(folder)
    assert set(result.filas.loc[result.filas["hoja"] == "socios", "estado_fila"]) == {"quarantined"}  # none superseded
    assert rules_of(result, "gob1.xlsx") == [("socios", 2, "codigo_socio", "clave_duplicada")]
    assert ("socios", 2, "codigo_respondente", "respondente_no_identificado") in rules_of(result, "solo_socios.xlsx")


def test_seccion_no_asignada_for_answers_structured_sheets_and_validations(folder: Path):
    write_workbook(folder / "gob1.xlsx", {"respuestas": [answer("GOB1", "A.2", "A2_1"), answer("GOB1", "A.1", "A1_1")]})
    write_workbook(folder / "soc2.xlsx", {"intervenciones": [intervention("SOC2", 1, b2_6="NINGUNO")], "flujos": [flow("SOC2", b3_2=1.0)]})
    write_csv(folder / "validaciones.csv", [
        {"codigo_respondente": "SOC1", "seccion": "A.1", "estado": "VALIDADO", "fecha": "2024-11-03", "observacion": ""},
        {"codigo_respondente": "SOC1", "seccion": "B.1", "estado": "OBSERVADO", "fecha": "2024-11-03", "observacion": "Aclarar"},
    ], separator=",")
    result = consolidate(folder)
    found = [(r.archivo, r.hoja if isinstance(r.hoja, str) else "", r.columna, r.regla) for r in result.quarantined.itertuples()]
    assert sorted(found) == [("gob1.xlsx", "respuestas", "seccion", "seccion_no_asignada"),
                             ("validaciones.csv", "", "seccion", "seccion_no_asignada")]
    assert len(staged(result, "intervenciones")) == 1  # SOC2's roster "b2" is B.2
    messages = " ".join(result.quarantined["mensaje"])
    assert "Respondente GOB1, hoja «respuestas»: La sección A.2 no está asignada al respondente GOB1" in messages
    assert "La sección A.1 no está asignada al respondente SOC1 en la lista de puntos focales (secciones asignadas: B.1, B.2, B.3)" in messages


def test_a_structured_sheet_of_an_unassigned_section_is_seccion_no_asignada(folder: Path):
    write_workbook(folder / "gob1.xlsx", {"flujos": [flow("GOB1", b3_2=5.0)]})
    result = consolidate(folder)
    assert rules_of(result) == [("flujos", 2, "codigo_respondente", "seccion_no_asignada")]
    assert "La sección B.3 no está asignada al respondente GOB1" in message_of(result, "seccion_no_asignada")


def test_respondente_desconocido_quarantines_the_rows_and_names_the_code(folder: Path):
    write_workbook(folder / "intruso.xlsx", {"respuestas": [answer("INTRUSO", "B.1", "B1_2")], "flujos": [flow("INTRUSO", b3_2=1.0)]})
    result = consolidate(folder)
    assert [r[3] for r in rules_of(result)] == ["respondente_desconocido"] * 2
    assert "El código de respondente «INTRUSO» no está en la lista de puntos focales" in result.quarantined["mensaje"].iloc[0]


def test_clave_duplicada_within_a_file_and_across_files_that_are_not_resubmissions(folder: Path):
    write_workbook(folder / "soc1.xlsx", {
        "intervenciones": [intervention("SOC1", 1, b2_6="NINGUNO"), intervention("SOC1", 1, b2_6="PLAN_NACIONAL"), intervention("SOC1", 2)],
    })
    write_workbook(folder / "gob1.xlsx", {"socios": [partner_row("SOC1", respondent="GOB1", a3_1="SI")]}, mtime=BASE + 100)
    write_workbook(folder / "gob2.xlsx", {"socios": [partner_row("SOC1", respondent="GOB2", a3_1="NO")]}, mtime=BASE + 100)
    result = consolidate(folder)
    assert rules_of(result, "soc1.xlsx") == [("intervenciones", 2, "codigo_intervencion", "clave_duplicada"),
                                             ("intervenciones", 3, "codigo_intervencion", "clave_duplicada")]
    assert rules_of(result, "gob1.xlsx") == rules_of(result, "gob2.xlsx") == [("socios", 2, "codigo_socio", "clave_duplicada")]
    assert staged(result, "intervenciones")["codigo_intervencion"].tolist() == ["SOC1-02"]
    assert "codigo_respondente=SOC1, codigo_intervencion=SOC1-01" in result.quarantined["mensaje"].iloc[0]


def test_a_newer_file_supersedes_per_respondent_and_section_per_respondent_and_per_partner_year(folder: Path):
    """The contract: a respondent that re-sends a workbook, its newer file counts (for `socios`, per partner and
    year); a key in two files that are not re-submissions of one another (two respondents) is `clave_duplicada`."""
    write_workbook(folder / "soc1_v1.xlsx", {
        "respuestas": [answer("SOC1", "B.1", "B1_2", "NO"), answer("SOC1", "B.2", "B2_6", "x")],
        "intervenciones": [intervention("SOC1", 1, b2_6="NINGUNO"), intervention("SOC1", 2)],
        "flujos": [flow("SOC1", b3_2=1.0)],
    }, mtime=BASE + 10)
    write_workbook(folder / "soc1_v2.xlsx", {
        "respuestas": [answer("SOC1", "B.1", "B1_2", "SI")],
        "intervenciones": [intervention("SOC1", 1, b2_6="PLAN_NACIONAL")],
    }, mtime=BASE + 20)
    write_workbook(folder / "gob1.xlsx", {"respuestas": [answer("GOB1", "A.1", "A1_1")],
                                          "socios": [partner_row("SOC1", a3_1="NO"), partner_row("SOC2", a3_1="NO")]}, mtime=BASE + 10)
    write_workbook(folder / "gob1_v2.xlsx", {"socios": [partner_row("SOC2", respondent="GOB1", a3_1="SI")]}, mtime=BASE + 30)
    write_workbook(folder / "gob2.xlsx", {"socios": [partner_row("SOC1", respondent="GOB2", a3_1="SI")]}, mtime=BASE + 20)
    result = consolidate(folder)
    fates = result.filas.groupby(["archivo", "hoja", "estado_fila"]).size().to_dict()
    assert fates == {
        ("gob1.xlsx", "respuestas", "staged"): 1,
        ("gob1.xlsx", "socios", "superseded"): 1,  # SOC2: GOB1 sent it again
        ("gob1.xlsx", "socios", "quarantined"): 1,  # SOC1: GOB2 sent the same partner and year
        ("gob1_v2.xlsx", "socios", "staged"): 1,
        ("gob2.xlsx", "socios", "quarantined"): 1,
        ("soc1_v1.xlsx", "respuestas", "superseded"): 1,  # B.1 was sent again
        ("soc1_v1.xlsx", "respuestas", "quarantined"): 1,  # B.2 was not: it still counts (and is in the wrong sheet)
        ("soc1_v1.xlsx", "intervenciones", "superseded"): 2,
        ("soc1_v1.xlsx", "flujos", "staged"): 1,  # v2 has no flujos sheet: v1's flows were not sent again
        ("soc1_v2.xlsx", "respuestas", "staged"): 1, ("soc1_v2.xlsx", "intervenciones", "staged"): 1,
    }
    assert staged(result, "socios").set_index("codigo_socio")["a3_1"].to_dict() == {"SOC2": "SI"}
    assert staged(result, "respuestas").set_index("codigo_pregunta")["respuesta"].to_dict() == {"B1_2": "SI", "A1_1": "SI"}
    duplicated = result.quarantined[result.quarantined["regla"] == "clave_duplicada"]
    assert sorted(duplicated["archivo"]) == ["gob1.xlsx", "gob2.xlsx"]


def test_resubmission_order_is_when_the_content_was_first_seen_not_the_modification_time(folder: Path):
    old = write_workbook(folder / "b_primero.xlsx", {"respuestas": [answer("SOC1", "B.1", "B1_2", "NO")]}, mtime=BASE + 500)
    new = write_workbook(folder / "a_despues.xlsx", {"respuestas": [answer("SOC1", "B.1", "B1_2", "SI")]}, mtime=BASE + 100)
    import hashlib

    seen = {hashlib.sha256(old.read_bytes()).hexdigest(): 1, hashlib.sha256(new.read_bytes()).hexdigest(): 2}
    by_time = consolidate(folder)
    by_content = consolidate(folder, first_seen=seen)  # the copy reset the times; the content ledger did not
    assert staged(by_time, "respuestas")["respuesta"].tolist() == ["NO"]
    assert staged(by_content, "respuestas")["respuesta"].tolist() == ["SI"]
    assert set(by_content.contents["archivo"]) == {"puntos_focales.csv"}  # only content never seen before is new


def test_nothing_else_of_a_workbook_is_lost_for_its_bad_rows(folder: Path):
    write_workbook(folder / "soc1.xlsx", {
        "respuestas": [answer("SOC1", "B.1", "B1_2", "tal vez"), answer("SOC1", "B.1", "B1_9"), answer("SOC1", "B.1", "B1_4", "NO")],
        "intervenciones": [intervention("SOC1", 1, b2_6="PLAN_LOCAL"), intervention("SOC1", 2, b2_6="NINGUNO", b2_10=2, b2_10_1=3),
                           intervention("SOC1", 3, b2_6="PLAN_SECTORIAL", b2_10=4, b2_10_1=1)],
        "flujos": [flow("SOC1", b3_2=80.0, b3_3=100.0)],
    })
    result = consolidate(folder)
    counts = result.file_counts().set_index("hoja")
    assert counts.loc["respuestas", ["leidas", "staged", "quarantined"]].tolist() == [3, 1, 2]
    assert counts.loc["intervenciones", ["leidas", "staged", "quarantined"]].tolist() == [3, 1, 2]
    assert counts.loc["flujos", ["leidas", "staged"]].tolist() == [1, 1]


def test_files_that_cannot_be_a_questionnaire_are_rejected_at_file_level(folder: Path):
    write_csv(folder / "respuestas_soc1.csv", [answer("SOC1", "B.1", "B1_2")])
    write_workbook(folder / "notas.xlsx", {"Hoja1": [{"a": 1}]})
    write_workbook(folder / "sin_columna.xlsx", {
        "respuestas": [answer("SOC1", "B.1", "B1_2")],
        "flujos": [{"codigo_respondente": "SOC1", "b3_2": 5}],  # no anio: a key column may not be left out
    })
    result = consolidate(folder)
    reasons = dict(zip(result.rejected_files["archivo"], result.rejected_files["motivo"], strict=True))
    assert set(reasons) == {"respuestas_soc1.csv", "notas.xlsx", "sin_columna.xlsx"}
    assert "un CSV solo se acepta como puntos_focales.csv o validaciones.csv" in reasons["respuestas_soc1.csv"]
    assert "ninguna de las hojas del cuestionario" in reasons["notas.xlsx"]
    assert "anio" in reasons["sin_columna.xlsx"] and "flujos" in reasons["sin_columna.xlsx"]
    assert result.staged["respuestas"].empty  # rejected whole: its good sheet too
    files = result.files.set_index("archivo")
    assert files.loc["sin_columna.xlsx", "hoja"] == "respuestas" and isinstance(files.loc["sin_columna.xlsx", "motivo"], str)


def test_an_optional_item_column_may_be_left_out_and_an_empty_sheet_beside_a_filled_one_is_fine(folder: Path):
    write_workbook(folder / "soc1.xlsx", {
        "respuestas": [],  # the template's sheet, left with its header only
        "flujos": [{"codigo_respondente": "SOC1", "anio": 2022, "b3_2": 10.0, "b3_3": 12.0}],
        "intervenciones": [],  # a sheet left blank, not even a header: as good as absent
    }, headers={"respuestas": ["codigo_respondente", "seccion", "modulo", "codigo_pregunta", "respuesta", "comentario"]})
    write_workbook(folder / "vacio.xlsx", {"respuestas": []})
    result = consolidate(folder)
    assert result.rejected_files.empty and result.quarantined.empty
    assert result.files.set_index("archivo").loc["vacio.xlsx", "motivo"] is None or pd.isna(result.files.set_index("archivo").loc["vacio.xlsx", "motivo"])
    assert staged(result, "flujos")[["b3_2", "b3_3", "b3_5"]].values.tolist()[0][:2] == [10.0, 12.0]


def test_without_a_roster_nothing_else_is_read(tmp_path: Path):
    folder = tmp_path / "ronda4"
    write_workbook(folder / "soc1.xlsx", {"respuestas": [answer("SOC1", "B.1", "B1_2")]})
    result = consolidate(folder)
    assert not result.roster_found and not result.roster_unusable
    assert any("no focal-point roster" in w for w in result.warnings)
    assert result.filas.empty and result.staged == {}
    assert "lista de puntos focales válida" in result.rejected_files.set_index("archivo").loc["soc1.xlsx", "motivo"]


def test_an_unreadable_roster_is_unusable_and_never_hides_a_readable_older_one(tmp_path: Path):
    folder = tmp_path / "ronda4"
    write_roster(folder, mtime=BASE)
    (folder / "puntos_focales.xlsx").write_bytes(b"esto no es un libro")
    result = consolidate(folder)
    assert result.roster_found and len(result.roster) == 7  # the older readable CSV counts
    (folder / "puntos_focales.csv").unlink()
    broken = consolidate(folder)
    assert broken.roster_unusable and broken.roster.empty
    assert "puntos_focales.xlsx" in set(broken.rejected_files["archivo"])


def test_roster_rules_and_no_contact_detail_in_the_quarantine(tmp_path: Path):
    folder = tmp_path / "ronda4"
    roster = [("GOB1", "GOBIERNO", "Planeamiento", "A.1"), ("GOB1", "GOBIERNO", "Otro", "A.2"), ("X", "EMPRESA", "Otra", "A.9"),
              ("SOC1", "SOCIO_DESARROLLO", "Agencia", "B.1")]
    write_roster(folder, roster)
    result = consolidate(folder)
    assert rules_of(result) == [("", 2, "codigo_respondente", "clave_duplicada"), ("", 3, "codigo_respondente", "clave_duplicada"),
                                ("", 4, "secciones", "valor_no_permitido"), ("", 4, "tipo_respondente", "valor_no_permitido")]
    assert result.roster["codigo_respondente"].tolist() == ["SOC1"]
    assert list(result.roster.columns) == ["codigo_respondente", "tipo_respondente", "entidad", "secciones", "archivo", "fila"]
    assert "@" not in " ".join(result.quarantined["mensaje"]) + " ".join(result.quarantined["valor"].fillna(""))


def test_an_e_mail_typed_into_a_bad_answer_is_masked_in_the_quarantine(folder: Path):
    write_workbook(folder / "soc1.xlsx", {"respuestas": [
        answer("SOC1", "B.1", "B1_2", "talvez maria.lopez@cancilleria.gob.pe"),
        answer("SOC1", "B.1", "B1_4", "x" * 178 + " maria.lopez@cancilleria.gob.pe"),  # across the 200-character cut
        answer("SOC1", "B.1", "B1_6", "pregunte a jperez@apci"),  # no dot after the @
    ]})
    result = consolidate(folder)
    assert rules_of(result, "soc1.xlsx") == [("respuestas", row, "respuesta", "respuesta_invalida") for row in (2, 3, 4)]
    quarantined = result.quarantined.sort_values("fila")
    assert quarantined["valor"].tolist() == ["talvez [correo omitido]", "x" * 178 + " [correo omitido]", "pregunte a [correo omitido]"]
    assert not quarantined["mensaje"].str.contains("@").any() and quarantined["mensaje"].str.contains(r"\[correo omitido\]").all()
