"""Keep a large ingestion's memory close to what it holds, not to what it once allocated.

Reading a million rows creates and frees tens of millions of small Python objects (calamine's cells,
per-file lists). glibc keeps the freed pages in its heaps, so the process's resident memory stays at
its high-water mark while the next phase allocates more. `malloc_trim(0)` returns them, as Dask's
workers do. Both are no-ops where unavailable.

Arrow (the text columns of every frame) allocates from the system allocator instead of its bundled
mimalloc, so that the two share freed memory: at a million declaration rows this lowered the peak
with no measurable cost in time (docs/benchmarks.md, «What keeps a million rows under 1.5 GB»). `ARROW_DEFAULT_MEMORY_POOL`, when
set, still wins.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa


def _glibc_malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # musl (Alpine) has no malloc_trim
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_MALLOC_TRIM = _glibc_malloc_trim()


def use_system_allocator_for_arrow() -> None:
    """Called once where the Dagster definitions are assembled (every run process loads them)."""
    if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ and sys.platform.startswith("linux"):
        pa.set_memory_pool(pa.system_memory_pool())


def trim_heap() -> None:
    """Return free heap pages to the OS (a few milliseconds)."""
    pa.default_memory_pool().release_unused()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def release_freed_memory() -> None:
    """Collect garbage, then `trim_heap`."""
    gc.collect()
    trim_heap()


@contextmanager
def collect_only_when_asked() -> Iterator[None]:
    """Inside, garbage is collected only by `release_freed_memory`, and only among new objects.

    A run process holds about 200,000 long-lived objects (modules, Dagster's definitions and run
    state) and each full collection walks them all, several times per ingestion (docs/benchmarks.md). Frozen (`gc.freeze`), a collection costs what the ingestion's own objects
    cost. Automatic collections are off meanwhile: reading creates millions of short-lived objects
    without cycles, and with the old objects frozen Python 3.11's collector would run full
    collections over them again and again. On exit both return to normal. Usable as a decorator.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()


def peak_memory_mb() -> int:
    """This process's peak resident memory so far, in MiB (`ru_maxrss`: KiB on Linux, bytes on macOS).

    Process-wide: in a run that materialises several assets in one process it includes earlier steps.
    """
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak / 1024 / (1024 if sys.platform == "darwin" else 1))
