"""The GPEDC Dagster assets, jobs, export and results report, run for real into a temporary DuckDB and exports folder."""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
from openpyxl import load_workbook

from cti_pipeline_tests.gpedc.conftest import (
    BASE,
    CONTACT_EMAILS,
    CONTACT_NAMES,
    answer,
    flow,
    intervention,
    partner_row,
    write_csv,
    write_roster,
    write_workbook,
)

pytestmark = pytest.mark.slow

EXPORT_NAME = "gpedc_ronda4_PER.xlsx"
TYPED_EMAIL = "alguien@ministerio.example.gob.pe"


def run(defs: dg.Definitions, job_name: str = "gpedc_job") -> dg.ExecuteInProcessResult:
    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def(job_name).execute_in_process(instance=instance, raise_on_error=False)
    result.log_messages = [entry.user_message for entry in instance.all_logs(result.run_id)]  # every log line, events or not
    return result


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {
        e.event_specific_data.check_name: e.event_specific_data.passed
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }


def metadata_of(result: dg.ExecuteInProcessResult, key: list[str]) -> dict:
    return next(
        e.event_specific_data.materialization.metadata
        for e in result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION" and e.asset_key == dg.AssetKey(key)
    )


def all_event_text(result: dg.ExecuteInProcessResult) -> str:
    """Every log message and every metadata value the run recorded, as text."""
    parts = list(result.log_messages)
    for event in result.all_events:
        parts.append(event.message or "")
        data = event.event_specific_data
        for holder in (getattr(data, "materialization", None), data):
            metadata = getattr(holder, "metadata", None)
            if metadata:
                parts.extend(f"{k}={v}" for k, v in metadata.items())
    return "\n".join(parts)


def warehouse_text(path: Path) -> str:
    with duckdb.connect(str(path), read_only=True) as conn:
        tables = conn.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
        return "\n".join(conn.execute(f'SELECT * FROM "{s}"."{t}"').df().to_csv() for s, t in tables)


def workbook_text(path: Path) -> tuple[str, list]:
    workbook = load_workbook(path)
    cells = [c for sheet in workbook.worksheets for row in sheet.iter_rows() for c in row]
    workbook.close()
    return "\n".join(str(c.value) for c in cells if c.value is not None), cells


@pytest.fixture
def live_round(round_dir: Path) -> Path:
    write_roster(round_dir)
    write_workbook(round_dir / "soc1.xlsx", {
        "respuestas": [
            answer("SOC1", "B.1", "B1_1", "=SUMA(A1)"),
            answer("SOC1", "B.1", "B1_3", "-5 %", comentario=f"Escribir a {TYPED_EMAIL}"),
            answer("SOC1", "B.1", "B1_2", "Sí"), answer("SOC1", "B.1", "B1_4", "tal vez"), answer("SOC1", "B.1", "B1_9", "SI"),
        ],
        "intervenciones": [intervention("SOC1", 1, b2_6="PLAN_NACIONAL", b2_10=4, b2_10_1=3, b2_10_2=1),
                           {**intervention("SOC1", 2, b2_6="NINGUNO", b2_10=2, b2_10_1=1), "titulo": "=HYPERLINK(\"x\")"}],
        "flujos": [flow("SOC1", b3_2=80.0, b3_3=100.0)],
    }, mtime=BASE + 10)
    write_workbook(round_dir / "gob.xlsx", {"respuestas": [answer("GOB1", "A.1", "A1_2")],
                                            "socios": [partner_row("SOC1", a3_1="SI", a3_4=50.0)]}, mtime=BASE + 11)
    write_workbook(round_dir / "intruso.xlsx", {"respuestas": [answer("INTRUSO", "B.1", "B1_2")]}, mtime=BASE + 12)
    write_workbook(round_dir / "vacio.xlsx", {"respuestas": []}, headers={"respuestas": ["codigo_respondente", "seccion", "codigo_pregunta"]},
                   mtime=BASE + 13)
    (round_dir / "roto.xlsx").write_bytes(b"no es un libro")
    write_csv(round_dir / "validaciones.csv", [
        {"codigo_respondente": "SOC1", "seccion": "B.1", "estado": "OBSERVADO", "fecha": "2024-11-03", "observacion": "Aclarar B1_1"}],
        separator=",", mtime=BASE + 14)
    return round_dir


