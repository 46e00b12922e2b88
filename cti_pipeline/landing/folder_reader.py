"""Reading a folder's landed files into one frame of trimmed text with provenance.

`read_folder(files, spec, cache)` reads each file with `file_reader.read_file` (a file unchanged since
the last run comes from the `ReadCache` instead), and stacks the readable ones into one frame: the
contract's columns as text, plus `fila`, `archivo`, `hoja`, `columnas_extra`, the file's modification
time and whether it is a `;`-separated CSV. No validation here (that is `domain.ingest`).

Reading is most of an ingestion's time and runs on one core (calamine and the text conversion hold
the GIL). With many files to read and a second core, one worker process of the standard library's
`ProcessPoolExecutor` (started with `spawn`, never forked from a process with threads) reads from the
last file backwards while this process reads from the first one onwards, until they meet. A file the
worker could not give back (it failed or was killed, or the disk failed it) is read here.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import pyarrow as pa

from cti_pipeline.landing.discovery import FileRejection, LandedFile
from cti_pipeline.landing.file_reader import FilePart, ReadSpec, read_file
from cti_pipeline.landing.read_cache import Outcome, ReadCache
from cti_pipeline.memory import trim_heap

ROW_COLUMN = "fila"
EXTRA_COLUMN = "columnas_extra"
MTIME_COLUMN = "_mtime_ns"
SEMICOLON_COLUMN = "_csv_punto_y_coma"
TRIM_EVERY_FILES = 100
# A worker process must import Python, pandas, pyarrow and calamine before it reads anything; below
# this many files it would rarely get to read any (docs/benchmarks.md, «What made it fast»).
PARALLEL_MIN_FILES = 24
WORKER_QUEUE = 2  # files handed to the worker ahead of time


@dataclass
class FileBatch:
    """The rows of every readable file of one folder, as text with provenance, and each file's outcome."""

    rows: pd.DataFrame
    problems: pd.DataFrame  # index (of `rows`), columna, regla: cells found wrong while reading
    outcomes: list[tuple[LandedFile, Outcome]] = field(default_factory=list)  # in the folder's order
    warnings: list[str] = field(default_factory=list)
    read_from_cache: int = 0
    read_by_worker: int = 0

    @property
    def rejected(self) -> list[FileRejection]:
        return [outcome for _, outcome in self.outcomes if isinstance(outcome, FileRejection)]


def read_folder(files: Iterable[LandedFile], spec, cache: ReadCache | None = None) -> FileBatch:
    """Read each file, reject unreadable ones or ones lacking a required column, stack the rest.
    `spec`: a contract's `SourceSpec` (or a `ReadSpec`)."""
    files, spec = list(files), ReadSpec.of(spec)
    started_ns = time.time_ns()
    cached = cache.load(files, spec) if cache is not None else {}
    pending = [file for file in files if file.name not in cached]
    fresh, by_worker = read_files(pending, spec)
    outcomes = [(file, cached.get(file.name) or fresh[file]) for file in files]
    if cache is not None and not cache.up_to_date:
        cache.save(spec, dict(outcomes), read_started_ns=started_ns)
    batch = stack(outcomes, spec)
    batch.read_from_cache, batch.read_by_worker = len(cached), by_worker
    return batch


def read_files(files: Sequence[LandedFile], spec: ReadSpec) -> tuple[dict[LandedFile, Outcome], int]:
    """Every file's outcome, and how many a worker process read."""
    if len(files) >= PARALLEL_MIN_FILES and usable_cores() > 1:
        return read_from_both_ends(files, spec)
    outcomes = {}
    for position, file in enumerate(files, start=1):
        outcomes[file] = read_file(file, spec)
        if position % TRIM_EVERY_FILES == 0:
            trim_heap()  # each file's cells are freed Python objects; keep the heap from growing with them
    return outcomes, 0


def usable_cores() -> int:
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class _Ends:
    """Positions 0..n-1 claimed from both ends: this process from the front, the worker from the back."""

    def __init__(self, count: int):
        self.front, self.back = 0, count
        self.lock = threading.Lock()

    def take_front(self) -> int | None:
        with self.lock:
            if self.front >= self.back:
                return None
            self.front += 1
            return self.front - 1

    def take_back(self) -> int | None:
        with self.lock:
            if self.back <= self.front:
                return None
            self.back -= 1
            return self.back


