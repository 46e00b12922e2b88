"""Every row rule of every registros kind, on real files: the bad row is quarantined, its sibling staged."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from cti_pipeline.contracts.reference import load_iso3
from cti_pipeline.contracts.registros import KINDS, REGISTROS, kind_of_file
from cti_pipeline.contracts.rules import MESSAGES
from cti_pipeline.domain.registros import process_registros
from cti_pipeline_tests.factories import file_counts, write_csv
from cti_pipeline_tests.pncti.builders import ANIO, folder, land, row

LONG = "x" * 33_000

# (kind, overrides of a valid row, column, rule)
BAD_ROWS = [
    ("capacitaciones", {"anio": "20x4"}, "anio", "entero_invalido"),
    ("capacitaciones", {"anio": 2023}, "anio", "anio_distinto_carpeta"),
    ("capacitaciones", {"anio": None}, "anio", "obligatorio"),
    ("capacitaciones", {"programa": "MBA"}, "programa", "valor_no_permitido"),
    ("capacitaciones", {"programa": None}, "programa", "obligatorio"),
    ("capacitaciones", {"participante_id": None}, "participante_id", "obligatorio"),
    ("capacitaciones", {"entidad": None}, "entidad", "obligatorio"),
    ("capacitaciones", {"entidad": LONG}, "entidad", "celda_demasiado_larga"),
    ("capacitaciones", {"es_uocti": "quizás"}, "es_uocti", "si_no_invalido"),
    ("capacitaciones", {"es_uocti": None}, "es_uocti", "obligatorio"),
    ("capacitaciones", {"nota": "aprobado"}, "nota", "decimal_invalido"),
    ("capacitaciones", {"nota": 20.5}, "nota", "nota_fuera_de_rango"),
    ("capacitaciones", {"nota": -1}, "nota", "nota_fuera_de_rango"),
    ("accesos_web", {"mes": 13}, "mes", "mes_invalido"),
    ("accesos_web", {"mes": 0}, "mes", "mes_invalido"),
    ("accesos_web", {"mes": "mayo"}, "mes", "entero_invalido"),
    ("accesos_web", {"seccion": "NOTICIAS"}, "seccion", "valor_no_permitido"),
    ("accesos_web", {"seccion": None}, "seccion", "obligatorio"),
    ("accesos_web", {"accesos": -4}, "accesos", "negativo"),
    ("accesos_web", {"accesos": "1.5"}, "accesos", "entero_invalido"),
    ("accesos_web", {"accesos": None}, "accesos", "obligatorio"),
    ("espacios_coordinacion", {"fecha": "2024-13-01"}, "fecha", "fecha_invalida"),
    ("espacios_coordinacion", {"fecha": dt.date(ANIO - 1, 12, 31)}, "fecha", "fecha_fuera_del_anio"),
    ("espacios_coordinacion", {"fecha": dt.date(ANIO + 1, 1, 1)}, "fecha", "fecha_fuera_del_anio"),
    ("espacios_coordinacion", {"fecha": None}, "fecha", "obligatorio"),
    ("espacios_coordinacion", {"espacio_id": None}, "espacio_id", "obligatorio"),
    ("espacios_coordinacion", {"nombre_espacio": None}, "nombre_espacio", "obligatorio"),
    ("espacios_coordinacion", {"entidad_participante": None}, "entidad_participante", "obligatorio"),
    ("compromisos", {"estado": "ANULADO"}, "estado", "valor_no_permitido"),
    ("compromisos", {"compromiso_id": None}, "compromiso_id", "obligatorio"),
    ("compromisos", {"espacio_id": None}, "espacio_id", "obligatorio"),
    ("compromisos", {"anio": 2025}, "anio", "anio_distinto_carpeta"),
    ("asistencia_tecnica", {"fecha": "31/02/2024"}, "fecha", "fecha_invalida"),
    ("asistencia_tecnica", {"fecha": dt.date(2023, 6, 1)}, "fecha", "fecha_fuera_del_anio"),
    ("asistencia_tecnica", {"entidad": None}, "entidad", "obligatorio"),
    ("proyectos_css", {"rol_peru": "DONANTE"}, "rol_peru", "valor_no_permitido"),
    ("proyectos_css", {"pais_socio": "TAI"}, "pais_socio", "pais_socio_invalido"),
    ("proyectos_css", {"pais_socio": None}, "pais_socio", "obligatorio"),
    ("proyectos_css", {"codigo_proyecto": None}, "codigo_proyecto", "obligatorio"),
    ("proyectos_css", {"sector": LONG}, "sector", "celda_demasiado_larga"),
    ("iniciativas_internacionales", {"liderada_por_peru": "tal vez"}, "liderada_por_peru", "si_no_invalido"),
    ("iniciativas_internacionales", {"foro": None}, "foro", "obligatorio"),
    ("iniciativas_internacionales", {"iniciativa_id": None}, "iniciativa_id", "obligatorio"),
]

# a second valid row that does not share the first one's key
SIBLING = {
    "capacitaciones": {"participante_id": "11112222"},
    "accesos_web": {"mes": 6},
    "espacios_coordinacion": {"entidad_participante": "Ministerio del Ambiente"},
    "compromisos": {"compromiso_id": "C-002"},
    "asistencia_tecnica": {"fecha": dt.date(ANIO, 4, 4)},
    "proyectos_css": {"codigo_proyecto": "CSS-002"},
    "iniciativas_internacionales": {"iniciativa_id": "INI-02"},
}


def process(data_dir: Path, anio: int = ANIO):
    return process_registros(folder(data_dir, anio), anio, "test-salt", load_iso3(None))


def test_every_kind_has_bad_examples():
    assert {kind for kind, *_ in BAD_ROWS} == set(KINDS)


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
@pytest.mark.parametrize(("kind", "overrides", "column", "rule"), BAD_ROWS, ids=[f"{k}-{r}-{c}" for k, _, c, r in BAD_ROWS])
def test_a_bad_row_is_quarantined_with_its_rule_and_its_sibling_is_staged(data_dir, kind, overrides, column, rule, suffix):
    if suffix == ".xlsx" and rule == "celda_demasiado_larga":
        pytest.skip("a workbook cannot hold more than 32,767 characters in a cell; CSV covers the rule")
    land(data_dir, f"{kind}_lote{suffix}", kind, [row(kind), row(kind, **{**SIBLING[kind], **overrides})])
    result = process(data_dir)

    quarantined = result.quarantined
    assert list(zip(quarantined["origen"], quarantined["fila"], quarantined["columna"], quarantined["regla"], strict=True)) == [
        (kind, 3, column, rule)
    ]
    message = quarantined["mensaje"].iloc[0]
    assert "{" not in message and len(message) > 20
    if rule in MESSAGES and rule not in ("obligatorio", "celda_demasiado_larga"):
        assert message.startswith(MESSAGES[rule].split("{")[0])
    assert len(result.staged[kind]) == 1
    assert result.staged[kind]["fila"].tolist() == [2]
    counts = file_counts(result.raw).set_index("archivo").loc[f"{kind}_lote{suffix}"]
    assert (counts["leidas"], counts["staged"], counts["quarantined"]) == (2, 1, 1)
    assert result.raw["estado_fila"].tolist() == ["staged", "quarantined"]


KEYED = [kind for kind in KINDS if REGISTROS[kind].key]


@pytest.mark.parametrize("kind", KEYED)
def test_a_key_shared_within_a_file_quarantines_every_row_that_shares_it(data_dir, kind):
    land(data_dir, f"{kind}.xlsx", kind, [row(kind), row(kind), row(kind, **SIBLING[kind])])
    result = process(data_dir)
    dupes = result.quarantined
    assert set(dupes["regla"]) == {"clave_duplicada"}
    assert sorted(dupes["fila"]) == [2, 3]
    assert len(result.staged[kind]) == 1
    assert "se repite" in dupes["mensaje"].iloc[0]


@pytest.mark.parametrize("kind", KEYED)
def test_a_key_shared_across_files_of_a_kind_quarantines_both_files_rows(data_dir, kind):
    land(data_dir, f"{kind}_a.xlsx", kind, [row(kind)])
    land(data_dir, f"{kind}_b.csv", kind, [row(kind), row(kind, **SIBLING[kind])], encoding="cp1252", separator=";")
    result = process(data_dir)
    dupes = result.quarantined
    assert sorted(zip(dupes["archivo"], dupes["fila"])) == [(f"{kind}_a.xlsx", 2), (f"{kind}_b.csv", 2)]
    assert f"{kind}_a.xlsx, {kind}_b.csv" in dupes["mensaje"].iloc[0]
    assert len(result.staged[kind]) == 1


@pytest.mark.parametrize(
    ("kind", "first", "second"),
    [
        ("espacios_coordinacion", {"entidad_participante": "Gobierno Regional de Junín"}, {"entidad_participante": "  GOBIERNO   REGIONAL DE JUNIN "}),
        ("compromisos", {"compromiso_id": "C-001"}, {"compromiso_id": "c-001"}),
        ("accesos_web", {"mes": 5, "seccion": "BECAS"}, {"mes": "05", "seccion": "becas"}),
        ("asistencia_tecnica", {"tema": None}, {"tema": None, "entidad": "gobierno regional de cusco"}),
        ("proyectos_css", {"codigo_proyecto": "CSS-001"}, {"codigo_proyecto": "css-001 "}),
        ("iniciativas_internacionales", {"iniciativa_id": "INI-01"}, {"iniciativa_id": "ini-01"}),
    ],
)
def test_keys_compare_normalised_text(data_dir, kind, first, second):
    land(data_dir, f"{kind}.csv", kind, [row(kind, **first), row(kind, **second)])
    result = process(data_dir)
    assert sorted(result.quarantined["fila"]) == [2, 3]
    assert set(result.quarantined["regla"]) == {"clave_duplicada"}
    assert result.staged[kind].empty


def test_capacitaciones_has_no_key_a_person_may_be_trained_twice(data_dir):
    land(data_dir, "capacitaciones.xlsx", "capacitaciones", [row("capacitaciones"), row("capacitaciones", nota=12)])
    result = process(data_dir)
    assert result.quarantined.empty
    assert len(result.staged["capacitaciones"]) == 2


def test_several_files_of_one_kind_are_concatenated_and_kinds_come_from_file_names(data_dir):
    land(data_dir, "proyectos_css_enero.xlsx", "proyectos_css", [row("proyectos_css")])
    land(data_dir, "PROYECTOS_CSS_febrero.csv", "proyectos_css", [row("proyectos_css", codigo_proyecto="CSS-002")], encoding="utf-8-sig")
    land(data_dir, "compromisos_2024_final.xlsx", "compromisos", [row("compromisos")])
    result = process(data_dir)
    assert sorted(result.staged["proyectos_css"]["archivo"]) == ["PROYECTOS_CSS_febrero.csv", "proyectos_css_enero.xlsx"]
    assert len(result.staged["compromisos"]) == 1
    assert set(result.raw["tipo_registro"]) == {"proyectos_css", "compromisos"}
    for kind in set(KINDS) - {"proyectos_css", "compromisos"}:
        assert result.staged[kind].empty


def test_a_file_of_an_unknown_kind_is_rejected_whole_with_the_list_of_kinds(data_dir):
    land(data_dir, "becas_postulantes.csv", "compromisos", [row("compromisos")])
    land(data_dir, "compromisos.csv", "compromisos", [row("compromisos")])
    result = process(data_dir)
    rejected = result.rejected_files
    assert rejected["archivo"].tolist() == ["becas_postulantes.csv"]
    assert rejected["origen"].tolist() == ["registros"]
    motivo = rejected["motivo"].iloc[0]
    assert all(kind in motivo for kind in KINDS)
    assert "becas_postulantes.csv" not in set(result.raw["archivo"])
    assert len(result.staged["compromisos"]) == 1


def test_a_file_lacking_a_required_column_is_rejected_with_its_kind_as_origen(data_dir):
    path = folder(data_dir) / "accesos_web_2024.csv"
    path.parent.mkdir(parents=True)
    path.write_text("anio,mes,accesos\r\n2024,1,10\r\n", encoding="utf-8")
    (folder(data_dir) / "proyectos_css.pdf").write_bytes(b"%PDF-1.4")
    result = process(data_dir)
    rejected = result.rejected_files.set_index("archivo")
    assert rejected.loc["accesos_web_2024.csv", "origen"] == "accesos_web"
    assert "seccion" in rejected.loc["accesos_web_2024.csv", "motivo"]
    assert rejected.loc["proyectos_css.pdf", "origen"] == "proyectos_css"
    assert result.raw.empty


def test_kind_of_file_prefers_the_longest_kind_and_ignores_case():
    assert kind_of_file("Capacitaciones_2024.xlsx") == "capacitaciones"
    assert kind_of_file("proyectos_css.csv") == "proyectos_css"
    assert kind_of_file("informe_capacitaciones.xlsx") is None


def test_code_spellings_are_accepted(data_dir):
    land(
        data_dir, "capacitaciones.csv", "capacitaciones",
        [row("capacitaciones", programa=" css ", es_uocti=v, participante_id=str(i)) for i, v in enumerate(("Sí", "si", "S", "1", "No", "0"))],
        encoding="cp1252", separator=";", decimal_comma=True,
    )
    result = process(data_dir)
    assert result.quarantined.empty
    staged = result.staged["capacitaciones"]
    assert staged["es_uocti"].tolist() == ["SI"] * 4 + ["NO"] * 2
    assert set(staged["programa"]) == {"CSS"}
    assert staged["nota"].tolist() == [15.5] * 6  # decimal comma read back


def test_extra_columns_are_kept_in_raw_but_a_roster_keeps_only_their_names(data_dir):
    write_csv(folder(data_dir) / "capacitaciones.csv", [dict(row("capacitaciones"), correo="ana@example.org")],
              headers=[*REGISTROS["capacitaciones"].names, "correo"])
    write_csv(folder(data_dir) / "compromisos.csv", [dict(row("compromisos"), observacion="acta 3")],
              headers=[*REGISTROS["compromisos"].names, "observacion"])
    result = process(data_dir)
    raw = result.raw.set_index("tipo_registro")["columnas_extra"]
    assert raw["capacitaciones"] == '["correo"]'
    assert "acta 3" in raw["compromisos"]
    stored = pd.concat([result.raw.astype("str").stack(), result.quarantined.astype("str").stack()]).tolist()
    assert not any("ana@example.org" in str(value) for value in stored)
