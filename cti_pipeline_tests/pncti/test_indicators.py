"""The PNCTI indicator engine: formulas against independent counts, ND rules, rounding, catalogs."""

from __future__ import annotations

import datetime as dt
import random
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import pytest

from cti_pipeline.contracts.reference import DeclarationCatalogs, IndicatorCatalogs, load_iso3
from cti_pipeline.domain.declaraciones import process_declaraciones
from cti_pipeline.domain.indicators import FORMULAS, Measure, agrees, compute_indicators, formula, round_half_up
from cti_pipeline.domain.registros import process_registros
from cti_pipeline_tests.factories import declaracion_row, valid_ruc, write_csv, write_xlsx
from cti_pipeline_tests.pncti.builders import ANIO, folder, land, row

ALC = {"BOL", "CHL", "COL"}
OTHER = {"THA", "IND"}


def staged(data_dir, anio: int = ANIO) -> dict[str, pd.DataFrame]:
    inputs = dict(process_registros(folder(data_dir, anio), anio, "salt", load_iso3(None)).staged)
    declarations = data_dir / "landing" / "declaraciones" / str(anio)
    inputs["declaraciones"] = process_declaraciones(declarations, anio, DeclarationCatalogs.load(None)).staged
    return inputs


def compute(data_dir, anio: int = ANIO) -> pd.DataFrame:
    catalogs = IndicatorCatalogs.load(data_dir / "reference", anio)
    return compute_indicators(staged(data_dir, anio), anio, catalogs).set_index("indicador")


