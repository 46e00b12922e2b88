"""The registros multi-asset and the PNCTI marts materialised for real into a temporary DuckDB file."""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest

from cti_pipeline.defs.declaraciones import declaraciones
from cti_pipeline.defs.pncti import cti_ejecucion_mart, pncti_indicadores
from cti_pipeline.defs.registros import registros
from cti_pipeline.domain.registros import canonical_person_id
from cti_pipeline_tests.factories import materialize_year, declaracion_row, valid_ruc, write_csv, write_xlsx
from cti_pipeline_tests.pncti.builders import ANIO, land, row

ASSETS = [declaraciones, registros, pncti_indicadores, cti_ejecucion_mart]
DNIS = ["45678912", "01234567", "87654321", "11223344"]


def materialize(resources, year: int = ANIO) -> dg.ExecuteInProcessResult:
    return materialize_year(ASSETS, resources, str(year))


def land_year(data_dir):
    land(data_dir, "capacitaciones_a.xlsx", "capacitaciones", [
        row("capacitaciones", participante_id=DNIS[0], nota=16),
        row("capacitaciones", participante_id=DNIS[1], nota=11),
        row("capacitaciones", participante_id=DNIS[2], nota=25),  # quarantined: nota out of range
    ])
    land(data_dir, "capacitaciones_b.csv", "capacitaciones", [
        row("capacitaciones", participante_id=DNIS[1].lstrip("0"), nota=14.5),
        row("capacitaciones", participante_id=DNIS[3], programa="CSS", es_uocti="NO"),
    ], encoding="cp1252", separator=";", decimal_comma=True)
    land(data_dir, "compromisos.csv", "compromisos", [row("compromisos", compromiso_id=f"C{i}", estado=e)
                                                     for i, e in enumerate(("CUMPLIDO", "CUMPLIDO", "PENDIENTE", "ANULADO"))])
    land(data_dir, "proyectos_css.xlsx", "proyectos_css", [row("proyectos_css", codigo_proyecto=c) for c in ("A", "B", "A")])
    (data_dir / "landing" / "registros" / str(ANIO) / "becas_postulantes.csv").write_text("anio,beca\n2024,x\n", encoding="utf-8")
    year = data_dir / "landing" / "declaraciones" / str(ANIO)
    write_xlsx(year / "a.xlsx", [
        declaracion_row(codigo_intervencion="1", departamento="08", monto_ejecutado=1000.0, beneficiarios=100),
        declaracion_row(codigo_intervencion="2", departamento="08", monto_ejecutado=500.0, beneficiarios=None),
        declaracion_row(codigo_intervencion="3", departamento="15", area_prioritaria="AP99", monto_ejecutado=37570.0, moneda="PEN"),
    ])
    write_csv(year / "b.csv", [declaracion_row(ruc_entidad=valid_ruc("2060000001"), codigo_intervencion="1", monto_ejecutado=10.0)])


