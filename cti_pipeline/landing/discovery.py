"""Finding the files of one source and year in the landing zone.

Only `os.scandir` and `stat` happen here, never parsing: sensors call this on every tick.
Symbolic links are never followed (`follow_symlinks=False` everywhere).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from cti_pipeline.settings import MAX_FILE_BYTES

YEAR_FOLDER = re.compile(r"^[0-9]{4}$")
FIRST_YEAR = 2000  # a year folder outside FIRST_YEAR .. next year is a typo, not a year of data
ACCEPTED_SUFFIXES = (".xlsx", ".csv")
YEARLY_SOURCES = ("declaraciones", "registros")  # landing/<source>/<anio>/: the sources whose folders are years


@dataclass(frozen=True)
class LandedFile:
    path: Path
    size: int
    mtime_ns: int

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def suffix(self) -> str:
        return self.path.suffix.lower()


@dataclass(frozen=True)
class FileRejection:
    archivo: str
    motivo: str
    transient: bool = field(default=False, compare=False)  # may not recur: read the file again next time
    size: int | None = field(default=None, compare=False)
    mtime_ns: int | None = field(default=None, compare=False)


@dataclass
class Discovery:
    files: list[LandedFile] = field(default_factory=list)
    rejected: list[FileRejection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def is_ignored_silently(name: str) -> bool:
    """Hidden files and office lock files (`.~lock.x.xlsx#`, `~$x.xlsx`)."""
    return name.startswith(".") or name.startswith("~$")


def discover_years(source_dir: Path) -> tuple[list[int], list[str]]:
    """Year folders directly under `landing/<source>/`; odd names and links are warned about."""
    years: list[int] = []
    warnings: list[str] = []
    if not source_dir.is_dir():
        return years, warnings
    for entry in sorted(os.scandir(source_dir), key=lambda e: e.name):
        if is_ignored_silently(entry.name):
            continue
        if entry.is_symlink():
            warnings.append(f"{entry.path}: symbolic link ignored (links are never followed)")
        elif not entry.is_dir(follow_symlinks=False):
            warnings.append(f"{entry.path}: file outside a year folder ignored")
        elif not YEAR_FOLDER.match(entry.name):
            warnings.append(f"{entry.path}: folder name is not a four-digit year, ignored")
        else:
            years.append(int(entry.name))
    return years, warnings


def years_with_files(landing_dir: Path, sources: tuple[str, ...], today: dt.date | None = None) -> tuple[dict[int, list[str]], list[str]]:
    """Per year, the sources whose `landing/<source>/<anio>/` folder holds at least one file (a year with
    input), and warnings for year folders outside FIRST_YEAR .. next year. Only scandir, no file opened."""
    last = (today or dt.date.today()).year + 1
    years: dict[int, list[str]] = {}
    warnings: list[str] = []
    for source in sources:
        found, source_warnings = discover_years(landing_dir / source)
        warnings += source_warnings
        for year in found:
            folder = landing_dir / source / str(year)
            if not any(not is_ignored_silently(entry.name) for entry in os.scandir(folder)):
                continue
            if not FIRST_YEAR <= year <= last:
                warnings.append(f"{folder}: {year} is not a year of data ({FIRST_YEAR}–{last}), ignored")
                continue
            years.setdefault(year, []).append(source)
    return dict(sorted(years.items())), warnings


def discover_files(year_dir: Path) -> Discovery:
    """The candidate files of one year folder, and the ones rejected before any parsing."""
    found = Discovery()
    if year_dir.is_symlink():
        found.rejected.append(
            FileRejection(
                f"{year_dir.name}/",
                "La carpeta del año es un enlace simbólico y no se sigue. Copie los archivos en una carpeta real.",
            )
        )
        return found
    if not year_dir.is_dir():
        return found
    for entry in sorted(os.scandir(year_dir), key=lambda e: e.name):
        name = entry.name
        if is_ignored_silently(name):
            continue
        if entry.is_symlink():
            found.rejected.append(
                FileRejection(name, "El archivo es un enlace simbólico y no se sigue. Copie el archivo real en la carpeta.")
            )
            continue
        if entry.is_dir(follow_symlinks=False):
            found.warnings.append(f"{entry.path}: subfolder ignored (files must be directly in the year folder)")
            continue
        if not entry.is_file(follow_symlinks=False):
            found.rejected.append(FileRejection(name, "No es un archivo regular y no se puede leer."))
            continue
        stat = entry.stat(follow_symlinks=False)
        suffix = Path(name).suffix.lower()
        identity = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        if suffix not in ACCEPTED_SUFFIXES:
            found.rejected.append(
                FileRejection(name, f"Formato no admitido ({suffix or 'sin extensión'}). Envíe el archivo como .xlsx o .csv.", **identity)
            )
        elif stat.st_size > MAX_FILE_BYTES:
            found.rejected.append(
                FileRejection(
                    name,
                    f"El archivo pesa {stat.st_size / 1_048_576:.1f} MB y supera el límite de "
                    f"{MAX_FILE_BYTES // 1_048_576} MB. Divídalo en archivos más pequeños.",
                    **identity,
                )
            )
        elif stat.st_size == 0:
            found.rejected.append(FileRejection(name, "El archivo está vacío (0 bytes).", **identity))
        else:
            found.files.append(LandedFile(Path(entry.path), stat.st_size, stat.st_mtime_ns))
    return found
