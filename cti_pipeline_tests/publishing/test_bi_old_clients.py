"""Older DuckDB clients read the BI copy the pipeline writes; pyarrow reads its Parquet files.

Each client runs in its own venv with that DuckDB from PyPI, cached under <checkout>/.cache/duckdb-clients/<version>
(git-ignored): the first run installs it (a few seconds with uv), later runs reuse it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from cti_pipeline.cli import main
from cti_pipeline.publishing import MART_NAMES
from cti_pipeline.settings import Settings

CLIENTS_DIR = Path(__file__).resolve().parents[2] / ".cache" / "duckdb-clients"
# The oldest client docs/bi.md promises, and the last 1.x LTS line.
OLD_CLIENTS = ("1.1.3", "1.4.3")

READER = """
import json, sys, duckdb
bi, parquet = sys.argv[1], sys.argv[2]
out = {"version": duckdb.__version__, "tables": {}, "parquet_rows": {}}
with duckdb.connect(bi, read_only=True) as con:
    for (name,) in con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts' ORDER BY 1").fetchall():
        out["tables"][name] = [[str(v) for v in row] for row in con.execute(f"SELECT * FROM marts.{name} ORDER BY ALL").fetchall()]
        out["parquet_rows"][name] = con.execute(f"SELECT count(*) FROM read_parquet('{parquet}/{name}/*.parquet')").fetchone()[0]
print(json.dumps(out))
"""


@contextmanager
def locked(path: Path):
    """One xdist worker builds a client venv at a time (the others wait, then reuse it)."""
    with path.open("w") as handle:
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock; the suite runs on Linux
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def installed_version(python: Path) -> str | None:
    if not python.exists():
        return None
    probe = subprocess.run([str(python), "-c", "import duckdb; print(duckdb.__version__)"], capture_output=True, text=True)
    return probe.stdout.strip() if probe.returncode == 0 else None


def old_duckdb_python(version: str) -> Path:
    """The Python of a cached venv holding duckdb==version (built on first use, rebuilt when broken)."""
    CLIENTS_DIR.mkdir(parents=True, exist_ok=True)
    venv = CLIENTS_DIR / version
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    with locked(CLIENTS_DIR / f"{version}.lock"):
        if installed_version(python) == version:
            return python
        shutil.rmtree(venv, ignore_errors=True)
        with_uv = importlib.util.find_spec("uv") is not None  # scripts/setup.sh installs uv into .venv
        subprocess.run([sys.executable, "-m", "venv", *(["--without-pip"] if with_uv else []), str(venv)], check=True, timeout=120)
        if with_uv:
            install = [sys.executable, "-m", "uv", "pip", "install", "--quiet", "--python", str(python)]
        else:
            install = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        done = subprocess.run([*install, f"duckdb=={version}"], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"could not install duckdb=={version}: {done.stderr}"
        assert installed_version(python) == version
    return python


def read_with(python: Path, bi: Path, parquet: Path) -> dict:
    done = subprocess.run([str(python), "-c", READER, str(bi), str(parquet)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.slow
def test_older_duckdb_clients_read_every_mart_of_the_published_copy(data_dir: Path, settings: Settings, tmp_path: Path):
    assert main(["sample-data", "--out", str(data_dir), "--years", "2023", "2024", "--rows", "60"]) == 0
    assert main(["materialize"]) == 0
    with duckdb.connect(str(settings.warehouse), read_only=True) as live:
        expected = {
            name: [[str(v) for v in row] for row in live.execute(f"SELECT * FROM marts.{name} ORDER BY ALL").fetchall()]
            for name in MART_NAMES
        }
    assert all(expected.values()), {name: len(rows) for name, rows in expected.items()}  # every mart has rows to compare

    # pyarrow reads each mart's folder as one table, with the mart's rows
    for name, rows in expected.items():
        assert pq.read_table(settings.paths.bi_parquet / name).num_rows == len(rows), name

    # a file in DuckDB 2.0's own format, written the same way: the clients below must refuse it,
    # or this test would not show that the copy's storage version is what lets them read it
    own_format = tmp_path / "own_format.duckdb"
    with duckdb.connect(str(own_format)) as conn:
        conn.execute("CREATE SCHEMA marts")
        conn.execute("CREATE TABLE marts.t AS SELECT 1 AS i")

    for version in OLD_CLIENTS:
        python = old_duckdb_python(version)
        seen = read_with(python, settings.paths.bi_copy, settings.paths.bi_parquet)
        assert seen["version"] == version
        assert seen["tables"] == expected, version  # every mart, every row, every value as the live warehouse has it
        assert seen["parquet_rows"] == {name: len(rows) for name, rows in expected.items()}, version
        refused = subprocess.run([str(python), "-c", READER, str(own_format), str(settings.paths.bi_parquet)], capture_output=True, text=True)
        assert refused.returncode != 0 and "version number" in refused.stderr, (version, refused.stderr)
