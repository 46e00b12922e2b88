"""Issue 17 through real materialisations of the declarations asset into a DuckDB file: a row never escapes
its year, a bad exchange-rate override stops the run naming file and row, a declaration pasted into another
sheet is rejected and listed, and re-submission order survives a copied folder and a `touch`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dagster as dg
import pytest

from cti_pipeline.contracts.declaracion import DECLARACION
from cti_pipeline.defs.declaraciones import declaraciones
from cti_pipeline.defs.resources import CtiConfig
from cti_pipeline_tests.factories import declaracion_row, materialize_year, valid_ruc, write_csv, write_xlsx

pytestmark = pytest.mark.slow

RUC_A = valid_ruc("2010004721")
RUC_B = valid_ruc("2060000001")
T0 = 1_740_000_000  # Feb 2025


def materialize(resources, **kwargs) -> dg.ExecuteInProcessResult:
    return materialize_year([declaraciones], resources, "2024", **kwargs)


def raw_metadata(result: dg.ExecuteInProcessResult) -> dict:
    return next(e.materialization.metadata for e in result.get_asset_materialization_events()
                if e.asset_key == dg.AssetKey(["raw", "declaraciones"]))


def step_error(result: dg.ExecuteInProcessResult) -> str:
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    return failure.event_specific_data.error.to_string()


def test_a_row_whose_anio_has_unicode_digits_never_escapes_its_year_however_often_the_year_is_rerun(data_dir: Path, resources, warehouse):
    """`２０２４` once passed the checks and was staged with anio NULL, out of reach of the yearly replace:
    one more orphan row at every run."""
    year = data_dir / "landing" / "declaraciones" / "2024"
    write_xlsx(year / "pegado.xlsx", [declaracion_row(ruc_entidad=RUC_B, codigo_intervencion="ANCHO", anio="２０２４"),
                                      declaracion_row(ruc_entidad=RUC_B, codigo_intervencion="ARABE", anio="٢٠٢٤")])
    for run in range(1, 4):
        # a changed sibling file each time, so every run reads the year again and replaces it
        write_csv(year / "bueno.csv", [declaracion_row(ruc_entidad=RUC_A, codigo_intervencion=f"R{n}") for n in range(run)])
        result = materialize(resources)
        assert result.success and raw_metadata(result)["sin_cambios"].value is False

        conn = warehouse()
        for table in ("staging.declaraciones", "raw.declaraciones", "quarantine.filas_rechazadas"):
            assert conn.execute(f"SELECT count(*) FROM {table} WHERE anio IS NULL OR anio <> 2024").fetchone()[0] == 0, table
        assert conn.execute("SELECT count(*) FROM staging.declaraciones").fetchone()[0] == run
        assert conn.execute("SELECT count(*) FROM staging.declaraciones WHERE ruc_entidad = ?", [RUC_B]).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM raw.declaraciones").fetchone()[0] == run + 2
        assert sorted(conn.execute("SELECT fila, columna, regla, valor FROM quarantine.filas_rechazadas").fetchall()) == [
            (2, "anio", "entero_invalido", "２０２４"), (3, "anio", "entero_invalido", "٢٠٢٤")]
        conn.close()

    unchanged = materialize(resources)  # and a fourth run that reads nothing adds nothing either
    assert unchanged.success
    conn = warehouse()
    assert conn.execute("SELECT count(*) FROM staging.declaraciones").fetchone()[0] == 3
    assert conn.execute("SELECT count(*) FROM raw.declaraciones").fetchone()[0] == 5


BAD_RATES = [
    # (tipo_cambio.csv, what the message must name besides the file)
    ("anio,pen_por_usd\n2023,3.744\n2024,0\n", "row 3"),
    ("anio,pen_por_usd\n2023,3.744\n2024,-3.757\n", "row 3"),
    ('anio,pen_por_usd\n2024,"3,757"\n', "row 2"),
    ("anio,pen_por_usd\n2024,3.757\n2023,3.744\n2024,3.9\n", "rows 2 and 4"),
]


def test_a_bad_exchange_rate_override_stops_the_run_naming_file_and_row_and_a_valid_one_converts(data_dir: Path, resources, warehouse):
    year = data_dir / "landing" / "declaraciones" / "2024"
    write_csv(year / "e.csv", [declaracion_row(ruc_entidad=RUC_A, moneda="PEN", monto_ejecutado=3757.0)])
    assert materialize(resources).success
    with warehouse() as conn:
        assert conn.execute("SELECT monto_usd FROM staging.declaraciones").fetchall() == [(1000.0,)]  # shipped rate 3.757

    override = data_dir / "reference" / "tipo_cambio.csv"
    override.parent.mkdir()
    for content, row in BAD_RATES:
        override.write_text(content)
        result = materialize(resources, raise_on_error=False)
        assert not result.success, content
        error = step_error(result)
        assert str(override) in error and row in error, error
        with warehouse() as conn:  # the run stopped before writing: the last good rows stay
            assert conn.execute("SELECT monto_usd FROM staging.declaraciones").fetchall() == [(1000.0,)]

    override.write_text("anio,pen_por_usd\n2023,3.744\n2024,4.000\n")
    assert materialize(resources).success
    with warehouse() as conn:
        assert conn.execute("SELECT monto_ejecutado, monto_usd FROM staging.declaraciones").fetchall() == [(3757.0, 939.25)]


def test_a_workbook_typed_into_another_sheet_is_rejected_naming_it_and_listed_in_the_file_ledger(data_dir: Path, resources, warehouse):
    """Rows pasted into `Hoja1` while `intervenciones` holds only the header once gave 0 rows and no trace."""
    from openpyxl import Workbook

    year = data_dir / "landing" / "declaraciones" / "2024"
    workbook = Workbook()
    workbook.active.title = "intervenciones"
    workbook.active.append(DECLARACION.names)
    pasted = workbook.create_sheet("Hoja1")
    pasted.append(DECLARACION.names)
    for code in ("A", "B", "C"):
        row = declaracion_row(ruc_entidad=RUC_A, codigo_intervencion=code)
        pasted.append([row[name] for name in DECLARACION.names])
    year.mkdir(parents=True)
    workbook.save(year / "20100047218_2024.xlsx")
    write_csv(year / "otra.csv", [declaracion_row(ruc_entidad=RUC_B, codigo_intervencion="X")])

    result = materialize(resources)
    assert result.success
    conn = warehouse()
    rejected = conn.execute("SELECT archivo, motivo FROM quarantine.archivos_rechazados").fetchall()
    assert [archivo for archivo, _ in rejected] == ["20100047218_2024.xlsx"]
    assert "«Hoja1»" in rejected[0][1] and "«intervenciones»" in rejected[0][1]
    assert conn.execute("SELECT archivo FROM raw.declaraciones").fetchall() == [("otra.csv",)]
    ledger = {r[0]: r[1:] for r in conn.execute(
        "SELECT archivo, estado_archivo, motivo, filas_leidas, ruc_entidad FROM meta.archivos WHERE origen = 'declaraciones' AND anio = 2024").fetchall()}
    assert ledger["20100047218_2024.xlsx"][0] == "RECHAZADO" and "«Hoja1»" in ledger["20100047218_2024.xlsx"][1]
    assert ledger["20100047218_2024.xlsx"][2:] == (0, RUC_A)  # the entity is known from the file's name
    assert ledger["otra.csv"] == ("LEIDO", None, 1, RUC_B)


def staged(conn) -> list[tuple[str, str, str]]:
    return conn.execute("SELECT ruc_entidad, archivo, codigo_intervencion FROM staging.declaraciones ORDER BY 1, 2, 3").fetchall()


EXPECTED = [(RUC_A, "correccion.xlsx", "1"), (RUC_A, "correccion.xlsx", "2"), (RUC_B, "otra.csv", "9")]


def land_a_correction(year: Path) -> None:
    """RUC_A sent `original.xlsx`, then `correccion.xlsx` an hour later; RUC_B sent one file."""
    write_xlsx(year / "original.xlsx", [declaracion_row(ruc_entidad=RUC_A, codigo_intervencion=c) for c in ("1", "2", "3")], mtime=T0)
    write_xlsx(year / "correccion.xlsx", [declaracion_row(ruc_entidad=RUC_A, codigo_intervencion=c, monto_ejecutado=2000.0)
                                          for c in ("1", "2")], mtime=T0 + 3600)
    write_csv(year / "otra.csv", [declaracion_row(ruc_entidad=RUC_B, codigo_intervencion="9")], mtime=T0 + 60)


def assert_the_correction_wins(conn) -> None:
    assert staged(conn) == EXPECTED
    assert conn.execute("SELECT regla, count(*) FROM quarantine.filas_rechazadas GROUP BY 1").fetchall() == []  # no reenvio_ambiguo
    assert conn.execute("SELECT archivo, estado_fila, count(*) FROM raw.declaraciones GROUP BY 1, 2 ORDER BY 1").fetchall() == [
        ("correccion.xlsx", "staged", 2), ("original.xlsx", "superseded", 3), ("otra.csv", "staged", 1)]


def test_a_correction_still_wins_after_the_landing_folder_is_copied_without_times(data_dir: Path, resources, warehouse, tmp_path: Path):
    """`cp` without `-p` gives every copy the time it was copied: the original, copied last, looks newest."""
    year = data_dir / "landing" / "declaraciones" / "2024"
    land_a_correction(year)
    assert materialize(resources).success
    with warehouse() as conn:
        assert_the_correction_wins(conn)

    copy = tmp_path / "copia"
    copied = copy / "landing" / "declaraciones" / "2024"
    copied.mkdir(parents=True)
    for name in ("correccion.xlsx", "otra.csv", "original.xlsx"):
        shutil.copyfile(year / name, copied / name)
    copied_at = (copied / "correccion.xlsx").stat().st_mtime_ns
    os.utime(copied / "original.xlsx", ns=(copied_at + 60 * 10**9, copied_at + 60 * 10**9))  # copied a minute later
    moved = {"cti": CtiConfig(data_dir=str(copy), pii_salt="test-salt"), "warehouse": resources["warehouse"]}
    result = materialize(moved)
    assert result.success and raw_metadata(result)["sin_cambios"].value is False
    with warehouse() as conn:
        assert_the_correction_wins(conn)


def test_touching_every_file_of_the_year_keeps_the_resubmission_order_and_the_staged_rows(data_dir: Path, resources, warehouse):
    """One modification time for all the year's files (`touch`) once made every re-submitting entity
    `reenvio_ambiguo`; when the pipeline first saw each content decides, and is kept in meta.contenidos."""
    year = data_dir / "landing" / "declaraciones" / "2024"
    land_a_correction(year)
    assert materialize(resources).success
    with warehouse() as conn:
        assert_the_correction_wins(conn)

    touched = T0 + 86_400
    for path in year.iterdir():
        os.utime(path, (touched, touched))
    result = materialize(resources)
    assert result.success and raw_metadata(result)["sin_cambios"].value is False
    with warehouse() as conn:
        assert_the_correction_wins(conn)
        # when the pipeline first saw each content (its modification time then) is kept, not moved by the touch
        assert dict(conn.execute("SELECT archivo, primera_vez_ns FROM meta.contenidos").fetchall()) == {
            "original.xlsx": T0 * 10**9, "correccion.xlsx": (T0 + 3600) * 10**9, "otra.csv": (T0 + 60) * 10**9}


def test_a_declaration_landed_twice_with_the_same_bytes_stays_staged_when_the_year_runs_again(data_dir: Path, resources, warehouse):
    """`declaracion.xlsx` and `declaracion (1).xlsx` (the same download saved twice): the first run staged its
    rows; when another entity's file made the year run again, both copies became `reenvio_ambiguo`."""
    year = data_dir / "landing" / "declaraciones" / "2024"
    write_xlsx(year / "declaracion.xlsx", [declaracion_row(ruc_entidad=RUC_A, codigo_intervencion=c) for c in ("1", "2")], mtime=T0)
    shutil.copyfile(year / "declaracion.xlsx", year / "declaracion (1).xlsx")
    os.utime(year / "declaracion (1).xlsx", (T0 + 60, T0 + 60))
    assert materialize(resources).success
    with warehouse() as conn:
        first = staged(conn)
    assert [(ruc, code) for ruc, _, code in first] == [(RUC_A, "1"), (RUC_A, "2")]

    write_csv(year / "otra.csv", [declaracion_row(ruc_entidad=RUC_B, codigo_intervencion="9")], mtime=T0 + 600)
    result = materialize(resources)
    assert result.success and raw_metadata(result)["sin_cambios"].value is False
    with warehouse() as conn:
        assert staged(conn) == [*first, (RUC_B, "otra.csv", "9")]
        assert conn.execute("SELECT count(*) FROM quarantine.filas_rechazadas").fetchone()[0] == 0
        assert conn.execute("SELECT archivo, primera_vez_ns FROM meta.contenidos WHERE archivo LIKE 'declaracion%'").fetchall() == [
            ("declaracion.xlsx", T0 * 10**9)]
