"""The failure sensor writes one clear line into a really failed run's log."""

from __future__ import annotations

import csv
from pathlib import Path

import dagster as dg
import pytest

from cti_pipeline.defs.automation.failures import cti_run_failure_sensor, landing_folder
from cti_pipeline.settings import SHIPPED_REFERENCE_DIR
from cti_pipeline.defs.partitions import add_years
from cti_pipeline_tests.factories import declaracion_row, write_xlsx

DECLARACIONES = [dg.AssetKey(["raw", "declaraciones"]), dg.AssetKey(["staging", "declaraciones"]), dg.AssetKey(["quarantine", "declaraciones"])]


def break_exchange_rates(data_dir: Path) -> None:
    """An override of tipo_cambio.csv without its value column: loading the catalogs fails."""
    with open(SHIPPED_REFERENCE_DIR / "tipo_cambio.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    (data_dir / "reference").mkdir(exist_ok=True)
    with open(data_dir / "reference" / "tipo_cambio.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["anio", "tasa"])
        writer.writerows([r["anio"], r["pen_por_usd"]] for r in rows)


def failed_run(defs: dg.Definitions, data_dir: Path, tags: dict[str, str] | None = None):
    write_xlsx(data_dir / "landing" / "declaraciones" / "2024" / "entidad.xlsx", [declaracion_row()])
    break_exchange_rates(data_dir)
    instance = dg.DagsterInstance.ephemeral()
    add_years(instance, [2024])
    result = defs.resolve_job_def("pncti_anual_job").execute_in_process(
        partition_key="2024", asset_selection=DECLARACIONES, instance=instance, raise_on_error=False, tags=tags
    )
    assert not result.success
    return instance, result


def report(defs: dg.Definitions, instance: dg.DagsterInstance, result) -> list[str]:
    context = dg.build_run_status_sensor_context(
        sensor_name="cti_run_failure_sensor",
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
        repository_def=defs.get_repository_def(),
    ).for_run_failure()
    cti_run_failure_sensor(context)
    return [
        entry.dagster_event.message
        for entry in instance.all_logs(result.run_id)
        if entry.dagster_event and entry.dagster_event.event_type == dg.DagsterEventType.ENGINE_EVENT
        and "failed" in (entry.dagster_event.message or "")
    ]


@pytest.mark.slow
def test_failure_line_names_job_year_step_error_and_folder(defs: dg.Definitions, data_dir: Path):
    instance, result = failed_run(defs, data_dir)
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]

    [line] = report(defs, instance, result)

    assert "job pncti_anual_job" in line
    assert "partition (year): 2024" in line
    assert f"step {failure.step_key} failed" in line
    assert "failed: ReferenceError: reference catalog " in line and "pen_por_usd" in line
    assert "\n" not in line  # only the error's first line
    assert line.endswith("landing folder: landing/declaraciones/2024/")


@pytest.mark.slow
def test_a_run_from_the_sensor_names_the_folder_it_came_from(defs: dg.Definitions, data_dir: Path):
    instance, result = failed_run(defs, data_dir, tags={"cti/landing": "landing/declaraciones/2024/", "cti/huella": "abc"})
    [line] = report(defs, instance, result)
    assert line.endswith("landing folder: landing/declaraciones/2024/")


@pytest.mark.parametrize(
    "job, partition, tags, groups, expected",
    [
        ("gpedc_job", None, {}, {"gpedc"}, "landing/gpedc/ronda4/"),
        ("pncti_anual_job", "2023", {}, {"registros"}, "landing/registros/2023/"),
        ("entidades_job", None, {}, set(), "landing/entidades/"),
        ("pncti_anual_job", "2023", {}, {"entidades"}, "landing/entidades/"),
        ("pncti_anual_job", "2023", {}, {"pncti"}, "none directly (a downstream step); its inputs come from "
         "landing/declaraciones/2023/ and landing/registros/2023/"),
        ("pncti_anual_job", "2023", {"cti/landing": "landing/registros/2023/"}, {"pncti"}, "landing/registros/2023/"),
    ],
)
def test_landing_folder_of_a_failure(job, partition, tags, groups, expected):
    assert landing_folder(job, partition, tags, groups) == expected
