"""Fixtures for the publication tests: a fresh database on the test PostgreSQL server, mart tables in DuckDB.

The server comes from scripts/postgres.sh (CTI_TEST_POSTGRES_URL). Without it the PostgreSQL tests skip,
except under CI=true, where they fail: CI must always exercise a real server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import sqlalchemy as sa

from cti_pipeline.contracts.tables import CTI_EJECUCION, GPEDC_COMPLETITUD, GPEDC_INDICADORES, PNCTI_INDICADORES
from cti_pipeline.warehouse import TableWrite, replace_partitions

MART_COLUMNS = {
    "marts.pncti_indicadores": PNCTI_INDICADORES,
    "marts.cti_ejecucion": CTI_EJECUCION,
    "marts.gpedc_completitud": GPEDC_COMPLETITUD,
    "marts.gpedc_indicadores": GPEDC_INDICADORES,
}


def _unavailable(reason: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but no PostgreSQL server for the publishing tests: {reason} (source scripts/postgres.sh)")
    pytest.skip(f"no PostgreSQL server: {reason} (run `source scripts/postgres.sh` or scripts/test.sh)")


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    url = os.environ.get("CTI_TEST_POSTGRES_URL")
    if not url:
        _unavailable("CTI_TEST_POSTGRES_URL is not set")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as error:
        _unavailable(f"cannot connect to {sa.engine.make_url(url).render_as_string(hide_password=True)}: {error}")
    finally:
        engine.dispose()
    return url


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A brand-new database for one test, dropped afterwards."""
    name = f"cti_t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(postgres_admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(postgres_url)
    yield engine
    engine.dispose()


def pncti_rows(year: int, scale: float = 1.0) -> pd.DataFrame:
    indicators = ["IOP.01.01", "IOP.01.02", "IOP.03.01", "ISS.01.02.01.01", "ISS.02.01.01.02"]
    rows = []
    for position, code in enumerate(indicators):
        valor = round((position + 1) * 11.37 * scale + year % 100, 2)
        esperado = 50.0 + position
        rows.append({
            "indicador": code, "anio": year, "nombre": f"Indicador {code}", "nivel": "objetivo" if code.startswith("IOP") else "servicio",
            "objetivo_prioritario": "OP." + code[4:6], "unidad": "%", "valor": valor, "valor_esperado": esperado,
            "avance_pct": round(100 * valor / esperado, 2), "estado": "DISPONIBLE",
            "valor_reportado": valor if position % 2 else None, "coincide_reportado": True if position % 2 else None,
        })
    rows.append({"indicador": "IOP.04.01", "anio": year, "nombre": "Iniciativas", "nivel": "objetivo",
                 "objetivo_prioritario": "OP.04", "unidad": "%", "valor": None, "estado": "ND"})
    return pd.DataFrame(rows)


def ejecucion_rows(year: int, n: int = 40, offset: int = 0) -> pd.DataFrame:
    """n rows with distinct grains; some ods and pais_fuente are NULL (multilateral, no SDG)."""
    rows = []
    for i in range(offset, offset + n):
        rows.append({
            "anio": year, "departamento": f"{i % 25 + 1:02d}", "area_prioritaria": f"AP{i % 7}",
            "ods": None if i % 5 == 0 else i % 17 + 1, "tipo_cooperacion": ["BILATERAL", "MULTILATERAL", "PRIVADA"][i % 3],
            "tipo_entidad": ["ENIEX", "ONGD", "IPREDA", "ENTIDAD_PUBLICA"][i % 4],
            "pais_fuente": None if i % 3 == 1 else f"P{i:05d}",
            "monto_usd": round(1000.0 + i * 123.456 + year, 2), "intervenciones": i % 9 + 1,
            "beneficiarios": i * 10, "entidades": i % 4 + 1,
        })
    return pd.DataFrame(rows)


def completitud_rows() -> pd.DataFrame:
    return pd.DataFrame([
        {"codigo_respondente": f"R{i:03d}", "entidad": f"Entidad {i}", "tipo_respondente": "GOBIERNO" if i < 3 else "SOCIO_DESARROLLO",
         "seccion": seccion, "preguntas_esperadas": None if seccion == "CSS" else 26, "preguntas_respondidas": i * 2,
         "avance_pct": None if seccion == "CSS" else round(100 * i * 2 / 26, 2), "intervenciones": 0,
         "estado": ["PENDIENTE", "RECIBIDO", "VALIDADO"][i % 3],
         "ultima_actualizacion": None if i % 3 == 0 else datetime(2024, 5, i + 1, 10, 30)}
        for i in range(6) for seccion in ("A.1", "CSS")
    ])


def indicadores_gpedc_rows() -> pd.DataFrame:
    rows = []
    for socio in ("S01", "S02", "TOTAL"):
        for position, (indicador, metodo) in enumerate((("2.2.1.O", "PROYECTOS_ALINEADOS"), ("2.4.1.1", "DESEMBOLSADO_SOBRE_PROGRAMADO"))):
            num, den = 3.0 + position, 4.0 + position
            rows.append({"indicador": indicador, "dimension": "2", "nombre": f"Indicador {indicador}", "codigo_socio": socio,
                         "valor": round(100 * num / den, 2), "numerador": num, "denominador": den, "metodo": metodo,
                         "fuente": "CUESTIONARIO", "verificado": "NO", "nota": None, "anio_referencia": 2022})
    rows.append({"indicador": "1.2.2", "dimension": "1", "nombre": "En el presupuesto", "codigo_socio": "S03", "valor": None,
                 "numerador": None, "denominador": None, "metodo": "MIN_SOBRE_MAX", "fuente": "CUESTIONARIO", "verificado": "NO",
                 "nota": "Sin B3_3 de 2022 para este socio", "anio_referencia": 2022})
    return pd.DataFrame(rows)


def write_marts(warehouse: Path, years: tuple[int, ...] = (2023, 2024)) -> dict[str, pd.DataFrame]:
    """The four contract marts in a DuckDB file (as the mart assets would leave them); returns what was written."""
    frames = {
        "marts.pncti_indicadores": pd.concat([pncti_rows(y) for y in years], ignore_index=True),
        "marts.cti_ejecucion": pd.concat([ejecucion_rows(y) for y in years], ignore_index=True),
        "marts.gpedc_completitud": completitud_rows(),
        "marts.gpedc_indicadores": indicadores_gpedc_rows(),
    }
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse)) as conn:
        replace_partitions(conn, [TableWrite(table, MART_COLUMNS[table], frame) for table, frame in frames.items()])
        # something that is not a mart and must never reach BI
        conn.execute("CREATE SCHEMA IF NOT EXISTS staging")
        conn.execute("CREATE OR REPLACE TABLE staging.capacitaciones AS SELECT 'hash123' AS participante_id")
    return frames
