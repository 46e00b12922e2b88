"""Whether work can be skipped because nothing it depends on has changed: the one notion of "unchanged".

- `code_version()`: sha256 over every Python file of the package and the installed versions of the
  libraries it depends on (its own metadata), plus the Python version. Computed once per process; no
  hand-kept list of modules, so no module can be forgotten.
- A source's year (`year_fingerprint`): the files discovery sees in the year folder (name, size,
  modification time; rejected entries and warnings too), the bytes of the catalogs it uses, settings
  it depends on (digests, never secrets) and the code version. Stored in `meta.huellas` with the row
  counts written, in the same transaction as the data (`huella_frame`); `year_unchanged` tells a run
  that the warehouse still holds exactly that.
- An output (`inputs_fingerprint` over the frames it reads, its parameters and the code version),
  recorded after its files are written in `<exports>/.huellas/<name>.json` with each file's size and
  modification time; `unchanged_outputs` tells a run it may keep the files.
- The read cache (`landing.read_cache`) keys its entries on the code version too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, requires, version
from pathlib import Path

import duckdb
import pandas as pd

from cti_pipeline.contracts.reference import catalog_path
from cti_pipeline.contracts.tables import HUELLAS, SourceTables
from cti_pipeline.domain.quality import source_counts
from cti_pipeline.landing.discovery import discover_files
from cti_pipeline.outputs import write_bytes_atomic
from cti_pipeline.settings import PACKAGE_DIR

HUELLAS_TABLE = "meta.huellas"
RECORDS_DIR = ".huellas"


# --- the code ---------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def code_version() -> str:
    """The package's own files and the versions of the libraries it is built on, as one digest."""
    digest = hashlib.sha256(f"python {platform.python_version()}\n".encode())
    for file in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(f"\n{file.relative_to(PACKAGE_DIR).as_posix()}\x00".encode() + file.read_bytes())
    for library in sorted(dependencies()):
        try:
            digest.update(f"\n{library}=={version(library)}".encode())
        except PackageNotFoundError:
            digest.update(f"\n{library} missing".encode())
    return digest.hexdigest()


def dependencies() -> set[str]:
    """The distributions cti_pipeline requires (not its optional extras)."""
    try:
        declared = requires("cti_pipeline") or []
    except PackageNotFoundError:  # running from a tree that is not installed
        return set()
    return {re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0] for requirement in declared if "extra ==" not in requirement}


# --- a source's year --------------------------------------------------------------------------------


def year_fingerprint(source: str, year_dir: Path, anio: int, catalogs: Iterable[str], override_dir: Path | None,
                     settings: Iterable[str] = ()) -> str:
    """Files discovery sees (and rejects), the catalogs' bytes, `settings` the rows depend on (pass a
    digest of a secret, never the secret) and the code version. A few milliseconds: no file is opened."""
    discovery = discover_files(year_dir)
    digest = hashlib.sha256(f"{source}\x00{anio}\n{code_version()}\n".encode())
    for file in discovery.files:
        digest.update(f"file\x00{file.name}\x00{file.size}\x00{file.mtime_ns}\n".encode())
    for rejected in sorted(discovery.rejected, key=lambda r: r.archivo):
        digest.update(f"rejected\x00{rejected.archivo}\x00{rejected.motivo}\n".encode())
    for warning in discovery.warnings:
        digest.update(f"warning\x00{warning}\n".encode())
    for name in sorted(catalogs):
        path = catalog_path(name, override_dir)
        digest.update(f"catalog\x00{name}\x00".encode() + (path.read_bytes() if path else b"<missing>"))
    for setting in settings:
        digest.update(f"\nsetting\x00{setting}".encode())
    return digest.hexdigest()[:32]


def huella_frame(origen: str, anio: int, huella: str, counts: Sequence[int], *, transient_rejections: int = 0) -> pd.DataFrame:
    """The one `meta.huellas` row of a successful write; none when a file failed for a reason that may not
    recur (the disk, memory), so that the write removes the year's old fingerprint and the next run
    reads the year again instead of keeping that rejection."""
    written_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    names = [name for name in HUELLAS if name.startswith(("filas_", "archivos_"))]
    row = {"origen": origen, "anio": anio, "huella": huella, **dict(zip(names, map(int, counts), strict=True)), "escrito_en": written_at}
    frame = pd.DataFrame([row], columns=list(HUELLAS)).astype({"anio": "int64", **{name: "int64" for name in names}})
    return frame.iloc[:0] if transient_rejections else frame


def year_unchanged(conn: duckdb.DuckDBPyConnection, origen: str, anio: int, huella: str, tables: SourceTables) -> bool:
    """The stored fingerprint equals `huella` and the tables still hold the counts written with it (a
    table dropped since then means the year is written again, which creates it)."""
    counts = source_counts(conn, tables, anio)
    if counts is None:
        return False
    names = [name for name in HUELLAS if name.startswith(("filas_", "archivos_"))]
    try:
        stored = conn.execute(
            f"SELECT {', '.join(names)} FROM {HUELLAS_TABLE} WHERE origen = ? AND anio = ? AND huella = ?", [origen, anio, huella]
        ).fetchall()
    except duckdb.CatalogException:
        return False
    return len(stored) == 1 and stored[0] == counts


# --- outputs ----------------------------------------------------------------------------------------


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


def inputs_fingerprint(frames: Mapping[str, pd.DataFrame], **params: object) -> str:
    """One fingerprint of named input frames, parameters (e.g. anio) and the code version."""
    digest = hashlib.sha256(f"code\x00{code_version()}\n".encode())
    for key in sorted(params):
        digest.update(f"param\x00{key}\x00{params[key]!r}\n".encode())
    for name in sorted(frames):
        digest.update(f"frame\x00{name}\x00".encode() + frame_digest(frames[name]))
    return digest.hexdigest()[:32]


def record_path(exports_dir: Path, name: str) -> Path:
    return Path(exports_dir) / RECORDS_DIR / f"{name}.json"


def _file_state(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def write_record(record: Path, huella: str, outputs: Sequence[Path], extra: Mapping[str, object] | None = None) -> Path:
    """Store the fingerprint and the state of every output file; call it last, after the files are written."""
    root = record.parent.parent
    files = {os.path.relpath(path, root): _file_state(Path(path)) for path in outputs}
    payload = {"huella": huella, "archivos": files, "extra": dict(extra or {})}
    return write_bytes_atomic(record, json.dumps(payload, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8"))


def forget_record(record: Path) -> None:
    """Drop the record before rewriting, so a failed write never leaves a record of files it replaced."""
    record.unlink(missing_ok=True)


def unchanged_outputs(record: Path, huella: str, outputs: Sequence[Path], owned_folder: Path | None = None) -> dict | None:
    """The record's `extra` when the outputs may be kept, else None.

    Kept only when the stored fingerprint equals `huella`, the record lists exactly `outputs`, each
    still has the size and modification time it had when written, and `owned_folder` (if given)
    holds no other file.
    """
    try:
        stored = json.loads(record.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or not isinstance(stored.get("archivos"), dict) or stored.get("huella") != huella:
        return None
    root = record.parent.parent
    expected = {os.path.relpath(path, root): Path(path) for path in outputs}
    if set(stored["archivos"]) != set(expected):
        return None
    for name, path in expected.items():
        if not path.is_file() or _file_state(path) != stored["archivos"][name]:
            return None
    if owned_folder is not None and {p.name for p in Path(owned_folder).iterdir()} != {p.name for p in outputs if p.parent == owned_folder}:
        return None
    return dict(stored.get("extra") or {})
