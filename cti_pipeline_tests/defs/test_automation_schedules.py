"""Schedules evaluated through the project's definitions at dates inside and outside their phases."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from cti_pipeline.domain.roadmap import RoadmapError
from cti_pipeline.settings import SHIPPED_REFERENCE_DIR
from cti_pipeline_tests.factories import declaracion_row, write_csv

LIMA = ZoneInfo("America/Lima")
PHASE_SCHEDULES = {  # schedule → (phase, job, cron) as the contract automation.md fixes them
    "gpedc_recoleccion": (2, "gpedc_recoleccion_job", "0 7 * * 1"),
    "gpedc_revision": (3, "gpedc_revision_job", "0 7 * * *"),
    "gpedc_divulgacion": (4, "gpedc_divulgacion_job", "0 7 1 * *"),
}


def windows(path: Path) -> dict[int, tuple[str, str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return {int(r["fase"]): (r["nombre"], r["inicio"], r["fin"]) for r in csv.DictReader(handle)}


def month_start(text: str) -> dt.date:
    year, month = map(int, text.split("-"))
    return dt.date(year, month, 1)


def month_end(text: str) -> dt.date:
    start = month_start(text)
    return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)


def at(day: dt.date, hour: int = 7) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=LIMA)


def evaluate(defs: dg.Definitions, name: str, when: dt.datetime):
    schedule = defs.resolve_schedule_def(name)
    instance = dg.DagsterInstance.get()  # the test's DAGSTER_HOME
    with dg.build_schedule_context(
        instance_ref=instance.get_ref(), scheduled_execution_time=when, repository_def=defs.get_repository_def(), resources=defs.resources
    ) as context:
        return schedule.evaluate_tick(context)


def land_declaration(data_dir: Path, year: int) -> None:
    write_csv(data_dir / "landing" / "declaraciones" / str(year) / "entidad.csv", [declaracion_row(anio=year)])


def test_every_schedule_runs_in_lima_and_starts_running(defs: dg.Definitions):
    schedule = defs.resolve_schedule_def("pncti_anual")
    assert schedule.cron_schedule == "0 6 1 4 *"
    assert schedule.job_name == "pncti_anual_job"
    for s in defs.schedules:
        assert s.execution_timezone == "America/Lima", s.name
        assert s.default_status == dg.DefaultScheduleStatus.RUNNING, s.name


@pytest.mark.slow
@pytest.mark.parametrize("year", [2021, 2025, 2026])
def test_pncti_anual_targets_the_previous_year_and_adds_it_as_a_partition(defs: dg.Definitions, data_dir: Path, year: int):
    land_declaration(data_dir, year - 1)
    result = evaluate(defs, "pncti_anual", dt.datetime(year, 4, 1, 6, tzinfo=LIMA))
    [request] = result.run_requests
    assert request.partition_key == str(year - 1)
    assert result.skip_message is None
    with dg.DagsterInstance.get() as instance:
        assert instance.get_dynamic_partitions("anio") == [str(year - 1)]


@pytest.mark.slow
def test_pncti_anual_reads_the_tick_in_lima_time(defs: dg.Definitions, data_dir: Path):
    # 1 January 03:00 UTC is still 31 December in Lima: the year before that is the target.
    land_declaration(data_dir, 2024)
    result = evaluate(defs, "pncti_anual", dt.datetime(2026, 1, 1, 3, tzinfo=dt.timezone.utc))
    assert result.run_requests[0].partition_key == "2024"


@pytest.mark.slow
def test_pncti_anual_skips_a_year_nobody_filed(defs: dg.Definitions, data_dir: Path):
    land_declaration(data_dir, 2024)
    result = evaluate(defs, "pncti_anual", dt.datetime(2024, 4, 1, 6, tzinfo=LIMA))
    assert result.run_requests == [] and "2023" in result.skip_message
    with dg.DagsterInstance.get() as instance:
        assert instance.get_dynamic_partitions("anio") == []


def test_phase_schedules_target_their_jobs(defs: dg.Definitions):
    for name, (_, job_name, cron) in PHASE_SCHEDULES.items():
        schedule = defs.resolve_schedule_def(name)
        assert schedule.job_name == job_name and schedule.cron_schedule == cron


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PHASE_SCHEDULES))
def test_phase_schedule_runs_inside_and_skips_outside_its_window(defs: dg.Definitions, name: str):
    fase = PHASE_SCHEDULES[name][0]
    nombre, inicio, fin = windows(SHIPPED_REFERENCE_DIR / "hoja_de_ruta.csv")[fase]
    inside = [month_start(inicio), month_end(fin), month_start(inicio) + (month_end(fin) - month_start(inicio)) / 2]
    outside = [month_start(inicio) - dt.timedelta(days=1), month_end(fin) + dt.timedelta(days=1), dt.date(2030, 6, 1)]
    for day in inside:
        result = evaluate(defs, name, at(day))
        assert len(result.run_requests) == 1, (name, day, result.skip_message)
        assert result.run_requests[0].tags["cti/fase"] == str(fase)
    for day in outside:
        result = evaluate(defs, name, at(day))
        assert result.run_requests == [], (name, day)
        assert result.skip_message.startswith(f"Fuera de la fase {fase} «{nombre}» ({inicio} a {fin})")
        assert day.isoformat() in result.skip_message


@pytest.mark.slow
def test_moving_a_phase_in_the_override_moves_the_schedule(defs: dg.Definitions, data_dir: Path):
    day = dt.date(2024, 6, 3)  # a Monday inside the shipped phase 2
    assert evaluate(defs, "gpedc_recoleccion", at(day)).run_requests

    rows = (SHIPPED_REFERENCE_DIR / "hoja_de_ruta.csv").read_text(encoding="utf-8").splitlines()
    moved = [",".join([*r.split(",")[:2], "2026-01", "2026-03", ""]) if r.startswith("2,") else r for r in rows]
    (data_dir / "reference").mkdir()
    (data_dir / "reference" / "hoja_de_ruta.csv").write_text("\n".join(moved) + "\n", encoding="utf-8")

    # Same definitions object: the window is read at evaluation time, not when definitions load.
    old = evaluate(defs, "gpedc_recoleccion", at(day))
    assert old.run_requests == []
    assert "(2026-01 a 2026-03)" in old.skip_message
    assert evaluate(defs, "gpedc_recoleccion", at(dt.date(2026, 2, 2))).run_requests
    # The other phases did not move.
    nombre, inicio, fin = windows(data_dir / "reference" / "hoja_de_ruta.csv")[3]
    assert evaluate(defs, "gpedc_revision", at(month_start(inicio))).run_requests


@pytest.mark.slow
def test_a_broken_roadmap_fails_the_tick_with_a_clear_error(defs: dg.Definitions, data_dir: Path):
    (data_dir / "reference").mkdir()
    (data_dir / "reference" / "hoja_de_ruta.csv").write_text(
        "fase,nombre,inicio,fin\n2,Recolección de datos,2024-10,2024-05\n", encoding="utf-8"
    )
    with pytest.raises(dg.DagsterUserCodeExecutionError) as raised:
        evaluate(defs, "gpedc_recoleccion", at(dt.date(2024, 6, 3)))
    # The tick fails (red in the UI) with the catalog's problem as the cause, rather than skipping quietly.
    assert isinstance(raised.value.__cause__, RoadmapError)
    assert "fin 2024-05 is before inicio 2024-10" in str(raised.value.__cause__)


def land_registry(data_dir: Path) -> None:
    write_csv(data_dir / "landing" / "entidades" / "entidades.csv",
              [{"ruc_entidad": "20100047218", "nombre_entidad": "Asociación Civil Agua para Todos", "tipo_entidad": "ONGD"}])


def test_declaraciones_seguimiento_runs_mondays_january_to_april_in_lima(defs: dg.Definitions):
    schedule = defs.resolve_schedule_def("declaraciones_seguimiento")
    assert schedule.cron_schedule == "0 7 * 1-4 1" and schedule.job_name == "declaraciones_seguimiento_job"
    job = defs.resolve_job_def("declaraciones_seguimiento_job")
    selected = {key.to_user_string() for key in job.asset_layer.selected_asset_keys}
    assert {"staging/entidades", "staging/declaraciones", "marts/declaracion_cumplimiento", "exports/omisas", "bi/marts_duckdb"} <= selected


@pytest.mark.slow
def test_declaraciones_seguimiento_follows_the_previous_year_as_filings_arrive(defs: dg.Definitions, data_dir: Path):
    monday = dt.datetime(2025, 2, 3, 7, tzinfo=LIMA)
    skipped = evaluate(defs, "declaraciones_seguimiento", monday)
    assert skipped.run_requests == [] and "2024" in skipped.skip_message

    land_registry(data_dir)  # nobody filed yet: every obliged entity is omisa, worth a list
    [request] = evaluate(defs, "declaraciones_seguimiento", monday).run_requests
    assert request.partition_key == "2024" and request.run_key == "declaraciones_seguimiento-2025-02-03"
    with dg.DagsterInstance.get() as instance:
        assert instance.get_dynamic_partitions("anio") == ["2024"]

    land_declaration(data_dir, 2025)  # the next year's filing season: the year before it is followed
    [request] = evaluate(defs, "declaraciones_seguimiento", dt.datetime(2026, 3, 2, 7, tzinfo=LIMA)).run_requests
    assert request.partition_key == "2025"