def test_gpedc_job_materialises_marts_checks_ledger_and_a_formula_free_export_without_personal_data(defs, live_round, settings, warehouse):
    result = run(defs)
    assert result.success
    checks = check_results(result)
    assert checks and all(checks.values()), checks
    assert {"filas_conciliadas", "sin_claves_duplicadas", "puntos_focales_sin_contactos", "lista_de_puntos_focales_utilizable",
            "una_fila_por_seccion_asignada", "valores_entre_0_y_100", "una_fila_por_indicador_y_socio", "sin_formulas",
            "sin_correos"} <= set(checks)

    conn = warehouse()
    tracker = conn.execute("SELECT * FROM marts.gpedc_completitud").df().set_index(["codigo_respondente", "seccion"])
    assert len(tracker) == 15  # GOB1 3, GOB2 1, SOC1-3 3 each, OSC1 1, APCI 1
    assert tracker.loc[("SOC1", "B.1"), ["preguntas_esperadas", "preguntas_respondidas", "estado"]].tolist() == [9, 3, "OBSERVADO"]
    assert tracker.loc[("SOC1", "B.2"), ["intervenciones", "estado"]].tolist() == [2, "RECIBIDO"]
    assert tracker.loc[("SOC3", "B.1"), "estado"] == "PENDIENTE" and pd.isna(tracker.loc[("APCI", "CSS"), "preguntas_esperadas"])
    quarantine = conn.execute("SELECT archivo, regla, mensaje FROM quarantine.filas_rechazadas WHERE origen LIKE 'gpedc_%' ORDER BY 1, 2").df()
    assert quarantine[["archivo", "regla"]].values.tolist() == [
        ["intruso.xlsx", "respondente_desconocido"], ["soc1.xlsx", "pregunta_desconocida"], ["soc1.xlsx", "respuesta_invalida"]]
    indicators = conn.execute("SELECT * FROM marts.gpedc_indicadores").df().set_index(["indicador", "codigo_socio"])
    assert indicators.loc[("2.2.1.O", "SOC1"), "valor"] == 50.0 and indicators.loc[("2.2.1.R", "SOC1"), "valor"] == 66.67
    assert indicators.loc[("2.4.1.1", "SOC1"), "valor"] == 80.0 and indicators.loc[("1.2.2", "SOC1"), "valor"] == 50.0
    assert pd.isna(indicators.loc[("2.4.1.1", "SOC2"), "valor"]) and "Sin B3_2 ni B3_3" in indicators.loc[("2.4.1.1", "SOC2"), "nota"]
    assert list(conn.execute("DESCRIBE staging.gpedc_puntos_focales").df()["column_name"]) == [
        "codigo_respondente", "tipo_respondente", "entidad", "secciones", "archivo", "fila"]

    # meta.archivos: one row per file of the folder, with its state and its rows accounted for
    files = conn.execute("SELECT * FROM meta.archivos WHERE origen = 'gpedc' ORDER BY archivo").df().set_index("archivo")
    assert files["estado_archivo"].to_dict() == {
        "gob.xlsx": "LEIDO", "intruso.xlsx": "LEIDO", "puntos_focales.csv": "LEIDO", "roto.xlsx": "RECHAZADO", "soc1.xlsx": "LEIDO",
        "vacio.xlsx": "SIN_FILAS", "validaciones.csv": "LEIDO"}
    assert files.loc["soc1.xlsx", ["filas_leidas", "filas_en_staging", "filas_en_cuarentena", "filas_reemplazadas"]].tolist() == [8, 6, 2, 0]
    assert files.loc["soc1.xlsx", "hoja"] == "respuestas, intervenciones, flujos" and (files["anio"] == 2022).all()
    assert conn.execute("SELECT count(*) FROM meta.contenidos WHERE origen = 'gpedc'").fetchone()[0] == 6

    # no contact detail anywhere: warehouse (every schema), run logs and metadata
    stored, recorded = warehouse_text(settings.warehouse), all_event_text(result)
    for personal in CONTACT_NAMES + CONTACT_EMAILS:
        assert personal not in stored and personal not in recorded, personal

    # the export: every sheet, no formula cell, no personal data, validation state and description beside each answer
    text, cells = workbook_text(settings.paths.exports_dir / EXPORT_NAME)
    workbook = load_workbook(settings.paths.exports_dir / EXPORT_NAME)
    assert workbook.sheetnames == ["A.1", "A.2", "A.3", "A.4", "A.5", "B.1", "B.2", "B.3", "C.1", "CSS", "intervenciones", "flujos",
                                   "socios", "pendientes", "completitud", "indicadores"]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    for personal in CONTACT_NAMES + CONTACT_EMAILS + (TYPED_EMAIL,):
        assert personal not in text, personal
    rows = list(workbook["B.1"].iter_rows(values_only=True))
    by_item = {r[3]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert by_item["B1_1"]["respuesta"] == "=SUMA(A1)" and by_item["B1_3"]["respuesta"] == "-5 %" and by_item["B1_2"]["respuesta"] == "SI"
    assert by_item["B1_1"]["estado_validacion"] == "OBSERVADO" and by_item["B1_1"]["observacion_validacion"] == "Aclarar B1_1"
    pending = {(r[0], r[5]) for r in workbook["pendientes"].iter_rows(min_row=2, values_only=True)}
    assert ("SOC1", "B1_4") in pending and ("SOC1", "B3_5") in pending and ("SOC1", "B1_1") not in pending
    assert "=HYPERLINK(\"x\")" in [r[3] for r in workbook["intervenciones"].iter_rows(values_only=True)]
    # the UI preview of the tracker lists what each entity owes
    seguimiento = metadata_of(result, ["marts", "gpedc_completitud"])["seguimiento"].value
    assert "**Agencia Tres** (SOC3, SOCIO_DESARROLLO)" in seguimiento and "B1_4" in seguimiento


def test_the_results_report_shows_the_marts_values_participation_pending_and_no_personal_data(defs, live_round, settings, warehouse):
    from docx import Document

    assert run(defs).success
    conn = warehouse()
    indicators = conn.execute("SELECT indicador, codigo_socio, valor FROM marts.gpedc_indicadores").df()
    document = Document(str(settings.paths.exports_dir / "gpedc_resultados_ronda4.docx"))
    tables = [[[c.text for c in row.cells] for row in table.rows] for table in document.tables]
    by_header = {}
    for table in tables:
        by_header.setdefault(tuple(table[0]), []).append(table)

    def shown(value: float) -> str:
        return "ND" if pd.isna(value) else f"{value:.2f}".rstrip("0").rstrip(".") + " %"

    mart = {(r.indicador, r.codigo_socio): shown(r.valor) for r in indicators.itertuples()}
    dimension_rows = [row for table in by_header[("Indicador", "Qué mide", "Valor (TOTAL)", "Método", "Verificado")] for row in table[1:]]
    assert {row[0]: row[2] for row in dimension_rows} == {k[0]: v for k, v in mart.items() if k[1] == "TOTAL"}
    partner_tables = by_header[("Socio para el desarrollo", "Valor", "Numerador", "Denominador")]
    assert partner_tables and all(table[-1][0] == "TOTAL" and len(table) == 5 for table in partner_tables)  # 3 partners + TOTAL
    assert len(document.inline_shapes) == len(partner_tables)  # one chart per partner-level indicator with values
    pending = by_header[("Entidad", "Sección", "Estado", "Ítems pendientes")][0]
    assert ["Agencia Tres", "B.3", "Pendiente", "B3_2, B3_3, B3_5, B3_6, B3_7, B3_8"] in pending
    page = (settings.paths.exports_dir / "gpedc_resultados_ronda4.html").read_text(encoding="utf-8")
    words = page + "\n".join(p.text for p in document.paragraphs) + str(tables)
    for personal in CONTACT_NAMES + CONTACT_EMAILS:
        assert personal not in words, personal


def test_without_a_roster_every_gpedc_asset_materialises_empty_with_a_warning(defs, round_dir, settings, warehouse):
    write_workbook(round_dir / "soc1.xlsx", {"respuestas": [answer("SOC1", "B.1", "B1_1")]})
    result = run(defs)
    assert result.success
    assert all(check_results(result).values())
    assert any("no focal-point roster" in message for message in result.log_messages)
    conn = warehouse()
    for table in ("marts.gpedc_completitud", "marts.gpedc_indicadores", "staging.gpedc_respuestas"):
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
    assert (settings.paths.exports_dir / EXPORT_NAME).is_file()
    assert conn.execute("SELECT estado_archivo FROM meta.archivos WHERE archivo = 'soc1.xlsx'").fetchone()[0] == "RECHAZADO"


def test_a_broken_roster_never_replaces_the_last_good_round_and_the_run_says_so(defs, live_round, settings, warehouse):
    assert run(defs).success
    with duckdb.connect(str(settings.warehouse), read_only=True) as conn:
        before = {t: conn.execute(f"SELECT * FROM {t} ORDER BY ALL").df() for t in
                  ("marts.gpedc_completitud", "marts.gpedc_indicadores", "staging.gpedc_respuestas", "meta.archivos")}
    export_before, _ = workbook_text(settings.paths.exports_dir / EXPORT_NAME)
    (live_round / "puntos_focales.csv").write_bytes(b"\x00\x01 no es un CSV \xff\xfe")  # replaced in place by a broken file
    write_workbook(live_round / "soc3.xlsx", {"respuestas": [answer("SOC3", "B.1", "B1_2")]})
    result = run(defs)
    assert result.success
    checks = check_results(result)
    assert checks.pop("lista_de_puntos_focales_utilizable") is False and all(checks.values()), checks
    assert any("the last good round stays published" in message for message in result.log_messages)
    assert metadata_of(result, ["staging", "gpedc"])["ronda_conservada"].value is True
    with duckdb.connect(str(settings.warehouse), read_only=True) as conn:
        for table, frame in before.items():
            pd.testing.assert_frame_equal(conn.execute(f"SELECT * FROM {table} ORDER BY ALL").df(), frame, obj=table)
    assert workbook_text(settings.paths.exports_dir / EXPORT_NAME)[0] == export_before
    assert "Agencia Uno" in (settings.paths.exports_dir / "gpedc_resultados_ronda4.html").read_text(encoding="utf-8")


def test_rerun_replaces_the_round_and_a_removed_file_leaves_no_stale_rows(defs, live_round, warehouse):
    assert run(defs).success
    for name in ("intruso.xlsx", "soc1.xlsx", "roto.xlsx"):
        (live_round / name).unlink()
    assert run(defs, "gpedc_revision_job").success
    conn = warehouse()
    assert conn.execute("SELECT count(*) FROM quarantine.filas_rechazadas WHERE origen LIKE 'gpedc_%'").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM staging.gpedc_respuestas WHERE codigo_respondente = 'SOC1'").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM meta.archivos WHERE archivo IN ('soc1.xlsx', 'roto.xlsx')").fetchone()[0] == 0
    states = dict(conn.execute("SELECT seccion, estado FROM marts.gpedc_completitud WHERE codigo_respondente = 'SOC1'").fetchall())
    assert states == {"B.1": "OBSERVADO", "B.2": "PENDIENTE", "B.3": "PENDIENTE"}


