"""The sample administrative records: deterministic, with mistakes, and enough for a full indicator table."""

from __future__ import annotations

import pytest
import hashlib
import random
import time
from pathlib import Path

import dagster as dg

from cti_pipeline.contracts.reference import load_iso3
from cti_pipeline.contracts.registros import KINDS
from cti_pipeline.defs.declaraciones import declaraciones
from cti_pipeline.defs.pncti import cti_ejecucion_mart, pncti_indicadores
from cti_pipeline.defs.registros import registros
from cti_pipeline.domain.registros import process_registros
from cti_pipeline.sample import registros as sample
from cti_pipeline.sample import write_sample_data
from cti_pipeline_tests.factories import materialize_year, file_counts


def digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.slow  # waits out the zip format's 2-second clock
def test_the_sample_is_the_same_bytes_on_every_run(tmp_path: Path):
    sample.write(tmp_path / "a", [2023, 2024], 100, random.Random(3))
    time.sleep(2.1)  # zip member times have a 2-second resolution
    sample.write(tmp_path / "b", [2023, 2024], 100, random.Random(3))
    first, second = digests(tmp_path / "a"), digests(tmp_path / "b")
    assert first == second and any(name.endswith(".xlsx") for name in first)


def test_the_sample_has_every_kind_some_bad_rows_and_one_unknown_kind_file(tmp_path: Path):
    sample.write(tmp_path, [2023, 2024], 100, random.Random(3))
    for year in (2023, 2024):
        result = process_registros(tmp_path / "registros" / str(year), year, "salt", load_iso3(None))
        assert all(not result.staged[kind].empty for kind in KINDS), year
        assert len(result.quarantined) >= 5
        counts = file_counts(result.raw)
        assert (counts["leidas"] == counts["staged"] + counts["quarantined"]).all()
        unknown = result.rejected_files[result.rejected_files["origen"] == "registros"]
        assert len(unknown) == (1 if year == 2024 else 0)


@pytest.mark.slow
def test_the_sample_gives_a_full_indicator_table(data_dir: Path, resources, warehouse):
    write_sample_data(data_dir, [2024], rows=60, seed=2030)
    result = materialize_year([declaraciones, registros, pncti_indicadores, cti_ejecucion_mart], resources, "2024")
    assert result.success
    conn = warehouse()
    states = dict(conn.execute("SELECT indicador, estado FROM marts.pncti_indicadores WHERE anio = 2024").fetchall())
    assert len(states) == 18 and set(states.values()) == {"DISPONIBLE"}
    assert conn.execute("SELECT count(*) FROM marts.cti_ejecucion WHERE anio = 2024").fetchone()[0] > 0


def test_the_sample_2023_is_the_constructed_report_fixture(tmp_path: Path):
    from cti_pipeline.settings import PROJECT_ROOT

    sample.write(tmp_path, [2023, 2024], 100, random.Random(3))
    fixture = PROJECT_ROOT / "data" / "fixtures" / "2023" / "landing" / "registros" / "2023"
    assert digests(tmp_path / "registros" / "2023") == digests(fixture)
