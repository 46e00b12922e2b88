"""Re-materialising a year whose files did not change does not read them again."""

import os
from pathlib import Path

import dagster as dg
import pytest

from cti_pipeline.defs.declaraciones import declaraciones
from cti_pipeline_tests.factories import materialize_year, declaracion_row, valid_ruc, write_csv, write_xlsx

pytestmark = pytest.mark.slow  # every test here launches Dagster runs, evaluations or processes


def materialize(resources) -> dict[str, dict]:
    result = materialize_year([declaraciones], resources, "2024")
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"filas_conciliadas": True, "sin_claves_duplicadas": True, "montos_convertidos": True}
    return {e.asset_key.to_user_string(): e.materialization.metadata for e in result.get_asset_materialization_events()}


def staged_codes(warehouse) -> list[str]:
    conn = warehouse()
    try:
        return [r[0] for r in conn.execute("SELECT codigo_intervencion FROM staging.declaraciones WHERE anio = 2024 ORDER BY 1").fetchall()]
    finally:
        conn.close()


def test_unchanged_year_is_not_read_again_and_a_changed_file_is(data_dir: Path, resources, warehouse):
    year = data_dir / "landing" / "declaraciones" / "2024"
    write_xlsx(year / "a.xlsx", [declaracion_row(codigo_intervencion="A1"), declaracion_row(codigo_intervencion="A2", moneda="YEN")])
    csv = write_csv(year / "b.csv", [declaracion_row(ruc_entidad=valid_ruc("2060000001"), codigo_intervencion="B1")], mtime=1_730_000_000)

    first = materialize(resources)
    assert first["raw/declaraciones"]["sin_cambios"].value is False
    assert staged_codes(warehouse) == ["A1", "B1"]

    # Same name, size and modification time, other content: a re-read would stage "B2" instead of "B1".
    text = csv.read_bytes()
    assert text.count(b"B1") == 1
    csv.write_bytes(text.replace(b"B1", b"B2"))
    os.utime(csv, (1_730_000_000, 1_730_000_000))

    second = materialize(resources)
    for key in ("raw/declaraciones", "staging/declaraciones", "quarantine/declaraciones"):
        assert second[key]["sin_cambios"].value is True
        assert "no se releyó" in second[key]["nota"].value
    assert second["raw/declaraciones"]["dagster/row_count"].value == 3
    assert second["staging/declaraciones"]["dagster/row_count"].value == 2
    assert second["quarantine/declaraciones"]["dagster/row_count"].value == 1
    # the CLI's summary reads filas_en_cuarentena: the unchanged path reports it as the first run did
    assert second["quarantine/declaraciones"]["filas_en_cuarentena"].value == first["quarantine/declaraciones"]["filas_en_cuarentena"].value == 1
    assert second["raw/declaraciones"]["huella"].value == first["raw/declaraciones"]["huella"].value
    assert staged_codes(warehouse) == ["A1", "B1"]  # the files were not read again

    os.utime(csv, (1_730_000_500, 1_730_000_500))  # the entity saves the file again
    third = materialize(resources)
    assert third["raw/declaraciones"]["sin_cambios"].value is False
    assert staged_codes(warehouse) == ["A1", "B2"]


def test_rows_removed_from_the_warehouse_make_the_year_read_again(data_dir: Path, resources, warehouse, settings):
    import duckdb

    year = data_dir / "landing" / "declaraciones" / "2024"
    write_xlsx(year / "a.xlsx", [declaracion_row(codigo_intervencion="A1"), declaracion_row(codigo_intervencion="A2")])
    materialize(resources)
    with duckdb.connect(str(settings.warehouse)) as conn:
        conn.execute("DELETE FROM staging.declaraciones WHERE codigo_intervencion = 'A2'")
    again = materialize(resources)
    assert again["raw/declaraciones"]["sin_cambios"].value is False
    assert staged_codes(warehouse) == ["A1", "A2"]
