"""Resources, configured once from the environment (shared contract warehouse.md)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from cti_pipeline import processes
from cti_pipeline.settings import DEVELOPMENT_PII_SALT, DataPaths, Settings

PROCESS_TAG = "cti/proceso"

log = logging.getLogger(__name__)


class CtiConfig(dg.ConfigurableResource):
    """Where the data folder is (landing zone, reference overrides, exports) and the salt for personal ids.
    Assets, sensors and schedules all take it; its paths are `settings.DataPaths`."""

    data_dir: str
    pii_salt: str = DEVELOPMENT_PII_SALT
    publish_url: str | None = None

    @property
    def paths(self) -> DataPaths:
        return DataPaths(Path(self.data_dir))

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Record the run's process, so a run killed outright can be told from a live one (automation/dead_runs.py)."""
        if context.instance is not None and context.run is not None:
            context.instance.add_run_tags(context.run.run_id, {PROCESS_TAG: processes.identity()})


class WarehouseResource(DuckDBResource):
    """The DuckDB warehouse file (one writer process at a time: every user declares pool="duckdb")."""

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        with super().get_connection() as conn:
            yield conn


@functools.cache
def warn_development_salt() -> None:
    """Once per process, however many times the definitions are loaded."""
    log.warning("CTI_PII_SALT is not set: personal ids are pseudonymised with the development salt")


def build_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    if settings.pii_salt_is_default:
        warn_development_salt()
    return {
        "cti": CtiConfig(
            data_dir=str(settings.data_dir),
            pii_salt=dg.EnvVar("CTI_PII_SALT") if not settings.pii_salt_is_default else DEVELOPMENT_PII_SALT,
            publish_url=dg.EnvVar("CTI_PUBLISH_URL") if settings.publish_url else None,
        ),
        "warehouse": warehouse_resource(settings),
    }


def warehouse_resource(settings: Settings) -> WarehouseResource:
    return WarehouseResource(database=str(settings.warehouse), connection_config={"memory_limit": settings.duckdb_memory_limit})


@dg.definitions
def resources() -> dg.Definitions:
    # One DuckDB writer at a time anyway: the in-process executor avoids a subprocess per step.
    return dg.Definitions(resources=build_resources(Settings.from_env()), executor=dg.in_process_executor)
