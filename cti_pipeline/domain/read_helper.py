"""A second process that reads a share of a folder's files while this one reads the rest.

Reading is most of an ingestion's time and runs on one core (calamine and the text conversion hold
the GIL). The helper is a fresh `python -m cti_pipeline.domain.read_helper`: it imports only what
reading needs (pandas, pyarrow, calamine; no Dagster, no pandera), so it starts in about half a
second, and nothing is forked from the Dagster run process (forking a process with threads can
deadlock). The two processes share the work without talking: each claims its next file through
`Claims` (two counters in one small file, under an advisory lock), this process from the first file
onwards, the helper from the last one backwards, until they meet. The helper hands its reads over
as one Arrow IPC file in the read cache's format; a file it claimed but did not hand over (it
failed, was killed, or met a failure that may not recur) is read here, so no file is ever lost to
the helper. If the helper cannot be started at all, this process reads every file. The claims live
in a work folder beside the read cache (`.cti-lecturas-*`, removed afterwards; one left by a killed
run is removed an hour later), or in the system's temporary folder when the cache folder cannot be
written.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from cti_pipeline.domain.read_cache import Outcome, entries_for, read_entries, write_entries
from cti_pipeline.domain.reading import TRIM_EVERY_FILES, ReadSpec, read_part
from cti_pipeline.landing.discovery import FileRejection, LandedFile
from cti_pipeline.memory import trim_heap, use_system_allocator_for_arrow

HELPER_TIMEOUT_SECONDS = 900
REQUEST = "request.json"
CLAIMS = "claims.bin"
HANDED_OVER = "helper.arrow"


class Claims:
    """Positions 0..n-1 shared by two processes, one taking from the front and the other from the back.

    The state is two integers in one file (the next position from the front, and one past the next
    from the back), changed under `flock`: a few microseconds a claim. (Creating one marker file per
    claim cost 0.3 ms each on ext4 while both processes were reading.)
    """

    PAIR = struct.Struct("<qq")

    def __init__(self, path: Path):
        self.fd = os.open(path, os.O_RDWR)

    @classmethod
    def create(cls, path: Path, count: int, front: int = 0) -> Claims:
        path.write_bytes(cls.PAIR.pack(front, count))
        return cls(path)

    def take(self, from_back: bool = False) -> int | None:
        """The next unclaimed position from this end, now claimed; None once the two ends have met."""
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        try:
            front, back = self.PAIR.unpack(os.pread(self.fd, self.PAIR.size, 0))
            if front >= back:
                return None
            if from_back:
                back -= 1
                position = back
            else:
                position = front
                front += 1
            os.pwrite(self.fd, self.PAIR.pack(front, back), 0)
            return position
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def ends(self) -> tuple[int, int]:
        """(positions taken from the front, first position taken from the back)."""
        return self.PAIR.unpack(os.pread(self.fd, self.PAIR.size, 0))

    def close(self) -> None:
        os.close(self.fd)


def read_with_helper(
    files: Sequence[LandedFile],
    spec: ReadSpec,
    version: str,
    read_here: Callable[[int], object],
    scratch: Path | None = None,
) -> dict[str, Outcome]:
    """Read `files` here (through `read_here(position)`) and in a helper process, until every file is
    claimed by one of them. Returns what the helper read, by file name. The claims go in a new folder
    under `scratch` (the system's temporary folder when that cannot be written)."""
    work: Path | None = None
    claims: Claims | None = None
    try:
        work = work_folder(scratch)
        claims = Claims.create(work / CLAIMS, len(files))
        request = {
            "files": [[str(file.path), file.size, file.mtime_ns] for file in files],
            "spec": asdict(spec),
            "version": version,
            "work": str(work),
            "parent": os.getpid(),
        }
        # A file, not the helper's stdin: a pipe holds 64 KB, and writing more would wait for the helper
        # to finish importing before this process could start reading.
        (work / REQUEST).write_text(json.dumps(request))
        helper = subprocess.Popen(
            [_python(), "-m", "cti_pipeline.domain.read_helper", str(work / REQUEST)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except Exception:  # no helper (no work folder, no interpreter to start): the caller reads every file
        if claims is not None:
            claims.close()
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
        return {}
    try:
        read = 0
        while (position := claims.take()) is not None:
            read_here(position)
            read += 1
            if read % TRIM_EVERY_FILES == 0:
                trim_heap()
        if read == len(files):
            helper.kill()  # it has nothing left to read (it may still be starting up)
        helper.wait(timeout=HELPER_TIMEOUT_SECONDS)
        return entries_for(read_entries(work / HANDED_OVER, version, spec), files)
    except BaseException as error:  # a helper that hangs (the caller reads its files), or a failure here
        helper.kill()
        helper.wait()
        if not isinstance(error, subprocess.TimeoutExpired):
            raise
        return {}
    finally:
        claims.close()
        shutil.rmtree(work, ignore_errors=True)


def work_folder(scratch: Path | None) -> Path:
    if scratch is not None:
        try:
            scratch.mkdir(parents=True, exist_ok=True)
            return Path(tempfile.mkdtemp(prefix=".cti-lecturas-", dir=scratch))
        except OSError:
            pass
    return Path(tempfile.mkdtemp(prefix="cti-lecturas-"))


def _python() -> str:
    if not sys.executable:
        raise RuntimeError("no Python interpreter to start the helper with")
    return sys.executable


def main(argv: list[str]) -> int:
    request = json.loads(Path(argv[0]).read_text())
    use_system_allocator_for_arrow()
    spec = ReadSpec(request["spec"]["sheet"], tuple(request["spec"]["names"]), tuple(request["spec"]["required_names"]))
    work = Path(request["work"])
    files = [LandedFile(Path(path), size, mtime_ns) for path, size, mtime_ns in request["files"]]
    claims = Claims(work / CLAIMS)
    outcomes: dict[LandedFile, Outcome] = {}
    read = 0
    # Until the two ends meet, or the caller is gone (nobody would take these reads).
    while os.getppid() == request["parent"] and (position := claims.take(from_back=True)) is not None:
        outcome = read_part(files[position], spec)
        if not (isinstance(outcome, FileRejection) and outcome.transient):
            outcomes[files[position]] = outcome  # a failure that may not recur is left for the caller to retry
        read += 1
        if read % TRIM_EVERY_FILES == 0:
            trim_heap()
    if os.getppid() == request["parent"]:
        write_entries(work / HANDED_OVER, request["version"], spec, outcomes)
    return 0


if __name__ == "__main__":
    # Its result is on disk (written and closed): skip the interpreter's teardown, which the caller waits for.
    os._exit(main(sys.argv[1:]))