@pytest.mark.slow
def test_registros_and_marts_materialise_with_their_checks(data_dir, resources, warehouse):
    land_year(data_dir)
    result = materialize(resources)
    assert result.success

    checks = {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}
    assert checks[("raw/registros", "filas_conciliadas")].passed
    assert checks[("staging/capacitaciones", "sin_datos_personales")].passed
    for kind in ("accesos_web", "espacios_coordinacion", "compromisos", "asistencia_tecnica", "proyectos_css", "iniciativas_internacionales"):
        assert checks[(f"staging/{kind}", "sin_claves_duplicadas")].passed
    reconciliation = checks[("marts/pncti_indicadores", "coincide_con_reporte_publicado")]
    assert reconciliation.passed  # nothing was published for 2024

    metadata = {m.asset_key.to_user_string(): m.metadata for m in (e.materialization for e in result.get_asset_materialization_events())}
    assert metadata["staging/capacitaciones"]["dagster/row_count"].value == 4
    assert metadata["staging/proyectos_css"]["dagster/row_count"].value == 1  # both "A" rows quarantined
    assert metadata["quarantine/registros"]["archivos_rechazados"].value == 1
    preview = metadata["marts/pncti_indicadores"]["indicadores"].value
    assert "| código | nombre | valor | logro esperado | avance | estado |" in preview
    assert "ISS.01.02.01.02" in preview and "ND" in preview

    conn = warehouse()
    indicators = dict(conn.execute("SELECT indicador, valor FROM marts.pncti_indicadores WHERE anio = ?", [ANIO]).fetchall())
    assert len(indicators) == 18
    assert indicators["ISS.01.02.01.01"] == 2  # two UOCTI people; DNIS[1] twice (one lost its leading zero)
    assert indicators["ISS.01.02.01.02"] == 100.0  # both have a best grade ≥ 14
    assert indicators["ISS.03.01.01.01"] == 1
    assert indicators["IOP.02.01"] == pytest.approx(66.67)
    assert indicators["IOP.03.01"] == 100.0  # only "B" (OFERENTE, BOL) is staged
    states = dict(conn.execute("SELECT indicador, estado FROM marts.pncti_indicadores").fetchall())
    assert states["IOP.01.01"] == "DISPONIBLE"

    rejected = conn.execute("SELECT origen, archivo FROM quarantine.archivos_rechazados").fetchall()
    assert rejected == [("registros", "becas_postulantes.csv")]
    origins = {r[0] for r in conn.execute("SELECT DISTINCT origen FROM quarantine.filas_rechazadas").fetchall()}
    assert origins == {"capacitaciones", "compromisos", "proyectos_css"}
    reconciled = conn.execute(
        "SELECT tipo_registro, archivo, count(*) FROM raw.registros GROUP BY ALL ORDER BY 1, 2").fetchall()
    assert reconciled == [("capacitaciones", "capacitaciones_a.xlsx", 3), ("capacitaciones", "capacitaciones_b.csv", 2),
                          ("compromisos", "compromisos.csv", 4), ("proyectos_css", "proyectos_css.xlsx", 3)]


@pytest.mark.slow
def test_no_clear_participant_id_anywhere_in_the_warehouse_metadata_or_logs(data_dir, resources, warehouse):
    land_year(data_dir)
    result = materialize(resources)
    assert result.success
    clear = set(DNIS) | {d.lstrip("0") for d in DNIS} | set(canonical_person_id(pd.Series(DNIS)))

    conn = warehouse()
    tables = conn.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
    assert ("staging", "capacitaciones") in tables and ("raw", "registros") in tables
    found = []
    for schema, table in tables:
        for (column,) in conn.execute(f'SELECT column_name FROM (DESCRIBE "{schema}"."{table}")').fetchall():
            values = conn.execute(f'SELECT DISTINCT CAST("{column}" AS VARCHAR) FROM "{schema}"."{table}"').fetchall()
            found += [(schema, table, column, v) for (v,) in values if v is not None and any(dni in v for dni in clear)]
    assert found == []
    pseudonyms = {v for (v,) in conn.execute("SELECT participante_id FROM staging.capacitaciones").fetchall()}
    assert all(len(p) == 64 for p in pseudonyms) and len(pseudonyms) == 3
    masked = conn.execute("SELECT valor FROM quarantine.filas_rechazadas WHERE origen = 'capacitaciones'").fetchall()
    assert masked == [("25",)]
    assert conn.execute("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'marts' "
                        "AND column_name = 'participante_id'").fetchone()[0] == 0

    texts = [str(e.materialization.metadata) for e in result.get_asset_materialization_events()]
    texts += [str(e.metadata) for e in result.get_asset_check_evaluations()]
    texts += [e.message or "" for e in result.all_events]
    assert not [t for t in texts if any(dni in t for dni in clear)]


@pytest.mark.slow
def test_cti_ejecucion_adds_up_the_staged_declarations(data_dir, resources, warehouse):
    land_year(data_dir)
    assert materialize(resources).success
    conn = warehouse()
    rows = conn.execute(
        "SELECT departamento, area_prioritaria, monto_usd, intervenciones, beneficiarios, entidades FROM marts.cti_ejecucion "
        "WHERE anio = ? ORDER BY departamento, area_prioritaria", [ANIO]).fetchall()
    assert rows[0][:2] == ("08", "AP01")
    assert rows[0][2] == pytest.approx(1000.0 + 500.0 + 10.0)
    assert rows[0][3:] == (3, 100 + 250, 2)  # the CSV row has the default 250 beneficiaries; a blank counts 0
    assert rows[1][:2] == ("15", "AP99")
    assert rows[1][2] == pytest.approx(37570.0 / 3.757)
    assert rows[1][3:] == (1, 250, 1)
    total = conn.execute("SELECT sum(monto_usd) FROM staging.declaraciones WHERE anio = ?", [ANIO]).fetchone()[0]
    assert sum(r[2] for r in rows) == pytest.approx(total)


