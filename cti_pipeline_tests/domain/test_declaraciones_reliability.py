"""Issue 17 through `process_declaraciones` on real files: numbers parse one way or are quarantined, never
change silently; the smaller cases of its point 8 (date-time cells, invisible characters in keys, formulas
without a cached value, password-protected workbooks); exchange-rate overrides checked on load; and the
same files giving the same rows at the next run (which knows when each content was first seen)."""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook, load_workbook

from cti_pipeline.contracts.declaracion import DECLARACION
from cti_pipeline.contracts.reference import DeclarationCatalogs, ReferenceError
from cti_pipeline.domain.declaraciones import process_declaraciones
from cti_pipeline_tests.factories import declaracion_row, file_counts, valid_ruc, write_csv, write_xlsx

RUC_A = valid_ruc("2010004721")
RUC_B = valid_ruc("2060000001")


@pytest.fixture(scope="module")
def catalogs() -> DeclarationCatalogs:
    return DeclarationCatalogs.load(None)


def spanish_excel_csv(path: Path, amounts: list[str], ruc: str = RUC_A) -> Path:
    """What Excel in a Spanish locale saves as «CSV (delimitado por punto y coma)»: Windows-1252 bytes,
    `;` between fields, dates as DD/MM/YYYY and amounts as the cells display them (`#.##0,00`)."""
    rows = [
        declaracion_row(ruc_entidad=ruc, codigo_intervencion=f"INT-{n}", monto_ejecutado=amount,
                        fecha_inicio="01/03/2023", fecha_fin="28/02/2025")
        for n, amount in enumerate(amounts, start=1)
    ]
    write_csv(path, rows, separator=";", encoding="cp1252")
    data = path.read_bytes()
    assert "Asociación".encode("cp1252") in data and f";{amounts[0]};".encode() in data  # the real encoding, as written
    return path


def staged_amounts(result, archivo: str) -> dict[str, float]:
    staged = result.staged[result.staged["archivo"] == archivo]
    return dict(zip(staged["codigo_intervencion"], staged["monto_ejecutado"], strict=True))


def rules_of(result, archivo: str | None = None) -> set[tuple[str, int, str, str]]:
    """(file, row, column, rule) of every quarantined failure."""
    q = result.quarantined if archivo is None else result.quarantined[result.quarantined["archivo"] == archivo]
    return set(zip(q["archivo"], q["fila"], q["columna"], q["regla"], strict=True))


def assert_nothing_lost(result) -> None:
    counts = file_counts(result.raw)
    assert (counts["leidas"] == counts["staged"] + counts["quarantined"] + counts["superseded"]).all()
    staged = result.staged.groupby("archivo").size()
    for row in counts.itertuples():
        assert staged.get(row.archivo, 0) == row.staged


# --- 1. the decimal mark of a `;` CSV, decided per file ------------------------------------------------


def test_semicolon_csv_with_a_decimal_comma_reads_every_dotted_amount_as_thousands(tmp_path: Path, catalogs):
    """Spanish-locale Excel writes `#.##0` as `1.200` and `12.500` beside `1.234.567,89`: never 1.2 and 12.5."""
    year = tmp_path / "2024"
    spanish_excel_csv(year / "entidad.csv", ["1.234.567,89", "1.200", "12.500", "7,5"])
    result = process_declaraciones(year, 2024, catalogs)

    assert staged_amounts(result, "entidad.csv") == {"INT-1": 1234567.89, "INT-2": 1200.0, "INT-3": 12500.0, "INT-4": 7.5}
    assert result.quarantined.empty
    assert result.staged["monto_usd"].tolist() == [1234567.89, 1200.0, 12500.0, 7.5]  # moneda USD: the same amounts
    assert_nothing_lost(result)


def test_semicolon_csv_whose_only_dotted_amounts_group_thousands_reads_them_as_thousands(tmp_path: Path, catalogs):
    year = tmp_path / "2024"
    spanish_excel_csv(year / "entidad.csv", ["1.200", "300", "2.500.000"])
    result = process_declaraciones(year, 2024, catalogs)

    assert staged_amounts(result, "entidad.csv") == {"INT-1": 1200.0, "INT-2": 300.0, "INT-3": 2500000.0}
    assert result.quarantined.empty


def test_semicolon_csv_with_a_point_that_cannot_group_thousands_has_the_point_as_its_decimal_mark(tmp_path: Path, catalogs):
    """Guard of the fix above: `3.5` shows the file writes decimals with a point, so its `1.200` is 1.2."""
    year = tmp_path / "2024"
    spanish_excel_csv(year / "entidad.csv", ["3.5", "1.200", "1234.56"])
    result = process_declaraciones(year, 2024, catalogs)

    assert result.quarantined.empty
    assert staged_amounts(result, "entidad.csv") == {"INT-1": 3.5, "INT-2": 1.2, "INT-3": 1234.56}


