"""Sample administrative records (filled in by the PNCTI indicators work)."""

from __future__ import annotations

import random
from pathlib import Path


def write(landing: Path, years: list[int], rows: int, rng: random.Random) -> None:
    return None
