"""The BI copy: marts only, atomic replacement, readable while another process writes the live warehouse."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from cti_pipeline.warehouse import publish_bi_copy
from cti_pipeline_tests.publishing.conftest import MART_COLUMNS, write_marts


def test_the_copy_holds_the_marts_and_nothing_else(tmp_path: Path):
    warehouse = tmp_path / "warehouse" / "cti.duckdb"
    written = write_marts(warehouse)
    bi = tmp_path / "warehouse" / "bi.duckdb"
    with duckdb.connect(str(warehouse)) as conn:
        counts = publish_bi_copy(conn, bi)
    assert counts == {table: len(frame) for table, frame in written.items()}
    # nothing half-made left beside it: no temporary file, no WAL (everything is in bi.duckdb itself)
    assert sorted(p.name for p in bi.parent.iterdir()) == ["bi.duckdb", "cti.duckdb"]
    with duckdb.connect(str(bi), read_only=True) as copy, duckdb.connect(str(warehouse), read_only=True) as live:
        tables = copy.execute("SELECT table_schema || '.' || table_name FROM information_schema.tables ORDER BY 1").fetchall()
        assert [t for (t,) in tables] == sorted(MART_COLUMNS)  # no staging.* (it holds pseudonymised ids)
        for table in MART_COLUMNS:
            assert copy.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall() == live.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
            assert copy.execute(f"DESCRIBE {table}").fetchall() == live.execute(f"DESCRIBE {table}").fetchall()


def test_republishing_replaces_the_copy_under_an_open_reader(tmp_path: Path):
    warehouse = tmp_path / "cti.duckdb"
    write_marts(warehouse, years=(2024,))
    bi = tmp_path / "bi.duckdb"
    with duckdb.connect(str(warehouse)) as conn:
        publish_bi_copy(conn, bi)
    reader = duckdb.connect(str(bi), read_only=True)
    try:
        before = reader.execute("SELECT count(*) FROM marts.cti_ejecucion").fetchone()[0]
        with duckdb.connect(str(warehouse)) as conn:
            conn.execute("DELETE FROM marts.cti_ejecucion WHERE ods IS NULL")
            remaining = conn.execute("SELECT count(*) FROM marts.cti_ejecucion").fetchone()[0]
            publish_bi_copy(conn, bi)
        assert remaining < before
        # the open reader keeps its consistent (old) file; a new connection sees the new copy
        assert reader.execute("SELECT count(*) FROM marts.cti_ejecucion").fetchone()[0] == before
    finally:
        reader.close()
    with duckdb.connect(str(bi), read_only=True) as fresh:
        assert fresh.execute("SELECT count(*) FROM marts.cti_ejecucion").fetchone()[0] == remaining


WRITER = """
import sys, pathlib, duckdb
from cti_pipeline.warehouse import publish_bi_copy
warehouse, bi, versions = sys.argv[1], pathlib.Path(sys.argv[2]), int(sys.argv[3])
conn = duckdb.connect(warehouse)   # held for the whole 'run', as a Dagster step holds it
conn.execute("CREATE SCHEMA IF NOT EXISTS marts")
conn.execute("CREATE TABLE IF NOT EXISTS marts.a (version INTEGER, i BIGINT)")
conn.execute("CREATE TABLE IF NOT EXISTS marts.b (version INTEGER)")
for version in range(1, versions + 1):
    conn.execute("BEGIN TRANSACTION")
    conn.execute("DELETE FROM marts.a")
    conn.execute("DELETE FROM marts.b")
    conn.execute("INSERT INTO marts.a SELECT ?, i FROM range(?) t(i)", [version, 1000 * version])
    conn.execute("INSERT INTO marts.b VALUES (?)", [version])
    conn.execute("COMMIT")
    publish_bi_copy(conn, bi)
    print(version, flush=True)
conn.close()
"""


@pytest.mark.slow
def test_bi_readers_work_while_another_process_writes_the_live_warehouse(tmp_path: Path):
    warehouse = tmp_path / "cti.duckdb"
    bi = tmp_path / "bi.duckdb"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(warehouse), str(bi), "40"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "1", writer.stderr.read()
        live_locked = 0
        versions: list[int] = []
        while writer.poll() is None:
            try:
                duckdb.connect(str(warehouse), read_only=True).close()
            except duckdb.IOException:
                live_locked += 1  # why BI never opens the live warehouse
            with duckdb.connect(str(bi), read_only=True) as reader:
                a_versions, a_rows = reader.execute("SELECT min(version) || '-' || max(version), count(*) FROM marts.a").fetchone()
                (b_version,) = reader.execute("SELECT version FROM marts.b").fetchone()
            # every copy a reader opens is one whole published state: both tables of the same version, all rows
            assert a_versions == f"{b_version}-{b_version}"
            assert a_rows == 1000 * b_version
            versions.append(b_version)
        assert writer.returncode == 0, writer.stderr.read()
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert live_locked > 0
    assert versions == sorted(versions) and len(set(versions)) > 1  # readers saw the copy being replaced
    with duckdb.connect(str(bi), read_only=True) as reader:
        assert reader.execute("SELECT version FROM marts.b").fetchone()[0] == 40
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bi.duckdb", "cti.duckdb"]


def test_a_copy_left_by_a_killed_publication_is_cleaned_up_later(tmp_path: Path):
    import os

    warehouse = tmp_path / "warehouse" / "cti.duckdb"
    write_marts(warehouse, years=(2024,))
    stale = warehouse.parent / ".bi-killed.duckdb"
    stale.write_bytes(b"half a database")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    in_progress = warehouse.parent / ".bi-another-run.duckdb"  # recent: may be another publication's file
    in_progress.write_bytes(b"being written")
    with duckdb.connect(str(warehouse)) as conn:
        publish_bi_copy(conn, warehouse.parent / "bi.duckdb")
    assert sorted(p.name for p in warehouse.parent.iterdir()) == [".bi-another-run.duckdb", "bi.duckdb", "cti.duckdb"]