def test_a_cell_that_fits_no_reading_of_its_files_decimal_mark_is_quarantined_never_staged(tmp_path: Path, catalogs):
    """`2,5` makes the comma the file's decimal mark; then `1.5` is neither 1,5 nor 15: it cannot be read one way."""
    year = tmp_path / "2024"
    spanish_excel_csv(year / "entidad.csv", ["2,5", "1.5", "1.200"])
    result = process_declaraciones(year, 2024, catalogs)

    assert staged_amounts(result, "entidad.csv") == {"INT-1": 2.5, "INT-3": 1200.0}
    assert rules_of(result) == {("entidad.csv", 3, "monto_ejecutado", "decimal_invalido")}
    assert result.quarantined["valor"].tolist() == ["1.5"]  # the value as the entity wrote it
    assert result.raw.set_index("codigo_intervencion")["estado_fila"].to_dict() == {
        "INT-1": "staged", "INT-2": "quarantined", "INT-3": "staged"}
    assert_nothing_lost(result)


def test_the_decimal_mark_is_decided_per_file_so_one_text_reads_differently_in_two_files(tmp_path: Path, catalogs):
    """`1.200` is 1200 in a file whose dots all group thousands and 1.2 in a file that writes `3.5`; a
    comma-separated CSV and a workbook are never read with a Spanish mark."""
    year = tmp_path / "2024"
    spanish_excel_csv(year / "miles.csv", ["1.200", "300"], ruc=RUC_A)
    spanish_excel_csv(year / "punto.csv", ["3.5", "1.200"], ruc=RUC_B)
    ruc_c, ruc_d = valid_ruc("2050000003"), valid_ruc("2040000004")
    write_csv(year / "coma.csv", [declaracion_row(ruc_entidad=ruc_c, codigo_intervencion="INT-1", monto_ejecutado="1.200")])
    write_xlsx(year / "libro.xlsx", [declaracion_row(ruc_entidad=ruc_d, codigo_intervencion="INT-1", monto_ejecutado="1.200")])
    result = process_declaraciones(year, 2024, catalogs)

    assert result.quarantined.empty
    assert staged_amounts(result, "miles.csv") == {"INT-1": 1200.0, "INT-2": 300.0}
    assert staged_amounts(result, "punto.csv") == {"INT-1": 3.5, "INT-2": 1.2}
    assert staged_amounts(result, "coma.csv") == {"INT-1": 1.2}
    assert staged_amounts(result, "libro.xlsx") == {"INT-1": 1.2}


# --- 2. Unicode digits are not digits --------------------------------------------------------------


UNICODE_DIGITS = [
    # (column, value an entity could paste, rule)
    ("anio", "２０２４", "entero_invalido"),  # full-width
    ("anio", "٢٠٢٤", "entero_invalido"),  # Arabic-Indic
    ("monto_ejecutado", "١٢٣٤", "decimal_invalido"),
    ("monto_ejecutado", "１２００.５０", "decimal_invalido"),
    ("ods", "６", "entero_invalido"),
    ("beneficiarios", "２５０", "entero_invalido"),
    ("beneficiarios", "١٢٣٤", "entero_invalido"),
]


@pytest.mark.parametrize("file_type", ["xlsx", "csv"])
def test_unicode_digits_are_quarantined_and_never_staged_as_null(tmp_path: Path, catalogs, file_type):
    year = tmp_path / "2024"
    good = declaracion_row(codigo_intervencion="BUENA", monto_ejecutado=500.0, ods=6, beneficiarios=10)
    bad = [declaracion_row(codigo_intervencion=f"MALA-{n}", **{column: value}) for n, (column, value, _) in enumerate(UNICODE_DIGITS)]
    if file_type == "xlsx":
        write_xlsx(year / "entidad.xlsx", [good, *bad])
    else:
        write_csv(year / "entidad.csv", [good, *bad], encoding="utf-8-sig")
    result = process_declaraciones(year, 2024, catalogs)
    archivo = f"entidad.{file_type}"

    assert result.staged["codigo_intervencion"].tolist() == ["BUENA"]
    assert result.staged[["anio", "monto_ejecutado", "ods", "beneficiarios"]].notna().all().all()
    expected = {(archivo, 3 + n, column, rule) for n, (column, _, rule) in enumerate(UNICODE_DIGITS)}
    assert rules_of(result) == expected
    assert result.quarantined.sort_values("fila")["valor"].tolist() == [value for _, value, _ in UNICODE_DIGITS]
    assert_nothing_lost(result)


# --- 8. the smaller items ------------------------------------------------------------------------------


