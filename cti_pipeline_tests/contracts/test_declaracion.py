"""Every rule of the Declaración Anual contract, each with a bad example, through real files."""

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from cti_pipeline.contracts.schema import is_valid_ruc, ruc_check_digit
from cti_pipeline.contracts.reference import DeclarationCatalogs, ReferenceError
from cti_pipeline.domain.declaraciones import process_declaraciones
from cti_pipeline_tests.factories import declaracion_row, valid_ruc, write_csv, write_xlsx


@pytest.fixture(scope="module")
def catalogs() -> DeclarationCatalogs:
    return DeclarationCatalogs.load(None)


def ruc_by_hand(ruc: str) -> bool:
    """The SUNAT rule written out independently of the implementation."""
    if len(ruc) != 11 or not ruc.isdigit() or ruc[:2] not in {"10", "15", "16", "17", "20"}:
        return False
    total = sum(int(d) * w for d, w in zip(ruc[:10], [5, 4, 3, 2, 7, 6, 5, 4, 3, 2]))
    r = 11 - total % 11
    return int(ruc[10]) == {10: 0, 11: 1}.get(r, r)


def test_ruc_check_digit_agrees_with_the_sunat_rule():
    samples = ["20131312955", "20100047218", "10456789012", "15123456789", "17000000001", "20100047219",
               "30100047218", "2010004721", "201000472188", "2010004721A"]
    samples += [f"20{n:08d}" + str(ruc_check_digit(f"20{n:08d}")) for n in range(0, 10**8, 9_999_991)]
    samples += [f"10{n:08d}{d}" for n in (12345678, 87654321) for d in range(10)]
    computed = is_valid_ruc(pd.Series(samples, dtype="str"))
    assert computed.tolist() == [ruc_by_hand(s) for s in samples]
    assert sum(computed) >= 12  # both outcomes are exercised


BAD_CELLS = [
    # (column, bad value, rule)
    ("anio", 2023, "anio_distinto_carpeta"),
    ("anio", "dos mil", "entero_invalido"),
    ("ruc_entidad", "20100047219", "ruc_invalido"),
    ("ruc_entidad", "30100047218", "ruc_invalido"),
    ("ruc_entidad", "2010004721", "ruc_invalido"),
    ("nombre_entidad", "   ", "obligatorio"),
    ("tipo_entidad", "ONG", "valor_no_permitido"),
    ("codigo_intervencion", None, "obligatorio"),
    ("titulo", "", "obligatorio"),
    ("fuente_cooperante", None, "obligatorio"),
    ("pais_fuente", "ESPAÑA", "pais_iso3_invalido"),
    ("pais_fuente", "XXX", "pais_iso3_invalido"),
    ("tipo_cooperacion", "TRIANGULAR", "valor_no_permitido"),
    ("area_prioritaria", "AP07", "area_desconocida"),
    ("ods", 18, "ods_fuera_de_rango"),
    ("ods", 0, "ods_fuera_de_rango"),
    ("ods", "6.5", "entero_invalido"),
    ("departamento", "26", "departamento_desconocido"),
    ("departamento", "Cusco", "departamento_desconocido"),
    ("moneda", "EUR", "valor_no_permitido"),
    ("monto_ejecutado", -10.0, "negativo"),
    ("monto_ejecutado", "mil", "decimal_invalido"),
    ("monto_ejecutado", None, "obligatorio"),
    ("beneficiarios", -1, "negativo"),
    ("beneficiarios", "muchos", "entero_invalido"),
    ("participa_empresa_privada", "QUIZÁS", "si_no_invalido"),
    ("fecha_inicio", "2024-02-30", "fecha_invalida"),
    ("fecha_inicio", "15.01.2024", "fecha_invalida"),
    ("fecha_fin", dt.date(2023, 1, 1), "fecha_fin_anterior"),
    ("fecha_fin", dt.date(2023, 12, 31), "fuera_del_anio"),
    ("titulo", "x" * 32_768, "celda_demasiado_larga"),
]


@pytest.mark.parametrize(("column", "value", "rule"), BAD_CELLS, ids=[f"{c}-{r}" for c, _, r in BAD_CELLS])
def test_each_rule_quarantines_its_bad_row_and_keeps_the_good_one(tmp_path: Path, catalogs, column, value, rule):
    good = declaracion_row(codigo_intervencion="BUENA")
    bad = declaracion_row(**{"codigo_intervencion": "MALA", column: value})
    if rule == "fuera_del_anio":
        bad["fecha_inicio"] = dt.date(2022, 1, 1)
    year_dir = tmp_path / "2024"
    write_csv(year_dir / "entidad.csv", [good, bad])
    result = process_declaraciones(year_dir, 2024, catalogs)

    assert result.staged["titulo"].tolist() == [good["titulo"]] and len(result.staged) == 1
    bad_rows = result.quarantined[result.quarantined["fila"] == 3]
    assert (column, rule) in set(zip(bad_rows["columna"], bad_rows["regla"]))
    assert bad_rows["mensaje"].str.len().min() > 20
    assert result.raw.set_index("fila")["estado_fila"].to_dict() == {2: "staged", 3: "quarantined"}


def test_every_broken_rule_of_a_row_is_reported(tmp_path: Path, catalogs):
    bad = declaracion_row(tipo_entidad="X", moneda="EUR", ods=40, titulo="")
    write_csv(tmp_path / "2024" / "e.csv", [bad])
    result = process_declaraciones(tmp_path / "2024", 2024, catalogs)
    assert sorted(result.quarantined["columna"]) == ["moneda", "ods", "tipo_entidad", "titulo"]
    assert result.raw["estado_fila"].tolist() == ["quarantined"]


