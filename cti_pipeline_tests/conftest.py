"""Shared fixtures: an isolated data dir, warehouse and Dagster home per test."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from cti_pipeline.defs.resources import CtiConfig, WarehouseResource
from cti_pipeline.settings import Settings


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh CTI_DATA_DIR with its own warehouse and DAGSTER_HOME; the environment points at it."""
    root = tmp_path / "data"
    (root / "landing").mkdir(parents=True)
    monkeypatch.setenv("CTI_DATA_DIR", str(root))
    monkeypatch.delenv("CTI_WAREHOUSE", raising=False)
    monkeypatch.delenv("CTI_PUBLISH_URL", raising=False)
    monkeypatch.setenv("CTI_PII_SALT", "test-salt")
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((Path(__file__).parent.parent / "dagster.yaml").read_text())
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return root


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return Settings.from_env()


@pytest.fixture
def resources(settings: Settings) -> dict[str, object]:
    return {
        "cti": CtiConfig(data_dir=str(settings.data_dir), pii_salt=settings.pii_salt),
        "warehouse": WarehouseResource(database=str(settings.warehouse)),
    }


@pytest.fixture
def defs(data_dir: Path) -> dg.Definitions:
    """The project's definitions, loaded with the environment pointing at the test data dir."""
    from cti_pipeline.definitions import defs as load_defs

    return load_defs()


@pytest.fixture
def warehouse(settings: Settings):
    """Open the test warehouse read-only after a run (call it; it returns a connection)."""
    connections: list[duckdb.DuckDBPyConnection] = []

    def connect() -> duckdb.DuckDBPyConnection:
        conn = duckdb.connect(str(settings.warehouse), read_only=True)
        connections.append(conn)
        return conn

    yield connect
    for conn in connections:
        conn.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests first: under pytest-xdist the longest one (the deployed topology, about two minutes)
    then runs beside the rest of the suite instead of starting near its end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