def expected_round(value: float) -> float:
    return float(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


# --- every formula against counts made here from the rows written ---------------------------------


def test_every_catalog_indicator_has_a_formula():
    catalog = IndicatorCatalogs.load(None, ANIO).indicadores
    assert len(catalog) == 18
    assert set(catalog["codigo"]) <= set(FORMULAS)


def test_registros_formulas_match_counts_made_from_the_rows(data_dir):
    rng = random.Random(7)
    people = [f"{rng.randrange(10**7, 10**8)}" for _ in range(60)]
    training = []
    for person in people:
        programa, uocti = rng.choice(("CTI", "CSS")), rng.random() < 0.7
        for _ in range(rng.randrange(1, 3)):
            nota = None if rng.random() < 0.15 else rng.choice((9, 12, 13.5, 14, 16, 19.5))
            training.append(row("capacitaciones", participante_id=person, programa=programa, es_uocti="SI" if uocti else "NO", nota=nota))
    land(data_dir, "capacitaciones_a.xlsx", "capacitaciones", training[:40])
    land(data_dir, "capacitaciones_b.csv", "capacitaciones", training[40:], encoding="cp1252", separator=";", decimal_comma=True)

    accesses = [row("accesos_web", mes=m, seccion=s, accesos=rng.randrange(0, 500))
                for m in range(1, 13) for s in ("BECAS", "ESTADISTICAS", "EXPERIENCIAS_EXITOSAS", "TRIANGULAR")]
    land(data_dir, "accesos_web.csv", "accesos_web", accesses)
    entities = ["Ministerio de Salud", "Gobierno Regional de Junín", "Municipalidad de Piura", "Ministerio del Ambiente"]
    spaces = [row("espacios_coordinacion", espacio_id=e, entidad_participante=n) for e in ("E1", "E2", "E3") for n in rng.sample(entities, 3)]
    land(data_dir, "espacios_coordinacion.xlsx", "espacios_coordinacion", spaces)
    commitments = [row("compromisos", compromiso_id=f"C{i}", estado=rng.choice(("CUMPLIDO", "EN_PROCESO", "PENDIENTE"))) for i in range(23)]
    land(data_dir, "compromisos.csv", "compromisos", commitments)
    assistance = [row("asistencia_tecnica", entidad=n, fecha=dt.date(ANIO, 1 + i, 1)) for i, n in enumerate(entities[:3] * 2)]
    land(data_dir, "asistencia_tecnica.xlsx", "asistencia_tecnica", assistance)
    projects = [row("proyectos_css", codigo_proyecto=f"P{i}", rol_peru=rng.choice(("OFERENTE", "RECEPTOR", "DOBLE")),
                    pais_socio=rng.choice(sorted(ALC | OTHER))) for i in range(41)]
    land(data_dir, "proyectos_css.xlsx", "proyectos_css", projects)
    initiatives = [row("iniciativas_internacionales", iniciativa_id=f"I{i}", liderada_por_peru=rng.choice(("SI", "NO"))) for i in range(7)]
    land(data_dir, "iniciativas_internacionales.csv", "iniciativas_internacionales", initiatives)

    result = compute(data_dir)

    uocti = [r for r in training if r["programa"] == "CTI" and r["es_uocti"] == "SI"]
    best: dict[str, float | None] = {}
    for r in uocti:
        current = best.get(r["participante_id"])
        best[r["participante_id"]] = r["nota"] if current is None else (current if r["nota"] is None else max(current, r["nota"]))
    good = sum(1 for nota in best.values() if nota is not None and nota >= 14)
    sums = {s: sum(r["accesos"] for r in accesses if r["seccion"] == s) for s in ("BECAS", "ESTADISTICAS", "EXPERIENCIAS_EXITOSAS", "TRIANGULAR")}
    offered = [p for p in projects if p["rol_peru"] in ("OFERENTE", "DOBLE")]
    expected = {
        "ISS.01.02.01.01": len(best),
        "ISS.01.02.01.02": expected_round(100 * good / len(best)),
        "ISS.03.01.01.01": len({r["participante_id"] for r in training if r["programa"] == "CSS"}),
        "ISS.01.02.02.01": sums["BECAS"],
        "ISS.02.05.01.01": sums["ESTADISTICAS"],
        "ISS.02.02.01.01": sums["EXPERIENCIAS_EXITOSAS"],
        "ISS.03.05.01.01": sums["TRIANGULAR"],
        "ISS.02.01.01.01": len({s["entidad_participante"] for s in spaces}),
        "ISS.02.01.01.02": 3,
        "ISS.02.03.01.01": 3,
        "IOP.02.01": expected_round(100 * sum(c["estado"] == "CUMPLIDO" for c in commitments) / len(commitments)),
        "IOP.03.01": expected_round(100 * sum(p["pais_socio"] in ALC for p in offered) / len(projects)),
        "IOP.03.02": expected_round(100 * sum(p["pais_socio"] in OTHER for p in offered) / len(projects)),
        "IOP.04.01": expected_round(100 * sum(i["liderada_por_peru"] == "SI" for i in initiatives) / len(initiatives)),
    }
    for code, value in expected.items():
        assert result.loc[code, "valor"] == pytest.approx(value), code
        assert result.loc[code, "estado"] == "DISPONIBLE"
    assert result.loc["ISS.01.02.01.02", "numerador"] == good
    assert result.loc["ISS.01.02.01.02", "denominador"] == len(best)
    for code in ("IOP.01.01", "IOP.01.02", "IOP.01.03", "IOP.02.02"):  # no declarations landed
        assert result.loc[code, "estado"] == "ND" and pd.isna(result.loc[code, "valor"])


def test_declaration_formulas_use_monto_usd_and_count_blank_beneficiaries(data_dir):
    year = data_dir / "landing" / "declaraciones" / str(ANIO)
    rows = [
        declaracion_row(codigo_intervencion="1", area_prioritaria="AP01", ods=6, monto_ejecutado=1000.0, moneda="USD",
                        participa_empresa_privada="SI", beneficiarios=120),
        declaracion_row(codigo_intervencion="2", area_prioritaria="AP99", ods=None, monto_ejecutado=3757.0, moneda="PEN",
                        beneficiarios=None),
        declaracion_row(codigo_intervencion="3", area_prioritaria="AP03", ods=None, monto_ejecutado=250.5, moneda="USD",
                        participa_empresa_privada="SI", beneficiarios=30),
    ]
    write_xlsx(year / "entidad_a.xlsx", rows)
    write_csv(year / "entidad_b.csv", [declaracion_row(ruc_entidad=valid_ruc("2060000001"), codigo_intervencion="1",
                                                        monto_ejecutado=100.0, beneficiarios=None)])
    result = compute(data_dir)

    usd = {"1": 1000.0, "2": 3757.0 / 3.757, "3": 250.5, "b": 100.0}
    total = sum(usd.values())
    assert result.loc["IOP.01.01", "valor"] == expected_round(100 * (usd["1"] + usd["3"] + usd["b"]) / total)
    assert result.loc["IOP.01.02", "valor"] == expected_round(100 * (usd["1"] + usd["b"]) / total)
    assert result.loc["IOP.02.02", "valor"] == expected_round(100 * (usd["1"] + usd["3"]) / total)
    assert result.loc["IOP.01.03", "valor"] == 150
    assert result.loc["IOP.01.03", "beneficiarios_en_blanco"] == 2
    assert "2 intervenciones" in result.loc["IOP.01.03", "nota"]
    assert result.loc["IOP.01.01", "denominador"] == pytest.approx(total)


def test_a_year_without_an_exchange_rate_has_its_money_shares_nd_not_computed_with_zeros(data_dir):
    """2025 is not in the shipped reference/tipo_cambio.csv: its PEN amounts have no monto_usd."""
    anio = 2025
    year = data_dir / "landing" / "declaraciones" / str(anio)
    write_xlsx(year / "entidad_a.xlsx", [
        declaracion_row(anio=anio, codigo_intervencion="1", area_prioritaria="AP01", moneda="PEN", monto_ejecutado=37570.0),
        declaracion_row(anio=anio, codigo_intervencion="2", area_prioritaria="AP99", moneda="USD", monto_ejecutado=1000.0,
                        beneficiarios=40),
    ])
    result = compute(data_dir, anio)
    for code in ("IOP.01.01", "IOP.01.02", "IOP.02.02"):
        assert result.loc[code, "estado"] == "ND" and pd.isna(result.loc[code, "valor"])
        assert "1 de 2 intervenciones sin monto_usd" in result.loc[code, "nota"] and "2025" in result.loc[code, "nota"]
    assert result.loc["IOP.01.03", "valor"] == 290  # beneficiaries do not depend on the rate


# --- noise that must not change a result -----------------------------------------------------------


def test_a_participant_trained_several_times_counts_once_with_the_best_grade(data_dir):
    land(data_dir, "capacitaciones_1.xlsx", "capacitaciones", [
        row("capacitaciones", participante_id="10000001", nota=12),
        row("capacitaciones", participante_id="10000001", nota=None),
        row("capacitaciones", participante_id="20000002", nota=None),
    ])
    land(data_dir, "capacitaciones_2.csv", "capacitaciones", [
        row("capacitaciones", participante_id="10000001", nota=14),  # best grade in another file
        row("capacitaciones", participante_id="30000003", nota=13.99),
        row("capacitaciones", participante_id="40000004", nota=20, es_uocti="NO"),  # not UOCTI: not counted
    ])
    result = compute(data_dir)
    assert result.loc["ISS.01.02.01.01", "valor"] == 3
    assert result.loc["ISS.01.02.01.02", "valor"] == expected_round(100 * 1 / 3)


def test_name_variants_of_one_entity_count_once(data_dir):
    variants = ["Gobierno Regional de Junín", "GOBIERNO REGIONAL DE JUNIN", "  gobierno  regional de junín "]
    land(data_dir, "espacios_coordinacion.xlsx", "espacios_coordinacion",
         [row("espacios_coordinacion", espacio_id=f"E{i}", entidad_participante=v) for i, v in enumerate(variants)]
         + [row("espacios_coordinacion", espacio_id="e0 ", entidad_participante="Ministerio de Salud")])
    land(data_dir, "asistencia_tecnica.csv", "asistencia_tecnica",
         [row("asistencia_tecnica", entidad=v, fecha=dt.date(ANIO, i + 1, 1)) for i, v in enumerate(variants)], encoding="cp1252")
    result = compute(data_dir)
    assert result.loc["ISS.02.01.01.01", "valor"] == 2
    assert result.loc["ISS.02.01.01.02", "valor"] == 3  # E0 and "e0 " are one space
    assert result.loc["ISS.02.03.01.01", "valor"] == 1


def test_quarantined_rows_do_not_count(data_dir):
    land(data_dir, "proyectos_css.xlsx", "proyectos_css", [
        row("proyectos_css", codigo_proyecto="A", pais_socio="BOL"),
        row("proyectos_css", codigo_proyecto="B", rol_peru="RECEPTOR", pais_socio="CHL"),
        row("proyectos_css", codigo_proyecto="C", pais_socio="Tailandia"),  # quarantined
        row("proyectos_css", codigo_proyecto="D", pais_socio="THA", anio=ANIO - 1),  # quarantined
    ])
    result = compute(data_dir)
    assert result.loc["IOP.03.01", "valor"] == 50.0
    assert result.loc["IOP.03.02", "valor"] == 0.0
    assert result.loc["IOP.03.01", "denominador"] == 2


# --- ND ---------------------------------------------------------------------------------------------


def test_a_year_without_files_is_nd_everywhere(data_dir):
    result = compute(data_dir)
    assert set(result["estado"]) == {"ND"}
    assert result["valor"].isna().all() and result["avance_pct"].isna().all()
    assert result.loc["IOP.02.01", "nota"].startswith("ND")


def test_a_zero_denominator_is_nd_and_its_nota_says_so_as_every_nd_nota_does(data_dir):
    land(data_dir, "capacitaciones.csv", "capacitaciones", [row("capacitaciones", programa="CTI", es_uocti="NO")])
    result = compute(data_dir)
    assert result.loc["ISS.01.02.01.01", "valor"] == 0.0  # nobody of a UOCTI: a recorded zero
    assert result.loc["ISS.01.02.01.02", "estado"] == "ND" and result.loc["ISS.01.02.01.02", "nota"] == "ND: denominador 0"
    assert result.loc[result["estado"] == "ND", "nota"].str.startswith("ND: ").all()


def test_a_kind_whose_every_row_is_invalid_is_nd_while_other_kinds_are_available(data_dir):
    land(data_dir, "compromisos.csv", "compromisos", [row("compromisos", compromiso_id=f"C{i}", estado="ANULADO") for i in range(4)])
    land(data_dir, "iniciativas_internacionales.csv", "iniciativas_internacionales", [row("iniciativas_internacionales")])
    result = compute(data_dir)
    assert result.loc["IOP.02.01", "estado"] == "ND" and pd.isna(result.loc["IOP.02.01", "valor"])
    assert result.loc["IOP.04.01", "estado"] == "DISPONIBLE" and result.loc["IOP.04.01", "valor"] == 100.0


def test_a_zero_denominator_is_nd_but_a_zero_count_is_a_value(data_dir):
    land(data_dir, "capacitaciones.xlsx", "capacitaciones", [row("capacitaciones", es_uocti="NO")])
    year = data_dir / "landing" / "declaraciones" / str(ANIO)
    write_xlsx(year / "entidad.xlsx", [declaracion_row(monto_ejecutado=0.0)])
    result = compute(data_dir)
    assert result.loc["ISS.01.02.01.01", "valor"] == 0 and result.loc["ISS.01.02.01.01", "estado"] == "DISPONIBLE"
    assert result.loc["ISS.01.02.01.02", "estado"] == "ND" and pd.isna(result.loc["ISS.01.02.01.02", "valor"])
    assert result.loc["IOP.01.01", "estado"] == "ND"
    assert result.loc["IOP.01.03", "estado"] == "DISPONIBLE" and result.loc["IOP.01.03", "valor"] == 250


# --- rounding and the published report --------------------------------------------------------------


@pytest.mark.parametrize(("value", "decimals", "rounded"), [(2.345, 2, 2.35), (0.125, 2, 0.13), (44.444444, 2, 44.44),
                                                            (97.887, 1, 97.9), (33.8, 0, 34.0), (64.5, 0, 65.0)])
def test_round_half_up(value, decimals, rounded):
    assert round_half_up(value, decimals) == rounded


@pytest.mark.parametrize(("computed", "published", "agreement"), [
    (33.80, "34", True), (44.44, "45.83", False), (97.89, "97.9", True), (4.17, "4,17", True),
    (34.49, "35", False), (1.0, "1", True), (None, "60", False), (60.0, "", None), (None, None, None),
])
def test_the_rounding_rule_compares_with_the_decimals_of_the_published_value(computed, published, agreement):
    assert agrees(computed, published) is agreement


def test_expected_and_reported_values_and_an_indicator_can_be_replaced_from_the_data_dir(data_dir):
    land(data_dir, "compromisos.csv", "compromisos",
         [row("compromisos", compromiso_id=f"C{i}", estado="CUMPLIDO" if i < 2 else "PENDIENTE") for i in range(3)])
    land(data_dir, "accesos_web.csv", "accesos_web", [row("accesos_web", mes=m, accesos=100 + m) for m in (1, 2)])
    reference = data_dir / "reference"
    reference.mkdir()
    (reference / "logros_esperados.csv").write_text("indicador,anio,valor_esperado\nIOP.02.01,2024,80\n", encoding="utf-8")
    (reference / f"reportado_{ANIO}.csv").write_text(
        "indicador,anio,valor_reportado,avance_reportado_pct\nIOP.02.01,2024,67,83\nISS.01.02.02.01,2024,200,\n", encoding="utf-8")
    (reference / "pncti_indicadores.csv").write_text(
        "codigo,nivel,objetivo_prioritario,unidad,fuente\n"
        "IOP.02.01,OBJETIVO,OP.02,%,compromisos\n"
        "ISS.01.02.02.01,SERVICIO,OP.01,número,accesos_web\n"
        "ISS.09.99,SERVICIO,OP.02,número,accesos_web\n", encoding="utf-8")
    result = compute(data_dir)

    assert list(result.index) == ["IOP.02.01", "ISS.01.02.02.01", "ISS.09.99"]
    first = result.loc["IOP.02.01"]
    assert first["valor"] == 66.67 and first["valor_esperado"] == 80.0
    assert first["avance_pct"] == expected_round(100 * 66.67 / 80)
    assert first["valor_reportado"] == 67 and bool(first["coincide_reportado"]) is True and bool(first["coincide_avance"]) is True
    becas = result.loc["ISS.01.02.02.01"]
    assert becas["valor"] == 203 and pd.isna(becas["valor_esperado"]) and pd.isna(becas["avance_pct"])
    assert bool(becas["coincide_reportado"]) is False
    new = result.loc["ISS.09.99"]
    assert new["estado"] == "ND" and "fórmula" in new["nota"]


def test_adding_an_indicator_is_a_catalog_row_and_a_formula(data_dir, monkeypatch):
    monkeypatch.setattr("cti_pipeline.domain.indicators.FORMULAS", dict(FORMULAS))

    @formula("ISS.09.99", reads=("mes",))
    def months_reported(rows: pd.DataFrame, ctx) -> Measure:
        return Measure(float(rows["mes"].nunique()))

    land(data_dir, "accesos_web.csv", "accesos_web", [row("accesos_web", mes=m) for m in (1, 2, 5)])
    reference = data_dir / "reference"
    reference.mkdir()
    (reference / "pncti_indicadores.csv").write_text(
        "codigo,nivel,objetivo_prioritario,unidad,fuente,nombre\nISS.09.99,SERVICIO,OP.02,número,accesos_web,Meses con datos\n",
        encoding="utf-8")
    result = compute(data_dir)
    assert result.loc["ISS.09.99", "valor"] == 3 and result.loc["ISS.09.99", "nombre"] == "Meses con datos"


def test_avance_uses_the_rounded_value(data_dir):
    # 1 of 3 = 33.333… → stored 33.33; 100 × 33.33 / 50 = 66.66 (the unrounded value would give 66.67)
    land(data_dir, "compromisos.csv", "compromisos",
         [row("compromisos", compromiso_id=f"C{i}", estado="CUMPLIDO" if i == 0 else "PENDIENTE") for i in range(3)])
    reference = data_dir / "reference"
    reference.mkdir()
    (reference / "logros_esperados.csv").write_text("indicador,anio,valor_esperado\nIOP.02.01,2024,50\n", encoding="utf-8")
    result = compute(data_dir)
    assert result.loc["IOP.02.01", "valor"] == 33.33
    assert result.loc["IOP.02.01", "avance_pct"] == 66.66


def test_the_alc_region_comes_from_the_catalog_and_can_be_replaced(data_dir):
    land(data_dir, "proyectos_css.xlsx", "proyectos_css", [
        row("proyectos_css", codigo_proyecto="A", pais_socio="BOL"),
        row("proyectos_css", codigo_proyecto="B", pais_socio="CHL"),
        row("proyectos_css", codigo_proyecto="C", pais_socio="THA", rol_peru="DOBLE"),
        row("proyectos_css", codigo_proyecto="D", pais_socio="MEX", rol_peru="RECEPTOR"),
    ])
    shipped = compute(data_dir)
    assert (shipped.loc["IOP.03.01", "valor"], shipped.loc["IOP.03.02", "valor"]) == (50.0, 25.0)
    (data_dir / "reference").mkdir()
    (data_dir / "reference" / "paises_alc.csv").write_text("iso3\nBOL\nMEX\n", encoding="utf-8")
    replaced = compute(data_dir)
    assert (replaced.loc["IOP.03.01", "valor"], replaced.loc["IOP.03.02", "valor"]) == (25.0, 50.0)


def test_every_formula_declares_columns_that_its_source_stages():
    """Only the declared columns are loaded from staging, so a formula reading another one would fail."""
    from cti_pipeline.contracts.declaracion import DECLARACION
    from cti_pipeline.contracts.registros import REGISTROS
    from cti_pipeline.contracts.reference import IndicatorCatalogs
    from cti_pipeline.contracts.tables import DECLARACIONES_DERIVED, staging_columns
    from cti_pipeline.domain.indicators import columns_read

    staged = {kind: set(staging_columns(spec)) for kind, spec in REGISTROS.items()}
    staged["declaraciones"] = set(staging_columns(DECLARACION, DECLARACIONES_DERIVED))
    catalogs = IndicatorCatalogs.load(None, 2023)
    assert all(registered.reads for registered in FORMULAS.values())
    for item in catalogs.indicadores.itertuples(index=False):
        assert item.codigo in FORMULAS
        assert set(FORMULAS[item.codigo].reads) <= staged[item.fuente], item.codigo
    assert columns_read(catalogs)["declaraciones"] == ["beneficiarios", "es_prioritaria", "monto_usd", "ods", "participa_empresa_privada"]
