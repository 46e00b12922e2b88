"""The scale-out instance: deploy/dagster.postgres.yaml on the test PostgreSQL server.

The deploy files' coherence with each other is checked in cti_pipeline_tests/deploy/."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml

from cti_pipeline.defs.publishing import BI_COPY, bi_marts_duckdb
from cti_pipeline.defs.resources import CtiConfig, WarehouseResource
from cti_pipeline.settings import PROJECT_ROOT, Settings
from cti_pipeline_tests.publishing.conftest import write_marts

pytestmark = pytest.mark.slow  # every test here launches Dagster runs, evaluations or processes

DEPLOY = PROJECT_ROOT / "deploy"


def use_instance_file(path: Path, home: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """DAGSTER_HOME with `path` as dagster.yaml, and the DAGSTER_PG_* variables pointing at `url`."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, home / "dagster.yaml")
    parts = sa.engine.make_url(url)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_PG_HOST", parts.host or "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PG_PORT", str(parts.port or 5432))
    monkeypatch.setenv("DAGSTER_PG_DB", parts.database)
    monkeypatch.setenv("DAGSTER_PG_USER", parts.username or "postgres")
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", parts.password or "unused-trust-auth")


def test_a_materialisation_on_the_postgres_backed_instance(tmp_path: Path, settings: Settings, postgres_url: str,
                                                          pg_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch):
    use_instance_file(DEPLOY / "dagster.postgres.yaml", tmp_path / "pg_home", postgres_url, monkeypatch)
    write_marts(settings.warehouse)
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert type(instance.run_launcher).__name__ == "DefaultRunLauncher"
        concurrency = instance.get_concurrency_config()
        assert concurrency.pool_config.default_pool_limit == 1
        assert concurrency.run_queue_config.max_concurrent_runs == 4

        resources = {
            "cti": CtiConfig(data_dir=str(settings.data_dir), pii_salt=settings.pii_salt),
            "warehouse": WarehouseResource(database=str(settings.warehouse)),
        }
        result = dg.materialize([bi_marts_duckdb], resources=resources, instance=instance)
        assert result.success
        # the step went through the duckdb pool, whose limit (1) now lives in PostgreSQL
        assert instance.event_log_storage.get_concurrency_info("duckdb").slot_count == 1
        latest = instance.get_latest_materialization_event(BI_COPY)
        assert latest is not None and latest.run_id == result.run_id

    # and the run really is in the PostgreSQL database, where a second webserver or daemon would see it
    with pg_engine.connect() as conn:
        status = conn.execute(sa.text("SELECT status FROM runs WHERE run_id = :id"), {"id": result.run_id}).scalar()
        events = conn.execute(sa.text(
            "SELECT count(*) FROM event_logs WHERE run_id = :id AND dagster_event_type = 'ASSET_MATERIALIZATION'"
        ), {"id": result.run_id}).scalar()
    assert status == "SUCCESS"
    assert events == 1


def test_the_docker_instance_differs_only_in_its_run_launcher(tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch):
    postgres = yaml.safe_load((DEPLOY / "dagster.postgres.yaml").read_text())
    docker = yaml.safe_load((DEPLOY / "dagster.docker.yaml").read_text())
    assert {k: v for k, v in docker.items() if k != "run_launcher"} == {k: v for k, v in postgres.items() if k != "run_launcher"}
    assert (docker["run_launcher"]["module"], docker["run_launcher"]["class"]) == ("dagster_docker", "DockerRunLauncher")
    try:
        import dagster_docker  # noqa: F401 - installed in the image (deploy/Dockerfile), not in the dev venv
    except ImportError:
        docker["run_launcher"] = postgres["run_launcher"]  # validate the rest of the file with the default launcher
    path = tmp_path / "dagster.docker.yaml"
    path.write_text(yaml.safe_dump(docker))
    use_instance_file(path, tmp_path / "docker_home", postgres_url, monkeypatch)
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.run_launcher).__name__ in {"DockerRunLauncher", "DefaultRunLauncher"}
