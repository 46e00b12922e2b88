"""The filing tracker of the Declaración Anual with real files: who must file, who filed, late filings, the
omisas list, coverage on the indicators, and every file of the ledger accounted for."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from openpyxl import Workbook, load_workbook

from cti_pipeline.contracts.reference import filing_deadline
from cti_pipeline.defs.cumplimiento import declaracion_cumplimiento, omisas
from cti_pipeline.defs.declaraciones import declaraciones
from cti_pipeline.defs.entidades import entidades
from cti_pipeline.defs.pncti import pncti_indicadores
from cti_pipeline_tests.factories import declaracion_row, materialize_year, valid_ruc, write_csv

pytestmark = pytest.mark.slow

ANIO = 2024
LIMA = dt.timezone(dt.timedelta(hours=-5))
ON_TIME = dt.datetime(2025, 2, 10, 9, 0, tzinfo=LIMA)
DEADLINE_NIGHT = dt.datetime(2025, 3, 31, 23, 30, tzinfo=LIMA)  # still the 31st in Lima (already 1 April in UTC)
LATE = dt.datetime(2025, 4, 1, 0, 30, tzinfo=LIMA)

RUC = {name: valid_ruc(f"20{number:08d}") for number, name in enumerate(
    ["presenta", "observada", "rechazada", "omisa", "sin_registro", "inscrita_31dic", "baja_1ene", "baja_31dic_antes",
     "inscrita_despues", "tarde", "a_medianoche", "reenvia", "solo_cabecera"], start=60_000_001)}
PERSONAL = ("Juana Pérez Quispe", "juana.perez@ejemplo.org.pe")


def registry_row(name: str, since: dt.date = dt.date(2020, 1, 1), until: dt.date | None = None) -> list[object]:
    return [RUC[name], f"Entidad {name}", "ONGD", since, until, PERSONAL[0], PERSONAL[1]]


def write_registry(data_dir: Path) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "entidades"
    sheet.append(["RUC Entidad", "Nombre Entidad", "Tipo Entidad", "Fecha Inscripción", "Fecha Baja", "Representante Legal", "Correo"])
    for name in ("presenta", "observada", "rechazada", "omisa", "tarde", "a_medianoche", "reenvia", "solo_cabecera"):
        sheet.append(registry_row(name))
    sheet.append(registry_row("inscrita_31dic", since=dt.date(ANIO, 12, 31)))  # registered on the last day: must file
    sheet.append(registry_row("baja_1ene", until=dt.date(ANIO, 1, 1)))  # deregistered on the first day: must file
    sheet.append(registry_row("baja_31dic_antes", until=dt.date(ANIO - 1, 12, 31)))  # gone before the year: no
    sheet.append(registry_row("inscrita_despues", since=dt.date(ANIO + 1, 1, 1)))  # registered after the year: no
    path = data_dir / "landing" / "entidades" / "entidades.xlsx"
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path


def declare(data_dir: Path, name: str, when: dt.datetime, file_name: str | None = None, **overrides) -> Path:
    rows = [declaracion_row(ruc_entidad=RUC[name], nombre_entidad=f"Entidad {name}", codigo_intervencion=f"{name}-1", **overrides)]
    path = write_csv(data_dir / "landing" / "declaraciones" / str(ANIO) / (file_name or f"{name}.csv"), rows)
    os.utime(path, (when.timestamp(), when.timestamp()))
    return path


def land_year(data_dir: Path) -> None:
    write_registry(data_dir)
    declare(data_dir, "presenta", ON_TIME)
    good = declaracion_row(ruc_entidad=RUC["observada"], nombre_entidad="Entidad observada", codigo_intervencion="ok")
    bad = declaracion_row(ruc_entidad=RUC["observada"], nombre_entidad="Entidad observada", codigo_intervencion="mal", moneda="YEN")
    path = write_csv(data_dir / "landing" / "declaraciones" / str(ANIO) / "observada.csv", [good, bad])
    os.utime(path, (ON_TIME.timestamp(), ON_TIME.timestamp()))
    declare(data_dir, "rechazada", ON_TIME, moneda="YEN")  # its only row breaks a rule: nothing staged
    declare(data_dir, "sin_registro", ON_TIME)
    declare(data_dir, "inscrita_31dic", ON_TIME)
    declare(data_dir, "tarde", LATE)
    declare(data_dir, "a_medianoche", DEADLINE_NIGHT)
    declare(data_dir, "reenvia", ON_TIME, file_name="reenvia_v1.csv", monto_ejecutado=100)
    declare(data_dir, "reenvia", LATE, file_name="reenvia_v2.csv", monto_ejecutado=250)  # a correction after the deadline
    header_only = data_dir / "landing" / "declaraciones" / str(ANIO) / f"{RUC['solo_cabecera']}_vacia.csv"
    header_only.write_text(",".join(declaracion_row()) + "\n", encoding="utf-8")
    os.utime(header_only, (ON_TIME.timestamp(), ON_TIME.timestamp()))


ASSETS = [entidades, declaraciones, declaracion_cumplimiento, omisas]


def tracker_of(data_dir: Path) -> dict[str, dict]:
    with duckdb.connect(str(data_dir / "warehouse" / "cti.duckdb"), read_only=True) as conn:
        cursor = conn.execute("SELECT * FROM marts.declaracion_cumplimiento WHERE anio = ?", [ANIO])
        names = [d[0] for d in cursor.description]
        return {row[1]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


def test_every_state_of_the_tracker_and_the_registration_edges(data_dir: Path, resources):
    land_year(data_dir)
    result = materialize_year(ASSETS, resources, ANIO)
    assert result.success
    tracker = tracker_of(data_dir)
    by_name = {name: tracker.get(ruc) for name, ruc in RUC.items()}

    assert by_name["presenta"]["estado"] == "PRESENTADA" and by_name["presenta"]["obligada"] == "SI"
    assert by_name["observada"]["estado"] == "PRESENTADA_CON_OBSERVACIONES"
    assert (by_name["observada"]["intervenciones"], by_name["observada"]["filas_en_cuarentena"]) == (1, 1)
    assert by_name["rechazada"]["estado"] == "RECHAZADA" and by_name["rechazada"]["archivos"] == 1
    assert by_name["solo_cabecera"]["estado"] == "RECHAZADA"  # a header and no rows: received, nothing staged
    assert by_name["omisa"]["estado"] == "OMISA" and by_name["omisa"]["archivos"] == 0 and by_name["omisa"]["primera_presentacion"] is None
    assert by_name["sin_registro"]["estado"] == "PRESENTADA" and by_name["sin_registro"]["obligada"] == "NO"
    assert by_name["inscrita_31dic"]["obligada"] == "SI"
    assert by_name["baja_1ene"]["obligada"] == "SI" and by_name["baja_1ene"]["estado"] == "OMISA"
    assert by_name["baja_31dic_antes"] is None and by_name["inscrita_despues"] is None  # not obliged, filed nothing: not listed

    assert by_name["tarde"]["fuera_de_plazo"] == "SI"
    assert by_name["a_medianoche"]["fuera_de_plazo"] == "NO"  # 23:30 of the deadline in Lima
    assert by_name["presenta"]["fuera_de_plazo"] == "NO" and by_name["omisa"]["fuera_de_plazo"] is None
    resent = by_name["reenvia"]
    assert resent["fuera_de_plazo"] == "NO" and resent["archivos"] == 2  # the first filing was on time
    assert resent["primera_presentacion"] == ON_TIME.astimezone(dt.UTC).replace(tzinfo=None)
    assert resent["ultima_presentacion"] == LATE.astimezone(dt.UTC).replace(tzinfo=None)
    assert resent["intervenciones"] == 1 and resent["monto_usd"] == 250  # only the correction counts (in USD)

    with duckdb.connect(str(data_dir / "warehouse" / "cti.duckdb"), read_only=True) as conn:
        ledger = dict(conn.execute("SELECT archivo, estado_archivo FROM meta.archivos WHERE origen = 'declaraciones' AND anio = ?", [ANIO]).fetchall())
    assert ledger[f"{RUC['solo_cabecera']}_vacia.csv"] == "SIN_FILAS" and ledger["reenvia_v1.csv"] == "REEMPLAZADO"
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["una_fila_por_entidad"] and checks["filas_conciliadas"]

    preview = next(e.materialization.metadata for e in result.get_asset_materialization_events()
                   if e.asset_key == dg.AssetKey(["marts", "declaracion_cumplimiento"]))["seguimiento"].value
    assert "ONGD" in preview and "OMISA" in preview and "de las entidades obligadas han presentado" in preview


def test_the_omisas_list_names_entities_only_and_no_personal_data_reaches_the_warehouse(data_dir: Path, resources):
    land_year(data_dir)
    assert materialize_year(ASSETS, resources, ANIO).success
    workbook = load_workbook(data_dir / "exports" / f"omisas_{ANIO}.xlsx", read_only=True)
    rows = list(workbook["omisas"].iter_rows(values_only=True))
    header, listed = rows[0], rows[1:]
    assert header[:5] == ("ruc_entidad", "nombre_entidad", "tipo_entidad", "obligada", "estado")
    assert sorted(r[0] for r in listed) == sorted([RUC["omisa"], RUC["baja_1ene"], RUC["rechazada"], RUC["solo_cabecera"]])
    assert [r[4] for r in listed][:2] == ["OMISA", "OMISA"]  # the ones who sent nothing first
    owed = {r[0]: r[5] for r in listed}
    assert owed[RUC["omisa"]] == f"No presentó la Declaración Anual {ANIO} (plazo: 31/03/{ANIO + 1})."
    assert "corrija lo observado" in owed[RUC["rechazada"]]  # its rows are in its feedback workbook
    assert "ninguno trajo intervenciones" in owed[RUC["solo_cabecera"]]  # nothing to observe: send it again
    deadline = load_workbook(data_dir / "exports" / f"omisas_{ANIO}.xlsx")["omisas"]["I2"]
    assert deadline.is_date and "h" not in deadline.number_format  # a date, shown without a time
    everything = " ".join(str(cell) for sheet in workbook.worksheets for row in sheet.iter_rows(values_only=True) for cell in row)
    assert PERSONAL[0] not in everything and PERSONAL[1] not in everything
    with duckdb.connect(str(data_dir / "warehouse" / "cti.duckdb"), read_only=True) as conn:
        for schema, table in conn.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall():
            dump = " ".join(str(v) for row in conn.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall() for v in row)
            assert PERSONAL[0] not in dump and "ejemplo.org.pe" not in dump, f"{schema}.{table}"


def test_a_deadline_moved_by_an_override_moves_fuera_de_plazo(data_dir: Path, resources):
    land_year(data_dir)
    (data_dir / "reference").mkdir()
    (data_dir / "reference" / "plazos_declaracion.csv").write_text(
        f"anio,fecha_limite,fecha_cierre\n{ANIO},{ANIO + 1}-04-30,\n", encoding="utf-8")
    assert materialize_year(ASSETS, resources, ANIO).success
    tracker = tracker_of(data_dir)
    assert tracker[RUC["tarde"]]["fuera_de_plazo"] == "NO"
    assert str(tracker[RUC["tarde"]]["fecha_limite"]) == f"{ANIO + 1}-04-30"


def test_a_deadline_row_with_only_a_closing_date_keeps_the_default_deadline(tmp_path: Path):
    (tmp_path / "plazos_declaracion.csv").write_text(f"anio,fecha_limite,fecha_cierre\n{ANIO},,{ANIO + 1}-06-30\n", encoding="utf-8")
    deadline = filing_deadline(ANIO, tmp_path)
    assert (deadline.fecha_limite, deadline.fecha_cierre) == (dt.date(ANIO + 1, 3, 31), dt.date(ANIO + 1, 6, 30))
    assert deadline.preliminary(dt.date(ANIO + 1, 6, 30)) and not deadline.preliminary(dt.date(ANIO + 1, 7, 1))


def test_coverage_and_preliminar_travel_with_the_declaration_indicators(data_dir: Path, resources):
    land_year(data_dir)
    assert materialize_year([*ASSETS, pncti_indicadores], resources, ANIO).success
    with duckdb.connect(str(data_dir / "warehouse" / "cti.duckdb"), read_only=True) as conn:
        rows = conn.execute("SELECT indicador, cobertura_pct, preliminar FROM marts.pncti_indicadores WHERE anio = ? ORDER BY indicador",
                            [ANIO]).fetchall()
    covered = {code: (share, preliminar) for code, share, preliminar in rows if share is not None}
    # obliged: 8 with since 2020 + inscrita_31dic + baja_1ene = 10; filed (with or without observations): presenta,
    # observada, inscrita_31dic, tarde, a_medianoche, reenvia = 6
    assert covered == {code: (60.0, True) for code in ("IOP.01.01", "IOP.01.02", "IOP.01.03", "IOP.02.02")}
    assert all(preliminar is None for code, share, preliminar in rows if code not in covered)


def test_without_a_registry_coverage_is_null_and_every_filer_is_listed_not_obliged(data_dir: Path, resources):
    declare(data_dir, "presenta", ON_TIME)
    assert materialize_year([*ASSETS, pncti_indicadores], resources, ANIO).success
    tracker = tracker_of(data_dir)
    assert [(r["obligada"], r["estado"]) for r in tracker.values()] == [("NO", "PRESENTADA")]
    with duckdb.connect(str(data_dir / "warehouse" / "cti.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM marts.pncti_indicadores WHERE anio = ? AND cobertura_pct IS NOT NULL", [ANIO]).fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM marts.pncti_indicadores WHERE anio = ? AND preliminar", [ANIO]).fetchone() == (4,)


def test_the_accounting_check_fails_on_a_broken_count(data_dir: Path, resources):
    land_year(data_dir)
    assert materialize_year([declaraciones], resources, ANIO).success
    with duckdb.connect(str(data_dir / "warehouse" / "cti.duckdb")) as conn:
        conn.execute("UPDATE meta.archivos SET filas_en_staging = filas_en_staging + 1 WHERE archivo = 'presenta.csv'")
    again = materialize_year([declaraciones], resources, ANIO)  # an unchanged year: not read again, checked again
    check = next(e for e in again.get_asset_check_evaluations() if e.check_name == "filas_conciliadas")
    assert not check.passed
    assert "presenta.csv" in check.metadata["archivos_descuadrados"].value


def test_the_registry_is_validated_and_the_latest_file_counts(data_dir: Path, resources):
    folder = data_dir / "landing" / "entidades"
    older = write_registry(data_dir)
    os.utime(older, (ON_TIME.timestamp(), ON_TIME.timestamp()))
    newer = folder / "entidades_2025.csv"
    write_csv(newer, [
        {"ruc_entidad": RUC["presenta"], "nombre_entidad": "Entidad presenta", "tipo_entidad": "ONGD", "fecha_inscripcion": "2020-01-01"},
        {"ruc_entidad": "20100047219", "nombre_entidad": "RUC mal", "tipo_entidad": "ONGD", "fecha_inscripcion": "2020-01-01"},
        {"ruc_entidad": RUC["omisa"], "nombre_entidad": "Tipo mal", "tipo_entidad": "ONG", "fecha_inscripcion": "2020-01-01"},
        {"ruc_entidad": RUC["tarde"], "nombre_entidad": "Baja antes", "tipo_entidad": "ONGD", "fecha_inscripcion": "2020-01-01",
         "fecha_baja": "2019-01-01"},
        {"ruc_entidad": RUC["reenvia"], "nombre_entidad": "Dos veces", "tipo_entidad": "ONGD", "fecha_inscripcion": "2020-01-01"},
        {"ruc_entidad": RUC["reenvia"], "nombre_entidad": "Dos veces", "tipo_entidad": "ONGD", "fecha_inscripcion": "2021-01-01"},
    ], headers=["ruc_entidad", "nombre_entidad", "tipo_entidad", "fecha_inscripcion", "fecha_baja"])
    os.utime(newer, (LATE.timestamp(), LATE.timestamp()))
    (folder / "entidades_roto.xlsx").write_bytes(b"not a workbook")  # newer still, unreadable: hides nothing

    result = dg.materialize([entidades], resources=resources, instance=dg.DagsterInstance.get())
    assert result.success
    with duckdb.connect(str(data_dir / "warehouse" / "cti.duckdb"), read_only=True) as conn:
        staged = [r[0] for r in conn.execute("SELECT ruc_entidad FROM staging.entidades").fetchall()]
        rules = dict(conn.execute("SELECT regla, count(*) FROM quarantine.filas_rechazadas WHERE origen = 'entidades' GROUP BY regla").fetchall())
        states = dict(conn.execute("SELECT estado_fila, count(*) FROM raw.entidades GROUP BY estado_fila").fetchall())
        ledger = dict(conn.execute("SELECT archivo, estado_archivo FROM meta.archivos WHERE origen = 'entidades'").fetchall())
    assert staged == [RUC["presenta"]]
    assert rules == {"ruc_invalido": 1, "valor_no_permitido": 1, "fecha_baja_anterior": 1, "clave_duplicada": 2}
    assert states == {"staged": 1, "quarantined": 5, "superseded": 12}
    assert ledger == {"entidades.xlsx": "REEMPLAZADO", "entidades_2025.csv": "LEIDO", "entidades_roto.xlsx": "RECHAZADO"}
