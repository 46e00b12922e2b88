"""One notion of "unchanged": the code version, a year's fingerprint and the one stored in meta.huellas,
and the record that lets an output keep its files."""

import json
import os
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from cti_pipeline import unchanged as fingerprints
from cti_pipeline.contracts.tables import ARCHIVOS_RECHAZADOS, FILAS_RECHAZADAS, HUELLAS, SourceTables
from cti_pipeline.unchanged import forget_record, inputs_fingerprint, record_path, unchanged_outputs, write_record
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


def test_code_version_covers_every_module_of_the_package_and_its_libraries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    package = tmp_path / "pkg"
    (package / "contracts").mkdir(parents=True)
    (package / "contracts" / "x.py").write_text("A = 1\n")
    monkeypatch.setattr(fingerprints, "PACKAGE_DIR", package)
    versions = []
    for change in (None, lambda: (package / "contracts" / "x.py").write_text("A = 2\n"),
                   lambda: (package / "nuevo.py").write_text("B = 1\n")):  # a new module needs no list to count
        if change:
            change()
        fingerprints.code_version.cache_clear()
        versions.append(fingerprints.code_version())
    fingerprints.code_version.cache_clear()
    assert len(set(versions)) == 3
    libraries = fingerprints.dependencies()
    assert {"pandas", "pandera", "duckdb", "python-calamine", "pyarrow", "dagster"} <= libraries
    assert "pytest" not in libraries  # a test tool does not decide what a file reads as


def write_year(conn: duckdb.DuckDBPyConnection, anio: int, huella_value: str, staged: int) -> None:
    staging = pd.DataFrame({"anio": [anio] * staged, "x": ["v"] * staged})
    raw = pd.DataFrame({"anio": [anio] * (staged + 1), "x": ["v"] * (staged + 1)})
    where = {"anio": anio, "origen": "declaraciones"}
    replace_partitions(
        conn,
        [
            TableWrite("raw.declaraciones", {"anio": "INTEGER", "x": "VARCHAR"}, raw, {"anio": anio}),
            TableWrite("staging.declaraciones", {"anio": "INTEGER", "x": "VARCHAR"}, staging, {"anio": anio}),
            TableWrite("quarantine.filas_rechazadas", FILAS_RECHAZADAS, pd.DataFrame(columns=list(FILAS_RECHAZADAS)), where),
            TableWrite("quarantine.archivos_rechazados", ARCHIVOS_RECHAZADOS, pd.DataFrame(columns=list(ARCHIVOS_RECHAZADOS)), where),
            TableWrite(fingerprints.HUELLAS_TABLE, HUELLAS, fingerprints.huella_frame("declaraciones", anio, huella_value, (staged + 1, staged, 0, 0)),
                       {"origen": "declaraciones", "anio": anio}),
        ],
    )


TABLES = SourceTables.of("declaraciones")


def test_unchanged_needs_the_same_fingerprint_and_the_rows_written_with_it(tmp_path: Path):
    def unchanged(anio: int, huella_value: str) -> bool:
        return fingerprints.year_unchanged(conn, "declaraciones", anio, huella_value, TABLES)

    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        assert not unchanged(2024, "h1")  # nothing stored yet
        write_year(conn, 2024, "h1", staged=3)
        write_year(conn, 2023, "h0", staged=2)
        assert unchanged(2024, "h1")
        assert not unchanged(2024, "h2")
        assert not unchanged(2023, "h1")
        assert conn.execute("SELECT count(*) FROM meta.huellas").fetchone()[0] == 2  # one row per year, replaced
        write_year(conn, 2024, "h1", staged=3)
        assert conn.execute("SELECT count(*) FROM meta.huellas WHERE anio = 2024").fetchone()[0] == 1
        conn.execute("DELETE FROM staging.declaraciones WHERE rowid = (SELECT min(rowid) FROM staging.declaraciones WHERE anio = 2024)")
        assert not unchanged(2024, "h1")  # the warehouse no longer holds what was written
        write_year(conn, 2024, "h1", staged=3)
        assert unchanged(2024, "h1")
        conn.execute("DROP TABLE quarantine.archivos_rechazados")  # empty for the year, but gone: written again
        assert not unchanged(2024, "h1")


