"""The folder reader: a cached read, or one shared with a worker process, gives exactly the rows of a plain read."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pandas as pd
import pytest

from cti_pipeline.contracts.declaracion import DECLARACION
from cti_pipeline.landing import file_reader, folder_reader
from cti_pipeline.landing.discovery import FileRejection, LandedFile, discover_files
from cti_pipeline.landing.file_reader import ReadSpec
from cti_pipeline.landing.folder_reader import FileBatch, read_folder
from cti_pipeline.landing.read_cache import ReadCache, read_entries
from cti_pipeline_tests.factories import declaracion_row, valid_ruc, write_csv, write_xlsx

SPEC = ReadSpec.of(DECLARACION)


def write_year(folder: Path, files: int = 4) -> Path:
    """A year folder with a workbook, CSVs in two encodings, a file with an extra column and an unreadable file."""
    write_xlsx(folder / "a.xlsx", [declaracion_row(codigo_intervencion=f"X{i}", monto_ejecutado=10.5 + i) for i in range(3)], mtime=1_700_000_000)
    write_csv(folder / "b.csv", [declaracion_row(nombre_entidad="Asociación Ñandú", ruc_entidad=valid_ruc("2060000001"))],
              encoding="cp1252", separator=";", decimal_comma=True, mtime=1_700_000_100)
    extra = declaracion_row(ruc_entidad=valid_ruc("2060000002"))
    extra["observacion interna"] = "revisar"
    write_csv(folder / "c.csv", [extra], mtime=1_700_000_200)
    (folder / "d.xlsx").write_bytes(b"not a zip at all")
    os.utime(folder / "d.xlsx", (1_700_000_250, 1_700_000_250))
    for i in range(files - 4):
        write_csv(folder / f"e{i:03}.csv", [declaracion_row(ruc_entidad=valid_ruc(f"20700{i:05}"))], mtime=1_700_000_300 + i)
    return folder


def plain_read(folder: Path) -> FileBatch:
    return read_folder(discover_files(folder).files, DECLARACION)


def assert_same_batch(expected: FileBatch, actual: FileBatch) -> None:
    pd.testing.assert_frame_equal(expected.rows, actual.rows)
    pd.testing.assert_frame_equal(expected.problems, actual.problems)
    assert actual.rejected == expected.rejected
    assert actual.warnings == expected.warnings
    assert [(f.name, getattr(o, "sha256", None)) for f, o in actual.outcomes] == [(f.name, getattr(o, "sha256", None)) for f, o in expected.outcomes]


def test_a_second_read_loads_every_file_from_the_cache_and_gives_the_same_rows(tmp_path: Path):
    folder = write_year(tmp_path / "landing")
    expected = plain_read(folder)
    assert len(expected.rows) == 5 and [r.archivo for r in expected.rejected] == ["d.xlsx"]
    assert any("observacion_interna" in w for w in expected.warnings)

    files = discover_files(folder).files
    first = read_folder(files, DECLARACION, ReadCache(tmp_path / "cache"))
    second = read_folder(files, DECLARACION, ReadCache(tmp_path / "cache"))

    assert (first.read_from_cache, second.read_from_cache) == (0, 4)
    assert_same_batch(expected, first)
    assert_same_batch(expected, second)
    assert second.rows.loc[second.rows["archivo"] == "b.csv", "nombre_entidad"].tolist() == ["Asociación Ñandú"]


def test_a_changed_file_is_read_again_and_the_others_come_from_the_cache(tmp_path: Path):
    folder = write_year(tmp_path / "landing")
    cache = ReadCache(tmp_path / "cache")
    read_folder(discover_files(folder).files, DECLARACION, cache)

    write_xlsx(folder / "a.xlsx", [declaracion_row(codigo_intervencion="NUEVO")], mtime=1_700_009_999)
    batch = read_folder(discover_files(folder).files, DECLARACION, cache)

    assert batch.read_from_cache == 3
    assert batch.rows.loc[batch.rows["archivo"] == "a.xlsx", "codigo_intervencion"].tolist() == ["NUEVO"]
    assert_same_batch(plain_read(folder), batch)


def test_a_cache_that_cannot_be_trusted_means_the_files_are_read_again(tmp_path: Path):
    folder = write_year(tmp_path / "landing")
    files = discover_files(folder).files
    cache = ReadCache(tmp_path / "cache")
    read_folder(files, DECLARACION, cache)
    assert len(cache.load(files, SPEC)) == 4

    assert ReadCache(tmp_path / "cache", version="other code").load(files, SPEC) == {}
    assert cache.load(files, ReadSpec(SPEC.sheet, SPEC.names[:-1], SPEC.required_names)) == {}
    cache.path.write_bytes(cache.path.read_bytes()[:300])  # truncated (a crash mid-write of an older version)
    assert cache.load(files, SPEC) == {}
    batch = read_folder(files, DECLARACION, cache)
    assert batch.read_from_cache == 0
    assert_same_batch(plain_read(folder), batch)
    assert len(cache.load(files, SPEC)) == 4  # and it was written again


def test_a_rejected_file_is_cached_with_its_reason_and_files_that_left_the_folder_leave_the_cache(tmp_path: Path):
    folder = write_year(tmp_path / "landing")
    cache = ReadCache(tmp_path / "cache")
    read_folder(discover_files(folder).files, DECLARACION, cache)
    outcome = cache.load(discover_files(folder).files, SPEC)["d.xlsx"]
    assert isinstance(outcome, FileRejection) and "no es un libro de Excel" in outcome.motivo

    (folder / "c.csv").unlink()
    batch = read_folder(discover_files(folder).files, DECLARACION, cache)
    assert batch.read_from_cache == 3
    assert sorted(read_entries(cache.path, cache.version, SPEC)) == ["a.xlsx", "b.csv", "d.xlsx"]


def test_an_unwritable_cache_only_costs_speed(tmp_path: Path):
    folder = write_year(tmp_path / "landing")
    blocked = tmp_path / "not_a_folder"
    blocked.write_text("a file where the cache folder would be")
    batch = read_folder(discover_files(folder).files, DECLARACION, ReadCache(blocked / "cache"))
    assert_same_batch(plain_read(folder), batch)


# --- a read shared with a worker process ---------------------------------------------------------
# These run in the worker too (spawned, it imports this module): module-level, so they can be pickled.
MARKER = "CTI_TEST_WORKER_MARKER"


def read_marking_the_worker(file: LandedFile, spec: ReadSpec):
    """In the worker: leave a marker, then read. Here: wait for that marker before reading the first file,
    so the worker surely reads something however slowly it starts."""
    marker = Path(os.environ[MARKER])
    if multiprocessing.parent_process() is not None:
        marker.touch()
    elif file.name == "a.xlsx":
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert time.monotonic() < deadline, "the worker read nothing within two minutes"
            time.sleep(0.02)
    return file_reader.read_file(file, spec)


def read_killing_the_worker(file: LandedFile, spec: ReadSpec):
    """The worker dies on its first file (as under the OOM killer); here files are read as usual."""
    if multiprocessing.parent_process() is not None:
        os._exit(9)
    return file_reader.read_file(file, spec)


@pytest.mark.slow
@pytest.mark.skipif(folder_reader.usable_cores() < 2, reason="the worker process is used only with a second core")
def test_a_read_shared_with_a_worker_gives_the_rows_of_a_plain_read(tmp_path: Path, monkeypatch):
    folder = write_year(tmp_path / "landing", files=60)
    expected = plain_read(folder)
    assert len(expected.rows) == 61
    monkeypatch.setattr(folder_reader, "PARALLEL_MIN_FILES", 2)
    monkeypatch.setenv(MARKER, str(tmp_path / "worker_read_a_file"))
    monkeypatch.setattr(folder_reader, "read_file", read_marking_the_worker)

    shared = read_folder(discover_files(folder).files, DECLARACION, ReadCache(tmp_path / "cache"))
    assert shared.read_by_worker >= 1
    assert_same_batch(expected, shared)
    assert len(ReadCache(tmp_path / "cache").load(discover_files(folder).files, SPEC)) == 60


@pytest.mark.slow
@pytest.mark.skipif(folder_reader.usable_cores() < 2, reason="the worker process is used only with a second core")
def test_a_worker_that_dies_leaves_its_files_to_this_process(tmp_path: Path, monkeypatch):
    folder = write_year(tmp_path / "landing", files=40)
    monkeypatch.setattr(folder_reader, "PARALLEL_MIN_FILES", 2)
    monkeypatch.setattr(folder_reader, "read_file", read_killing_the_worker)
    batch = read_folder(discover_files(folder).files, DECLARACION)
    assert batch.read_by_worker == 0
    assert_same_batch(plain_read(folder), batch)


def test_a_failure_that_may_not_recur_and_a_file_modified_just_now_are_read_again_next_time(tmp_path: Path):
    folder = write_year(tmp_path / "landing")
    (folder / "e.csv").mkdir()  # a path that cannot be read as a file: the disk, not the content, fails
    write_csv(folder / "f.csv", [declaracion_row(ruc_entidad=valid_ruc("2060000003"))])  # modified now
    files = discover_files(folder).files + [LandedFile(folder / "e.csv", 0, 1_700_000_000_000_000_000)]
    cache = ReadCache(tmp_path / "cache")

    first = read_folder(files, DECLARACION, cache)
    rejection = next(r for r in first.rejected if r.archivo == "e.csv")
    assert rejection.transient and "No se pudo abrir el archivo" in rejection.motivo
    assert not next(r for r in first.rejected if r.archivo == "d.xlsx").transient
    assert sorted(cache.load(files, SPEC)) == ["a.xlsx", "b.csv", "c.csv", "d.xlsx"]
    assert read_folder(files, DECLARACION, cache).read_from_cache == 4


def test_temporary_files_left_by_killed_runs_are_removed_an_hour_later(tmp_path: Path):
    folder = write_year(tmp_path / "landing")
    cache = ReadCache(tmp_path / "cache")
    cache.folder.mkdir(parents=True)
    stale, recent = cache.folder / ".lecturas.arrow.999.tmp", cache.folder / ".lecturas.arrow.998.tmp"
    for path in (stale, recent):
        path.write_bytes(b"half written")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))

    read_folder(discover_files(folder).files, DECLARACION, cache)

    assert sorted(p.name for p in cache.folder.iterdir()) == [".lecturas.arrow.998.tmp", "lecturas.arrow"]