@pytest.mark.slow
def test_a_disagreement_with_the_published_report_is_a_warning_with_both_numbers(data_dir, resources, warehouse):
    land(data_dir, "compromisos.csv", "compromisos", [row("compromisos", compromiso_id=f"C{i}", estado=e)
                                                     for i, e in enumerate(("CUMPLIDO", "PENDIENTE", "PENDIENTE"))])
    land(data_dir, "iniciativas_internacionales.csv", "iniciativas_internacionales", [row("iniciativas_internacionales")])
    reference = data_dir / "reference"
    reference.mkdir()
    (reference / f"reportado_{ANIO}.csv").write_text(
        "indicador,anio,valor_reportado,avance_reportado_pct\nIOP.02.01,2024,35,\nIOP.04.01,2024,100,\n", encoding="utf-8")
    result = materialize(resources)
    assert result.success  # a warning, not a failed run

    (check,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "coincide_con_reporte_publicado"]
    assert not check.passed
    assert check.severity == dg.AssetCheckSeverity.WARN
    table = check.metadata["discrepancias"].value
    assert "IOP.02.01" in table and "33.33" in table and "35" in table
    assert "IOP.04.01" not in table
    assert "IOP.02.01: 33.33 calculado, 35 publicado" in check.description  # shown on the check without opening it
    conn = warehouse()
    flags = dict(conn.execute("SELECT indicador, coincide_reportado FROM marts.pncti_indicadores").fetchall())
    assert flags["IOP.02.01"] is False and flags["IOP.04.01"] is True and flags["ISS.01.02.01.01"] is None


@pytest.mark.slow
def test_rematerialising_a_year_replaces_its_rows_only(data_dir, resources, warehouse):
    land(data_dir, "compromisos.csv", "compromisos", [row("compromisos", anio=2023, compromiso_id="X", estado="PENDIENTE")], anio=2023)
    land(data_dir, "compromisos.csv", "compromisos", [row("compromisos")])
    assert materialize(resources, 2023).success
    assert materialize(resources, ANIO).success
    land(data_dir, "compromisos.csv", "compromisos", [row("compromisos", estado="PENDIENTE"), row("compromisos", compromiso_id="C-9")])
    assert materialize(resources, ANIO).success

    conn = warehouse()
    values = conn.execute("SELECT anio, valor FROM marts.pncti_indicadores WHERE indicador = 'IOP.02.01' ORDER BY anio").fetchall()
    assert values == [(2023, 0.0), (ANIO, 50.0)]
    assert conn.execute("SELECT anio, count(*) FROM staging.compromisos GROUP BY anio ORDER BY anio").fetchall() == [(2023, 1), (ANIO, 2)]
    assert conn.execute("SELECT count(*) FROM marts.pncti_indicadores").fetchone()[0] == 36


def test_the_marts_depend_on_every_staging_table_and_sit_in_the_yearly_job(defs):
    graph = defs.resolve_asset_graph()
    indicators = dg.AssetKey(["marts", "pncti_indicadores"])
    parents = {key.to_user_string() for key in graph.get(indicators).parent_keys}
    assert parents == {"staging/declaraciones", "staging/capacitaciones", "staging/accesos_web", "staging/espacios_coordinacion",
                       "staging/compromisos", "staging/asistencia_tecnica", "staging/proyectos_css",
                       "staging/iniciativas_internacionales", "marts/declaracion_cumplimiento"}  # its coverage
    assert graph.get(indicators).group_name == "pncti"
    assert graph.get(dg.AssetKey(["staging", "capacitaciones"])).group_name == "registros"
    job_keys = defs.resolve_job_def("pncti_anual_job").asset_layer.asset_graph.get_all_asset_keys()
    assert {indicators, dg.AssetKey(["marts", "cti_ejecucion"]), dg.AssetKey(["raw", "registros"])} <= set(job_keys)
