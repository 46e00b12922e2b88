"""Each landed file is read once: what `file_reader.read_file` made of each file, kept as one Arrow IPC file.

An entry holds one file's outcome (its `FilePart`, or its rejection and reason) and is used only
while the file's name, size and modification time, the `ReadSpec` and the code version
(`unchanged.code_version`: the package's own files and its libraries) are all unchanged. So when one
entity re-submits its workbook, the next run reads that workbook and loads the other files from here.

The entries of one source and year are one file, `<data>/.cache/lecturas/<origen>/<anio>/lecturas.arrow`
(zstd-compressed; one write and one read per run however many files), rewritten after each read with
the files read, so files that left the folder leave it too. Anything wrong with it (missing,
truncated, written by other code) means the files are simply read again.

Two outcomes are not kept, so that the next run reads the file again: a rejection for a failure that
may not recur (`FileRejection.transient`: the disk, memory), and a file modified less than
`RECENT_SECONDS` before the read started (it may still have been changing within the file system's
timestamp resolution, with the same size: git's "racily clean" case).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow as pa

from cti_pipeline.landing.discovery import FileRejection, LandedFile
from cti_pipeline.landing.file_reader import FilePart, ReadSpec
from cti_pipeline.unchanged import code_version

METADATA_KEY = b"cti_lecturas"
CACHE_FILE = "lecturas.arrow"
RECENT_SECONDS = 2
LEFTOVER_AGE_SECONDS = 3600  # a half-written cache left by a killed process

Outcome = FilePart | FileRejection


class ReadCache:
    """The cached reads of one source folder (one source and year)."""

    def __init__(self, folder: Path, version: str | None = None):
        self.folder = Path(folder)
        self.version = version or code_version()
        self.up_to_date = False

    @property
    def path(self) -> Path:
        return self.folder / CACHE_FILE

    def load(self, files: Iterable[LandedFile], spec: ReadSpec) -> dict[str, Outcome]:
        """The outcome of each of `files` read before and unchanged since, by file name. Sets `up_to_date`:
        the cache holds exactly these files, so a read that found them all need not save."""
        files = list(files)
        stored = read_entries(self.path, self.version, spec)
        found = {}
        for file in files:
            identity, outcome = stored.get(file.name, (None, None))
            if identity is not None and (identity["size"], identity["mtime_ns"]) == (file.size, file.mtime_ns):
                found[file.name] = outcome
        self.up_to_date = len(found) == len(files) == len(stored)
        return found

    def save(self, spec: ReadSpec, outcomes: Mapping[LandedFile, Outcome], read_started_ns: int) -> bool:
        """Replace the cache with these outcomes (less those to read again next time); False when it
        cannot be written (read-only data folder, full disk): reading goes on without it."""
        recent = read_started_ns - RECENT_SECONDS * 1_000_000_000
        kept = {
            file: outcome for file, outcome in outcomes.items()
            if file.mtime_ns < recent and not (isinstance(outcome, FileRejection) and outcome.transient)
        }
        remove_leftovers(self.folder)
        return write_entries(self.path, self.version, spec, kept)


def remove_leftovers(folder: Path) -> None:
    """Temporary files of killed processes (an hour old: no live run still writes them)."""
    too_old = time.time() - LEFTOVER_AGE_SECONDS
    for path in folder.glob(f".{CACHE_FILE}.*.tmp"):
        try:
            if path.lstat().st_mtime < too_old:
                path.unlink()
        except OSError:
            pass


def write_entries(path: Path, version: str, spec: ReadSpec, outcomes: Mapping[LandedFile, Outcome]) -> bool:
    """All outcomes in one Arrow IPC file, written atomically (a reader sees the old file or the new one)."""
    entries, parts = _entries(outcomes)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        schema = pa.schema(
            [("fila", pa.int64()), *((f"c:{name}", pa.large_string()) for name in spec.names), ("x:extras", pa.large_string())],
            metadata={METADATA_KEY: json.dumps({"version": version, "spec": asdict(spec), "files": entries})},
        )
        # one thread: compression buffers allocated by pool threads land in other malloc arenas and stay resident
        options = pa.ipc.IpcWriteOptions(compression="zstd", use_threads=False)
        with pa.OSFile(str(temporary), "wb") as handle, pa.ipc.new_file(handle, schema, options=options) as writer:
            for batch in _batches(schema, spec, parts):
                writer.write_batch(batch)
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
            table = pa.ipc.open_file(handle, options=pa.ipc.IpcReadOptions(use_threads=False)).read_all()  # see write_entries
        about = json.loads(table.schema.metadata[METADATA_KEY])
        if about["version"] != version or about["spec"] != json.loads(json.dumps(asdict(spec))):
            return {}
        if sum(entry.get("length", 0) for entry in about["files"]) != table.num_rows:
            return {}
        return {entry["archivo"]: (entry, _outcome(table, entry)) for entry in about["files"]}
    except Exception:  # no cache, or one that cannot be trusted: the files are read again
        return {}


BATCH_ROWS = 65_536  # whole files per record batch: one batch's text is copied at a time, not a year's


def _entries(outcomes: Mapping[LandedFile, Outcome]) -> tuple[list[dict[str, object]], list[FilePart]]:
    entries: list[dict[str, object]] = []
    parts: list[FilePart] = []
    start = 0
    for file, outcome in outcomes.items():
        entry: dict[str, object] = {"archivo": file.name, "size": file.size, "mtime_ns": file.mtime_ns}
        if isinstance(outcome, FileRejection):
            entry["motivo"] = outcome.motivo
        else:
            entry.update(start=start, length=len(outcome), names=list(outcome.columns), hoja=outcome.hoja,
                         semicolon_csv=outcome.semicolon_csv, sha256=outcome.sha256, warnings=outcome.warnings,
                         problems=outcome.problems, extras=outcome.extras is not None)
            parts.append(outcome)
            start += len(outcome)
        entries.append(entry)
    return entries, parts


def _batches(schema: pa.Schema, spec: ReadSpec, parts: list[FilePart]) -> Iterator[pa.RecordBatch]:
    group: list[FilePart] = []
    rows = 0
    for part in parts:
        group.append(part)
        rows += len(part)
        if rows >= BATCH_ROWS:
            yield _batch(schema, spec, group)
            group, rows = [], 0
    if group or not parts:
        yield _batch(schema, spec, group)


def _batch(schema: pa.Schema, spec: ReadSpec, parts: list[FilePart]) -> pa.RecordBatch:
    lengths = [len(part) for part in parts]
    fila = np.concatenate([np.asarray(part.fila, dtype="int64") for part in parts]) if parts else np.array([], "int64")
    columns = [pa.array(fila, pa.int64())]
    for name in spec.names:
        chunks = [part.columns.get(name) for part in parts]
        chunks = [c if c is not None else pa.nulls(n, pa.large_string()) for c, n in zip(chunks, lengths, strict=True)]
        columns.append(pa.concat_arrays(chunks) if chunks else pa.array([], pa.large_string()))
    columns.append(pa.array([v for part, n in zip(parts, lengths, strict=True) for v in (part.extras or [None] * n)], pa.large_string()))
    return pa.record_batch(columns, schema=schema)


def _outcome(table: pa.Table, entry: dict[str, object]) -> Outcome:
    if "motivo" in entry:
        return FileRejection(entry["archivo"], entry["motivo"])
    rows = table.slice(entry["start"], entry["length"])
    return FilePart(
        archivo=entry["archivo"],
        hoja=entry["hoja"],
        fila=rows.column("fila").to_numpy(),
        columns={name: _one_array(rows.column(f"c:{name}")) for name in entry["names"]},
        extras=rows.column("x:extras").to_pylist() if entry["extras"] else None,
        problems=[tuple(problem) for problem in entry["problems"]],
        semicolon_csv=entry["semicolon_csv"],
        sha256=entry["sha256"],
        warnings=list(entry["warnings"]),
    )


def _one_array(column: pa.ChunkedArray) -> pa.Array:
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()  # a slice of one batch: no copy
