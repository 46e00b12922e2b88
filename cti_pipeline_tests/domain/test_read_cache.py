"""The read cache and the helper process: a cached or shared read gives exactly the rows of a plain read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import pytest

from cti_pipeline.contracts.declaracion import DECLARACION
from cti_pipeline.domain import reading
from cti_pipeline.domain.read_cache import ReadCache, read_entries, reading_code_version
from cti_pipeline.domain.read_helper import CLAIMS, Claims, read_with_helper
from cti_pipeline.domain.reading import FilePart, ReadSpec, read_part, read_source_files
from cti_pipeline.landing.discovery import FileRejection, LandedFile, discover_files
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


def plain_read(folder: Path) -> reading.FileBatch:
    return read_source_files(discover_files(folder).files, DECLARACION)


def assert_same_batch(expected: reading.FileBatch, actual: reading.FileBatch) -> None:
    pd.testing.assert_frame_equal(expected.rows, actual.rows)
    assert actual.rejected == expected.rejected
    assert actual.warnings == expected.warnings


def test_a_second_read_loads_every_file_from_the_cache_and_gives_the_same_rows(tmp_path: Path):
    folder = write_year(tmp_path / "landing")
    expected = plain_read(folder)
    assert len(expected.rows) == 5 and [r.archivo for r in expected.rejected] == ["d.xlsx"]
    assert any("observacion_interna" in w for w in expected.warnings)

    files = discover_files(folder).files
    first = read_source_files(files, DECLARACION, ReadCache(tmp_path / "cache"))
    second = read_source_files(files, DECLARACION, ReadCache(tmp_path / "cache"))

    assert (first.read_from_cache, second.read_from_cache) == (0, 4)
    assert_same_batch(expected, first)
    assert_same_batch(expected, second)
    assert second.rows.loc[second.rows["archivo"] == "b.csv", "nombre_entidad"].tolist() == ["Asociación Ñandú"]


def test_a_changed_file_is_read_again_and_the_others_come_from_the_cache(tmp_path: Path):
    folder = write_year(tmp_path / "landing")
    cache = ReadCache(tmp_path / "cache")
    read_source_files(discover_files(folder).files, DECLARACION, cache)

    write_xlsx(folder / "a.xlsx", [declaracion_row(codigo_intervencion="NUEVO")], mtime=1_700_009_999)
    batch = read_source_files(discover_files(folder).files, DECLARACION, cache)

    assert batch.read_from_cache == 3
    assert batch.rows.loc[batch.rows["archivo"] == "a.xlsx", "codigo_intervencion"].tolist() == ["NUEVO"]
    assert_same_batch(plain_read(folder), batch)


def test_a_cache_that_cannot_be_trusted_means_the_files_are_read_again(tmp_path: Path):
    folder = write_year(tmp_path / "landing")
    files = discover_files(folder).files
    cache = ReadCache(tmp_path / "cache")
    read_source_files(files, DECLARACION, cache)
    assert len(cache.load(files, SPEC)) == 4

    assert ReadCache(tmp_path / "cache", version="other code").load(files, SPEC) == {}
    assert cache.load(files, ReadSpec(SPEC.sheet, SPEC.names[:-1], SPEC.required_names)) == {}
    cache.path.write_bytes(cache.path.read_bytes()[:300])  # truncated (a crash mid-write of an older version)
    assert cache.load(files, SPEC) == {}
    batch = read_source_files(files, DECLARACION, cache)
    assert batch.read_from_cache == 0
    assert_same_batch(plain_read(folder), batch)
    assert len(cache.load(files, SPEC)) == 4  # and it was written again


def test_a_rejected_file_is_cached_with_its_reason_and_files_that_left_the_folder_leave_the_cache(tmp_path: Path):
    folder = write_year(tmp_path / "landing")
    cache = ReadCache(tmp_path / "cache")
    read_source_files(discover_files(folder).files, DECLARACION, cache)
    outcome = cache.load(discover_files(folder).files, SPEC)["d.xlsx"]
    assert isinstance(outcome, FileRejection) and "no es un libro de Excel" in outcome.motivo

    (folder / "c.csv").unlink()
    batch = read_source_files(discover_files(folder).files, DECLARACION, cache)
    assert batch.read_from_cache == 3
    assert sorted(read_entries(cache.path, cache.version, SPEC)) == ["a.xlsx", "b.csv", "d.xlsx"]


def test_an_unwritable_cache_only_costs_speed(tmp_path: Path):
    folder = write_year(tmp_path / "landing")
    blocked = tmp_path / "not_a_folder"
    blocked.write_text("a file where the cache folder would be")
    batch = read_source_files(discover_files(folder).files, DECLARACION, ReadCache(blocked / "cache"))
    assert_same_batch(plain_read(folder), batch)


def wait_for_the_helper_to_claim(scratch: Path, position: int, timeout: float = 60) -> None:
    """Block until the helper (working from the last file backwards) has claimed file `position`."""
    deadline = time.monotonic() + timeout
    while not any(_first_from_the_back(work / CLAIMS) <= position for work in scratch.glob(".cti-lecturas-*")):
        assert time.monotonic() < deadline, "the helper claimed nothing within a minute"
        time.sleep(0.02)


def _first_from_the_back(path: Path) -> int:
    claims = Claims(path)
    try:
        return claims.ends()[1]
    finally:
        claims.close()


def test_the_helper_reads_from_the_last_file_backwards_what_this_process_has_not_claimed(tmp_path: Path):
    folder = write_year(tmp_path / "landing", files=40)
    files = discover_files(folder).files
    read_here: list[int] = []

    def reader_that_lets_the_helper_start(position: int) -> None:
        if position == 0:  # whatever the machine's speed, the helper claims its first file before this one ends
            wait_for_the_helper_to_claim(tmp_path / "scratch", len(files) - 1)
        read_here.append(position)

    by_helper = read_with_helper(files, SPEC, reading_code_version(), reader_that_lets_the_helper_start, scratch=tmp_path / "scratch")

    assert 0 < len(read_here) < len(files) and read_here == list(range(len(read_here)))
    assert sorted(by_helper) == sorted(f.name for f in files[len(read_here):])
    for file in files[len(read_here):]:
        assert _same_outcome(by_helper[file.name], read_part(file, SPEC)), file.name
    assert list((tmp_path / "scratch").iterdir()) == []  # its work folder is gone


def test_claims_from_both_ends_never_give_a_position_twice_or_skip_one(tmp_path: Path):
    front, back = Claims.create(tmp_path / "c", 7), Claims(tmp_path / "c")
    taken = [front.take(), back.take(from_back=True), back.take(from_back=True), front.take(), front.take(), front.take(),
             back.take(from_back=True), front.take()]
    assert taken == [0, 6, 5, 1, 2, 3, 4, None]
    assert back.ends() == (4, 4)


def test_without_an_interpreter_to_start_the_helper_every_file_is_read_here(tmp_path: Path, monkeypatch):
    files = discover_files(write_year(tmp_path / "landing", files=30)).files
    monkeypatch.setattr(sys, "executable", "")
    read_here: list[int] = []

    assert read_with_helper(files, SPEC, reading_code_version(), read_here.append, scratch=tmp_path / "scratch") == {}
    assert read_here == []  # the caller (read_source_files) reads them all itself
    assert list((tmp_path / "scratch").iterdir()) == []
    monkeypatch.setattr(reading, "HELPER_MIN_FILES", 2)
    assert_same_batch(plain_read(tmp_path / "landing"), read_source_files(files, DECLARACION, ReadCache(tmp_path / "cache")))


def run_helper(work: Path, files: list[LandedFile], front: int, parent: int) -> tuple[Claims, dict]:
    """The helper process on `files`, as if the caller had already claimed files 0..front-1."""
    work.mkdir()
    claims = Claims.create(work / CLAIMS, len(files), front=front)
    request = {"files": [[str(f.path), f.size, f.mtime_ns] for f in files], "spec": asdict(SPEC),
               "version": reading_code_version(), "work": str(work), "parent": parent}
    (work / "request.json").write_text(json.dumps(request))
    done = subprocess.run([sys.executable, "-m", "cti_pipeline.domain.read_helper", str(work / "request.json")],
                          capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return claims, read_entries(work / "helper.arrow", reading_code_version(), SPEC)


def test_the_helper_process_reads_from_the_back_until_it_meets_the_caller(tmp_path: Path):
    files = discover_files(write_year(tmp_path / "landing", files=10)).files
    claims, handed_over = run_helper(tmp_path / "work", files, front=6, parent=os.getpid())

    assert claims.ends() == (6, 6) and claims.take() is None and claims.take(from_back=True) is None
    claims.close()
    assert sorted(handed_over) == sorted(f.name for f in files[6:])
    assert all(_same_outcome(handed_over[f.name][1], read_part(f, SPEC)) for f in files[6:])


def test_the_helper_leaves_a_failure_that_may_not_recur_to_the_caller(tmp_path: Path):
    folder = write_year(tmp_path / "landing", files=6)
    (folder / "z.csv").mkdir()  # the disk, not the content, fails: the caller retries it in the same run
    files = [*discover_files(folder).files, LandedFile(folder / "z.csv", 0, 1_700_000_000_000_000_000)]
    claims, handed_over = run_helper(tmp_path / "work", files, front=4, parent=os.getpid())

    claims.close()
    assert sorted(handed_over) == sorted(f.name for f in files[4:6])
    assert read_part(files[-1], SPEC).transient


def test_the_helper_reads_nothing_for_a_caller_that_is_gone(tmp_path: Path):
    files = discover_files(write_year(tmp_path / "landing", files=6)).files
    claims, handed_over = run_helper(tmp_path / "work", files, front=0, parent=-1)

    assert claims.ends() == (0, len(files)) and handed_over == {}
    claims.close()


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="the helper process is used only with a second core")
def test_a_shared_read_gives_the_rows_of_a_plain_read_even_when_the_cache_cannot_be_written(tmp_path: Path, monkeypatch):
    """Whatever the helper managed to read, a file it claimed but could not store is read here."""
    folder = write_year(tmp_path / "landing", files=120)
    monkeypatch.setattr(reading, "HELPER_MIN_FILES", 2)
    files = discover_files(folder).files
    (tmp_path / "blocked").write_text("not a folder")
    original_read_part = reading.read_part

    def read_part_slowly_at_first(file, spec):  # this process waits for the helper's first claim
        if file is files[0]:
            wait_for_the_helper_to_claim(tmp_path / "cache", len(files) - 1)
        return original_read_part(file, spec)

    monkeypatch.setattr(reading, "read_part", read_part_slowly_at_first)
    shared = read_source_files(files, DECLARACION, ReadCache(tmp_path / "cache"))
    monkeypatch.setattr(reading, "read_part", original_read_part)
    unwritable = read_source_files(files, DECLARACION, ReadCache(tmp_path / "blocked" / "cache"))

    expected = plain_read(folder)
    assert len(expected.rows) == 121
    assert shared.read_by_helper >= 1
    assert_same_batch(expected, shared)
    assert_same_batch(expected, unwritable)
    assert len(ReadCache(tmp_path / "cache").load(files, SPEC)) == 120


def test_a_failure_that_may_not_recur_and_a_file_modified_just_now_are_read_again_next_time(tmp_path: Path):
    folder = write_year(tmp_path / "landing")
    (folder / "e.csv").mkdir()  # a path that cannot be read as a file: the disk, not the content, fails
    write_csv(folder / "f.csv", [declaracion_row(ruc_entidad=valid_ruc("2060000003"))])  # modified now
    files = discover_files(folder).files + [LandedFile(folder / "e.csv", 0, 1_700_000_000_000_000_000)]
    cache = ReadCache(tmp_path / "cache")

    first = read_source_files(files, DECLARACION, cache)
    rejection = next(r for r in first.rejected if r.archivo == "e.csv")
    assert rejection.transient and "No se pudo abrir el archivo" in rejection.motivo
    assert not next(r for r in first.rejected if r.archivo == "d.xlsx").transient
    assert sorted(cache.load(files, SPEC)) == ["a.xlsx", "b.csv", "c.csv", "d.xlsx"]
    assert read_source_files(files, DECLARACION, cache).read_from_cache == 4


def test_work_folders_and_temporary_files_left_by_killed_runs_are_removed_an_hour_later(tmp_path: Path):
    folder = write_year(tmp_path / "landing")
    cache = ReadCache(tmp_path / "cache")
    old, recent = cache.folder / ".cti-lecturas-old", cache.folder / ".cti-lecturas-recent"
    for work in (old, recent):
        work.mkdir(parents=True)
        Claims.create(work / CLAIMS, 3).close()
    stale_temporary = cache.folder / ".lecturas.arrow.999.tmp"
    stale_temporary.write_bytes(b"half written")
    for path in (old, stale_temporary):
        os.utime(path, (time.time() - 7200, time.time() - 7200))

    read_source_files(discover_files(folder).files, DECLARACION, cache)

    assert sorted(p.name for p in cache.folder.iterdir()) == [".cti-lecturas-recent", "lecturas.arrow"]


def _same_outcome(left: FilePart | FileRejection | None, right: FilePart | FileRejection) -> bool:
    if isinstance(right, FileRejection) or left is None:
        return left == right
    return (
        left.raw.names == right.raw.names
        and list(left.raw.fila) == list(right.raw.fila)
        and (left.raw.hoja, left.raw.decimal_comma, left.raw.encoding) == (right.raw.hoja, right.raw.decimal_comma, right.raw.encoding)
        and all(left.text[n].equals(right.text[n]) for n in right.raw.names)
        and left.extras == right.extras
        and left.warnings == right.warnings
    )