def test_a_copied_folder_keeps_the_resubmission_order_it_was_first_seen_in(defs, round_dir, warehouse):
    write_roster(round_dir)
    write_workbook(round_dir / "soc1_a.xlsx", {"respuestas": [answer("SOC1", "B.1", "B1_2", "NO")]}, mtime=BASE + 10)
    assert run(defs, "gpedc_recoleccion_job").success
    write_workbook(round_dir / "soc1_b.xlsx", {"respuestas": [answer("SOC1", "B.1", "B1_2", "SI")]}, mtime=BASE + 20)
    assert run(defs, "gpedc_recoleccion_job").success
    import os

    for name in ("soc1_a.xlsx", "soc1_b.xlsx"):  # a copy without times, or a `touch`, makes the old file look newer
        os.utime(round_dir / name, (BASE + 100 if name == "soc1_a.xlsx" else BASE + 50,) * 2)
    assert run(defs, "gpedc_recoleccion_job").success
    conn = warehouse()
    assert conn.execute("SELECT respuesta FROM staging.gpedc_respuestas").fetchall() == [("SI",)]


def test_phase_jobs_select_the_assets_their_phase_needs(defs):
    keys = {
        name: {k.to_user_string() for k in defs.resolve_job_def(name).asset_layer.selected_asset_keys}
        for name in ("gpedc_job", "gpedc_recoleccion_job", "gpedc_revision_job", "gpedc_divulgacion_job")
    }
    consolidation = {"raw/gpedc", "staging/gpedc", "quarantine/gpedc"}
    marts = {"marts/gpedc_completitud", "marts/gpedc_indicadores", "exports/gpedc_ronda4"}
    assert keys["gpedc_job"] == consolidation | marts | {"reportes/gpedc_resultados"}
    assert keys["gpedc_recoleccion_job"] == consolidation | {"marts/gpedc_completitud"}
    assert keys["gpedc_revision_job"] == consolidation | marts
    assert keys["gpedc_divulgacion_job"] == {"marts/gpedc_indicadores", "exports/gpedc_ronda4", "reportes/gpedc_resultados"}
    for name in keys:
        assert defs.resolve_job_def(name).partitions_def is None
    graph = defs.resolve_asset_graph()
    for key in (dg.AssetKey(["staging", "gpedc"]), dg.AssetKey(["marts", "gpedc_completitud"]), dg.AssetKey(["exports", "gpedc_ronda4"])):
        node = graph.get(key)
        assert node.group_name == "gpedc" and node.pools == {"duckdb"}


