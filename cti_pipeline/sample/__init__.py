"""Deterministic sample inputs for every source (`cti-pipeline sample-data`).

Each source has a module with `write(landing, years, rows, rng)`; all share one seeded RNG per
source so that the same command always writes the same bytes.
"""

from __future__ import annotations

import random
from pathlib import Path

from cti_pipeline.sample import declaraciones, entidades, gpedc, registros

DEFAULT_YEARS = (2023, 2024)
DEFAULT_ROWS = 480
WRITERS = {"registros": registros.write, "gpedc": gpedc.write}


def landing_dir(out: Path) -> Path:
    """`--out` may name a data dir (files go to DIR/landing/) or the landing dir itself."""
    return out if out.name == "landing" else out / "landing"


def write_sample_data(out: Path, years: list[int] | tuple[int, ...] = DEFAULT_YEARS, rows: int = DEFAULT_ROWS, seed: int = 2030) -> Path:
    landing = landing_dir(out)
    landing.mkdir(parents=True, exist_ok=True)
    filers = declaraciones.write(landing, list(years), rows, random.Random(seed))
    for offset, (name, write) in enumerate(WRITERS.items(), start=1):
        write(landing, list(years), rows, random.Random(seed + offset))
    entidades.write(landing, list(years), filers, random.Random(seed + len(WRITERS) + 1))
    return landing


def is_empty(landing: Path) -> bool:
    return not landing.exists() or not any(p.is_file() for p in landing.rglob("*"))
