"""The GPEDC roadmap (reference/hoja_de_ruta.csv): phases as month windows, inclusive.

No Dagster here. Schedules read the catalog at every evaluation through `load_roadmap`, so moving
a phase is an edit of the CSV (shipped in data/reference/ or overridden in $CTI_DATA_DIR/reference/),
never a code change.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cti_pipeline.contracts.reference import ReferenceError, catalog_path, load_catalog

MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


class RoadmapError(ReferenceError):
    """hoja_de_ruta.csv has a month that is not YYYY-MM, a window that ends before it starts, or no such phase."""


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """`2024-05` (or `2024-5`) → Month(2024, 5)."""
        found = MONTH.match(str(text).strip())
        if not found or not 1 <= int(found.group(2)) <= 12:
            raise RoadmapError(f"{text!r} is not a month written as YYYY-MM")
        return cls(int(found.group(1)), int(found.group(2)))

    @classmethod
    def of(cls, day: dt.date) -> Month:
        return cls(day.year, day.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True)
class Phase:
    fase: int
    nombre: str
    inicio: Month
    fin: Month

    def contains(self, day: dt.date) -> bool:
        """Whether `day` falls in the phase: its month is between inicio and fin, both included."""
        return self.inicio <= Month.of(day) <= self.fin

    @property
    def window(self) -> str:
        return f"{self.inicio} a {self.fin}"

    def describe(self) -> str:
        """`fase 2 «Recolección de datos» (2024-05 a 2024-10)`: how a schedule names its phase."""
        name = f" «{self.nombre}»" if self.nombre else ""
        return f"fase {self.fase}{name} ({self.window})"

    def outside_reason(self, day: dt.date) -> str:
        """The skip reason a phase schedule shows in its tick history when `day` is outside the window."""
        return f"Fuera de la {self.describe()}: la fecha de ejecución {day.isoformat()} no está en la ventana."


def phases_from_frame(frame: pd.DataFrame, source: str = "hoja_de_ruta.csv") -> dict[int, Phase]:
    """Phases keyed by number, from the catalog's rows (fase, nombre, inicio, fin)."""
    phases: dict[int, Phase] = {}
    for row in frame.to_dict("records"):
        fase_text = str(row.get("fase") or "").strip()
        if not fase_text:
            continue
        if not fase_text.isdigit():
            raise RoadmapError(f"{source}: fase {fase_text!r} is not a phase number")
        fase = int(fase_text)
        try:
            inicio, fin = Month.parse(row.get("inicio", "")), Month.parse(row.get("fin", ""))
        except RoadmapError as error:
            raise RoadmapError(f"{source}, fase {fase}: {error}") from None
        if fin < inicio:
            raise RoadmapError(f"{source}, fase {fase}: fin {fin} is before inicio {inicio}")
        if fase in phases:
            raise RoadmapError(f"{source}: fase {fase} appears twice")
        phases[fase] = Phase(fase, str(row.get("nombre") or "").strip(), inicio, fin)
    return phases


def load_roadmap(override_dir: Path | None) -> dict[int, Phase]:
    """Read hoja_de_ruta.csv now (the $CTI_DATA_DIR/reference/ override when present)."""
    path = catalog_path("hoja_de_ruta", override_dir)
    return phases_from_frame(load_catalog("hoja_de_ruta", override_dir), source=str(path))


def phase(override_dir: Path | None, fase: int) -> Phase:
    phases = load_roadmap(override_dir)
    if fase not in phases:
        raise RoadmapError(f"hoja_de_ruta.csv has no fase {fase} (it has {sorted(phases)})")
    return phases[fase]
