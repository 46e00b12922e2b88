"""A second process that reads a share of a folder's files into the ReadCache while this one reads the rest.

Reading is most of an ingestion's time and runs on one core (calamine and the text conversion hold
the GIL). The helper is a fresh `python -m cti_pipeline.domain.read_helper`: it imports only what
reading needs (pandas, pyarrow, calamine; no Dagster, no pandera), so it starts in about half a
second, and nothing is forked from the Dagster run process (forking a process with threads can
deadlock). The two processes share the work without talking: each file is claimed by creating a
marker file exclusively, this process from the first file onwards, the helper from the last one
backwards, and each stops at the first file the other has claimed. The helper's reads reach this
process through the cache; a file the helper claimed but did not store (it failed, or was killed)
is read here, so no file is ever lost to the helper.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from cti_pipeline.domain.read_cache import ReadCache
from cti_pipeline.domain.reading import TRIM_EVERY_FILES, ReadSpec, read_part
from cti_pipeline.landing.discovery import LandedFile
from cti_pipeline.memory import trim_heap, use_system_allocator_for_arrow

HELPER_TIMEOUT_SECONDS = 900


def claim(claims: Path, position: int) -> bool:
    """True when this process is the first to claim file `position`."""
    try:
        os.close(os.open(claims / str(position), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        return True
    except FileExistsError:
        return False


def read_with_helper(files: Sequence[LandedFile], spec: ReadSpec, cache: ReadCache, read_here: Callable[[int], object]) -> int:
    """Read `files` here (through `read_here(position)`) and in a helper process (into `cache`), until
    every file is claimed by one of them. Returns how many files this process read."""
    claims = Path(tempfile.mkdtemp(prefix="cti-lecturas-"))
    request = {
        "files": [[str(file.path), file.size, file.mtime_ns] for file in files],
        "spec": asdict(spec),
        "cache": str(cache.folder),
        "version": cache.version,
        "claims": str(claims),
    }
    helper = subprocess.Popen(
        [sys.executable, "-m", "cti_pipeline.domain.read_helper"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    read = 0
    try:
        helper.stdin.write(json.dumps(request).encode())
        helper.stdin.close()
        for position in range(len(files)):
            if not claim(claims, position):
                break
            read_here(position)
            read += 1
            if read % TRIM_EVERY_FILES == 0:
                trim_heap()
        if read == len(files):
            helper.kill()  # it has nothing left to read (it may still be starting up)
        helper.wait(timeout=HELPER_TIMEOUT_SECONDS)
    except (OSError, subprocess.TimeoutExpired):  # a helper that cannot start or hangs: the caller reads its files
        helper.kill()
        helper.wait()
    finally:
        shutil.rmtree(claims, ignore_errors=True)
    return read


def main() -> int:
    request = json.load(sys.stdin)
    use_system_allocator_for_arrow()
    spec = ReadSpec(request["spec"]["sheet"], tuple(request["spec"]["names"]), tuple(request["spec"]["required_names"]))
    cache = ReadCache(Path(request["cache"]), request["version"])
    claims = Path(request["claims"])
    files = [LandedFile(Path(path), size, mtime_ns) for path, size, mtime_ns in request["files"]]
    for done, position in enumerate(reversed(range(len(files))), start=1):
        if not claim(claims, position):
            break
        cache.store(files[position], spec, read_part(files[position], spec))
        if done % TRIM_EVERY_FILES == 0:
            trim_heap()
    return 0


if __name__ == "__main__":
    sys.exit(main())
