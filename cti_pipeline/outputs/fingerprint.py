"""Whether an output file set can be kept: a fingerprint of its inputs and writer, stored beside it.

An output (the feedback workbooks of a year, the compliance report of a year) is a function of the
frames its asset reads from the warehouse, a few parameters (the year) and the code and libraries
that write it. `inputs_fingerprint` hashes all of that; `write_record` stores it, after the files
are written, in `<exports>/.huellas/<name>.json` together with the size and modification time of
every file written. `unchanged_outputs` answers whether a new run may keep the files: the stored
fingerprint equals the new one and every file is still there, untouched (and, for a folder the
output owns, no other file appeared in it). The record lives outside the folders sent to people,
so they only ever hold the deliverables.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from cti_pipeline.domain.fingerprints import PACKAGE, code_version
from cti_pipeline.outputs import write_bytes_atomic

RECORDS_DIR = ".huellas"


# --- fingerprint ----------------------------------------------------------------------------------


def frame_digest(frame: pd.DataFrame) -> bytes:
    """sha256 of a frame's columns, dtypes, null positions and values (vectorised, row order matters).

    Object columns also contribute the Python type of each value, so 3 and "3" differ (pandas hashes
    both as the text "3"); None and NaN are both null, as they are both an empty cell in the output.
    """
    digest = hashlib.sha256(repr(([str(c) for c in frame.columns], [str(t) for t in frame.dtypes], len(frame))).encode())
    for name in frame.columns:
        column = frame[name]
        digest.update(column.isna().to_numpy().tobytes())
        digest.update(pd.util.hash_pandas_object(column, index=False, categorize=False).to_numpy().tobytes())
        if column.dtype == object:
            digest.update("\x00".join(type(value).__name__ for value in column).encode())
    return digest.digest()


def writer_version(modules: Iterable[str], libraries: Iterable[str] = ()) -> str:
    """The code version of the writer modules (dotted names inside cti_pipeline; a package counts as its
    `__init__.py`) and of the libraries they write with."""
    return code_version([module_path(module) for module in modules], libraries)


def module_path(module: str) -> str:
    """A cti_pipeline module's source file, relative to the package (what `code_version` takes)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin:
        raise ValueError(f"no source file for module {module!r}")
    return Path(spec.origin).resolve().relative_to(PACKAGE).as_posix()


def inputs_fingerprint(frames: Mapping[str, pd.DataFrame], writer: str, **params: object) -> str:
    """One fingerprint of named input frames, parameters (e.g. anio) and a writer version."""
    digest = hashlib.sha256(f"writer\x00{writer}\n".encode())
    for key in sorted(params):
        digest.update(f"param\x00{key}\x00{params[key]!r}\n".encode())
    for name in sorted(frames):
        digest.update(f"frame\x00{name}\x00".encode() + frame_digest(frames[name]))
    return digest.hexdigest()[:32]


# --- the record beside the outputs ----------------------------------------------------------------


def record_path(exports_dir: Path, name: str) -> Path:
    return Path(exports_dir) / RECORDS_DIR / f"{name}.json"


def file_state(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def write_record(record: Path, huella: str, outputs: Sequence[Path], extra: Mapping[str, object] | None = None) -> Path:
    """Store the fingerprint and the state of every output file; call it last, after the files are written."""
    root = record.parent.parent
    files = {os.path.relpath(path, root): file_state(Path(path)) for path in outputs}
    payload = {"huella": huella, "archivos": files, "extra": dict(extra or {})}
    return write_bytes_atomic(record, json.dumps(payload, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8"))


def forget_record(record: Path) -> None:
    """Drop the record before rewriting, so a failed write never leaves a record of files it replaced."""
    record.unlink(missing_ok=True)


def read_record(record: Path) -> dict | None:
    try:
        payload = json.loads(record.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return payload if isinstance(payload, dict) and isinstance(payload.get("archivos"), dict) else None


def unchanged_outputs(record: Path, huella: str, outputs: Sequence[Path], owned_folder: Path | None = None) -> dict | None:
    """The record's `extra` when the outputs may be kept, else None.

    Kept only when the stored fingerprint equals `huella`, the record lists exactly `outputs`, each
    still has the size and modification time it had when written, and `owned_folder` (if given)
    holds no other file.
    """
    stored = read_record(record)
    if stored is None or stored.get("huella") != huella:
        return None
    root = record.parent.parent
    expected = {os.path.relpath(path, root): Path(path) for path in outputs}
    if set(stored["archivos"]) != set(expected):
        return None
    for name, path in expected.items():
        if not path.is_file() or file_state(path) != stored["archivos"][name]:
            return None
    if owned_folder is not None and {p.name for p in Path(owned_folder).iterdir()} != {p.name for p in outputs if p.parent == owned_folder}:
        return None
    return dict(stored.get("extra") or {})
