"""The reportes assets: wiring, a report from a mart the test writes, and end to end from the 2023 fixture."""

from __future__ import annotations

import pytest
import shutil
from pathlib import Path

import dagster as dg
import duckdb
from docx import Document

from cti_pipeline.defs.reportes import cumplimiento_pncti, observaciones_entidades
from cti_pipeline.settings import PROJECT_ROOT
from cti_pipeline.defs.partitions import add_years
from cti_pipeline_tests.factories import materialize_year

REPORT = dg.AssetKey(["reportes", "cumplimiento_pncti"])
FEEDBACK = dg.AssetKey(["reportes", "observaciones_entidades"])


def metadata_of(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> dict:
    return next(e.materialization.metadata for e in result.get_asset_materialization_events() if e.asset_key == key)


def test_reportes_assets_are_yearly_in_the_duckdb_pool_and_in_the_pncti_job(defs: dg.Definitions):
    graph = defs.resolve_asset_graph()
    for key in (REPORT, FEEDBACK):
        node = graph.get(key)
        assert node.group_name == "reportes"
        assert node.pools == {"duckdb"}
        assert node.partitions_def == defs.resolve_job_def("pncti_anual_job").partitions_def
        assert node.owners == ["team:apci"]
    assert dg.AssetKey(["marts", "pncti_indicadores"]) in graph.get(REPORT).parent_keys
    job_keys = defs.resolve_job_def("pncti_anual_job").asset_layer.asset_graph.get_all_asset_keys()
    assert {REPORT, FEEDBACK} <= set(job_keys)


@pytest.mark.slow
def test_report_asset_writes_docx_html_and_a_markdown_twin(data_dir: Path, settings, resources):
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.warehouse)) as conn:
        conn.execute("CREATE SCHEMA marts")
        conn.execute(
            "CREATE TABLE marts.pncti_indicadores (indicador VARCHAR, anio INTEGER, nombre VARCHAR, nivel VARCHAR, "
            "objetivo_prioritario VARCHAR, unidad VARCHAR, valor DOUBLE, valor_esperado DOUBLE, avance_pct DOUBLE, "
            "estado VARCHAR, valor_reportado DOUBLE, coincide_reportado BOOLEAN)"
        )
        conn.execute("INSERT INTO marts.pncti_indicadores VALUES ('IOP.04.01', 2024, 'Iniciativas lideradas', 'OBJETIVO', "
                     "'OP.04', '%', 75, 80, 93.75, 'DISPONIBLE', 70, false)")
    result = materialize_year([cumplimiento_pncti], resources, "2024")
    assert result.success
    exports = data_dir / "exports"
    assert (exports / "reporte_cumplimiento_pncti_2024.docx").is_file()
    assert (exports / "reporte_cumplimiento_pncti_2024.html").is_file()
    metadata = metadata_of(result, REPORT)
    assert metadata["docx"].value == str(exports / "reporte_cumplimiento_pncti_2024.docx")
    assert metadata["no_coinciden_con_publicado"].value == 1
    markdown = metadata["reporte"].value
    assert "| IOP.04.01 | Iniciativas lideradas | 75 % | 70 % |" in markdown
    assert "data:image/png;base64," in markdown  # a thumbnail of the first objective with indicators
    # the catalog's other indicators are listed as ND
    assert metadata["indicadores"].value >= 18 and metadata["indicadores_disponibles"].value == 1
    check = next(e for e in result.get_asset_check_evaluations() if e.check_name == "indicadores_del_catalogo_presentes")
    assert check.passed is False and check.severity == dg.AssetCheckSeverity.WARN
    assert "IOP.01.01" in check.metadata["faltantes"].value


@pytest.mark.slow
def test_report_asset_without_a_mart_succeeds_with_all_nd(data_dir: Path, resources):
    result = materialize_year([cumplimiento_pncti, observaciones_entidades], resources, "2022")
    assert result.success
    metadata = metadata_of(result, REPORT)
    assert metadata["indicadores_disponibles"].value == 0 and metadata["indicadores_nd"].value == metadata["indicadores"].value
    assert "Advertencia" in metadata["reporte"].value
    assert (data_dir / "exports" / "observaciones" / "2022" / "resumen_apci.xlsx").is_file()


