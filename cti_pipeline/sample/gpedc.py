"""Sample GPEDC 4th-round roster, questionnaires and validations (filled in by the GPEDC work)."""

from __future__ import annotations

import random
from pathlib import Path


def write(landing: Path, years: list[int], rows: int, rng: random.Random) -> None:
    return None
