import os
from pathlib import Path

from cti_pipeline.landing.discovery import discover_files, discover_years
from cti_pipeline.settings import MAX_FILE_BYTES


def names(items):
    return sorted(item.name if hasattr(item, "name") else item.archivo for item in items)


def test_lock_and_hidden_files_are_ignored_silently(tmp_path: Path):
    year = tmp_path / "2024"
    year.mkdir()
    for name in ("a.xlsx", ".~lock.a.xlsx#", "~$a.xlsx", ".DS_Store"):
        (year / name).write_bytes(b"x")
    found = discover_files(year)
    assert names(found.files) == ["a.xlsx"]
    assert found.rejected == [] and found.warnings == []


def test_subfolders_are_ignored_with_a_warning(tmp_path: Path):
    year = tmp_path / "2024"
    (year / "borradores").mkdir(parents=True)
    (year / "borradores" / "b.xlsx").write_bytes(b"x")
    found = discover_files(year)
    assert found.files == [] and found.rejected == []
    assert any("borradores" in w for w in found.warnings)


def test_symbolic_links_are_rejected_never_followed(tmp_path: Path):
    year = tmp_path / "2024"
    year.mkdir()
    outside = tmp_path / "outside.csv"
    outside.write_text("anio\n2024\n")
    os.symlink(outside, year / "enlace.csv")
    os.symlink("/nonexistent/target.xlsx", year / "roto.xlsx")
    found = discover_files(year)
    assert found.files == []
    assert names(found.rejected) == ["enlace.csv", "roto.xlsx"]
    assert all("enlace simbólico" in r.motivo for r in found.rejected)


def test_a_linked_year_folder_is_rejected_not_followed(tmp_path: Path):
    real = tmp_path / "elsewhere"
    real.mkdir()
    (real / "a.csv").write_text("anio\n2024\n")
    source = tmp_path / "declaraciones"
    source.mkdir()
    os.symlink(real, source / "2024")
    found = discover_files(source / "2024")
    assert found.files == []
    assert [r.archivo for r in found.rejected] == ["2024/"]
    years, warnings = discover_years(source)
    assert years == [] and any("symbolic link" in w for w in warnings)


def test_size_limit_empty_files_and_unsupported_formats_are_rejected_before_parsing(tmp_path: Path):
    year = tmp_path / "2024"
    year.mkdir()
    with open(year / "enorme.csv", "wb") as handle:  # sparse: no 50 MB written to disk
        handle.truncate(MAX_FILE_BYTES + 1)
    (year / "vacio.xlsx").write_bytes(b"")
    (year / "viejo.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    (year / "ok.CSV").write_text("anio\n2024\n")
    found = discover_files(year)
    assert names(found.files) == ["ok.CSV"]
    motivos = {r.archivo: r.motivo for r in found.rejected}
    assert "supera el límite de 50 MB" in motivos["enorme.csv"]
    assert "vacío" in motivos["vacio.xlsx"]
    assert "Formato no admitido (.xls)" in motivos["viejo.xls"]


def test_only_four_digit_year_folders_count(tmp_path: Path):
    for name in ("2023", "2024", "2024-borrador", "anio2025", "202"):
        (tmp_path / name).mkdir()
    (tmp_path / "suelto.xlsx").write_bytes(b"x")
    years, warnings = discover_years(tmp_path)
    assert years == [2023, 2024]
    assert len(warnings) == 4
