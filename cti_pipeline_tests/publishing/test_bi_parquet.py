"""The marts as Parquet beside the BI copy, and the BI copy's storage format (the old-client test is test_bi_old_clients.py)."""

from __future__ import annotations

import pytest
import os
import time
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.parquet as pq

from cti_pipeline.defs.publishing import BI_COPY, bi_marts_duckdb
from cti_pipeline.settings import Settings
from cti_pipeline.warehouse import publish_bi_copy, publish_parquet
from cti_pipeline_tests.publishing.conftest import MART_COLUMNS, write_marts


def listing(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def test_every_mart_is_a_folder_with_one_file_per_year_or_one_file(tmp_path: Path):
    warehouse = tmp_path / "warehouse" / "cti.duckdb"
    written = write_marts(warehouse, years=(2023, 2024))
    target = tmp_path / "warehouse" / "parquet"
    with duckdb.connect(str(warehouse)) as conn:
        files = publish_parquet(conn, target)
    assert listing(target) == [
        "cti_ejecucion/cti_ejecucion_2023.parquet",
        "cti_ejecucion/cti_ejecucion_2024.parquet",
        "gpedc_completitud/gpedc_completitud.parquet",
        "gpedc_indicadores/gpedc_indicadores.parquet",  # anio_referencia is not a year partition
        "pncti_indicadores/pncti_indicadores_2023.parquet",
        "pncti_indicadores/pncti_indicadores_2024.parquet",
    ]
    assert sorted(p.name for p in target.parent.iterdir()) == ["cti.duckdb", "parquet"]  # no temporary folder left
    with duckdb.connect(str(warehouse), read_only=True) as live:
        for table in MART_COLUMNS:
            name = table.split(".")[1]
            # each folder reads as the whole mart (the year column stays inside every file), with its column order
            folder = pq.read_table(target / name)
            assert folder.column_names == list(MART_COLUMNS[table])
            assert folder.num_rows == len(written[table]) == sum(files[table].values())
            expected = live.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
            assert duckdb.sql(f"SELECT * FROM read_parquet('{target / name}/*.parquet') ORDER BY ALL").fetchall() == expected
            for file, rows in files[table].items():  # the reported rows are the files' own
                assert pq.ParquetFile(target / file).metadata.num_rows == rows
                if "_20" in file:
                    year = int(file[-12:-8])
                    assert pq.read_table(target / file).column("anio").unique().to_pylist() == [year]


def test_the_folder_is_readable_by_whoever_reads_the_warehouse_folder(tmp_path: Path):
    warehouse = tmp_path / "cti.duckdb"
    write_marts(warehouse, years=(2024,))
    with duckdb.connect(str(warehouse)) as conn:
        publish_parquet(conn, tmp_path / "parquet")
    (tmp_path / "probe").mkdir()  # a folder made the ordinary way (the umask decides)
    assert (tmp_path / "parquet").stat().st_mode == (tmp_path / "probe").stat().st_mode  # not a temp folder's 0700


def test_republishing_replaces_the_whole_set(tmp_path: Path):
    warehouse = tmp_path / "cti.duckdb"
    write_marts(warehouse, years=(2023, 2024))
    target = tmp_path / "parquet"
    with duckdb.connect(str(warehouse)) as conn:
        publish_parquet(conn, target)
        opened = (target / "cti_ejecucion" / "cti_ejecucion_2023.parquet").open("rb")  # a reader mid-refresh
        conn.execute("DELETE FROM marts.cti_ejecucion WHERE anio = 2023")
        conn.execute("DELETE FROM marts.pncti_indicadores WHERE anio = 2024")
        files = publish_parquet(conn, target)
    try:
        assert pq.ParquetFile(opened).metadata.num_rows > 0  # what was open stays readable
    finally:
        opened.close()
    assert set(files["marts.cti_ejecucion"]) == {"cti_ejecucion/cti_ejecucion_2024.parquet"}
    assert set(files["marts.pncti_indicadores"]) == {"pncti_indicadores/pncti_indicadores_2023.parquet"}
    # a year gone from the marts is gone from the set: nothing of the old set is left behind
    assert "cti_ejecucion/cti_ejecucion_2023.parquet" not in listing(target)
    assert "pncti_indicadores/pncti_indicadores_2024.parquet" not in listing(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cti.duckdb", "parquet"]


def test_an_empty_mart_still_has_a_file_with_its_columns(tmp_path: Path):
    warehouse = tmp_path / "cti.duckdb"
    write_marts(warehouse, years=(2024,))
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("DELETE FROM marts.pncti_indicadores")
        files = publish_parquet(conn, tmp_path / "parquet")
    assert files["marts.pncti_indicadores"] == {"pncti_indicadores/pncti_indicadores.parquet": 0}
    empty = pq.read_table(tmp_path / "parquet" / "pncti_indicadores")
    assert empty.num_rows == 0 and empty.column_names == list(MART_COLUMNS["marts.pncti_indicadores"])


def test_a_set_left_by_a_killed_publication_is_cleaned_up_later(tmp_path: Path):
    warehouse = tmp_path / "cti.duckdb"
    write_marts(warehouse, years=(2024,))
    stale = tmp_path / ".parquet-killed"
    (stale / "cti_ejecucion").mkdir(parents=True)
    (stale / "cti_ejecucion" / "cti_ejecucion_2024.parquet").write_bytes(b"half a file")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    in_progress = tmp_path / ".parquet-another-run"  # recent: may be another publication's folder
    in_progress.mkdir()
    with duckdb.connect(str(warehouse)) as conn:
        publish_parquet(conn, tmp_path / "parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".parquet-another-run", "cti.duckdb", "parquet"]


def test_the_bi_copy_is_written_in_the_storage_format_of_duckdb_1_0_and_later(tmp_path: Path):
    warehouse = tmp_path / "cti.duckdb"
    write_marts(warehouse, years=(2024,))
    bi = tmp_path / "bi.duckdb"
    with duckdb.connect(str(warehouse)) as conn:
        publish_bi_copy(conn, bi)
        live_format = conn.execute("SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0]
    with duckdb.connect(str(bi), read_only=True) as copy:
        copy_format = copy.execute("SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = 'bi'").fetchone()[0]
    assert copy_format == "v1.0.0+"  # storage version 64; test_bi_old_clients.py opens it with real 1.1 and 1.4 clients
    assert live_format != copy_format  # the live warehouse keeps the installed DuckDB's own format


@pytest.mark.slow
def test_the_asset_publishes_the_copy_and_the_parquet_set(settings: Settings, resources: dict):
    written = write_marts(settings.warehouse, years=(2023, 2024))
    result = dg.materialize([bi_marts_duckdb], resources=resources, instance=dg.DagsterInstance.get())
    assert result.success
    metadata = result.get_asset_materialization_events()[0].event_specific_data.materialization.metadata
    assert result.get_asset_materialization_events()[0].asset_key == BI_COPY
    assert metadata["ruta"].value == str(settings.paths.bi_copy)
    assert metadata["ruta_parquet"].value == str(settings.paths.bi_parquet)
    table = metadata["tablas"].value
    assert "| marts.cti_ejecucion | 80 | 80 | 2 | 2023, 2024 |" in table
    assert "| marts.gpedc_indicadores | 7 | 7 | 1 |  |" in table
    for name, frame in written.items():
        assert pq.read_table(settings.paths.bi_parquet / name.split(".")[1]).num_rows == len(frame)
    with duckdb.connect(str(settings.paths.bi_copy), read_only=True) as bi:
        assert bi.execute("SELECT count(*) FROM marts.cti_ejecucion").fetchone()[0] == len(written["marts.cti_ejecucion"]) == 80
