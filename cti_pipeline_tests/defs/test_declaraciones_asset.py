"""The declarations multi-asset materialised for real into a temporary DuckDB file."""

from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from cti_pipeline.contracts.tables import FILAS_RECHAZADAS
from cti_pipeline.defs.declaraciones import declaraciones
from cti_pipeline.warehouse import TableWrite, replace_partitions
from cti_pipeline_tests.factories import materialize_year, declaracion_row, valid_ruc, write_csv, write_xlsx

RUC_A = valid_ruc("2010004721")


def materialize(resources, year: int) -> dg.ExecuteInProcessResult:
    return materialize_year([declaraciones], resources, str(year))


@pytest.mark.slow
def test_materialisation_writes_raw_staging_quarantine_and_passes_its_checks(data_dir: Path, resources, warehouse):
    year = data_dir / "landing" / "declaraciones" / "2024"
    write_xlsx(year / "a.xlsx", [declaracion_row(codigo_intervencion="1"), declaracion_row(codigo_intervencion="2", moneda="YEN")])
    write_csv(year / "b.csv", [declaracion_row(ruc_entidad=valid_ruc("2060000001"), codigo_intervencion="1", moneda="PEN")],
              encoding="cp1252", separator=";", decimal_comma=True)
    (year / "c.xlsx").write_bytes(b"garbage")

    result = materialize(resources, 2024)
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"filas_conciliadas": True, "sin_claves_duplicadas": True, "montos_convertidos": True}

    materializations = {m.asset_key.to_user_string(): m.metadata for m in result.get_asset_materialization_events() for m in [m.materialization]}
    assert materializations["raw/declaraciones"]["dagster/row_count"].value == 3
    assert materializations["staging/declaraciones"]["dagster/row_count"].value == 2
    assert materializations["quarantine/declaraciones"]["archivos_rechazados"].value == 1
    assert "| archivo |" in materializations["quarantine/declaraciones"]["preview"].value
    schema = materializations["staging/declaraciones"]["dagster/column_schema"].value
    described = {column.name: column.description for column in schema.columns}
    assert described["monto_usd"].startswith("Monto en USD") and all(described.values())  # the UI says what each column is
    # The profile of the run: seconds and the process's peak memory per phase, for the benchmark.
    phases = ["discover", "read", "validate", "quarantine", "stage", "write", "checks"]
    assert list(materializations["raw/declaraciones"]["tiempos_s"].value) == phases
    assert set(materializations["raw/declaraciones"]["memoria_pico_proceso_mb"].value) == set(phases) - {"checks"}

    conn = warehouse()
    assert conn.execute("SELECT count(*) FROM staging.declaraciones WHERE anio = 2024").fetchone()[0] == 2
    assert conn.execute("SELECT regla FROM quarantine.filas_rechazadas").fetchall() == [("valor_no_permitido",)]
    assert conn.execute("SELECT archivo FROM quarantine.archivos_rechazados").fetchall() == [("c.xlsx",)]
    usd = conn.execute("SELECT monto_usd FROM staging.declaraciones WHERE moneda = 'PEN'").fetchone()[0]
    assert usd == pytest.approx(1000.0 / 3.757)


@pytest.mark.slow
def test_rematerialising_a_year_replaces_its_rows_and_leaves_other_years(data_dir: Path, resources, warehouse):
    landing = data_dir / "landing" / "declaraciones"
    write_csv(landing / "2023" / "e.csv", [declaracion_row(anio=2023, codigo_intervencion="old", fecha_fin="2023-12-31")])
    write_csv(landing / "2024" / "e.csv", [declaracion_row(codigo_intervencion=str(i)) for i in range(3)])
    assert materialize(resources, 2023).success
    assert materialize(resources, 2024).success
    write_csv(landing / "2024" / "e.csv", [declaracion_row(codigo_intervencion="solo")])
    assert materialize(resources, 2024).success
    assert materialize(resources, 2024).success

    conn = warehouse()
    rows = conn.execute("SELECT anio, codigo_intervencion FROM staging.declaraciones ORDER BY anio").fetchall()
    assert rows == [(2023, "old"), (2024, "solo")]
    assert conn.execute("SELECT count(*) FROM raw.declaraciones WHERE anio = 2024").fetchone()[0] == 1


@pytest.mark.slow
def test_after_one_file_changes_only_that_file_is_read_again(data_dir: Path, resources, warehouse):
    year = data_dir / "landing" / "declaraciones" / "2024"
    write_xlsx(year / "a.xlsx", [declaracion_row(codigo_intervencion="A1")], mtime=1_700_000_000)
    write_csv(year / "b.csv", [declaracion_row(ruc_entidad=valid_ruc("2060000001"), codigo_intervencion="B1")], mtime=1_700_000_100)
    write_csv(year / "c.csv", [declaracion_row(ruc_entidad=valid_ruc("2060000002"), codigo_intervencion="C1")], mtime=1_700_000_200)

    def raw_metadata(result: dg.ExecuteInProcessResult) -> dict:
        return next(e.materialization.metadata for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(["raw", "declaraciones"]))

    assert raw_metadata(materialize(resources, 2024))["archivos_desde_cache"].value == 0
    write_csv(year / "b.csv", [declaracion_row(ruc_entidad=valid_ruc("2060000001"), codigo_intervencion="B2")], mtime=1_700_000_900)
    second = raw_metadata(materialize(resources, 2024))

    assert second["archivos_desde_cache"].value == 2
    assert second["sin_cambios"].value is False
    codes = warehouse().execute("SELECT codigo_intervencion FROM staging.declaraciones ORDER BY 1").fetchall()
    assert codes == [("A1",), ("B2",), ("C1",)]