def test_a_real_excel_date_cell_with_a_time_is_staged_as_its_date(tmp_path: Path, catalogs):
    year = tmp_path / "2024"
    path = write_xlsx(year / "entidad.xlsx", [declaracion_row(fecha_inicio=dt.datetime(2024, 1, 5, 14, 30),
                                                              fecha_fin=dt.datetime(2024, 12, 31, 23, 59, 59))])
    cell = load_workbook(path)["intervenciones"].cell(row=2, column=DECLARACION.names.index("fecha_inicio") + 1)
    assert cell.is_date and cell.value == dt.datetime(2024, 1, 5, 14, 30)  # a real date cell, not text
    result = process_declaraciones(year, 2024, catalogs)

    assert result.quarantined.empty
    staged = result.staged.iloc[0]
    assert (staged["fecha_inicio"], staged["fecha_fin"]) == (pd.Timestamp("2024-01-05"), pd.Timestamp("2024-12-31"))


@pytest.mark.parametrize("invisible", ["\u200b", "\ufeff", "\u200d", "\u00ad"], ids=["zero-width-space", "bom", "zwj", "soft-hyphen"])
def test_a_key_that_differs_only_by_an_invisible_character_is_a_duplicate_not_staged_twice(tmp_path: Path, catalogs, invisible):
    year = tmp_path / "2024"
    write_xlsx(year / "entidad.xlsx", [
        declaracion_row(codigo_intervencion="INT-001"),
        declaracion_row(codigo_intervencion="INT-001" + invisible),
        declaracion_row(codigo_intervencion="INT-002"),
    ])
    result = process_declaraciones(year, 2024, catalogs)

    assert result.staged["codigo_intervencion"].tolist() == ["INT-002"]
    assert rules_of(result) == {("entidad.xlsx", 2, "codigo_intervencion", "clave_duplicada"),
                                ("entidad.xlsx", 3, "codigo_intervencion", "clave_duplicada")}
    assert_nothing_lost(result)


def test_a_formula_without_a_cached_value_in_a_required_column_is_quarantined_as_such_and_its_siblings_staged(tmp_path: Path, catalogs):
    """openpyxl saves a formula without its result, as many programs other than Excel do."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "intervenciones"
    sheet.append(DECLARACION.names)
    for code in ("A", "B", "C"):
        row = declaracion_row(codigo_intervencion=code)
        sheet.append([row[name] for name in DECLARACION.names])
    sheet.cell(row=3, column=DECLARACION.names.index("monto_ejecutado") + 1, value="=1000*2")
    path = tmp_path / "2024" / "formula.xlsx"
    path.parent.mkdir()
    workbook.save(path)
    result = process_declaraciones(path.parent, 2024, catalogs)

    assert result.staged["codigo_intervencion"].tolist() == ["A", "C"]
    assert rules_of(result) == {("formula.xlsx", 3, "monto_ejecutado", "formula_sin_valor")}  # not also `obligatorio`
    assert "fórmula" in result.quarantined["mensaje"].iloc[0]
    assert_nothing_lost(result)


def test_a_password_protected_workbook_is_rejected_as_such_and_hides_nothing_else(tmp_path: Path, catalogs):
    from msoffcrypto.format.ooxml import OOXMLFile

    year = tmp_path / "2024"
    plain = write_xlsx(tmp_path / "plano.xlsx", [declaracion_row(ruc_entidad=RUC_A, codigo_intervencion="NUEVA")])
    encrypted = io.BytesIO()
    with plain.open("rb") as source:
        OOXMLFile(source).encrypt("secreto", encrypted)
    year.mkdir()
    (year / "protegido.xlsx").write_bytes(encrypted.getvalue())
    write_csv(year / "anterior.csv", [declaracion_row(ruc_entidad=RUC_A, codigo_intervencion="ANTERIOR")], mtime=1_700_000_000)
    result = process_declaraciones(year, 2024, catalogs)

    reasons = result.rejected_files.set_index("archivo")["motivo"].to_dict()
    assert list(reasons) == ["protegido.xlsx"]
    assert "contraseña" in reasons["protegido.xlsx"] and "guárdelo de nuevo" not in reasons["protegido.xlsx"]
    assert result.staged["codigo_intervencion"].tolist() == ["ANTERIOR"]  # the entity's older readable file counts
    assert set(result.raw["archivo"]) == {"anterior.csv"}


# --- 3. exchange-rate overrides, checked on load --------------------------------------------------------


BAD_RATES = {
    "cero": ("anio,pen_por_usd\n2023,3.744\n2024,0\n", "row 3"),
    "negativo": ("anio,pen_por_usd\n2024,-3.757\n", "row 2"),
    "coma": ("anio,pen_por_usd\n2023,3.744\n2024,\"3,757\"\n", "row 3"),
    "dos_veces": ("anio,pen_por_usd\n2024,3.757\n2023,3.744\n2024,3.8\n", "rows 2 and 4"),
}


@pytest.mark.parametrize("case", list(BAD_RATES))
def test_an_exchange_rate_override_that_is_not_one_rate_above_zero_per_year_stops_naming_file_and_row(tmp_path: Path, case):
    content, where = BAD_RATES[case]
    (tmp_path / "tipo_cambio.csv").write_text(content)
    with pytest.raises(ReferenceError) as raised:
        DeclarationCatalogs.load(tmp_path)
    message = str(raised.value)
    assert str(tmp_path / "tipo_cambio.csv") in message and where in message


def test_a_valid_exchange_rate_override_converts_with_its_rate(tmp_path: Path):
    (tmp_path / "tipo_cambio.csv").write_text("anio,pen_por_usd\n2023,3.744\n2024,4.000\n")
    catalogs = DeclarationCatalogs.load(tmp_path)
    write_xlsx(tmp_path / "2024" / "e.xlsx", [declaracion_row(moneda="PEN", monto_ejecutado=1000.0)])
    result = process_declaraciones(tmp_path / "2024", 2024, catalogs)
    assert result.staged["monto_usd"].tolist() == [250.0]


# --- 7. re-submission order: the same files give the same rows at every run ----------------------------


T0 = 1_740_000_000  # Feb 2025


def first_seen_after(result) -> dict[str, int]:
    """What the next run reads back from meta.contenidos: this run's new contents and when they were first seen."""
    return dict(zip(result.contents["huella_contenido"], result.contents["primera_vez_ns"], strict=True))


