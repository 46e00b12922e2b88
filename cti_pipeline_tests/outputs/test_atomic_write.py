"""write_bytes_atomic: what people open from exports/ is whole, and as readable as any new file."""

import os
import stat
from pathlib import Path

import pytest

from cti_pipeline.outputs import write_bytes_atomic


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_a_written_file_gets_the_permissions_of_any_new_file(tmp_path: Path, umask: int):
    previous = os.umask(umask)
    try:
        path = write_bytes_atomic(tmp_path / "exports" / "reporte.docx", b"first")
        write_bytes_atomic(path, b"second")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    assert path.read_bytes() == b"second"
    assert sorted(p.name for p in path.parent.iterdir()) == ["reporte.docx"]  # no temporary file left


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path):
    path = write_bytes_atomic(tmp_path / "gpedc.xlsx", b"old")
    with pytest.raises(TypeError):
        write_bytes_atomic(path, "not bytes")  # type: ignore[arg-type]
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["gpedc.xlsx"]
