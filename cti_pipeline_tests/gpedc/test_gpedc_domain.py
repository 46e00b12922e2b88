"""GPEDC consolidation, completeness and indicators on real workbooks written with openpyxl."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pandas as pd
import pytest

from cti_pipeline.domain import gpedc
from cti_pipeline_tests.gpedc.conftest import CONTACT_EMAILS, CONTACT_NAMES, answer, roster_rows, write_csv, write_workbook

BASE = dt.datetime(2024, 7, 1, 9, 0).timestamp()


def intervention(code: str, number: int, rng: random.Random, year: int = 2022, **overrides: object) -> dict[str, object]:
    objectives = rng.randint(1, 6)
    indicators = rng.randint(1, 10)
    planned = rng.random() < 0.7
    row = {
        "codigo_respondente": code, "codigo_intervencion": f"{code}-{number:02d}", "titulo": f"Proyecto {number}",
        "fecha_aprobacion": dt.date(year, rng.randint(1, 12), rng.randint(1, 28)), "monto_usd": round(rng.uniform(1e5, 5e6), 2),
        "objetivos_total": objectives, "objetivos_alineados": rng.randint(0, objectives), "indicadores_total": indicators,
        "indicadores_alineados": rng.randint(0, indicators), "indicadores_fuente_gobierno": rng.randint(0, indicators),
        "evaluacion_final_prevista": "SI" if planned else "NO", "evaluacion_con_gobierno": "SI" if planned and rng.random() < 0.5 else "NO",
    }
    row.update(overrides)
    return row


def flow(code: str, year: int, programado: float, desembolsado: float) -> dict[str, object]:
    return {"codigo_respondente": code, "anio": year, "programado_usd": programado, "desembolsado_usd": desembolsado}


# --- expectations computed from the rows written, independently of the code under test ----------


def pct(numerator: float, denominator: float) -> float | None:
    return None if denominator == 0 else 100.0 * numerator / denominator


def expected_indicators(partners: list[str], interventions: list[dict], flows: list[dict], budget: list[dict]) -> dict[tuple[str, str], float | None]:
    expected: dict[tuple[str, str], float | None] = {}
    pooled: dict[str, list[float]] = {}
    ods_values = []
    for code in partners:
        mine = [r for r in interventions if r["codigo_respondente"] == code and r["fecha_aprobacion"].year == 2022]
        sums = {k: sum(int(r[k]) for r in mine) for k in ("objetivos_total", "objetivos_alineados", "indicadores_total", "indicadores_alineados", "indicadores_fuente_gobierno")}
        parts = {
            "objetivos_alineados": (sums["objetivos_alineados"], sums["objetivos_total"]),
            "indicadores_alineados": (sums["indicadores_alineados"], sums["indicadores_total"]),
            "indicadores_fuente_gobierno": (sums["indicadores_fuente_gobierno"], sums["indicadores_total"]),
            "evaluaciones_con_gobierno": (
                sum(r["evaluacion_con_gobierno"] == "SI" for r in mine), sum(r["evaluacion_final_prevista"] == "SI" for r in mine)
            ),
        }
        d = sum(r["desembolsado_usd"] for r in flows if r["codigo_respondente"] == code and r["anio"] == 2022)
        p = sum(r["programado_usd"] for r in flows if r["codigo_respondente"] == code and r["anio"] == 2022)
        reg = sum(r["registrado_en_presupuesto_usd"] for r in budget if r["codigo_socio"] == code and r["anio"] == 2022)
        parts["previsibilidad_anual"] = (min(d, p), max(d, p))
        parts["en_presupuesto"] = (min(reg, p), max(reg, p))
        for name, (n, den) in parts.items():
            expected[(name, code)] = pct(n, den)
            pooled.setdefault(name, [0.0, 0.0])
            pooled[name][0] += n
            pooled[name][1] += den
        components = [pct(*parts[c]) for c in ("objetivos_alineados", "indicadores_alineados", "indicadores_fuente_gobierno")]
        defined = [c for c in components if c is not None]
        expected[("ods_17_15_1", code)] = sum(defined) / len(defined) if defined else None
        if defined:
            ods_values.append(sum(defined) / len(defined))
    for name, (n, den) in pooled.items():
        expected[(name, "TOTAL")] = pct(n, den)
    expected[("ods_17_15_1", "TOTAL")] = sum(ods_values) / len(ods_values) if ods_values else None
    return expected


# --- scenarios ------------------------------------------------------------------------------------


@pytest.fixture
def full_round(round_dir: Path):
    """A round where each completeness state, each quarantine rule of interest and each indicator case occurs."""
    rng = random.Random(7)
    write_csv(round_dir / "puntos_focales.csv", roster_rows(), mtime=BASE)
    interventions = {
        "SOC1": [intervention("SOC1", n, rng) for n in range(1, 6)] + [intervention("SOC1", 9, rng, year=2021)],
        # SOC2: no indicator at all (indicadores_total 0) and no planned evaluation → NULL ratios, not 0
        "SOC2": [
            intervention("SOC2", n, rng, indicadores_total=0, indicadores_alineados=0, indicadores_fuente_gobierno=0,
                         evaluacion_final_prevista="NO", evaluacion_con_gobierno="NO")
            for n in range(1, 4)
        ],
    }
    flows = [flow("SOC1", 2022, 1_000_000.0, 800_000.0), flow("SOC1", 2021, 500_000.0, 900_000.0), flow("SOC2", 2022, 300_000.0, 450_000.0)]
    budget = [
        {"codigo_socio": "SOC1", "anio": 2022, "registrado_en_presupuesto_usd": 1_250_000.0},
        {"codigo_socio": "SOC2", "anio": 2022, "registrado_en_presupuesto_usd": 100_000.0},
        {"codigo_socio": "SOC3", "anio": 2022, "registrado_en_presupuesto_usd": 70_000.0},
        {"codigo_socio": "SOC1", "anio": 2021, "registrado_en_presupuesto_usd": 9_999_999.0},
    ]
    write_workbook(
        round_dir / "Cuestionario SOC1.xlsx",
        {
            "Respuestas": [answer("SOC1", "B.1", "B1_1"), answer("SOC1", "B.1", "B1_2", None), answer("soc1", "b2", "B2_10.1", 75)],
            "intervenciones": interventions["SOC1"],
            "FLUJOS": [r for r in flows if r["codigo_respondente"] == "SOC1"],
        },
        mtime=BASE + 100,
    )
    write_workbook(
        round_dir / "soc2.xlsx",
        {
            "respuestas": [answer("SOC2", "B.1", f"B1_{i}") for i in range(1, 4)],
            "intervenciones": interventions["SOC2"],
            "flujos": [r for r in flows if r["codigo_respondente"] == "SOC2"],
        },
        mtime=BASE + 200,
    )
    # The government's budget sheet has no respondent column: it is GOB1's because its answers say so.
    write_workbook(
        round_dir / "gobierno.xlsx",
        {"respuestas": [answer("GOB1", "A.1", "A1_1"), answer("GOB1", "A.3", "A3_4", 40.5)], "presupuesto": budget},
        mtime=BASE + 300,
    )
    write_workbook(round_dir / "osc.xlsx", {"respuestas": [answer("OSC1", "C.1", "C_1", "SI", modulo=m) for m in (1, 2)]}, mtime=BASE + 400)
    validations = [
        {"codigo_respondente": "SOC1", "seccion": "B.1", "estado": "OBSERVADO", "fecha": "2024-11-05", "observacion": "Completar B1_2"},
        {"codigo_respondente": "SOC1", "seccion": "B.1", "estado": "VALIDADO", "fecha": "2024-11-20", "observacion": "Conforme"},
        {"codigo_respondente": "SOC1", "seccion": "B.2", "estado": "OBSERVADO", "fecha": "2024-11-21", "observacion": "Revisar"},
        # a later row with an earlier date does not win: the latest date counts
        {"codigo_respondente": "GOB1", "seccion": "A.1", "estado": "VALIDADO", "fecha": "2024-11-22", "observacion": None},
        {"codigo_respondente": "GOB1", "seccion": "A.1", "estado": "OBSERVADO", "fecha": "2024-11-02", "observacion": None},
    ]
    write_csv(round_dir / "validaciones.csv", validations, separator=",", encoding="utf-8", mtime=BASE + 500)
    return {
        "interventions": [r for rows in interventions.values() for r in rows],
        "flows": flows,
        "budget": budget,
        "partners": ["SOC1", "SOC2", "SOC3"],
    }


def test_completeness_states_from_answers_data_and_latest_validation(full_round, round_dir: Path, sections):
    result = gpedc.consolidate(round_dir, sections)
    tracker = gpedc.completitud(result.roster, sections, result.staged)
    state = {(r.codigo_respondente, r.seccion): r.estado for r in tracker.itertuples()}
    answered = {(r.codigo_respondente, r.seccion): r.preguntas_respondidas for r in tracker.itertuples()}

    assert state == {
        ("GOB1", "A.1"): "VALIDADO",  # latest fecha wins over row order
        ("GOB1", "A.3"): "RECIBIDO",  # answers + budget sheet
        ("SOC1", "B.1"): "VALIDADO",  # OBSERVADO then VALIDADO
        ("SOC1", "B.2"): "OBSERVADO",
        ("SOC1", "B.3"): "RECIBIDO",  # flujos sheet only
        ("SOC2", "B.1"): "RECIBIDO",
        ("SOC2", "B.2"): "RECIBIDO",  # roster spelled it ` b2 `
        ("SOC2", "B.3"): "RECIBIDO",
        ("SOC3", "B.1"): "PENDIENTE",
        ("SOC3", "B.2"): "PENDIENTE",
        ("SOC3", "B.3"): "PENDIENTE",
        ("OSC1", "C.1"): "RECIBIDO",
    }
    assert answered[("SOC1", "B.1")] == 1  # one blank answer is received but not answered
    assert answered[("SOC1", "B.2")] == 1  # `soc1` / `b2` normalised
    assert answered[("OSC1", "C.1")] == 2
    assert answered[("SOC3", "B.1")] == 0
    assert tracker.loc[tracker["estado"] == "PENDIENTE", "ultima_actualizacion"].isna().all()
    validated = tracker[(tracker["codigo_respondente"] == "GOB1") & (tracker["seccion"] == "A.1")].iloc[0]
    assert validated["ultima_actualizacion"] == pd.Timestamp("2024-11-22")
    assert set(tracker.columns) >= {"codigo_respondente", "entidad", "tipo_respondente", "seccion", "preguntas_respondidas", "estado", "ultima_actualizacion"}
    assert result.quarantined.empty, result.quarantined[["archivo", "regla", "mensaje"]].to_string()


def test_every_indicator_matches_an_independent_computation(full_round, round_dir: Path, sections):
    result = gpedc.consolidate(round_dir, sections)
    values = gpedc.indicadores(result.roster, result.staged["intervenciones"], result.staged["flujos"], result.staged["presupuesto"])
    expected = expected_indicators(full_round["partners"], full_round["interventions"], full_round["flows"], full_round["budget"])

    got = {(r.indicador, r.codigo_socio): (None if pd.isna(r.valor) else r.valor) for r in values.itertuples()}
    assert set(got) == set(expected)
    for key, value in expected.items():
        if value is None:
            assert got[key] is None, f"{key} should be NULL (zero denominator), got {got[key]}"
        else:
            assert got[key] == pytest.approx(value, abs=0.01), key
            assert got[key] == round(got[key], 2)
    # the cases the scenario was built for
    assert got[("indicadores_alineados", "SOC2")] is None and got[("evaluaciones_con_gobierno", "SOC2")] is None
    assert got[("ods_17_15_1", "SOC2")] == pytest.approx(expected[("objetivos_alineados", "SOC2")], abs=0.01)
    assert got[("previsibilidad_anual", "SOC3")] is None
    assert got[("en_presupuesto", "SOC3")] == 0.0  # registered 70,000 against nothing programmed
    assert got[("en_presupuesto", "SOC1")] == pytest.approx(100 * 1_000_000 / 1_250_000, abs=0.01)


def test_unknown_respondent_unassigned_section_and_broken_rows_are_quarantined_not_dropped(round_dir: Path, sections):
    write_csv(round_dir / "puntos_focales.csv", roster_rows(), mtime=BASE)
    rng = random.Random(3)
    write_workbook(round_dir / "desconocido.xlsx", {"respuestas": [answer("FONDO_X", "B.1", "B1_1"), answer("FONDO_X", "B.1", "B1_2")]})
    write_workbook(
        round_dir / "soc1.xlsx",
        {
            "respuestas": [
                answer("SOC1", "A.1", "A1_1"),  # not assigned to SOC1
                answer("SOC1", "B.1", "B1_1"),
                answer("SOC1", "B.1", "B1_1"),  # duplicate key
                answer("SOC1", "B.1", "B1_3", modulo=2),  # a module outside C.1
                answer("SOC1", "Z.9", "Z_1"),  # not a section
            ],
            "intervenciones": [
                intervention("SOC1", 1, rng, objetivos_total=2, objetivos_alineados=3),
                intervention("SOC1", 2, rng, evaluacion_final_prevista="NO", evaluacion_con_gobierno="SI"),
                intervention("SOC1", 3, rng, monto_usd=-5),
                intervention("SOC1", 4, rng),
            ],
        },
    )
    write_workbook(round_dir / "osc.xlsx", {"respuestas": [answer("OSC1", "C.1", "C_1", modulo=7)], "flujos": [flow("OSC1", 2022, 1.0, 1.0)]})
    write_workbook(
        round_dir / "gob.xlsx",
        {"respuestas": [answer("GOB1", "A.3", "A3_1")], "presupuesto": [{"codigo_socio": "NADIE", "anio": 2022, "registrado_en_presupuesto_usd": 5.0}]},
    )
    # a budget sheet alone: nobody to attribute it to, unless it names its respondent itself
    write_workbook(round_dir / "solo_presupuesto.xlsx", {"presupuesto": [{"codigo_socio": "SOC2", "anio": 2022, "registrado_en_presupuesto_usd": 5.0}]})
    write_workbook(
        round_dir / "presupuesto_con_codigo.xlsx",
        {"presupuesto": [{"codigo_respondente": "SOC1", "codigo_socio": "SOC3", "anio": 2022, "registrado_en_presupuesto_usd": 7.0}]},
    )

    write_csv(
        round_dir / "validaciones.csv",
        [
            {"codigo_respondente": "SOC1", "seccion": "A.1", "estado": "VALIDADO", "fecha": "2024-11-01", "observacion": None},
            {"codigo_respondente": "NADIE", "seccion": "B.1", "estado": "VALIDADO", "fecha": "2024-11-01"},
            {"codigo_respondente": "SOC1", "seccion": "B.1", "estado": "APROBADO", "fecha": "01/11/2024"},
            {"codigo_respondente": "SOC1", "seccion": "B.1", "estado": "observado", "fecha": "02/11/2024"},
            {"codigo_respondente": "SOC1", "seccion": "B.1", "estado": "VALIDADO", "fecha": "03/11/2024", "observacion": "x" * 32_768},
        ],
    )
    result = gpedc.consolidate(round_dir, sections)
    q = result.quarantined
    rules = set(zip(q["archivo"], q["regla"], strict=True))
    assert {("validaciones.csv", r) for r in ("seccion_no_asignada", "respondente_desconocido", "valor_no_permitido")} <= rules
    assert result.staged["validaciones"]["estado"].tolist() == ["OBSERVADO"]
    assert ("validaciones.csv", "celda_demasiado_larga") in rules  # over Excel's cell limit (a workbook cannot hold it)
    assert ("desconocido.xlsx", "respondente_desconocido") in rules
    assert len(q[(q["archivo"] == "desconocido.xlsx")]) == 2
    assert ("soc1.xlsx", "seccion_no_asignada") in rules
    assert ("soc1.xlsx", "clave_duplicada") in rules
    assert ("soc1.xlsx", "modulo_invalido") in rules
    assert ("soc1.xlsx", "valor_no_permitido") in rules
    assert ("soc1.xlsx", "parte_mayor_que_total") in rules
    assert ("soc1.xlsx", "evaluacion_sin_prevista") in rules
    assert ("soc1.xlsx", "negativo") in rules
    assert ("osc.xlsx", "modulo_invalido") in rules
    assert ("osc.xlsx", "seccion_no_asignada") in rules  # flujos (B.3) from an OSC
    assert ("gob.xlsx", "socio_desconocido") in rules
    assert ("solo_presupuesto.xlsx", "respondente_no_identificado") in rules
    assert ("presupuesto_con_codigo.xlsx", "seccion_no_asignada") in rules  # its own column names SOC1, who lacks A.3
    assert result.staged["presupuesto"].empty
    assert set(q["origen"]) == {"gpedc_respuestas", "gpedc_intervenciones", "gpedc_flujos", "gpedc_presupuesto", "gpedc_validaciones"}
    assert (q["anio"] == 2022).all()

    unassigned = q[(q["regla"] == "seccion_no_asignada") & (q["archivo"] == "soc1.xlsx")].iloc[0]
    assert "SOC1" in unassigned["mensaje"] and "respuestas" in unassigned["mensaje"] and "A.1" in unassigned["mensaje"]
    part = q[q["regla"] == "parte_mayor_que_total"].iloc[0]
    assert part["columna"] == "objetivos_alineados" and "(2)" in part["mensaje"] and "intervenciones" in part["mensaje"]
    unknown = q[q["regla"] == "respondente_desconocido"].iloc[0]
    assert "FONDO_X" in unknown["mensaje"] and unknown["hoja"] == "respuestas" and unknown["fila"] == 2

    # nothing lost: per file and sheet, rows read = staged + distinct quarantined rows (+ superseded)
    counts = result.file_counts()
    quarantined_rows = q.assign(hoja=q["hoja"].fillna("")).drop_duplicates(["archivo", "hoja", "fila"]).groupby(["archivo", "hoja"]).size()
    for row in counts.itertuples():
        assert row.leidas == row.staged + row.quarantined + row.superseded
        assert row.quarantined == quarantined_rows.get((row.archivo, row.hoja), 0)
    assert counts.set_index(["archivo", "hoja"]).loc[("soc1.xlsx", "respuestas"), "staged"] == 0
    assert list(result.staged["intervenciones"]["codigo_intervencion"]) == ["SOC1-04"]


def test_later_workbook_supersedes_a_respondents_section_and_bad_files_are_rejected_whole(round_dir: Path, sections):
    write_workbook(round_dir / "puntos_focales.xlsx", {"Puntos focales": roster_rows()}, mtime=BASE)  # first sheet fallback
    write_workbook(round_dir / "soc2_v1.xlsx", {"respuestas": [answer("SOC2", "B.1", "B1_1", "NO"), answer("SOC2", "B.3", "B3_1", 10)]}, mtime=BASE + 10)
    write_workbook(round_dir / "soc2_v2.xlsx", {"respuestas": [answer("SOC2", "B.1", "B1_1", "SI")]}, mtime=BASE + 20)
    write_workbook(round_dir / "notas.xlsx", {"Hoja1": [{"a": 1}]})
    write_workbook(
        round_dir / "soc1_incompleto.xlsx",
        {"respuestas": [answer("SOC1", "B.1", "B1_1")], "intervenciones": [{"codigo_respondente": "SOC1", "titulo": "sin código"}]},
    )
    write_csv(round_dir / "respuestas_soc3.csv", [answer("SOC3", "B.1", "B1_1")])

    result = gpedc.consolidate(round_dir, sections)
    answers = result.staged["respuestas"]
    b1 = answers[(answers["codigo_respondente"] == "SOC2") & (answers["seccion"] == "B.1")]
    assert list(b1["respuesta"]) == ["SI"] and list(b1["archivo"]) == ["soc2_v2.xlsx"]
    assert "soc2_v1.xlsx" in set(answers["archivo"])  # its B.3 answer is not superseded by v2
    fates = result.filas.set_index(["archivo", "fila"])["estado_fila"]
    assert fates[("soc2_v1.xlsx", 2)] == "superseded" and fates[("soc2_v1.xlsx", 3)] == "staged"

    rejected = dict(zip(result.rejected_files["archivo"], result.rejected_files["motivo"], strict=True))
    assert set(rejected) == {"notas.xlsx", "soc1_incompleto.xlsx", "respuestas_soc3.csv"}
    assert "intervenciones" in rejected["soc1_incompleto.xlsx"] and "codigo_intervencion" in rejected["soc1_incompleto.xlsx"]
    assert "SOC1" not in set(answers["codigo_respondente"])  # the readable sheet of a rejected workbook is not staged
    assert (result.rejected_files["anio"] == 2022).all()


def test_without_a_roster_nothing_is_read_and_the_marts_are_empty(round_dir: Path, sections):
    write_workbook(round_dir / "soc1.xlsx", {"respuestas": [answer("SOC1", "B.1", "B1_1")]})
    result = gpedc.consolidate(round_dir, sections)
    assert not result.roster_found
    assert any("roster" in w for w in result.warnings)
    assert result.quarantined.empty and result.filas.empty
    assert gpedc.completitud(result.roster, sections, result.staged).empty
    assert gpedc.indicadores(result.roster, pd.DataFrame(), pd.DataFrame(), pd.DataFrame()).empty


def test_roster_keeps_only_its_four_columns_and_rejects_bad_rows(round_dir: Path, sections):
    rows = roster_rows() + [
        {"codigo_respondente": "GOB1", "tipo_respondente": "GOBIERNO", "entidad": "Otra", "secciones": "A.2"},
        {"codigo_respondente": "X9", "tipo_respondente": "EMPRESA", "entidad": "Empresa", "secciones": "A.1;Q.7"},
    ]
    write_csv(round_dir / "puntos_focales.csv", rows)
    result = gpedc.consolidate(round_dir, sections)
    assert list(result.roster.columns) == ["codigo_respondente", "tipo_respondente", "entidad", "secciones"]
    assert "GOB1" not in set(result.roster["codigo_respondente"])  # duplicated code: both rows quarantined
    assert set(result.quarantined["regla"]) == {"clave_duplicada", "valor_no_permitido"}
    assert set(result.quarantined["origen"]) == {"gpedc_puntos_focales"}
    assert result.roster.loc[result.roster["codigo_respondente"] == "SOC2", "secciones"].item() == "B.1;B.2;B.3"
    text = result.roster.to_csv() + result.quarantined.to_csv() + result.filas.to_csv() + "\n".join(result.warnings)
    for personal in CONTACT_NAMES + CONTACT_EMAILS:
        assert personal not in text


def test_values_are_rounded_half_up_like_the_pncti_indicators():
    """d = 1,000,000 of p = 32,000,000 is exactly 3.125 %: 3.13 half up (Python's round would store 3.12)."""
    from cti_pipeline.contracts.gpedc import ANIO_REFERENCIA, SOCIO

    roster = pd.DataFrame({"codigo_respondente": ["SOC1"], "tipo_respondente": [SOCIO]})
    flujos = pd.DataFrame({"anio": [ANIO_REFERENCIA], "codigo_respondente": ["SOC1"],
                           "desembolsado_usd": [1_000_000.0], "programado_usd": [32_000_000.0]})
    values = gpedc.indicadores(roster, pd.DataFrame(), flujos, pd.DataFrame()).set_index(["indicador", "codigo_socio"])["valor"]
    assert values[("previsibilidad_anual", "SOC1")] == 3.13
    assert values[("previsibilidad_anual", "TOTAL")] == 3.13