def read_from_both_ends(files: Sequence[LandedFile], spec: ReadSpec) -> tuple[dict[LandedFile, Outcome], int]:
    ends = _Ends(len(files))
    outcomes: dict[LandedFile, Outcome] = {}
    handed: dict[Future, int] = {}
    executor = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))

    def hand_over(_: Future | None = None) -> None:
        # Runs in this process (the first time) and in the executor's thread as each file comes back.
        position = ends.take_back()
        if position is None:
            return
        try:
            future = executor.submit(read_file, files[position], spec)
        except RuntimeError:  # the executor is shutting down or broken: read it here
            outcomes[files[position]] = read_file(files[position], spec)
            return
        with ends.lock:
            handed[future] = position
        future.add_done_callback(hand_over)

    try:
        for _ in range(WORKER_QUEUE):
            hand_over()
        read_here = 0
        while (position := ends.take_front()) is not None:
            outcomes[files[position]] = read_file(files[position], spec)
            read_here += 1
            if read_here % TRIM_EVERY_FILES == 0:
                trim_heap()
        by_worker = 0
        while True:  # what the worker was handed (more may be handed while we wait)
            with ends.lock:
                waiting = [(future, handed.pop(future)) for future in list(handed)]
            if not waiting:
                break
            for future, position in waiting:
                outcome = _worker_outcome(future)
                if outcome is None:
                    outcome = read_file(files[position], spec)
                else:
                    by_worker += 1
                outcomes[files[position]] = outcome
        return outcomes, by_worker
    finally:
        executor.shutdown(wait=False, cancel_futures=True)


def _worker_outcome(future: Future) -> Outcome | None:
    """What the worker read, or None when it failed (or the disk failed it): then this process reads the file."""
    try:
        outcome = future.result()
    except Exception:  # a broken pool (the worker was killed), or an error in the worker
        return None
    return None if isinstance(outcome, FileRejection) and outcome.transient else outcome


# --- one frame of every readable file ------------------------------------------------------------


def stack(outcomes: list[tuple[LandedFile, Outcome]], spec: ReadSpec) -> FileBatch:
    parts = [(file, outcome) for file, outcome in outcomes if isinstance(outcome, FilePart)]
    warnings = [warning for _, part in parts for warning in part.warnings]
    lengths = [len(part) for _, part in parts]
    offsets = np.cumsum([0, *lengths])
    present = [name for name in spec.names if any(name in part.columns for _, part in parts)]
    data: dict[str, pd.Series] = {}
    for name in present:
        chunks = [part.columns.get(name) for _, part in parts]
        chunks = [c if c is not None else pa.nulls(n, pa.large_string()) for c, n in zip(chunks, lengths, strict=True)]
        data[name] = pd.Series(pd.array(pa.chunked_array(chunks, type=pa.large_string()), dtype="str"))
    fila = [np.asarray(part.fila, dtype="int64") for _, part in parts]
    data[ROW_COLUMN] = pd.Series(np.concatenate(fila) if fila else np.array([], "int64"), dtype="int64")
    extras: list[object] = []
    for (_, part), n in zip(parts, lengths, strict=True):
        extras.extend(part.extras if part.extras is not None else [None] * n)
    data[EXTRA_COLUMN] = pd.Series(extras, dtype="str")
    # object arrays: `np.repeat` of a list of str would make fixed-width text, four bytes per character per row
    data["archivo"] = pd.Series(np.repeat(np.array([part.archivo for _, part in parts], dtype=object), lengths), dtype="str")
    hojas = [part.hoja for _, part in parts]
    data["hoja"] = pd.Series(np.repeat(np.array(hojas, dtype=object), lengths), dtype="object" if None in hojas else "str")
    data[MTIME_COLUMN] = pd.Series(np.repeat([file.mtime_ns for file, _ in parts], lengths), dtype="int64")
    data[SEMICOLON_COLUMN] = pd.Series(np.repeat([part.semicolon_csv for _, part in parts], lengths), dtype="bool")
    problems = [
        (int(offset + position), column, rule)
        for (_, part), offset in zip(parts, offsets, strict=False)
        for position, column, rule in part.problems
    ]
    return FileBatch(
        rows=pd.DataFrame(data),
        problems=pd.DataFrame(problems, columns=["index", "columna", "regla"]).astype({"index": "int64", "columna": "str", "regla": "str"}),
        outcomes=[(file, without_cells(outcome)) for file, outcome in outcomes],
        warnings=warnings,
    )


def without_cells(outcome: Outcome) -> Outcome:
    """A part's description without its cells, which now live in the stacked rows (a batch keeps its
    outcomes for the file ledger; with the cells, a million rows would be held twice)."""
    if not isinstance(outcome, FilePart):
        return outcome
    return replace(outcome, fila=np.asarray(outcome.fila, dtype="int64"), columns={}, extras=None, problems=[])
