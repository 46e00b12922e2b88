"""The GPEDC Dagster assets, jobs and export, run for real into a temporary DuckDB and exports folder."""

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

from cti_pipeline.contracts.gpedc import load_sections
from cti_pipeline_tests.gpedc.conftest import CONTACT_EMAILS, CONTACT_NAMES, ROSTER, answer, roster_rows, write_csv, write_workbook

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


@pytest.fixture
def live_round(round_dir: Path) -> Path:
    write_csv(round_dir / "puntos_focales.csv", roster_rows())
    write_workbook(
        round_dir / "soc1.xlsx",
        {
            "respuestas": [
                answer("SOC1", "B.1", "B1_1", "=SUMA(A1)"),
                answer("SOC1", "B.1", "B1_2", "-5 %"),
                answer("SOC1", "B.1", "B1_3", "@usuario", comentario=f"Escribir a {TYPED_EMAIL}"),
                answer("SOC1", "B.2", "B2_6", "+SI"),
            ],
            "intervenciones": [
                {"codigo_respondente": "SOC1", "codigo_intervencion": "I-1", "titulo": "=HYPERLINK(\"x\")", "fecha_aprobacion": "2022-03-01",
                 "monto_usd": 1000, "objetivos_total": 4, "objetivos_alineados": 3, "indicadores_total": 5, "indicadores_alineados": 2,
                 "indicadores_fuente_gobierno": 1, "evaluacion_final_prevista": "Sí", "evaluacion_con_gobierno": "si"},
            ],
            "flujos": [{"codigo_respondente": "SOC1", "anio": 2022, "programado_usd": 100.0, "desembolsado_usd": 80.0}],
        },
    )
    write_workbook(round_dir / "gob.xlsx", {"respuestas": [answer("GOB1", "A.1", "A1_1")], "presupuesto": [{"codigo_socio": "SOC1", "anio": 2022, "registrado_en_presupuesto_usd": 50.0}]})
    write_workbook(round_dir / "intruso.xlsx", {"respuestas": [answer("INTRUSO", "B.1", "B1_1")]})
    write_csv(
        round_dir / "validaciones.csv",
        [{"codigo_respondente": "SOC1", "seccion": "B.1", "estado": "OBSERVADO", "fecha": "2024-11-03", "observacion": "Aclarar B1_1"}],
        separator=",",
    )
    return round_dir


def test_gpedc_job_materialises_marts_checks_and_a_formula_free_export_without_personal_data(defs, live_round, settings, warehouse):
    result = run(defs)
    assert result.success
    checks = check_results(result)
    assert checks and all(checks.values()), checks
    assert {"filas_conciliadas", "sin_claves_duplicadas", "puntos_focales_sin_contactos", "una_fila_por_seccion_asignada",
            "valores_entre_0_y_100", "sin_formulas", "sin_correos"} <= set(checks)

    conn = warehouse()
    tracker = conn.execute("SELECT * FROM marts.gpedc_completitud").df()
    assigned = sum(len({s.strip().upper().replace("B2", "B.2") for s in sections.split(";")}) for _, _, _, sections in ROSTER)
    assert len(tracker) == assigned
    state = {(r.codigo_respondente, r.seccion): r.estado for r in tracker.itertuples()}
    assert state[("SOC1", "B.1")] == "OBSERVADO" and state[("SOC1", "B.2")] == "RECIBIDO" and state[("SOC3", "B.1")] == "PENDIENTE"
    quarantine = conn.execute("SELECT * FROM quarantine.filas_rechazadas WHERE origen LIKE 'gpedc_%'").df()
    assert list(quarantine["regla"]) == ["respondente_desconocido"] and quarantine["origen"].item() == "gpedc_respuestas"
    assert "INTRUSO" in quarantine["mensaje"].item() and "respuestas" in quarantine["mensaje"].item()
    indicators = conn.execute("SELECT * FROM marts.gpedc_indicadores").df()
    soc1 = indicators[indicators["codigo_socio"] == "SOC1"].set_index("indicador")["valor"]
    assert soc1["objetivos_alineados"] == 75.0 and soc1["indicadores_alineados"] == 40.0 and soc1["indicadores_fuente_gobierno"] == 20.0
    assert soc1["ods_17_15_1"] == pytest.approx((75 + 40 + 20) / 3, abs=0.01)
    assert soc1["evaluaciones_con_gobierno"] == 100.0 and soc1["previsibilidad_anual"] == 80.0 and soc1["en_presupuesto"] == 50.0
    assert pd.isna(indicators.set_index(["indicador", "codigo_socio"]).loc[("previsibilidad_anual", "SOC2"), "valor"])
    assert list(conn.execute("DESCRIBE staging.gpedc_puntos_focales").df()["column_name"]) == [
        "codigo_respondente", "tipo_respondente", "entidad", "secciones"
    ]

    # no contact detail anywhere: warehouse (every schema), run logs and metadata
    stored = warehouse_text(settings.warehouse)
    recorded = all_event_text(result)
    for personal in CONTACT_NAMES + CONTACT_EMAILS:
        assert personal not in stored and personal not in recorded, personal

    # the export: every sheet, no formula cell, no personal data, validation state beside each answer
    path = settings.paths.exports_dir / EXPORT_NAME
    workbook = load_workbook(path)
    expected_sheets = [*load_sections(None)["seccion"], "intervenciones", "flujos", "presupuesto", "completitud", "indicadores"]
    assert workbook.sheetnames == expected_sheets
    texts = []
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula"
                if cell.value is not None:
                    texts.append(str(cell.value))
    everything = "\n".join(texts)
    for personal in CONTACT_NAMES + CONTACT_EMAILS + (TYPED_EMAIL,):
        assert personal not in everything, personal
    assert "@" not in everything.replace("@usuario", "")
    rows = list(workbook["B.1"].iter_rows(values_only=True))
    header = rows[0]
    by_question = {r[header.index("codigo_pregunta")]: dict(zip(header, r, strict=True)) for r in rows[1:]}
    assert by_question["B1_1"]["respuesta"] == "=SUMA(A1)" and by_question["B1_2"]["respuesta"] == "-5 %"
    assert by_question["B1_3"]["respuesta"] == "@usuario"
    assert by_question["B1_1"]["estado_validacion"] == state[("SOC1", "B.1")] == "OBSERVADO"
    assert by_question["B1_1"]["observacion_validacion"] == "Aclarar B1_1"
    b2 = list(workbook["B.2"].iter_rows(values_only=True))
    assert b2[1][b2[0].index("respuesta")] == "+SI" and b2[1][b2[0].index("estado_validacion")] == "RECIBIDO"
    titles = [r[0] for r in workbook["intervenciones"].iter_rows(values_only=True)]
    assert "SOC1" in titles
    assert list(workbook["completitud"].iter_rows(values_only=True))[0][:4] == ("codigo_respondente", "entidad", "tipo_respondente", "seccion")
    workbook.close()


