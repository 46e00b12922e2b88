"""The filing tracker's own check (`una_fila_por_entidad`) and reading a stored tracker back."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from cti_pipeline.contracts.tables import DECLARACION_CUMPLIMIENTO
from cti_pipeline.domain.cumplimiento import stored_tracker, tracker_problems


def stored(*rows: tuple[str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["ruc_entidad", "estado", "obligada"])


def test_a_sound_tracker_has_no_problem():
    repeated, mismatched = tracker_problems(
        stored(("20100047218", "PRESENTADA", "SI"), ("20131312955", "OMISA", "SI"), ("20505377142", "PRESENTADA", "NO")),
        {"20100047218", "20131312955"},
    )
    assert repeated.empty and mismatched.empty


def test_a_repeated_entity_a_missing_obliged_one_and_a_wrongly_obliged_one_are_named():
    repeated, mismatched = tracker_problems(
        stored(("20100047218", "PRESENTADA", "SI"), ("20100047218", "OMISA", "SI"), ("20505377142", "PRESENTADA", "SI")),
        {"20100047218", "20131312955"},
    )
    assert repeated["estado"].tolist() == ["PRESENTADA", "OMISA"]
    assert mismatched.to_dict("records") == [
        {"ruc_entidad": "20131312955", "problema": "obligada sin fila"},
        {"ruc_entidad": "20505377142", "problema": "marcada obligada sin estarlo"},
    ]


def test_before_the_first_run_the_stored_tracker_is_empty_with_its_columns(tmp_path: Path):
    with duckdb.connect(str(tmp_path / "cti.duckdb")) as conn:
        empty = stored_tracker(conn, 2024)
        assert empty.empty and list(empty.columns) == list(DECLARACION_CUMPLIMIENTO)
        conn.execute("CREATE SCHEMA marts")
        conn.execute("CREATE TABLE marts.declaracion_cumplimiento (anio INTEGER, ruc_entidad VARCHAR)")
        conn.execute("INSERT INTO marts.declaracion_cumplimiento VALUES (2023, '20100047218'), (2024, '20131312955')")
        assert stored_tracker(conn, 2024)["ruc_entidad"].tolist() == ["20131312955"]
