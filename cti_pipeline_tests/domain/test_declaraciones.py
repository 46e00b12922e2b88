"""Supersession, duplicate keys, file rejection and the "nothing lost" identity of one year."""

import json
from pathlib import Path

import pandas as pd
import pytest

from cti_pipeline.contracts.reference import DeclarationCatalogs
from cti_pipeline.domain.declaraciones import process_declaraciones
from cti_pipeline_tests.factories import declaracion_row, file_counts, valid_ruc, write_csv, write_xlsx

T0 = 1_740_000_000  # a fixed modification time (Feb 2025), so ties and order are explicit

RUC_A = valid_ruc("2010004721")
RUC_B = valid_ruc("2060000001")


@pytest.fixture(scope="module")
def catalogs() -> DeclarationCatalogs:
    return DeclarationCatalogs.load(None)


def rows_for(ruc: str, *codes: str, **overrides) -> list[dict]:
    return [declaracion_row(ruc_entidad=ruc, codigo_intervencion=code, **overrides) for code in codes]


def assert_nothing_lost(result) -> None:
    counts = file_counts(result.raw)
    assert (counts["leidas"] == counts["staged"] + counts["quarantined"] + counts["superseded"]).all()
    quarantined_rows = result.quarantined.drop_duplicates(["archivo", "fila"]).groupby("archivo").size()
    staged_rows = result.staged.groupby("archivo").size()
    for row in counts.itertuples():
        assert quarantined_rows.get(row.archivo, 0) == row.quarantined
        assert staged_rows.get(row.archivo, 0) == row.staged


def test_latest_file_of_a_ruc_supersedes_earlier_ones(tmp_path: Path, catalogs):
    year = tmp_path / "2024"
    write_xlsx(year / "original.xlsx", rows_for(RUC_A, "1", "2", "3") + rows_for(RUC_B, "9"), mtime=T0)
    write_csv(year / "corregida.csv", rows_for(RUC_A, "1", "2"), mtime=T0 + 3600)
    result = process_declaraciones(year, 2024, catalogs)

    raw = result.raw.set_index(["archivo", "codigo_intervencion"])["estado_fila"]
    assert raw[("original.xlsx", "1")] == raw[("original.xlsx", "2")] == raw[("original.xlsx", "3")] == "superseded"
    assert raw[("original.xlsx", "9")] == "staged"  # RUC_B is only in the original: it still counts
    assert sorted(zip(result.staged["archivo"], result.staged["codigo_intervencion"])) == [
        ("corregida.csv", "1"), ("corregida.csv", "2"), ("original.xlsx", "9")]
    assert result.quarantined.empty
    assert_nothing_lost(result)


def test_same_modification_time_is_an_ambiguous_resubmission(tmp_path: Path, catalogs):
    year = tmp_path / "2024"
    write_csv(year / "a.csv", rows_for(RUC_A, "1", "2"), mtime=T0)
    write_csv(year / "b.csv", rows_for(RUC_A, "1") + rows_for(RUC_B, "5"), mtime=T0)
    write_csv(year / "viejo.csv", rows_for(RUC_A, "7"), mtime=T0 - 10)
    result = process_declaraciones(year, 2024, catalogs)

    ambiguous = result.quarantined[result.quarantined["regla"] == "reenvio_ambiguo"]
    assert sorted(zip(ambiguous["archivo"], ambiguous["fila"])) == [("a.csv", 2), ("a.csv", 3), ("b.csv", 2)]
    assert all("a.csv" in m and "b.csv" in m for m in ambiguous["mensaje"])
    assert result.staged["ruc_entidad"].tolist() == [RUC_B]
    assert result.raw.loc[result.raw["archivo"] == "viejo.csv", "estado_fila"].tolist() == ["superseded"]
    assert_nothing_lost(result)


def test_an_unreadable_newer_file_never_hides_a_readable_older_one(tmp_path: Path, catalogs):
    year = tmp_path / "2024"
    write_csv(year / "bueno.csv", rows_for(RUC_A, "1"), mtime=T0)
    (year / "nuevo_roto.xlsx").write_bytes(b"not a workbook")
    write_csv(year / "sin_columna.csv", [{k: v for k, v in r.items() if k != "titulo"} for r in rows_for(RUC_A, "2")],
              mtime=T0 + 100)
    result = process_declaraciones(year, 2024, catalogs)
    assert result.staged["codigo_intervencion"].tolist() == ["1"]
    assert sorted(result.rejected_files["archivo"]) == ["nuevo_roto.xlsx", "sin_columna.csv"]
    missing = result.rejected_files.set_index("archivo").loc["sin_columna.csv", "motivo"]
    assert "titulo" in missing
    assert set(result.raw["archivo"]) == {"bueno.csv"}  # nothing of a rejected file reaches raw or staging