@pytest.mark.slow
def test_end_to_end_2023_fixture_reproduces_the_published_report_and_flags_iop_03_01(data_dir: Path, defs: dg.Definitions):
    fixture = PROJECT_ROOT / "data" / "fixtures" / "2023" / "landing"
    shutil.copytree(fixture, data_dir / "landing", dirs_exist_ok=True)
    job = defs.resolve_job_def("pncti_anual_job")
    instance = dg.DagsterInstance.get()
    add_years(instance, [2023])
    result = job.execute_in_process(partition_key="2023", instance=instance, raise_on_error=False)
    failed = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert not failed, failed
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["indicadores_del_catalogo_presentes"] is True
    assert checks["todas_las_observaciones_asignadas"] is True

    document = Document(str(data_dir / "exports" / "reporte_cumplimiento_pncti_2023.docx"))
    tables = [[[c.text for c in row.cells] for row in t.rows] for t in document.tables]
    indicator_rows = {row[0]: row for t in tables if t[0][-1] == "Estado" for row in t[1:]}
    # Published counts of the 2023 report (contract pncti_indicadores.md): Peru offered in 32 of 72 projects in ALC.
    alc = round(100 * 32 / 72, 2)
    assert indicator_rows["IOP.03.01"][3] == f"{alc} %"
    assert indicator_rows["ISS.02.01.01.01"][3] == "81"  # 81 entities in the coordination spaces
    assert indicator_rows["ISS.01.02.01.01"][3] == "142"  # 142 UOCTI servers trained
    assert indicator_rows["IOP.01.01"][3] == "ND"  # no declarations in the fixture
    annex = next(t for t in tables if t[0][:4] == ["Código", "Indicador", "Valor calculado", "Valor publicado"])
    flagged = {row[0]: row for row in annex[1:]}
    assert "IOP.03.01" in flagged and flagged["IOP.03.01"][2:4] == [f"{alc} %", "45.83 %"]
    header = {row[0]: row[1] for row in tables[0]}
    assert "IOP.03.01" in header["Resumen del reporte de cumplimiento"]
    assert len(document.inline_shapes) == 4  # one chart per objective
    assert (data_dir / "exports" / "observaciones" / "2023" / "resumen_apci.xlsx").is_file()


def write_mart(settings, valor: float = 75) -> None:
    """marts.pncti_indicadores with one indicator of 2024 (replaced on each call)."""
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.warehouse)) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS marts")
        conn.execute(
            "CREATE OR REPLACE TABLE marts.pncti_indicadores (indicador VARCHAR, anio INTEGER, nombre VARCHAR, nivel VARCHAR, "
            "objetivo_prioritario VARCHAR, unidad VARCHAR, valor DOUBLE, valor_esperado DOUBLE, avance_pct DOUBLE, "
            "estado VARCHAR, valor_reportado DOUBLE, coincide_reportado BOOLEAN)"
        )
        conn.execute("INSERT INTO marts.pncti_indicadores VALUES ('IOP.04.01', 2024, 'Iniciativas lideradas', 'OBJETIVO', "
                     "'OP.04', '%', ?, 80, ?, 'DISPONIBLE', 70, false)", [valor, valor / 80 * 100])


def report_run(resources) -> tuple[dict, dict[str, bool]]:
    result = materialize_year([cumplimiento_pncti], resources, "2024")
    assert result.success
    return metadata_of(result, REPORT), {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def states(*paths: Path) -> list[tuple[int, int]]:
    """(inode, mtime_ns) per file: an atomic rewrite replaces the file, so both change."""
    return [(p.stat().st_ino, p.stat().st_mtime_ns) for p in paths]


@pytest.mark.slow
def test_report_rerun_with_unchanged_inputs_keeps_the_files_and_reports_sin_cambios(data_dir: Path, settings, resources):
    write_mart(settings)
    first, first_checks = report_run(resources)
    docx, html = Path(first["docx"].value), Path(first["html"].value)
    before = states(docx, html)
    assert first["sin_cambios"].value is False

    again, checks = report_run(resources)
    assert states(docx, html) == before
    assert again["sin_cambios"].value is True and set(again) == set(first) | {"nota"}
    for key in ("docx", "html", "indicadores", "indicadores_disponibles", "indicadores_nd", "no_coinciden_con_publicado", "graficos", "reporte", "huella"):
        assert again[key].value == first[key].value, key  # the Markdown twin keeps its thumbnail too
    assert checks == first_checks == {"indicadores_del_catalogo_presentes": False}  # evaluated again, still honest

    write_mart(settings, valor=60)  # a changed mart row
    changed, _ = report_run(resources)
    assert changed["sin_cambios"].value is False and states(docx, html) != before
    assert "| IOP.04.01 | Iniciativas lideradas | 60 % | 70 % |" in changed["reporte"].value

    html.unlink()  # a deleted output
    after_delete, _ = report_run(resources)
    assert after_delete["sin_cambios"].value is False and html.is_file()
    assert report_run(resources)[0]["sin_cambios"].value is True