def test_the_results_report_shows_the_marts_values_participation_and_no_personal_data(defs, live_round, settings, warehouse):
    from docx import Document

    assert run(defs).success
    conn = warehouse()
    indicators = conn.execute("SELECT indicador, codigo_socio, valor FROM marts.gpedc_indicadores").df()
    tracker = conn.execute("SELECT * FROM marts.gpedc_completitud").df()
    document = Document(str(settings.paths.exports_dir / "gpedc_resultados_ronda4.docx"))
    participation, totals, partners = ([[c.text for c in row.cells] for row in table.rows] for table in document.tables)

    # TOTAL and per partner: the mart's value with "%", or ND where the mart has NULL
    def shown(value: float) -> str:
        return "ND" if pd.isna(value) else f"{value:.2f}".rstrip("0").rstrip(".") + " %"

    mart = {(r.indicador, r.codigo_socio): shown(r.valor) for r in indicators.itertuples()}
    assert {row[0]: row[2] for row in totals[1:]} == {k[0]: v for k, v in mart.items() if k[1] == "TOTAL"}
    from cti_pipeline.outputs.gpedc_results import SHORT_NAMES

    code_of = {name: code for code, name in SHORT_NAMES.items()}  # the .docx titles the columns in words
    header = [code_of.get(title, title) for title in partners[0]]
    for row in partners[1:]:
        for indicador in header[2:]:
            assert row[header.index(indicador)] == mart[(indicador, row[0])], (row[0], indicador)
    assert {row[0] for row in partners[1:]} == set(indicators["codigo_socio"]) - {"TOTAL"}
    soc2 = next(row for row in partners if row[0] == "SOC2")
    assert soc2[header.index("previsibilidad_anual")] == "ND"

    # participation: respondents and sections per type, and sections per state, as the tracker counts them
    by_type = {row[0]: row[1:] for row in participation[1:]}
    socios = tracker[tracker["tipo_respondente"] == "SOCIO_DESARROLLO"]
    assert by_type["Socios para el desarrollo"][:2] == [str(socios["codigo_respondente"].nunique()), str(len(socios))]
    states = participation[0][3:]
    assert sum(int(row[3 + states.index("Pendiente")]) for row in participation[1:]) == int((tracker["estado"] == "PENDIENTE").sum())

    page = (settings.paths.exports_dir / "gpedc_resultados_ronda4.html").read_text(encoding="utf-8")
    words = page + "\n".join(p.text for p in document.paragraphs) + str(participation + totals + partners)
    for personal in CONTACT_NAMES + CONTACT_EMAILS:
        assert personal not in words, personal
    assert "<script" not in page and mart[("objetivos_alineados", "TOTAL")] in page


