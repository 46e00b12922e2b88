"""The constructed 2023 fixture reproduces the published 2023 compliance report (reference/reportado_2023.csv)."""

from __future__ import annotations

import pytest
import csv
import shutil
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb

from cti_pipeline import cli
from cti_pipeline.contracts.reference import IndicatorCatalogs, load_iso3
from cti_pipeline.domain.indicators import compute_indicators
from cti_pipeline.domain.registros import process_registros
from cti_pipeline.settings import PROJECT_ROOT, SHIPPED_REFERENCE_DIR

FIXTURE = PROJECT_ROOT / "data" / "fixtures" / "2023"
KNOWN_MISMATCH = "IOP.03.01"  # published 45.83 % (= 33/72) while the report's own counts give 32/72 = 44.44 %


def published() -> list[dict[str, str]]:
    with (SHIPPED_REFERENCE_DIR / "reportado_2023.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def agrees_as_published(computed: float | None, text: str) -> bool:
    """Independent statement of the rule: round the computed number to the published decimals."""
    if computed is None or computed != computed:
        return False
    exponent = Decimal(text).as_tuple().exponent
    return Decimal(repr(computed)).quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_UP) == Decimal(text)


def check_table(table: dict[str, dict[str, object]]) -> None:
    assert len(table) == 18
    for item in published():
        code, valor, avance = item["indicador"], item["valor_reportado"], item["avance_reportado_pct"]
        computed = table[code]
        if not valor:  # the report printed nothing: ND, with the reason (no declarations yet, a service not yet begun)
            assert computed["estado"] == "ND" and computed["valor"] is None and computed["nota"].startswith("ND"), code
            assert computed["coincide_reportado"] is None, code
            continue
        assert computed["valor_reportado"] == float(valor), code
        if code == KNOWN_MISMATCH:
            assert not agrees_as_published(computed["valor"], valor)
            assert computed["coincide_reportado"] is False
            continue
        assert agrees_as_published(computed["valor"], valor), (code, computed["valor"], valor)
        if avance:
            assert agrees_as_published(computed["avance_pct"], avance), (code, computed["avance_pct"], avance)
        assert computed["coincide_reportado"] is True, code


def test_fixture_is_labelled_as_constructed():
    text = (FIXTURE / "LEEME.md").read_text(encoding="utf-8")
    assert "CONSTRUIDOS" in text and "no son datos reales" in text
    assert not (FIXTURE / "landing" / "declaraciones").exists()  # the 2023 declarations were ND in the report


def test_the_computed_2023_table_agrees_with_the_published_report_except_iop_03_01():
    result = process_registros(FIXTURE / "landing" / "registros" / "2023", 2023, "any-salt", load_iso3(None))
    assert not result.quarantined.empty  # the noise is there, and it is quarantined
    assert result.rejected_files.empty
    frame = compute_indicators(result.staged, 2023, IndicatorCatalogs.load(FIXTURE / "reference", 2023))
    table = {r["indicador"]: {k: (None if v != v else v) for k, v in r.items()} for r in frame.astype(object).to_dict("records")}
    check_table(table)
    css = table[KNOWN_MISMATCH]
    assert (css["numerador"], css["denominador"], css["valor"]) == (32, 72, 44.44)
    assert table["IOP.03.02"]["numerador"] == 3
    assert (table["ISS.01.02.01.02"]["numerador"], table["ISS.01.02.01.02"]["valor"]) == (48, 33.80)


@pytest.mark.slow
def test_the_command_line_reproduces_the_report(data_dir: Path, monkeypatch, capsys):
    shutil.copytree(FIXTURE / "landing", data_dir / "landing", dirs_exist_ok=True)
    assert cli.main(["materialize", "--year", "2023"]) == 0
    output = capsys.readouterr().out
    assert "pncti_indicadores 18 rows" in output or "marts.pncti_indicadores: 18 rows" in output
    assert "coincide_con_reporte_publicado" in output  # the IOP.03.01 warning is reported

    with duckdb.connect(str(data_dir / "warehouse" / "cti.duckdb"), read_only=True) as conn:
        cursor = conn.execute("SELECT * FROM marts.pncti_indicadores WHERE anio = 2023")
        names = [d[0] for d in cursor.description]
        table = {r[0]: dict(zip(names, r, strict=True)) for r in cursor.fetchall()}
    check_table(table)
