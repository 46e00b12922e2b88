"""Issue 17 in the administrative records: Unicode digits (`１２０`, `١٥`) are not numbers, so `accesos` and
`nota` are quarantined instead of being staged as NULL; real files through `process_registros`."""

from __future__ import annotations

import pytest

from cti_pipeline.domain.registros import process_registros
from cti_pipeline_tests.pncti.builders import ANIO, folder, land, row


@pytest.mark.parametrize("extension", ["csv", "xlsx"])
def test_unicode_digits_in_accesos_and_nota_are_quarantined_never_staged_as_null(data_dir, extension):
    options = {"encoding": "utf-8"} if extension == "csv" else {}
    land(data_dir, f"accesos_web.{extension}", "accesos_web", [
        row("accesos_web", mes=1, accesos=120),
        row("accesos_web", mes=2, accesos="１２０"),  # full-width
        row("accesos_web", mes=3, accesos="١٢٠"),  # Arabic-Indic
        row("accesos_web", mes="４", accesos=7),
    ], **options)
    land(data_dir, f"capacitaciones.{extension}", "capacitaciones", [
        row("capacitaciones", participante_id="11111111", nota=15.5),
        row("capacitaciones", participante_id="22222222", nota="１５.５"),
        row("capacitaciones", participante_id="33333333", nota="١٥"),
        row("capacitaciones", participante_id="44444444", anio="２０２４"),
        row("capacitaciones", participante_id="55555555", nota=None),  # a blank optional nota is no number and no error
    ], **options)
    result = process_registros(folder(data_dir), ANIO, "test-salt", frozenset())

    accesos = result.staged["accesos_web"]
    assert list(zip(accesos["mes"].tolist(), accesos["accesos"].tolist(), strict=True)) == [(1, 120)]
    capacitaciones = result.staged["capacitaciones"]
    assert len(capacitaciones) == 2 and capacitaciones["anio"].tolist() == [ANIO, ANIO]
    assert capacitaciones["nota"].tolist()[0] == 15.5 and capacitaciones["nota"].isna().tolist() == [False, True]

    q = result.quarantined
    found = set(zip(q["origen"], q["fila"], q["columna"], q["regla"], q["valor"], strict=True))
    assert found == {
        ("accesos_web", 3, "accesos", "entero_invalido", "１２０"),
        ("accesos_web", 4, "accesos", "entero_invalido", "١٢٠"),
        ("accesos_web", 5, "mes", "entero_invalido", "４"),
        ("capacitaciones", 3, "nota", "decimal_invalido", "１５.５"),
        ("capacitaciones", 4, "nota", "decimal_invalido", "١٥"),
        ("capacitaciones", 5, "anio", "entero_invalido", "２０２４"),
    }
    states = result.raw.groupby("tipo_registro")["estado_fila"].value_counts().to_dict()
    assert states == {("accesos_web", "quarantined"): 3, ("accesos_web", "staged"): 1,
                      ("capacitaciones", "quarantined"): 3, ("capacitaciones", "staged"): 2}