def test_without_a_roster_every_gpedc_asset_materialises_empty_with_a_warning(defs, round_dir, settings, warehouse):
    write_workbook(round_dir / "soc1.xlsx", {"respuestas": [answer("SOC1", "B.1", "B1_1")]})
    result = run(defs)
    assert result.success
    assert all(check_results(result).values())
    assert any("no focal-point roster" in message for message in result.log_messages)
    conn = warehouse()
    assert conn.execute("SELECT count(*) FROM marts.gpedc_completitud").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM marts.gpedc_indicadores").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM staging.gpedc_respuestas").fetchone()[0] == 0
    assert (settings.paths.exports_dir / EXPORT_NAME).is_file()


def test_rerun_replaces_the_round_and_a_removed_file_leaves_no_stale_rows(defs, live_round, warehouse):
    assert run(defs).success
    (live_round / "intruso.xlsx").unlink()
    (live_round / "soc1.xlsx").unlink()
    assert run(defs, "gpedc_revision_job").success
    conn = warehouse()
    assert conn.execute("SELECT count(*) FROM quarantine.filas_rechazadas WHERE origen LIKE 'gpedc_%'").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM staging.gpedc_respuestas WHERE codigo_respondente = 'SOC1'").fetchone()[0] == 0
    states = dict(conn.execute("SELECT seccion, estado FROM marts.gpedc_completitud WHERE codigo_respondente = 'SOC1'").fetchall())
    assert states == {"B.1": "OBSERVADO", "B.2": "PENDIENTE", "B.3": "PENDIENTE"}


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


def test_sample_round_gives_a_live_tracker(defs, data_dir, warehouse, settings):
    from cti_pipeline.sample import gpedc as sample

    sample.write(data_dir / "landing", [2023], 10, random.Random(2031))
    result = run(defs)
    assert result.success and all(check_results(result).values())
    conn = warehouse()
    states = {r[0] for r in conn.execute("SELECT DISTINCT estado FROM marts.gpedc_completitud").fetchall()}
    assert states == {"PENDIENTE", "RECIBIDO", "OBSERVADO", "VALIDADO"}
    rules = {r[0] for r in conn.execute("SELECT regla FROM quarantine.filas_rechazadas WHERE origen LIKE 'gpedc_%'").fetchall()}
    assert {"respondente_desconocido", "seccion_no_asignada"} <= rules
    assert conn.execute("SELECT count(*) FROM staging.gpedc_respuestas WHERE respuesta = '=SUMA(A1)'").fetchone()[0] == 1
    tracker = next(
        e.event_specific_data.materialization.metadata["seguimiento"].value
        for e in result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION" and e.asset_key == dg.AssetKey(["marts", "gpedc_completitud"])
    )
    first_entity = tracker.split("\n\n")[1]
    assert "Pendiente" in first_entity.splitlines()[1]  # who owes most comes first, pending sections first
    stored = warehouse_text(settings.warehouse) + all_event_text(result)
    text = (data_dir / "landing" / "gpedc" / "ronda4" / "puntos_focales.csv").read_text(encoding="utf-8-sig")
    contacts = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert len(contacts) >= 12
    for personal in [c["correo"] for c in contacts] + [c["nombre_contacto"] for c in contacts] + [c["telefono"] for c in contacts]:
        assert personal not in stored, personal
    workbook = load_workbook(settings.paths.exports_dir / EXPORT_NAME)
    cells = [c for sheet in workbook.worksheets for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    exported = "\n".join(str(c.value) for c in cells if c.value is not None)
    assert "=SUMA(A1)" in exported
    for personal in [c["correo"] for c in contacts] + [c["nombre_contacto"] for c in contacts]:
        assert personal not in exported, personal


def test_sample_round_is_deterministic(tmp_path, sections):
    from cti_pipeline.domain import gpedc
    from cti_pipeline.sample import gpedc as sample

    results = []
    for name in ("a", "b"):
        landing = tmp_path / name / "landing"
        sample.write(landing, [2023], 10, random.Random(5))
        results.append(gpedc.consolidate(landing / "gpedc" / "ronda4", sections))
    written = {p.name: (p.read_bytes(), p.stat().st_mtime) for p in (tmp_path / "a" / "landing" / "gpedc" / "ronda4").iterdir()}
    again = {p.name: (p.read_bytes(), p.stat().st_mtime) for p in (tmp_path / "b" / "landing" / "gpedc" / "ronda4").iterdir()}
    assert written == again and len(written) >= 14  # byte for byte, modification times included
    first, second = results
    for sheet in first.staged:
        pd.testing.assert_frame_equal(first.staged[sheet], second.staged[sheet])
    pd.testing.assert_frame_equal(first.quarantined, second.quarantined)