# --- outputs ------------------------------------------------------------------------------------


def rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "archivo": ["a.xlsx", "a.xlsx", "b.csv"],
            "fila": np.array([2, 3, 7], dtype="int32"),
            "valor": ["YEN", None, "=1+2"],
            "mixto": pd.Series([3, "3", None], dtype=object),
        }
    )


def fingerprint(frame: pd.DataFrame, anio: int = 2024) -> str:
    return inputs_fingerprint({"filas": frame}, anio=anio)


def test_an_outputs_fingerprint_follows_every_value_the_order_the_year_and_the_code(monkeypatch: pytest.MonkeyPatch):
    base = fingerprint(rows())
    assert fingerprint(rows()) == base  # deterministic
    changed = rows()
    changed.loc[1, "valor"] = "None"  # text "None" is not an empty cell
    assert fingerprint(changed) != base
    typed = rows()
    typed.loc[0, "mixto"] = "3"  # the number 3 and the text "3" are different cells
    assert fingerprint(typed) != base
    assert fingerprint(rows().iloc[[1, 0, 2]].reset_index(drop=True)) != base  # row order is output order
    assert fingerprint(rows().astype({"fila": "int64"})) != base  # dtype
    assert fingerprint(rows(), anio=2025) != base
    monkeypatch.setattr(fingerprints, "code_version", lambda: "otro código")
    assert fingerprint(rows()) != base


def test_outputs_are_kept_only_while_fingerprint_and_files_are_as_recorded(tmp_path: Path):
    exports = tmp_path / "exports"
    folder = exports / "observaciones" / "2024"
    folder.mkdir(parents=True)
    outputs = [folder / "a.xlsx", folder / "resumen_apci.xlsx"]
    for path in outputs:
        path.write_bytes(b"contenido " + path.name.encode())
    record = record_path(exports, "observaciones_entidades_2024")
    write_record(record, "h1", outputs, {"graficos": 2})

    assert record.is_file() and record.parent.name == ".huellas" and not any(p.name.startswith(".") for p in folder.iterdir())
    assert json.loads(record.read_text())["archivos"] == {
        "observaciones/2024/a.xlsx": [outputs[0].stat().st_size, outputs[0].stat().st_mtime_ns],
        "observaciones/2024/resumen_apci.xlsx": [outputs[1].stat().st_size, outputs[1].stat().st_mtime_ns],
    }
    assert unchanged_outputs(record, "h1", outputs, owned_folder=folder) == {"graficos": 2}
    assert unchanged_outputs(record, "h2", outputs, owned_folder=folder) is None  # other inputs or code
    assert unchanged_outputs(record, "h1", outputs[:1], owned_folder=folder) is None  # other set of files expected

    (folder / "extra.xlsx").write_bytes(b"x")
    assert unchanged_outputs(record, "h1", outputs, owned_folder=folder) is None  # a file the output does not own
    assert unchanged_outputs(record, "h1", outputs) is not None  # (when no folder is owned, others may be there)
    (folder / "extra.xlsx").unlink()

    outputs[0].write_bytes(b"editado a mano, otro largo")
    assert unchanged_outputs(record, "h1", outputs, owned_folder=folder) is None  # a file changed since
    write_record(record, "h1", outputs)
    assert unchanged_outputs(record, "h1", outputs, owned_folder=folder) == {}
    outputs[1].unlink()
    assert unchanged_outputs(record, "h1", outputs, owned_folder=folder) is None  # a file deleted

    forget_record(record)
    forget_record(record)  # idempotent
    assert unchanged_outputs(record, "h1", outputs) is None
    record.parent.mkdir(exist_ok=True)
    record.write_text("{not json")
    assert unchanged_outputs(record, "h1", outputs) is None  # a damaged record means rewrite
