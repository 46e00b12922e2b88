"""Every column of the staging tables, the marts and meta.archivos is described once, and docs/bi.md says the same."""

from __future__ import annotations

import re

import pytest

from cti_pipeline.contracts import tables
from cti_pipeline.contracts.declaracion import DECLARACION
from cti_pipeline.contracts.descriptions import describe, documented_tables, render_doc
from cti_pipeline.contracts.entidades import ENTIDADES
from cti_pipeline.contracts.gpedc import GpedcCatalogs
from cti_pipeline.contracts.registros import KINDS, REGISTROS
from cti_pipeline.domain.gpedc_store import staging_tables
from cti_pipeline.settings import PROJECT_ROOT


def every_table() -> dict[str, dict[str, str]]:
    catalogs = GpedcCatalogs.load(None)
    found = {
        "staging.declaraciones": tables.staging_columns(DECLARACION, tables.DECLARACIONES_DERIVED),
        "staging.entidades": tables.staging_columns(ENTIDADES),
        **{f"staging.{kind}": tables.staging_columns(REGISTROS[kind]) for kind in KINDS},
        **staging_tables(catalogs),
        **documented_tables(),
    }
    return found, {item.columna: item.descripcion for item in catalogs.items if item.columna}


def test_every_staging_and_mart_column_has_a_description():
    found, items = every_table()
    missing = [f"{table}.{column}" for table, columns in found.items() for column, text in describe(table, columns, items).items() if not text]
    assert missing == []
    assert len(found) >= 20


def test_a_table_may_say_what_a_shared_name_means_there():
    assert describe("staging.compromisos", ["estado"])["estado"].startswith("CUMPLIDO")
    assert describe("marts.declaracion_cumplimiento", ["estado"])["estado"].startswith("PRESENTADA")
    assert describe("staging.accesos_web", ["anio"])["anio"] == describe("staging.declaraciones", ["anio"])["anio"]


def test_descriptions_survive_markdown():
    """The UI and docs/bi.md render them as Markdown: a <placeholder> outside a code span would vanish as an HTML tag."""
    found, items = every_table()
    texts = {f"{table}.{column}": text for table, columns in found.items() for column, text in describe(table, columns, items).items()}
    swallowed = {name: text for name, text in texts.items() if re.search(r"<[A-Za-z/!]", re.sub(r"`[^`]*`", "", text))}
    assert swallowed == {}


def test_docs_bi_md_is_generated_from_the_descriptions():
    path = PROJECT_ROOT / "docs" / "bi.md"
    text = path.read_text(encoding="utf-8")
    assert text.count("<!-- columnas: ") == len(documented_tables())
    assert render_doc(text, documented_tables()) == text, "docs/bi.md is behind: run python -m cti_pipeline.contracts.descriptions docs/bi.md"


@pytest.mark.parametrize("table", list(documented_tables()))
def test_every_documented_column_is_a_column_of_the_table(table):
    text = (PROJECT_ROOT / "docs" / "bi.md").read_text(encoding="utf-8")
    block = text.split(f"<!-- columnas: {table} -->", 1)[1].split("<!-- /columnas -->", 1)[0]
    listed = [line.split("`")[1] for line in block.splitlines() if line.startswith("| `")]
    assert listed == list(documented_tables()[table])