@pytest.mark.slow
def test_a_file_the_disk_failed_to_give_is_read_again_by_the_next_run(data_dir: Path, resources, warehouse, monkeypatch):
    """An I/O error is not what the file says: the year is not marked unchanged, and the next run reads it."""
    year = data_dir / "landing" / "declaraciones" / "2024"
    write_csv(year / "a.csv", [declaracion_row(codigo_intervencion="A1")], mtime=1_700_000_000)
    write_csv(year / "b.csv", [declaracion_row(ruc_entidad=valid_ruc("2060000001"), codigo_intervencion="B1")], mtime=1_700_000_100)
    original_read_bytes = Path.read_bytes

    def failing_disk(path: Path) -> bytes:  # the disk under the landing zone, failing once for b.csv
        if path.name == "b.csv":
            raise OSError(5, "Input/output error")
        return original_read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", failing_disk)
    assert materialize(resources, 2024).success
    with warehouse() as conn:
        assert conn.execute("SELECT archivo FROM quarantine.archivos_rechazados").fetchall() == [("b.csv",)]
    monkeypatch.setattr(Path, "read_bytes", original_read_bytes)

    second = materialize(resources, 2024)
    metadata = next(e.materialization.metadata for e in second.get_asset_materialization_events() if e.asset_key == dg.AssetKey(["raw", "declaraciones"]))
    assert metadata["sin_cambios"].value is False
    assert metadata["archivos_desde_cache"].value == 1  # a.csv; b.csv was not remembered as rejected
    conn = warehouse()
    assert conn.execute("SELECT codigo_intervencion FROM staging.declaraciones ORDER BY 1").fetchall() == [("A1",), ("B1",)]
    assert conn.execute("SELECT count(*) FROM quarantine.archivos_rechazados").fetchone()[0] == 0


def test_a_failed_write_leaves_the_previous_rows_of_the_year_intact(tmp_path: Path):
    """A real failure inside the transaction (a value DuckDB cannot cast) rolls every table back."""
    database = tmp_path / "w.duckdb"
    quarantine = pd.DataFrame([{"origen": "declaraciones", "anio": 2024, "archivo": "a.csv", "hoja": None, "fila": 2,
                                "columna": "x", "regla": "obligatorio", "valor": None, "mensaje": "m"}])
    staged = pd.DataFrame({"anio": [2024], "codigo": ["previous"]})
    with duckdb.connect(str(database)) as conn:
        replace_partitions(conn, [
            TableWrite("staging.t", {"anio": "INTEGER", "codigo": "VARCHAR"}, staged, {"anio": 2024}),
            TableWrite("quarantine.filas_rechazadas", FILAS_RECHAZADAS, quarantine, {"anio": 2024}),
        ])
        broken = quarantine.assign(fila="not a row number")
        with pytest.raises(duckdb.ConversionException):
            replace_partitions(conn, [
                TableWrite("staging.t", {"anio": "INTEGER", "codigo": "VARCHAR"}, staged.assign(codigo="new"), {"anio": 2024}),
                TableWrite("quarantine.filas_rechazadas", FILAS_RECHAZADAS, broken, {"anio": 2024}),
            ])
        assert conn.execute("SELECT codigo FROM staging.t").fetchall() == [("previous",)]
        assert conn.execute("SELECT fila FROM quarantine.filas_rechazadas").fetchall() == [(2,)]


@pytest.mark.slow
def test_a_broken_reference_override_fails_the_step_without_touching_the_warehouse(data_dir: Path, resources, warehouse):
    year = data_dir / "landing" / "declaraciones" / "2024"
    write_csv(year / "e.csv", [declaracion_row(ruc_entidad=RUC_A)])
    assert materialize(resources, 2024).success
    (data_dir / "reference").mkdir()
    (data_dir / "reference" / "areas_prioritarias.csv").write_text("codigo,nombre\nAP01,sin columna clave\n")
    write_csv(year / "e.csv", [declaracion_row(ruc_entidad=RUC_A, codigo_intervencion="otra")])
    result = materialize_year([declaraciones], resources, "2024", raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "lacks the column(s) es_prioritaria" in failure.event_specific_data.error.to_string()
    assert warehouse().execute("SELECT codigo_intervencion FROM staging.declaraciones").fetchall() == [("INT-001",)]


def test_partitions_are_the_years_added_as_data_lands(defs: dg.Definitions):
    job = defs.resolve_job_def("pncti_anual_job")
    assert isinstance(job.partitions_def, dg.DynamicPartitionsDefinition) and job.partitions_def.name == "anio"
    with dg.DagsterInstance.get() as instance:
        assert job.partitions_def.get_partition_keys(dynamic_partitions_store=instance) == []
        instance.add_dynamic_partitions("anio", ["2024", "2023"])
        assert sorted(job.partitions_def.get_partition_keys(dynamic_partitions_store=instance)) == ["2023", "2024"]


def test_replace_partitions_consumes_its_list_and_keeps_no_reference_to_the_frames(tmp_path: Path):
    """A frame whose only reference was handed over in the list is freed (the list is emptied as it goes)."""
    import gc
    import weakref

    big = pd.DataFrame({"anio": [2024] * 1000, "codigo": [f"c{n}" for n in range(1000)]})
    freed = weakref.ref(big)
    writes = [TableWrite("staging.t", {"anio": "INTEGER", "codigo": "VARCHAR"}, big, {"anio": 2024})]
    del big
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        assert replace_partitions(conn, writes) == {"staging.t": 1000}
        gc.collect()
        assert writes == [] and freed() is None
        assert conn.execute("SELECT count(*) FROM staging.t").fetchone()[0] == 1000
        assert conn.execute("SELECT count(*) FROM duckdb_views() WHERE view_name LIKE '_incoming%'").fetchone()[0] == 0
