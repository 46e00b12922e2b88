"""Re-materialising a year of administrative records whose files did not change does not read them again."""

import os
from pathlib import Path

import dagster as dg
import pytest
import duckdb

from cti_pipeline.defs.registros import registros
from cti_pipeline.defs.resources import CtiConfig
from cti_pipeline.settings import Settings
from cti_pipeline_tests.pncti.builders import ANIO, land, row
from cti_pipeline_tests.factories import materialize_year

pytestmark = pytest.mark.slow  # every test here launches Dagster runs, evaluations or processes


def materialize(resources) -> tuple[dict[str, dict], dict[tuple[str, str], bool]]:
    result = materialize_year([registros], resources, str(ANIO))
    assert result.success
    checks = {(e.asset_key.to_user_string(), e.check_name): e.passed for e in result.get_asset_check_evaluations()}
    metadata = {e.asset_key.to_user_string(): e.materialization.metadata for e in result.get_asset_materialization_events()}
    return metadata, checks


def accesos(warehouse) -> list[tuple]:
    with warehouse() as conn:
        return conn.execute("SELECT seccion, accesos FROM staging.accesos_web ORDER BY seccion").fetchall()


def pseudonyms(warehouse) -> list[str]:
    with warehouse() as conn:
        return [r[0] for r in conn.execute("SELECT participante_id FROM staging.capacitaciones").fetchall()]


def test_an_unchanged_year_reports_what_the_warehouse_holds_and_a_changed_file_or_salt_is_read_again(data_dir: Path, resources, warehouse):
    land(data_dir, "capacitaciones.xlsx", "capacitaciones",
         [row("capacitaciones", participante_id="45678912"), row("capacitaciones", participante_id="12345678", nota=30)])
    web = land(data_dir, "accesos_web.csv", "accesos_web", [row("accesos_web", seccion="BECAS", accesos=120)], mtime=1_730_000_000)
    land(data_dir, "notas_sueltas.csv", "accesos_web", [row("accesos_web")])  # no kind in its name: rejected whole

    first, first_checks = materialize(resources)
    assert first["raw/registros"]["sin_cambios"].value is False
    with duckdb.connect(str(Settings.from_env().warehouse)) as conn:  # another source's quarantine row, same year
        conn.execute("INSERT INTO quarantine.filas_rechazadas (origen, anio, archivo, fila, columna, regla) "
                     "VALUES ('declaraciones', ?, 'x.csv', 2, 'ruc_entidad', 'obligatorio')", [ANIO])
    assert accesos(warehouse) == [("BECAS", 120)]

    # Same name, size and modification time, other content: a re-read would stage 999 instead of 120.
    text = web.read_bytes()
    web.write_bytes(text.replace(b"120", b"999"))
    os.utime(web, (1_730_000_000, 1_730_000_000))
    second, second_checks = materialize(resources)

    assert second["raw/registros"]["sin_cambios"].value is True and "no se releyó" in second["raw/registros"]["nota"].value
    assert accesos(warehouse) == [("BECAS", 120)]  # the files were not read again
    assert second_checks == first_checks and all(second_checks.values())
    for key in ("raw/registros", "staging/capacitaciones", "staging/accesos_web", "quarantine/registros"):
        assert second[key]["dagster/row_count"].value == first[key]["dagster/row_count"].value, key
    for key in ("staging/capacitaciones", "quarantine/registros"):
        assert second[key]["filas_en_cuarentena"].value == first[key]["filas_en_cuarentena"].value == 1, key
    assert second["quarantine/registros"]["archivos_rechazados"].value == first["quarantine/registros"]["archivos_rechazados"].value == 1
    assert second["raw/registros"]["huella"].value == first["raw/registros"]["huella"].value

    os.utime(web, (1_730_000_500, 1_730_000_500))  # the office saves the file again
    third, _ = materialize(resources)
    assert third["raw/registros"]["sin_cambios"].value is False
    assert accesos(warehouse) == [("BECAS", 999)]
    with duckdb.connect(str(Settings.from_env().warehouse)) as conn:  # a table dropped by hand: the year is written again
        conn.execute("DROP TABLE staging.compromisos")
    assert materialize(resources)[0]["raw/registros"]["sin_cambios"].value is False
    with warehouse() as conn:
        assert conn.execute("SELECT count(*) FROM staging.compromisos").fetchone()[0] == 0

    before = pseudonyms(warehouse)
    other_salt = {**resources, "cti": CtiConfig(data_dir=str(data_dir), pii_salt="another-salt")}
    fourth, _ = materialize(other_salt)
    assert fourth["raw/registros"]["sin_cambios"].value is False  # a new salt rewrites every pseudonym
    assert set(pseudonyms(warehouse)).isdisjoint(before)
