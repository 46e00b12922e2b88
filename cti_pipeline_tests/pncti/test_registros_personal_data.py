"""participante_id is personal data: pseudonymised in raw and staging, masked in quarantine."""

from __future__ import annotations

import hashlib

from cti_pipeline.contracts.registros import REGISTROS
from cti_pipeline.domain.registros import process_registros
from cti_pipeline_tests.factories import write_csv
from cti_pipeline_tests.pncti.builders import ANIO, folder, land, row


def sha(salt: str, text: str) -> str:
    return hashlib.sha256(salt.encode() + b"\x1f" + text.encode()).hexdigest()


def process(data_dir, salt: str = "test-salt"):
    return process_registros(folder(data_dir), ANIO, salt, frozenset())


def test_staging_and_raw_hold_the_salted_sha256_never_the_dni(data_dir):
    land(data_dir, "capacitaciones.xlsx", "capacitaciones", [row("capacitaciones", participante_id="45678912")])
    result = process(data_dir)
    staged = result.staged["capacitaciones"]["participante_id"].tolist()
    assert staged == [sha("test-salt", "45678912")]
    assert result.raw["participante_id"].dropna().tolist() == staged
    assert "45678912" not in result.raw.astype("str").to_numpy().ravel().tolist()


def test_one_person_gets_one_pseudonym_whatever_the_spelling_and_the_file(data_dir):
    land(data_dir, "capacitaciones_a.xlsx", "capacitaciones", [row("capacitaciones", participante_id="04567891")])
    land(data_dir, "capacitaciones_b.csv", "capacitaciones",
         [row("capacitaciones", participante_id="4567891"), row("capacitaciones", participante_id=" 0456 7891 ")],
         encoding="cp1252", separator=";")
    land(data_dir, "capacitaciones_c.csv", "capacitaciones", [row("capacitaciones", participante_id="ce-001234")])
    staged = process(data_dir).staged["capacitaciones"].set_index("archivo")["participante_id"]
    assert staged["capacitaciones_a.xlsx"] == sha("test-salt", "04567891")
    assert set(staged["capacitaciones_b.csv"]) == {sha("test-salt", "04567891")}
    assert staged["capacitaciones_c.csv"] == sha("test-salt", "CE-001234")


def test_the_salt_changes_every_pseudonym(data_dir):
    land(data_dir, "capacitaciones.xlsx", "capacitaciones", [row("capacitaciones", participante_id="45678912")])
    first = process(data_dir, "one").staged["capacitaciones"]["participante_id"].iloc[0]
    second = process(data_dir, "two").staged["capacitaciones"]["participante_id"].iloc[0]
    assert first != second


def test_quarantine_masks_a_participante_id_and_never_repeats_it(data_dir):
    long_id = "87654321" + "9" * 33_000
    write_csv(folder(data_dir) / "capacitaciones.csv",
              [row("capacitaciones", participante_id=long_id), row("capacitaciones", participante_id="12345678", nota=30)],
              headers=REGISTROS["capacitaciones"].names)
    result = process(data_dir)
    quarantined = result.quarantined.set_index("columna")
    masked = quarantined.loc["participante_id", "valor"]
    assert masked == "*" * 10 + "99"
    everything = " ".join(str(v) for v in result.quarantined.to_numpy().ravel().tolist())
    assert "87654321" not in everything and "12345678" not in everything
    assert quarantined.loc["nota", "valor"] == "30"


def test_a_file_without_its_header_row_is_rejected_without_repeating_its_first_row(data_dir):
    """With no header, the first row of data stands where the header should be: its DNI, name and
    e-mail must not reach the rejection reason, which the warehouse, the logs and the feedback keep."""
    from openpyxl import Workbook

    first = row("capacitaciones", participante_id="45678912")
    # the DNI and the e-mail twice: a repeated "header" name must not be quoted either
    cells = [first[name] for name in REGISTROS["capacitaciones"].names] + [
        "Rosa Quispe Mamani", "rosa.quispe@example.org", "rosa.quispe@example.org", "45678912",
    ]
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = REGISTROS["capacitaciones"].sheet
    sheet.append(cells)
    sheet.append(cells)
    path = folder(data_dir) / "capacitaciones_sin_cabecera.xlsx"
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    write_csv(folder(data_dir) / "capacitaciones_sin_cabecera.csv", [], headers=[str(c) for c in cells], separator=";")

    result = process(data_dir)

    reasons = result.rejected_files.set_index("archivo")["motivo"]
    assert set(reasons.index) == {"capacitaciones_sin_cabecera.xlsx", "capacitaciones_sin_cabecera.csv"}
    said = " ".join([*reasons, *result.warnings])
    for personal in ("45678912", "rosa", "quispe", "example"):
        assert personal not in said.casefold()
    assert all("No se encontró la fila de cabecera" in reason and "participante_id" in reason for reason in reasons)


def test_a_real_header_with_a_misspelt_or_repeated_column_is_quoted_back_so_the_entity_can_fix_it(data_dir):
    names = REGISTROS["capacitaciones"].names
    misspelt = ["participante_idd" if name == "participante_id" else name for name in names]
    write_csv(folder(data_dir) / "capacitaciones_a.csv", [row("capacitaciones", participante_idd="45678912")], headers=misspelt)
    write_csv(folder(data_dir) / "capacitaciones_b.csv", [row("capacitaciones")], headers=[*names, "Nota"])
    reasons = process(data_dir).rejected_files.set_index("archivo")["motivo"]
    assert "Faltan columnas obligatorias: participante_id." in reasons["capacitaciones_a.csv"]
    assert "Columnas encontradas: " in reasons["capacitaciones_a.csv"] and "participante_idd" in reasons["capacitaciones_a.csv"]
    assert reasons["capacitaciones_b.csv"] == "La columna «nota» aparece dos veces en la cabecera (fila 1)."
