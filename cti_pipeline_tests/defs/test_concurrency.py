"""Two runs launched at once (a sensor firing during a backfill) both succeed: the duckdb pool serialises them."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from cti_pipeline.sample import write_sample_data

PROJECT = Path(__file__).resolve().parents[2]


def test_dagster_yaml_limits_the_duckdb_pool_to_one_step():
    config = yaml.safe_load((PROJECT / "dagster.yaml").read_text())
    assert config["concurrency"]["pools"]["default_limit"] == 1
    assert "run_queue" not in config  # combining it with `concurrency:` is a config error


@pytest.mark.slow
def test_two_runs_at_once_both_succeed_and_never_write_together(data_dir: Path):
    write_sample_data(data_dir, years=[2023, 2024], rows=3000)
    # The instance exists before runs race for the warehouse (as when a sensor fires during a backfill);
    # two processes creating a brand-new SQLite instance at the same moment is a different race.
    dg.DagsterInstance.get().get_run_records()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "cti_pipeline.cli", "materialize", "--year", year, "--select", "group:declaraciones"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for year in ("2023", "2024")
    ]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs

    instance = dg.DagsterInstance.get()  # DAGSTER_HOME of the test, shared by both processes
    records = instance.get_run_records(dg.RunsFilter(job_name="pncti_anual_job"))  # (each followed by its BI publication)
    assert len(records) == 2 and all(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in records)
    windows = []
    for record in records:
        events = [e for e in instance.all_logs(record.dagster_run.run_id) if e.dagster_event]
        start = next(e.timestamp for e in events if e.dagster_event.event_type_value == "STEP_START")
        end = next(e.timestamp for e in events if e.dagster_event.event_type_value == "STEP_SUCCESS")
        windows.append((start, end))
    (first_start, first_end), (second_start, second_end) = sorted(windows)
    assert first_end <= second_start, f"warehouse steps overlapped: {windows}"

    import duckdb

    with duckdb.connect(str(data_dir / "warehouse" / "cti.duckdb"), read_only=True) as conn:
        years = conn.execute("SELECT DISTINCT anio FROM staging.declaraciones ORDER BY anio").fetchall()
    assert years == [(2023,), (2024,)]
