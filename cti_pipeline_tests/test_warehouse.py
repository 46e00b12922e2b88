"""`warehouse.replace_partitions` on a real DuckDB file: the error a failed write reports."""

from __future__ import annotations

import errno
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from cti_pipeline.warehouse import TableWrite, replace_partitions

COLUMNS = {"anio": "INTEGER", "codigo": "VARCHAR"}


def test_a_failed_write_whose_rollback_also_fails_reports_the_first_error(tmp_path: Path):
    """A full disk can end the transaction under the writer, so ROLLBACK finds none ("cannot rollback - no
    transaction is active"); the operator must see the disk error, not that one. Here the transaction is
    ended by a COMMIT inside the write, then the write fails as the disk would."""

    def disk_fills_up(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
        conn.execute("COMMIT")
        raise OSError(errno.ENOSPC, "No space left on device", "w.duckdb.wal")

    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        with pytest.raises(OSError) as raised:
            replace_partitions(conn, [
                TableWrite("staging.t", COLUMNS, pd.DataFrame({"anio": [2024], "codigo": ["a"]}), {"anio": 2024}),
                TableWrite("staging.u", COLUMNS, disk_fills_up, {"anio": 2024}),
            ])
        assert raised.value.errno == errno.ENOSPC and "No space left on device" in str(raised.value)
        assert any("rollback" in note and "no transaction is active" in note for note in getattr(raised.value, "__notes__", []))
        assert conn.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = '_incoming'").fetchone()[0] == 0
        assert conn.execute("SELECT 1").fetchone() == (1,)  # the connection is still usable for the next write