def test_duplicate_key_in_one_file_quarantines_both_rows(tmp_path: Path, catalogs):
    year = tmp_path / "2024"
    write_csv(year / "e.csv", rows_for(RUC_A, "X-1", "x-1 ", "X-2"), mtime=T0)
    result = process_declaraciones(year, 2024, catalogs)
    duplicated = result.quarantined[result.quarantined["regla"] == "clave_duplicada"]
    assert duplicated["fila"].tolist() == [2, 3]
    assert result.staged["codigo_intervencion"].tolist() == ["X-2"]
    assert_nothing_lost(result)


def test_missing_optional_columns_are_blank_and_extra_columns_stay_in_raw(tmp_path: Path, catalogs):
    rows = rows_for(RUC_A, "1")
    for row in rows:
        del row["ods"], row["pais_fuente"], row["beneficiarios"]
        row["Observaciones internas"] = "revisar"
    write_csv(tmp_path / "2024" / "e.csv", rows)
    result = process_declaraciones(tmp_path / "2024", 2024, catalogs)
    assert len(result.staged) == 1 and pd.isna(result.staged.loc[0, "ods"])
    assert json.loads(result.raw.loc[0, "columnas_extra"]) == {"observaciones_internas": "revisar"}
    assert any("observaciones_internas" in w for w in result.warnings)


def test_raw_keeps_the_row_as_written_with_the_partition_year_apart(tmp_path: Path, catalogs):
    write_csv(tmp_path / "2024" / "e.csv", rows_for(RUC_A, "1", anio=2023, moneda=" usd "))
    result = process_declaraciones(tmp_path / "2024", 2024, catalogs)
    raw = result.raw.iloc[0]
    assert (raw["anio"], raw["anio_fila"], raw["moneda"], raw["hoja"]) == (2024, "2023", "usd", None)
    assert raw["estado_fila"] == "quarantined"


def test_a_year_without_exchange_rate_stages_amounts_without_monto_usd(tmp_path: Path, catalogs):
    rows = [declaracion_row(anio=2026, codigo_intervencion="1", moneda="PEN", fecha_fin="2026-06-30"),
            declaracion_row(anio=2026, codigo_intervencion="2", moneda="USD", fecha_fin="2026-06-30")]
    write_csv(tmp_path / "2026" / "e.csv", rows)
    result = process_declaraciones(tmp_path / "2026", 2026, catalogs)
    by_code = result.staged.set_index("codigo_intervencion")["monto_usd"]
    assert pd.isna(by_code["1"]) and by_code["2"] == 1000.0


def test_a_cell_over_excels_limit_in_an_extra_column_breaks_a_row_rule(tmp_path: Path, catalogs):
    rows = rows_for(RUC_A, "1", "2")
    rows[0]["comentario"] = "y" * 40_000
    rows[1]["comentario"] = "corto"
    write_csv(tmp_path / "2024" / "e.csv", rows)
    result = process_declaraciones(tmp_path / "2024", 2024, catalogs)
    assert result.quarantined[["fila", "columna", "regla"]].values.tolist() == [[2, "comentario", "celda_demasiado_larga"]]
    assert len(result.quarantined["valor"].iloc[0]) <= 201


def test_an_empty_year_folder_gives_empty_frames(tmp_path: Path, catalogs):
    result = process_declaraciones(tmp_path / "2024", 2024, catalogs)
    assert result.raw.empty and result.staged.empty and result.quarantined.empty and result.rejected_files.empty


def test_handing_over_raw_leaves_an_empty_frame_that_holds_none_of_its_memory(tmp_path: Path, catalogs):
    import gc

    import pyarrow as pa

    year = tmp_path / "2024"
    write_csv(year / "a.csv", rows_for(RUC_A, *[f"C-{n}" for n in range(3000)], titulo="x" * 200))
    result = process_declaraciones(year, 2024, catalogs)
    columns = list(result.raw.columns)
    raw = result.hand_over_raw()
    assert len(raw) == 3000 and result.raw.empty and list(result.raw.columns) == columns
    result.staged = result.quarantined = None  # only the handed-over raw holds text now
    gc.collect()
    holding = pa.total_allocated_bytes()
    del raw
    gc.collect()
    assert holding - pa.total_allocated_bytes() > 3000 * 200  # the titles went with it
