"""Each landed file is read once: what `reading.read_part` made of it, kept per file as Arrow IPC.

An entry holds one file's outcome (its contract columns as trimmed text with Excel row numbers,
or its rejection and reason) and is used only while all of these are unchanged:

- the file's name, size and modification time (what discovery and the year fingerprint observe);
- the sheet and columns the contract reads (`ReadSpec`);
- the reading code and the libraries it relies on (`READING_CODE`, `READING_LIBRARIES`).

So when one entity re-submits its workbook, the year's next materialisation reads that workbook and
loads the other files' rows from here. Entries live under `<data>/.cache/lecturas/<origen>/<anio>/`,
beside the landing zone whose content they repeat (the same data, the same access rules); entries of
files that left the folder are removed at the next read. Anything wrong with an entry (missing,
truncated, written by other code) means the file is simply read again.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa

from cti_pipeline.domain.reading import FilePart, ReadSpec
from cti_pipeline.landing.discovery import FileRejection, LandedFile
from cti_pipeline.landing.readers import RawTable

# The code whose bytes decide what a file reads as (relative to the package), and its libraries.
READING_CODE = ("settings.py", "contracts/text.py", "landing/discovery.py", "landing/readers.py", "domain/reading.py", "domain/read_cache.py")
READING_LIBRARIES = ("pandas", "pyarrow", "python-calamine")
METADATA_KEY = b"cti_lectura"
SUFFIX = ".arrow"
STALE_TEMP_SECONDS = 3600


def reading_code_version() -> str:
    from cti_pipeline.domain.fingerprints import code_version

    return code_version(READING_CODE, READING_LIBRARIES)


class ReadCache:
    """The cached reads of one source folder (one source and year)."""

    def __init__(self, folder: Path, version: str | None = None):
        self.folder = Path(folder)
        self.version = version or reading_code_version()

    def entry_path(self, file: LandedFile) -> Path:
        return self.folder / (hashlib.sha256(file.name.encode()).hexdigest()[:32] + SUFFIX)

    def _identity(self, file: LandedFile, spec: ReadSpec) -> dict[str, object]:
        return {"archivo": file.name, "size": file.size, "mtime_ns": file.mtime_ns, "version": self.version, "spec": asdict(spec)}

    def load(self, file: LandedFile, spec: ReadSpec) -> FilePart | FileRejection | None:
        """The file's outcome as last read, or None when there is no usable entry for it as it is now."""
        try:
            with pa.OSFile(str(self.entry_path(file))) as handle:
                table = pa.ipc.open_file(handle).read_all()
            about = json.loads(table.schema.metadata[METADATA_KEY])
            identity = self._identity(file, spec)
            if any(about.get(key) != value for key, value in json.loads(json.dumps(identity)).items()):
                return None
            return _outcome(file, table, about)
        except Exception:  # no entry, or one that cannot be trusted: the file is read again
            return None

    def store(self, file: LandedFile, spec: ReadSpec, outcome: FilePart | FileRejection) -> bool:
        """Keep `outcome` for `file` (atomically: a reader sees the old entry or the new one). False when the
        cache cannot be written (read-only data folder, full disk): reading goes on without it."""
        table = _table(outcome, self._identity(file, spec))
        target = self.entry_path(file)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with pa.OSFile(str(temporary), "wb") as handle, pa.ipc.new_file(handle, table.schema) as writer:
                writer.write_table(table)
            os.replace(temporary, target)
            return True
        except OSError:
            try:
                temporary.unlink(missing_ok=True)
            except OSError:  # the folder itself could not be made
                pass
            return False

    def prune(self, files: Iterable[LandedFile]) -> int:
        """Remove the entries of files that are no longer in the folder; the number removed."""
        keep = {self.entry_path(file).name for file in files}
        removed = 0
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            return 0
        for entry in entries:
            stale_temp = entry.name.endswith(".tmp") and time.time() - entry.stat().st_mtime > STALE_TEMP_SECONDS
            if (entry.name.endswith(SUFFIX) and entry.name not in keep) or stale_temp:
                try:
                    os.unlink(entry.path)
                    removed += entry.name.endswith(SUFFIX)
                except OSError:
                    pass
        return removed


def _table(outcome: FilePart | FileRejection, identity: dict[str, object]) -> pa.Table:
    about = dict(identity)
    if isinstance(outcome, FileRejection):
        about["motivo"] = outcome.motivo
        return pa.table({"fila": pa.array([], pa.int64())}).replace_schema_metadata({METADATA_KEY: json.dumps(about)})
    raw = outcome.raw
    about.update(names=raw.names, hoja=raw.hoja, decimal_comma=raw.decimal_comma, encoding=raw.encoding, warnings=outcome.warnings)
    columns: dict[str, pa.Array] = {"fila": pa.array(raw.fila, pa.int64())}
    for name in raw.names:
        columns[f"c:{name}"] = outcome.text[name]
    if outcome.extras is not None:
        columns["x:extras"] = _text_array(outcome.extras)
        columns["x:long_extra"] = _text_array(outcome.long_extra)
    return pa.table(columns).replace_schema_metadata({METADATA_KEY: json.dumps(about)})


def _text_array(values: list[object]) -> pa.Array:
    return pa.array([value if isinstance(value, str) else None for value in values], pa.large_string())


def _outcome(file: LandedFile, table: pa.Table, about: dict[str, object]) -> FilePart | FileRejection:
    if "motivo" in about:
        return FileRejection(file.name, about["motivo"])
    names = list(about["names"])
    text = {name: table.column(f"c:{name}").combine_chunks() for name in names}
    fila = table.column("fila").to_numpy()
    raw = RawTable(names, [], fila, about["hoja"], about["decimal_comma"], about["encoding"])
    extras = long_extra = None
    if "x:extras" in table.column_names:
        extras = table.column("x:extras").to_pylist()
        long_extra = table.column("x:long_extra").to_pylist()
    return FilePart(raw, text, extras, long_extra, file.name, file.mtime_ns, list(about["warnings"]))