def test_sample_round_shows_every_sheet_every_state_and_each_new_rule(defs, data_dir, warehouse, settings):
    from cti_pipeline.sample import gpedc as sample

    sample.write(data_dir / "landing", [2023], 10, random.Random(2031))
    result = run(defs)
    assert result.success and all(check_results(result).values())
    conn = warehouse()
    states = {r[0] for r in conn.execute("SELECT DISTINCT estado FROM marts.gpedc_completitud").fetchall()}
    assert states == {"PENDIENTE", "RECIBIDO", "OBSERVADO", "VALIDADO"}
    for sheet in ("respuestas", "intervenciones", "flujos", "socios", "validaciones"):
        assert conn.execute(f"SELECT count(*) FROM staging.gpedc_{sheet}").fetchone()[0] > 0, sheet
    rules = {r[0] for r in conn.execute("SELECT regla FROM quarantine.filas_rechazadas WHERE origen LIKE 'gpedc_%'").fetchall()}
    assert rules == {"respondente_desconocido", "seccion_no_asignada", "socio_desconocido", "pregunta_desconocida", "pregunta_en_otra_hoja",
                     "respuesta_invalida", "parte_mayor_que_total", "modulo_invalido", "clave_duplicada"}
    assert conn.execute("SELECT count(*) FROM raw.gpedc_filas WHERE estado_fila = 'superseded'").fetchone()[0] > 0
    assert conn.execute("SELECT count(*) FROM staging.gpedc_respuestas WHERE respuesta = '=SUMA(A1)'").fetchone()[0] == 1
    valued = conn.execute("SELECT count(*) FROM marts.gpedc_indicadores WHERE codigo_socio = 'TOTAL' AND valor IS NOT NULL").fetchone()[0]
    assert valued >= 20
    stored = warehouse_text(settings.warehouse) + all_event_text(result)
    text = (data_dir / "landing" / "gpedc" / "ronda4" / "puntos_focales.csv").read_text(encoding="utf-8-sig")
    contacts = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert len(contacts) >= 12
    exported, cells = workbook_text(settings.paths.exports_dir / EXPORT_NAME)
    assert not [c.coordinate for c in cells if c.data_type == "f"] and "=SUMA(A1)" in exported
    for personal in [c["correo"] for c in contacts] + [c["nombre_contacto"] for c in contacts] + [c["telefono"] for c in contacts]:
        assert personal not in stored and personal not in exported, personal


def test_sample_round_is_deterministic(tmp_path, catalogs):
    from cti_pipeline.domain import gpedc
    from cti_pipeline.sample import gpedc as sample

    results = []
    for name in ("a", "b"):
        landing = tmp_path / name / "landing"
        sample.write(landing, [2023], 10, random.Random(5))
        results.append(gpedc.consolidate(landing / "gpedc" / "ronda4", catalogs))
    written = {p.name: (p.read_bytes(), p.stat().st_mtime) for p in (tmp_path / "a" / "landing" / "gpedc" / "ronda4").iterdir()}
    again = {p.name: (p.read_bytes(), p.stat().st_mtime) for p in (tmp_path / "b" / "landing" / "gpedc" / "ronda4").iterdir()}
    assert written == again and len(written) >= 15  # byte for byte, modification times included
    first, second = results
    for sheet in first.staged:
        pd.testing.assert_frame_equal(first.staged[sheet], second.staged[sheet])
    pd.testing.assert_frame_equal(first.quarantined, second.quarantined)
