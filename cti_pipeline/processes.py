"""Which process is running, and whether a process recorded earlier is still the same live process.

A run records `identity()` when it starts (defs/resources.py); a later check (`is_gone`) tells a run whose
process was killed (kill -9, the OOM killer, a reboot) from one that is still working. The identity holds
the host, the pid and the process's start time, so a pid reused by another process is not mistaken for
the run. A process on another host (or in another container) is never judged: it may well be alive.
"""

from __future__ import annotations

import os
import socket


def identity(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{_start_ticks(pid) or 0}"


def is_gone(recorded: str) -> bool:
    """True only when `recorded` is a process of this host that no longer runs (or whose pid now belongs
    to a process started later)."""
    try:
        host, pid_text, start_text = recorded.rsplit(":", 2)
        pid, start = int(pid_text), int(start_text)
    except ValueError:
        return False
    if host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        pass
    now = _start_ticks(pid)
    return bool(start and now and now != start)


def _start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux /proc); None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return int(handle.read().rsplit(b")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None