@pytest.mark.parametrize("written", ["Sí", "si", "S", "1", "sí ", "SI"])
def test_yes_spellings(tmp_path: Path, catalogs, written):
    write_csv(tmp_path / "2024" / "e.csv", [declaracion_row(participa_empresa_privada=written)])
    result = process_declaraciones(tmp_path / "2024", 2024, catalogs)
    assert result.staged["participa_empresa_privada"].tolist() == ["SI"]


@pytest.mark.parametrize("written", ["No", "n", "0", "NO"])
def test_no_spellings(tmp_path: Path, catalogs, written):
    write_csv(tmp_path / "2024" / "e.csv", [declaracion_row(participa_empresa_privada=written)])
    result = process_declaraciones(tmp_path / "2024", 2024, catalogs)
    assert result.staged["participa_empresa_privada"].tolist() == ["NO"]


def test_codes_match_case_insensitively_and_values_are_normalised(tmp_path: Path, catalogs):
    row = declaracion_row(tipo_entidad=" eniex ", tipo_cooperacion="Multilateral", moneda="pen", pais_fuente=None,
                          area_prioritaria="ap02", departamento=7, ods=None, beneficiarios=None,
                          fecha_inicio="01/06/2024", fecha_fin="2024-12-31", monto_ejecutado=3744.0)
    write_xlsx(tmp_path / "2024" / "e.xlsx", [row])
    result = process_declaraciones(tmp_path / "2024", 2024, catalogs)
    staged = result.staged.iloc[0]
    assert result.quarantined.empty
    assert (staged["tipo_entidad"], staged["tipo_cooperacion"], staged["moneda"]) == ("ENIEX", "MULTILATERAL", "PEN")
    assert (staged["area_prioritaria"], staged["departamento"]) == ("AP02", "07")
    assert pd.isna(staged["ods"]) and pd.isna(staged["beneficiarios"]) and pd.isna(staged["pais_fuente"])
    assert staged["fecha_inicio"] == pd.Timestamp("2024-06-01")
    # PEN is converted with the rate of `anio` in reference/tipo_cambio.csv
    rates = pd.read_csv(Path(__file__).parents[2] / "data" / "reference" / "tipo_cambio.csv")
    rate_2024 = float(rates.loc[rates["anio"] == 2024, "pen_por_usd"].iloc[0])
    assert staged["monto_usd"] == pytest.approx(3744.0 / rate_2024)


def test_decimal_comma_in_semicolon_csv(tmp_path: Path, catalogs):
    path = tmp_path / "2024" / "e.csv"
    write_csv(path, [declaracion_row(monto_ejecutado=1234.56, moneda="USD")], separator=";", decimal_comma=True, encoding="cp1252")
    text = path.read_bytes().decode("cp1252")
    assert "1234,56" in text
    result = process_declaraciones(tmp_path / "2024", 2024, catalogs)
    assert result.staged["monto_ejecutado"].tolist() == [1234.56]
    path.write_bytes(text.replace("1234,56", "1.234,56").encode("cp1252"))
    result = process_declaraciones(tmp_path / "2024", 2024, catalogs)
    assert result.staged["monto_ejecutado"].tolist() == [1234.56]


def test_iso3_catalog_accepts_real_countries_and_blank_for_multilaterals(tmp_path: Path, catalogs):
    rows = [declaracion_row(codigo_intervencion=str(i), pais_fuente=code) for i, code in enumerate(["JPN", "deu", None, "KOR", "USA"])]
    write_csv(tmp_path / "2024" / "e.csv", rows)
    result = process_declaraciones(tmp_path / "2024", 2024, catalogs)
    assert result.quarantined.empty and len(result.staged) == 5


def test_reference_override_replaces_a_catalog_whole(tmp_path: Path):
    override = tmp_path / "reference"
    override.mkdir()
    (override / "areas_prioritarias.csv").write_text("codigo,es_prioritaria\nAP01,SI\nAP50,NO\n", encoding="utf-8")
    catalogs = DeclarationCatalogs.load(override)
    rows = [declaracion_row(codigo_intervencion="a", area_prioritaria="AP50"), declaracion_row(codigo_intervencion="b", area_prioritaria="AP02")]
    write_csv(tmp_path / "2024" / "e.csv", rows)
    result = process_declaraciones(tmp_path / "2024", 2024, catalogs)
    assert result.staged["area_prioritaria"].tolist() == ["AP50"]
    assert result.staged["es_prioritaria"].tolist() == ["NO"]
    assert result.quarantined["regla"].tolist() == ["area_desconocida"]
    assert "AP01, AP50" in result.quarantined["mensaje"].iloc[0]


def test_an_override_may_spell_es_prioritaria_as_entities_do_and_a_stray_value_stops_the_run(tmp_path: Path):
    override = tmp_path / "reference"
    override.mkdir()
    (override / "areas_prioritarias.csv").write_text("codigo,es_prioritaria\nAP01,Sí\nAP02,s\nAP03,No\nAP04,1\n", encoding="utf-8")
    flags = DeclarationCatalogs.load(override).areas.set_index("codigo")["es_prioritaria"].to_dict()
    assert flags == {"AP01": "SI", "AP02": "SI", "AP03": "NO", "AP04": "SI"}
    (override / "areas_prioritarias.csv").write_text("codigo,es_prioritaria\nAP01,SI\nAP02,quizá\n", encoding="utf-8")
    with pytest.raises(ReferenceError, match="AP02='quizá'"):
        DeclarationCatalogs.load(override)


def test_valid_ruc_factory_is_valid():
    assert ruc_by_hand(valid_ruc()) and ruc_by_hand(valid_ruc("1045678901"))
