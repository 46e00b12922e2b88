"""Scanning landing folders (scandir + stat only) and deciding when a drop has settled."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cti_pipeline.landing import settle as fp
from cti_pipeline_tests.factories import declaracion_row, write_csv, write_xlsx


def stat_of(path: Path) -> tuple[int, int]:
    st = os.stat(path, follow_symlinks=False)
    return st.st_size, st.st_mtime_ns


def tick(state: dict[str, fp.GroupState], source_dir: Path) -> fp.Advance:
    return fp.advance(state, fp.scan_years(source_dir), source_dir.name)


def test_scan_years_sees_regular_files_only(tmp_path: Path):
    source = tmp_path / "declaraciones"
    a = write_xlsx(source / "2024" / "entidad_a.xlsx", [declaracion_row()])
    b = write_csv(source / "2023" / "entidad_b.csv", [declaracion_row(anio=2023)], encoding="cp1252", separator=";")
    (source / "2024" / ".~lock.entidad_a.xlsx#").write_text("lock")
    (source / "2024" / "~$entidad_a.xlsx").write_text("lock")
    (source / "2024" / ".oculto.csv").write_text("x")
    (source / "2024" / "sub").mkdir()
    (source / "2024" / "sub" / "dentro.csv").write_text("x")
    (source / "2024" / "enlace.xlsx").symlink_to(a)
    (source / "borrador").mkdir()
    (source / "suelto.csv").write_text("x")
    empty = source / "2022"
    empty.mkdir()

    scan = fp.scan_years(source)

    assert scan.groups == {"2022": {}, "2023": {"entidad_b.csv": stat_of(b)}, "2024": {"entidad_a.xlsx": stat_of(a)}}
    assert scan.file_count == 2
    assert any("borrador" in w for w in scan.warnings) and any("suelto.csv" in w for w in scan.warnings)


def test_scan_of_missing_source_is_empty(tmp_path: Path):
    assert fp.scan_years(tmp_path / "nada").groups == {}
    assert fp.scan_folder(tmp_path / "nada").groups == {}


def test_scan_folder_is_one_group(tmp_path: Path):
    folder = tmp_path / "gpedc" / "ronda4"
    f = write_csv(folder / "puntos_focales.csv", [{"codigo_respondente": "R1"}])
    assert fp.scan_folder(folder).groups == {"ronda4": {"puntos_focales.csv": stat_of(f)}}


def test_fingerprint_covers_path_size_and_mtime():
    files = {"a.xlsx": (10, 1_000), "b.csv": (20, 2_000)}
    base = fp.fingerprint("declaraciones/2024", files)
    expected = hashlib.sha256(
        b"declaraciones/2024/a.xlsx\x0010\x001000\ndeclaraciones/2024/b.csv\x0020\x002000\n"
    ).hexdigest()[:24]
    assert base == expected
    assert fp.fingerprint("declaraciones/2024", dict(reversed(files.items()))) == base  # order does not matter
    assert fp.fingerprint("declaraciones/2023", files) != base
    assert fp.fingerprint("declaraciones/2024", {**files, "a.xlsx": (11, 1_000)}) != base
    assert fp.fingerprint("declaraciones/2024", {**files, "a.xlsx": (10, 1_001)}) != base
    assert fp.fingerprint("declaraciones/2024", {"a.xlsx": (10, 1_000)}) != base


def test_drop_settles_on_the_second_tick_one_group_per_year(tmp_path: Path):
    source = tmp_path / "declaraciones"
    for year, names in {2023: ["x.xlsx"], 2024: ["a.xlsx", "b.xlsx", "c.xlsx"]}.items():
        for name in names:
            write_xlsx(source / str(year) / name, [declaracion_row(anio=year)])

    first = tick({}, source)
    assert first.settled == [] and first.waiting == ["2023", "2024"]
    second = tick(first.cursor, source)
    assert [(s.group, s.files) for s in second.settled] == [("2023", 1), ("2024", 3)]
    scan = fp.scan_years(source)
    assert [s.fingerprint for s in second.settled] == [
        fp.fingerprint(f"declaraciones/{y}", scan.groups[y]) for y in ("2023", "2024")
    ]
    third = tick(second.cursor, source)
    assert third.settled == [] and third.waiting == []
    assert third.cursor == second.cursor


def test_growing_file_holds_its_year_until_its_size_is_stable(tmp_path: Path):
    source = tmp_path / "declaraciones"
    done = write_xlsx(source / "2024" / "completo.xlsx", [declaracion_row()])
    growing = source / "2024" / "copiando.csv"
    growing.write_bytes(b"anio,ruc_entidad\n")
    state = tick({}, source).cursor
    with growing.open("ab") as handle:
        handle.write(b"2024,20100047218\n" * 100)
    step = tick(state, source)
    assert step.settled == [] and step.waiting == ["2024"]
    step = tick(step.cursor, source)  # same size and mtime twice: settled, with the final size
    assert [s.fingerprint for s in step.settled] == [
        fp.fingerprint("declaraciones/2024", {"completo.xlsx": stat_of(done), "copiando.csv": stat_of(growing)})
    ]


def test_change_and_removal_request_again_and_empty_new_folder_does_not(tmp_path: Path):
    source = tmp_path / "declaraciones"
    a = write_xlsx(source / "2024" / "a.xlsx", [declaracion_row()])
    write_xlsx(source / "2024" / "b.xlsx", [declaracion_row(codigo_intervencion="INT-002")])
    state = tick(tick({}, source).cursor, source).cursor

    write_xlsx(a, [declaracion_row(), declaracion_row(codigo_intervencion="INT-003")])
    os.utime(a, ns=(1_900_000_000_000_000_000, 1_900_000_000_000_000_000))
    step = tick(state, source)
    assert step.settled == []
    step = tick(step.cursor, source)
    assert [s.group for s in step.settled] == ["2024"]
    changed = step.settled[0].fingerprint

    (source / "2024" / "b.xlsx").unlink()
    (source / "2025").mkdir()  # a new, empty year folder requests nothing
    step = tick(tick(step.cursor, source).cursor, source)
    assert [(s.group, s.files) for s in step.settled] == [("2024", 1)]
    assert step.settled[0].fingerprint != changed
    assert "2025" not in step.cursor


def test_removed_year_folder_is_emptied_once_then_forgotten(tmp_path: Path):
    source = tmp_path / "declaraciones"
    f = write_xlsx(source / "2024" / "a.xlsx", [declaracion_row()])
    state = tick(tick({}, source).cursor, source).cursor
    f.unlink()
    (source / "2024").rmdir()
    step = tick(tick(state, source).cursor, source)
    assert [(s.group, s.files) for s in step.settled] == [("2024", 0)]
    assert "2024" not in step.cursor
    assert tick(step.cursor, source).settled == []


def test_cursor_round_trip_and_bad_cursor(tmp_path: Path):
    state = {"2024": fp.GroupState(seen="abc", handled="abc"), "2023": fp.GroupState(seen="def", handled=None)}
    text = fp.dump_cursor(state)
    assert fp.load_cursor(text) == state
    assert fp.load_cursor(None) == {} and fp.load_cursor("") == {}
    for bad in ("not json", '{"v": 99, "groups": {}}', '{"v": 1}', "[1, 2]"):
        try:
            fp.load_cursor(bad)
        except fp.CursorError:
            continue
        raise AssertionError(f"{bad!r} was accepted")


def test_cursor_stays_small_for_many_files(tmp_path: Path):
    folder = tmp_path / "declaraciones" / "2024"
    folder.mkdir(parents=True)
    for i in range(2_000):
        (folder / f"entidad_{i:05d}.csv").write_bytes(b"anio\n2024\n")
    step = tick(tick({}, folder.parent).cursor, folder.parent)
    assert step.settled[0].files == 2_000
    assert len(fp.dump_cursor(step.cursor)) < 200
