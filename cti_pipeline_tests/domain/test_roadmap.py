"""The roadmap's phases as month windows, read from the shipped catalog or an override."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from cti_pipeline.domain import roadmap
from cti_pipeline.settings import SHIPPED_REFERENCE_DIR


def shipped_rows() -> list[dict[str, str]]:
    with open(SHIPPED_REFERENCE_DIR / "hoja_de_ruta.csv", encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_month_parsing_and_order():
    assert roadmap.Month.parse("2024-05") == roadmap.Month(2024, 5)
    assert roadmap.Month.parse(" 2024-5 ") == roadmap.Month(2024, 5)
    assert str(roadmap.Month(2024, 5)) == "2024-05"
    assert roadmap.Month(2024, 12) < roadmap.Month(2025, 1)
    for bad in ("2024-13", "2024-00", "24-05", "mayo 2024", "2024/05", ""):
        with pytest.raises(roadmap.RoadmapError):
            roadmap.Month.parse(bad)


def test_shipped_catalog_gives_every_phase_with_its_window():
    phases = roadmap.load_roadmap(None)
    rows = shipped_rows()
    assert sorted(phases) == sorted(int(r["fase"]) for r in rows)
    for row in rows:
        phase = phases[int(row["fase"])]
        assert phase.nombre == row["nombre"].strip()
        assert str(phase.inicio) == row["inicio"] and str(phase.fin) == row["fin"]


def test_window_is_inclusive_by_month():
    phase = roadmap.Phase(2, "Recolección de datos", roadmap.Month(2024, 5), roadmap.Month(2024, 10))
    assert phase.contains(dt.date(2024, 5, 1))
    assert phase.contains(dt.date(2024, 10, 31))
    assert phase.contains(dt.date(2024, 7, 15))
    assert not phase.contains(dt.date(2024, 4, 30))
    assert not phase.contains(dt.date(2024, 11, 1))
    assert not phase.contains(dt.date(2025, 6, 1))  # same month, another year


def test_window_across_new_year():
    phase = roadmap.Phase(3, "Revisión", roadmap.Month(2024, 11), roadmap.Month(2025, 1))
    assert phase.contains(dt.date(2024, 12, 31)) and phase.contains(dt.date(2025, 1, 31))
    assert not phase.contains(dt.date(2025, 2, 1)) and not phase.contains(dt.date(2024, 10, 31))


def test_outside_reason_names_phase_and_window():
    phase = roadmap.Phase(2, "Recolección de datos", roadmap.Month(2024, 5), roadmap.Month(2024, 10))
    reason = phase.outside_reason(dt.date(2026, 11, 23))
    assert reason.startswith("Fuera de la fase 2 «Recolección de datos» (2024-05 a 2024-10)")
    assert "2026-11-23" in reason


def test_override_replaces_the_shipped_catalog(tmp_path: Path):
    (tmp_path / "hoja_de_ruta.csv").write_text(
        "fase,nombre,inicio,fin\n2,Recolección de datos,2026-01,2026-03\n", encoding="utf-8"
    )
    phases = roadmap.load_roadmap(tmp_path)
    assert list(phases) == [2]
    assert phases[2].window == "2026-01 a 2026-03"
    with pytest.raises(roadmap.RoadmapError, match="no fase 3"):
        roadmap.phase(tmp_path, 3)


@pytest.mark.parametrize(
    "rows, message",
    [
        ([{"fase": "2", "nombre": "x", "inicio": "2024-10", "fin": "2024-05"}], "before inicio"),
        ([{"fase": "2", "nombre": "x", "inicio": "octubre", "fin": "2024-05"}], "YYYY-MM"),
        ([{"fase": "dos", "nombre": "x", "inicio": "2024-01", "fin": "2024-05"}], "not a phase number"),
        (
            [
                {"fase": "2", "nombre": "x", "inicio": "2024-01", "fin": "2024-05"},
                {"fase": "2", "nombre": "y", "inicio": "2024-06", "fin": "2024-07"},
            ],
            "twice",
        ),
    ],
)
def test_bad_catalog_is_a_clear_error(rows, message):
    with pytest.raises(roadmap.RoadmapError, match=message):
        roadmap.phases_from_frame(pd.DataFrame(rows, dtype="str"))


def test_override_without_a_required_column_is_rejected(tmp_path: Path):
    (tmp_path / "hoja_de_ruta.csv").write_text("fase,nombre,inicio\n2,x,2024-05\n", encoding="utf-8")
    with pytest.raises(roadmap.ReferenceError, match="fin"):
        roadmap.load_roadmap(tmp_path)