def staged_rows(result) -> list[tuple[str, str, str]]:
    return sorted(zip(result.staged["ruc_entidad"], result.staged["archivo"], result.staged["codigo_intervencion"], strict=True))


@pytest.mark.parametrize("same_mtime", [False, True], ids=["copied-later", "touched"])
def test_a_file_sent_twice_with_the_same_bytes_is_one_submission_at_every_run(tmp_path: Path, catalogs, same_mtime):
    """`declaracion.xlsx` and the browser's `declaracion (1).xlsx`, byte for byte the same: the rows count
    once, and the next run (which knows when that content was first seen) says the same."""
    year = tmp_path / "2024"
    write_xlsx(year / "declaracion.xlsx", [declaracion_row(ruc_entidad=RUC_A, codigo_intervencion=c) for c in ("1", "2")], mtime=T0)
    shutil.copyfile(year / "declaracion.xlsx", year / "declaracion (1).xlsx")
    os.utime(year / "declaracion (1).xlsx", (T0 + (0 if same_mtime else 60),) * 2)
    write_csv(year / "otra.csv", [declaracion_row(ruc_entidad=RUC_B, codigo_intervencion="9")], mtime=T0)

    first = process_declaraciones(year, 2024, catalogs)
    second = process_declaraciones(year, 2024, catalogs, first_seen=first_seen_after(first))
    for result in (first, second):
        assert result.quarantined.empty  # never reenvio_ambiguo, never clave_duplicada
        assert [(ruc, code) for ruc, _, code in staged_rows(result)] == [(RUC_A, "1"), (RUC_A, "2"), (RUC_B, "9")]
        assert file_counts(result.raw).set_index("archivo")[["staged", "superseded"]].sum(axis=1).to_dict() == {
            "declaracion (1).xlsx": 2, "declaracion.xlsx": 2, "otra.csv": 1}
        assert_nothing_lost(result)
    assert staged_rows(second) == staged_rows(first)


def test_a_content_sent_again_in_another_file_gives_the_same_rows_at_the_next_run(tmp_path: Path, catalogs):
    """v1, then v2, then v1 again under another name, all landed before one run: the run and the next must
    agree on which version counts. A content counts from when it was first seen, so v2 is the latest."""
    year = tmp_path / "2024"
    write_xlsx(year / "v1.xlsx", [declaracion_row(ruc_entidad=RUC_A, codigo_intervencion="V1")], mtime=T0)
    write_xlsx(year / "v2.xlsx", [declaracion_row(ruc_entidad=RUC_A, codigo_intervencion="V2")], mtime=T0 + 100)
    shutil.copyfile(year / "v1.xlsx", year / "v1_de_nuevo.xlsx")
    os.utime(year / "v1_de_nuevo.xlsx", (T0 + 200, T0 + 200))

    first = process_declaraciones(year, 2024, catalogs)
    second = process_declaraciones(year, 2024, catalogs, first_seen=first_seen_after(first))
    assert staged_rows(first) == staged_rows(second) == [(RUC_A, "v2.xlsx", "V2")]
    assert first.quarantined.empty and second.quarantined.empty
    assert first.contents.set_index("archivo")["primera_vez_ns"].to_dict() == {"v1.xlsx": T0 * 10**9, "v2.xlsx": (T0 + 100) * 10**9}
