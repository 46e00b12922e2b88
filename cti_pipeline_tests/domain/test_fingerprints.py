"""The year fingerprint (what a year's result depends on) and the stored one in meta.huellas."""

import os
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from cti_pipeline.contracts.tables import ARCHIVOS_RECHAZADOS, FILAS_RECHAZADAS
from cti_pipeline.domain import fingerprints
from cti_pipeline.warehouse import TableWrite, replace_partitions
from cti_pipeline_tests.factories import declaracion_row, write_csv, write_xlsx

CATALOGS = ("areas_prioritarias", "tipo_cambio")


def huella(year_dir: Path, override: Path | None = None) -> str:
    return fingerprints.year_fingerprint("declaraciones", year_dir, 2024, CATALOGS, override)


@pytest.fixture
def year_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "landing" / "declaraciones" / "2024"
    write_xlsx(folder / "a.xlsx", [declaracion_row()], mtime=1_700_000_000)
    write_csv(folder / "b.csv", [declaracion_row(codigo_intervencion="B")], mtime=1_700_000_100)
    return folder


def test_same_files_give_the_same_fingerprint(year_dir: Path):
    assert huella(year_dir) == huella(year_dir)


def test_a_lock_or_hidden_file_does_not_change_it(year_dir: Path):
    before = huella(year_dir)
    (year_dir / "~$a.xlsx").write_bytes(b"lock")
    (year_dir / ".DS_Store").write_bytes(b"x")
    assert huella(year_dir) == before


@pytest.mark.parametrize("change", ["mtime", "size", "added", "removed", "rejected", "symlink"])
def test_any_change_discovery_can_see_changes_it(year_dir: Path, change: str):
    before = huella(year_dir)
    target = year_dir / "b.csv"
    if change == "mtime":
        os.utime(target, (1_700_000_200, 1_700_000_200))
    elif change == "size":
        stat = target.stat()
        target.write_bytes(target.read_bytes() + b"\r\n")
        os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime, other size
    elif change == "added":
        write_csv(year_dir / "c.csv", [declaracion_row(codigo_intervencion="C")], mtime=1_700_000_000)
    elif change == "removed":
        target.unlink()
    elif change == "rejected":
        (year_dir / "notas.txt").write_text("not a declaration")
    else:
        (year_dir / "enlace.csv").symlink_to(target)
    assert huella(year_dir) != before


def test_a_catalog_override_changes_it(year_dir: Path, tmp_path: Path):
    override = tmp_path / "reference"
    override.mkdir()
    before = huella(year_dir, override)
    (override / "tipo_cambio.csv").write_text("anio,pen_por_usd\n2024,3.9\n", encoding="utf-8")
    assert huella(year_dir, override) != before


def test_the_year_and_the_source_are_part_of_it(year_dir: Path):
    assert fingerprints.year_fingerprint("declaraciones", year_dir, 2023, CATALOGS, None) != huella(year_dir)
    assert fingerprints.year_fingerprint("registros", year_dir, 2024, CATALOGS, None) != huella(year_dir)


def test_code_version_follows_the_bytes_of_the_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    package = tmp_path / "pkg"
    (package / "contracts").mkdir(parents=True)
    (package / "contracts" / "x.py").write_text("A = 1\n")
    monkeypatch.setattr(fingerprints, "PACKAGE", package)
    before = fingerprints.code_version(["contracts"])
    assert fingerprints.code_version(["contracts"]) == before
    (package / "contracts" / "x.py").write_text("A = 2\n")
    assert fingerprints.code_version(["contracts"]) != before
    with pytest.raises(FileNotFoundError, match="renamed.py"):  # a renamed module must not drop out silently
        fingerprints.code_version(["contracts", "renamed.py"])


def write_year(conn: duckdb.DuckDBPyConnection, anio: int, huella_value: str, staged: int) -> None:
    staging = pd.DataFrame({"anio": [anio] * staged, "x": ["v"] * staged})
    raw = pd.DataFrame({"anio": [anio] * (staged + 1), "x": ["v"] * (staged + 1)})
    counts = {"filas_raw": staged + 1, "filas_staging": staged, "filas_cuarentena": 0, "archivos_rechazados": 0}
    where = {"anio": anio, "origen": "declaraciones"}
    replace_partitions(
        conn,
        [
            TableWrite("raw.declaraciones", {"anio": "INTEGER", "x": "VARCHAR"}, raw, {"anio": anio}),
            TableWrite("staging.declaraciones", {"anio": "INTEGER", "x": "VARCHAR"}, staging, {"anio": anio}),
            TableWrite("quarantine.filas_rechazadas", FILAS_RECHAZADAS, pd.DataFrame(columns=list(FILAS_RECHAZADAS)), where),
            TableWrite("quarantine.archivos_rechazados", ARCHIVOS_RECHAZADOS, pd.DataFrame(columns=list(ARCHIVOS_RECHAZADOS)), where),
            TableWrite(fingerprints.TABLE, fingerprints.HUELLAS, fingerprints.huella_frame("declaraciones", anio, huella_value, counts),
                       {"origen": "declaraciones", "anio": anio}),
        ],
    )


def test_unchanged_needs_the_same_fingerprint_and_the_rows_written_with_it(tmp_path: Path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        assert not fingerprints.unchanged(conn, "declaraciones", 2024, "h1")  # nothing stored yet
        write_year(conn, 2024, "h1", staged=3)
        write_year(conn, 2023, "h0", staged=2)
        assert fingerprints.unchanged(conn, "declaraciones", 2024, "h1")
        assert not fingerprints.unchanged(conn, "declaraciones", 2024, "h2")
        assert not fingerprints.unchanged(conn, "declaraciones", 2023, "h1")
        assert conn.execute("SELECT count(*) FROM meta.huellas").fetchone()[0] == 2  # one row per year, replaced
        write_year(conn, 2024, "h1", staged=3)
        assert conn.execute("SELECT count(*) FROM meta.huellas WHERE anio = 2024").fetchone()[0] == 1
        conn.execute("DELETE FROM staging.declaraciones WHERE rowid = (SELECT min(rowid) FROM staging.declaraciones WHERE anio = 2024)")
        assert not fingerprints.unchanged(conn, "declaraciones", 2024, "h1")  # the warehouse no longer holds what was written
        write_year(conn, 2024, "h1", staged=3)
        assert fingerprints.unchanged(conn, "declaraciones", 2024, "h1")
        conn.execute("DROP TABLE quarantine.archivos_rechazados")  # empty for the year, but gone: written again
        assert not fingerprints.unchanged(conn, "declaraciones", 2024, "h1")
