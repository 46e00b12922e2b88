"""What a file-drop sensor sees in a landing folder, and when a drop has settled. No Dagster here.

A scan only lists directories and stats files (`os.scandir` + `stat`, links never followed, nothing
opened or parsed), so a tick over 10,000 files stays well under a second (bench/sensor_tick.py).

A *group* is what one run handles: a year folder (`landing/declaraciones/2024/`) or a flat folder
(`landing/gpedc/ronda4/`). Its *observation* is {file name: (size, mtime_ns)}; its *fingerprint*
hashes (path, size, mtime_ns) of every file, so the same files give the same fingerprint in any
process, and that fingerprint is the sensor's run key.

When a drop settles (`advance`): a group is acted on only when two consecutive ticks observe exactly
the same files with the same sizes and modification times, and that observation differs from the
last one a run was requested for. The first tick after a drop records it, the next one confirms it.
So a file still being copied (its size or mtime moves between ticks) holds its whole group back,
files dropped together give one run, and a removal is confirmed the same way. The cursor keeps, per
group, only two fingerprints (last seen, last handled), not the files: Dagster copies the cursor into
every tick record, and a 10,000-file cursor written every 30 s would bloat the instance database.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cti_pipeline.landing.discovery import discover_years, is_ignored_silently

Observation = dict[str, tuple[int, int]]  # file name → (size in bytes, mtime in ns)

CURSOR_VERSION = 1


@dataclass
class Scan:
    groups: dict[str, Observation] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def file_count(self) -> int:
        return sum(len(files) for files in self.groups.values())


def observe_folder(folder: Path) -> Observation:
    """Regular files directly in `folder`; hidden/lock files, links and subfolders are left out."""
    files: Observation = {}
    try:
        entries = os.scandir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return files
    with entries:
        for entry in entries:
            if is_ignored_silently(entry.name):
                continue
            try:
                if entry.is_symlink() or not entry.is_file(follow_symlinks=False):
                    continue
                stat = entry.stat(follow_symlinks=False)
            except FileNotFoundError:  # removed between listing and stat
                continue
            files[entry.name] = (stat.st_size, stat.st_mtime_ns)
    return files


def scan_years(source_dir: Path) -> Scan:
    """`landing/<source>/<anio>/` → one group per four-digit year folder (see landing/discovery.py)."""
    years, warnings = discover_years(source_dir)
    scan = Scan(warnings=warnings)
    for year in years:
        year_dir = source_dir / str(year)
        if year_dir.is_symlink():
            scan.warnings.append(f"{year_dir}: the year folder is a symbolic link, ignored")
            continue
        scan.groups[str(year)] = observe_folder(year_dir)
    return scan


def scan_folder(folder: Path, group: str | None = None) -> Scan:
    """A flat folder (`landing/gpedc/ronda4/`) as a single group named after it."""
    if folder.is_symlink():
        return Scan(warnings=[f"{folder}: the folder is a symbolic link, ignored"])
    if not folder.is_dir():
        return Scan()
    return Scan(groups={group or folder.name: observe_folder(folder)})


def fingerprint(prefix: str, files: Mapping[str, tuple[int, int]]) -> str:
    """sha256 over sorted (path, size, mtime_ns) lines; `prefix` is the group's path, e.g. `declaraciones/2024`."""
    digest = hashlib.sha256()
    for name in sorted(files):
        size, mtime_ns = files[name]
        digest.update(f"{prefix}/{name}\x00{size}\x00{mtime_ns}\n".encode())
    return digest.hexdigest()[:24]


@dataclass(frozen=True)
class GroupState:
    """Per group in the cursor: the fingerprint seen on the last tick, and the last one a run was requested for."""

    seen: str
    handled: str | None = None


@dataclass(frozen=True)
class Settled:
    """A group whose files have settled on a set that no run has handled yet."""

    group: str
    fingerprint: str
    files: int
    previous: str | None = None  # the fingerprint handled before this one (None: first seen, or a lost cursor)


@dataclass
class Advance:
    settled: list[Settled] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # groups that changed since the last tick
    cursor: dict[str, GroupState] = field(default_factory=dict)


def advance(previous: Mapping[str, GroupState], scan: Scan, prefix: str) -> Advance:
    """One sensor tick: compare this scan with the last one, say which groups settled on something new.

    `prefix` is the source's path under landing/ (`declaraciones`, `gpedc`); a group's fingerprint
    covers `<prefix>/<group>/<file>`. A group that is empty and was never handled is not tracked (a new,
    still empty year folder requests nothing); a handled group that disappears is observed as empty, so
    removing every file of a year requests a run that empties that year, once.
    """
    result = Advance()
    groups = set(scan.groups) | {g for g, state in previous.items() if state.handled is not None}
    for group in sorted(groups):
        files = scan.groups.get(group, {})
        before = previous.get(group)
        handled = before.handled if before else None
        if not files and handled is None:
            continue
        now = fingerprint(f"{prefix}/{group}", files)
        if before is None or before.seen != now:
            result.waiting.append(group)
        elif now != handled:
            result.settled.append(Settled(group, now, len(files), previous=handled))
            handled = now
        if not files and handled == now and group not in scan.groups:
            continue  # the folder is gone and its emptiness was handled: forget it
        result.cursor[group] = GroupState(seen=now, handled=handled)
    return result


def dump_cursor(state: Mapping[str, GroupState]) -> str:
    return json.dumps(
        {"v": CURSOR_VERSION, "groups": {g: {"seen": s.seen, "handled": s.handled} for g, s in sorted(state.items())}},
        separators=(",", ":"),
    )


def load_cursor(text: str | None) -> dict[str, GroupState]:
    """The cursor a sensor stored; an empty or unreadable one starts over (every group is re-observed)."""
    if not text:
        return {}
    try:
        data = json.loads(text)
        if data.get("v") != CURSOR_VERSION:
            raise ValueError(f"cursor version {data.get('v')!r}")
        return {
            str(group): GroupState(seen=str(state["seen"]), handled=state.get("handled"))
            for group, state in data["groups"].items()
        }
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise CursorError(f"unreadable sensor cursor ({error}); starting over") from error


class CursorError(ValueError):
    pass
