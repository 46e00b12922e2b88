"""Each landed file is read once: what `reading.read_part` made of each file, kept as one Arrow IPC file.

An entry holds one file's outcome (its contract columns as trimmed text with Excel row numbers,
or its rejection and reason) and is used only while all of these are unchanged:

- the file's name, size and modification time (what discovery and the year fingerprint observe);
- the sheet and columns the contract reads (`ReadSpec`);
- the reading code and the libraries it relies on (`READING_CODE`, `READING_LIBRARIES`).

So when one entity re-submits its workbook, the year's next materialisation reads that workbook and
loads the other files' rows from here. The entries of one source and year are one file,
`<data>/.cache/lecturas/<origen>/<anio>/lecturas.arrow` (one write and one read per run, however
many files: 500 small files cost 0.2-0.3 s to write on ext4, one file of the same rows 0.03 s;
zstd-compressed, a million rows are 40 MB instead of 384 MB, written in 0.3 s instead of 0.8 s),
beside the landing zone whose content it repeats (the same data, the same access rules). It is
rewritten after each read with the entries of the files read, so files that left the folder leave
it too. Anything wrong with it (missing, truncated, written by other code) means the files are
simply read again.

Two outcomes are not kept, so that the next run reads the file again: a rejection for a failure
that may not recur (`FileRejection.transient`: the disk, memory), and a file modified less than
`RECENT_SECONDS` before the read started (it may still have been changing within the file system's
timestamp resolution, with the same size: git's "racily clean" case).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow as pa

from cti_pipeline.domain.reading import FilePart, ReadSpec
from cti_pipeline.landing.discovery import FileRejection, LandedFile
from cti_pipeline.landing.readers import RawTable

# The code whose bytes decide what a file reads as (relative to the package), and its libraries.
READING_CODE = ("settings.py", "contracts/text.py", "landing/discovery.py", "landing/readers.py", "domain/reading.py", "domain/read_cache.py")
READING_LIBRARIES = ("pandas", "pyarrow", "python-calamine")
METADATA_KEY = b"cti_lecturas"
CACHE_FILE = "lecturas.arrow"
RECENT_SECONDS = 2
# Left behind only by a process that was killed: a helper's work folder or a half-written cache.
LEFTOVER_PATTERNS = (".cti-lecturas-*", f".{CACHE_FILE}.*.tmp")
LEFTOVER_AGE_SECONDS = 3600

Outcome = FilePart | FileRejection


def reading_code_version() -> str:
    from cti_pipeline.domain.fingerprints import code_version

    return f"{code_version(READING_CODE, READING_LIBRARIES)}:python-{platform.python_version()}"


class ReadCache:
    """The cached reads of one source folder (one source and year)."""

    def __init__(self, folder: Path, version: str | None = None):
        self.folder = Path(folder)
        self.version = version or reading_code_version()
        self.up_to_date = False

    @property
    def path(self) -> Path:
        return self.folder / CACHE_FILE

    def load(self, files: Iterable[LandedFile], spec: ReadSpec) -> dict[str, Outcome]:
        """The outcome of each of `files` that was read before and has not changed since, by file name.
        Sets `up_to_date`: the cache holds exactly these files, so a read that found them all need not save."""
        files = list(files)
        stored = read_entries(self.path, self.version, spec)
        found = entries_for(stored, files)
        self.up_to_date = len(found) == len(files) == len(stored)
        return found

    def save(self, spec: ReadSpec, outcomes: Mapping[LandedFile, Outcome], read_started_ns: int) -> bool:
        """Replace the cache with these outcomes (less those to read again next time); False when it
        cannot be written (read-only data folder, full disk): reading goes on without it."""
        kept = {file: outcome for file, outcome in outcomes.items() if worth_keeping(file, outcome, read_started_ns)}
        remove_leftovers(self.folder)
        return write_entries(self.path, self.version, spec, kept)


def worth_keeping(file: LandedFile, outcome: Outcome, read_started_ns: int) -> bool:
    if isinstance(outcome, FileRejection) and outcome.transient:
        return False
    return file.mtime_ns < read_started_ns - RECENT_SECONDS * 1_000_000_000


def remove_leftovers(folder: Path) -> None:
    """Work folders and temporary files of killed processes (an hour old: no live run still uses them)."""
    too_old = time.time() - LEFTOVER_AGE_SECONDS
    for pattern in LEFTOVER_PATTERNS:
        for path in folder.glob(pattern):
            try:
                if path.lstat().st_mtime < too_old:
                    shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
            except OSError:
                pass


def entries_for(stored: dict[str, tuple[dict[str, object], Outcome]], files: Iterable[LandedFile]) -> dict[str, Outcome]:
    found = {}
    for file in files:
        identity, outcome = stored.get(file.name, (None, None))
        if identity is not None and (identity["size"], identity["mtime_ns"]) == (file.size, file.mtime_ns):
            found[file.name] = _with_file(outcome, file)
    return found


def write_entries(path: Path, version: str, spec: ReadSpec, outcomes: Mapping[LandedFile, Outcome]) -> bool:
    """All outcomes in one Arrow IPC file, written atomically (a reader sees the old file or the new one)."""
    table = _table(version, spec, outcomes)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        options = pa.ipc.IpcWriteOptions(compression="zstd")
        with pa.OSFile(str(temporary), "wb") as handle, pa.ipc.new_file(handle, table.schema, options=options) as writer:
            writer.write_table(table)
        os.replace(temporary, path)
        return True
    except OSError:
        try:
            temporary.unlink(missing_ok=True)
        except OSError:  # the folder itself could not be made
            pass
        return False


def read_entries(path: Path, version: str, spec: ReadSpec) -> dict[str, tuple[dict[str, object], Outcome]]:
    """File name → (size and mtime it was read at, outcome); empty when the file is missing or not ours."""
    try:
        with pa.OSFile(str(path)) as handle:
            table = pa.ipc.open_file(handle).read_all()
        about = json.loads(table.schema.metadata[METADATA_KEY])
        if about["version"] != version or about["spec"] != json.loads(json.dumps(asdict(spec))):
            return {}
        if sum(entry.get("length", 0) for entry in about["files"]) != table.num_rows:
            return {}
        return {entry["archivo"]: (entry, _outcome(table, entry)) for entry in about["files"]}
    except Exception:  # no cache, or one that cannot be trusted: the files are read again
        return {}


def _table(version: str, spec: ReadSpec, outcomes: Mapping[LandedFile, Outcome]) -> pa.Table:
    entries: list[dict[str, object]] = []
    parts: list[FilePart] = []
    start = 0
    for file, outcome in outcomes.items():
        entry: dict[str, object] = {"archivo": file.name, "size": file.size, "mtime_ns": file.mtime_ns}
        if isinstance(outcome, FileRejection):
            entry["motivo"] = outcome.motivo
        else:
            raw = outcome.raw
            entry.update(start=start, length=len(raw), names=raw.names, hoja=raw.hoja, decimal_comma=raw.decimal_comma,
                         encoding=raw.encoding, warnings=outcome.warnings, extras=outcome.extras is not None)
            parts.append(outcome)
            start += len(raw)
        entries.append(entry)
    lengths = [len(part.raw) for part in parts]
    fila = np.concatenate([np.asarray(part.raw.fila, dtype="int64") for part in parts]) if parts else np.array([], "int64")
    columns: dict[str, pa.Array] = {"fila": pa.array(fila, pa.int64())}
    for name in spec.names:
        chunks = [part.text.get(name) for part in parts]
        columns[f"c:{name}"] = _concat([c if c is not None else pa.nulls(n, pa.large_string()) for c, n in zip(chunks, lengths, strict=True)])
    columns["x:extras"] = _text_array([v for part, n in zip(parts, lengths, strict=True) for v in (part.extras or [None] * n)])
    columns["x:long_extra"] = _text_array([v for part, n in zip(parts, lengths, strict=True) for v in (part.long_extra or [None] * n)])
    about = {"version": version, "spec": asdict(spec), "files": entries}
    return pa.table(columns).replace_schema_metadata({METADATA_KEY: json.dumps(about)})


def _concat(chunks: list[pa.Array]) -> pa.Array:
    return pa.concat_arrays(chunks) if chunks else pa.array([], pa.large_string())


def _text_array(values: list[object]) -> pa.Array:
    return pa.array([value if isinstance(value, str) else None for value in values], pa.large_string())


def _outcome(table: pa.Table, entry: dict[str, object]) -> Outcome:
    if "motivo" in entry:
        return FileRejection(entry["archivo"], entry["motivo"])
    rows = table.slice(entry["start"], entry["length"])
    names = list(entry["names"])
    text = {name: _one_array(rows.column(f"c:{name}")) for name in names}
    raw = RawTable(names, [], rows.column("fila").to_numpy(), entry["hoja"], entry["decimal_comma"], entry["encoding"])
    extras = long_extra = None
    if entry["extras"]:
        extras = rows.column("x:extras").to_pylist()
        long_extra = rows.column("x:long_extra").to_pylist()
    return FilePart(raw, text, extras, long_extra, entry["archivo"], 0, list(entry["warnings"]))


def _one_array(column: pa.ChunkedArray) -> pa.Array:
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()  # a slice of one batch: no copy


def _with_file(outcome: Outcome, file: LandedFile) -> Outcome:
    if isinstance(outcome, FilePart):
        outcome.mtime_ns = file.mtime_ns
    return outcome
