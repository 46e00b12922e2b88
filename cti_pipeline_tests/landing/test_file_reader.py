"""Reading one landed file (landing/file_reader.py) through the folder reader production calls, on real files."""

import datetime as dt
import io
import json
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from cti_pipeline.contracts.declaracion import DECLARACION
from cti_pipeline.landing.discovery import FileRejection, LandedFile
from cti_pipeline.landing.file_reader import FilePart, ReadSpec, read_file
from cti_pipeline.landing.folder_reader import FileBatch, read_folder
from cti_pipeline_tests.factories import declaracion_row, write_csv, write_xlsx


def landed(path: Path) -> LandedFile:
    stat = path.stat()
    return LandedFile(path, stat.st_size, stat.st_mtime_ns)


def read_one(path: Path, spec=DECLARACION) -> FileBatch:
    return read_folder([landed(path)], spec)


def rejection(path: Path, spec=DECLARACION, file: LandedFile | None = None) -> FileRejection:
    outcome = read_file(file or landed(path), ReadSpec.of(spec))
    assert isinstance(outcome, FileRejection), outcome
    return outcome


def extra(batch: FileBatch, column: str) -> list[str | None]:
    return [json.loads(text).get(column) if isinstance(text, str) else None for text in batch.rows["columnas_extra"]]


LOOSE = ReadSpec("intervenciones", ("anio", "ruc_entidad", "codigo_intervencion", "titulo"), ("anio", "titulo"))


def test_xlsx_header_is_first_non_empty_row_and_rows_keep_excel_numbers(tmp_path: Path):
    rows = [declaracion_row(codigo_intervencion="A"), declaracion_row(codigo_intervencion="B")]
    path = write_xlsx(tmp_path / "d.xlsx", rows, leading_blank_rows=2)
    batch = read_one(path)
    # header on Excel row 3, data on rows 4 and 5
    assert batch.rows["fila"].tolist() == [4, 5]
    assert batch.rows["codigo_intervencion"].tolist() == ["A", "B"]
    assert batch.rows["hoja"].tolist() == ["intervenciones"] * 2


def test_xlsx_cells_become_the_text_a_person_reads(tmp_path: Path):
    row = declaracion_row(ruc_entidad=20100047218, departamento=8, monto_ejecutado=1500.5, ods=6.0,
                          fecha_inicio=dt.datetime(2024, 1, 15), fecha_fin=dt.date(2024, 12, 31))
    path = write_xlsx(tmp_path / "d.xlsx", [row])
    frame = read_one(path).rows
    assert frame.loc[0, "ruc_entidad"] == "20100047218"  # number cell → 11-digit text
    assert frame.loc[0, "departamento"] == "8"  # padded later by the contract, not by the reader
    assert frame.loc[0, "monto_ejecutado"] == "1500.5"
    assert frame.loc[0, "ods"] == "6"
    assert frame.loc[0, "fecha_inicio"] == "2024-01-15"
    assert frame.loc[0, "fecha_fin"] == "2024-12-31"


def test_blank_rows_in_the_middle_are_skipped_without_renumbering(tmp_path: Path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Intervenciones"
    sheet.append(["anio", "titulo"])
    sheet.append([2024, "uno"])
    sheet.append([None, "   "])
    sheet.append([2024, "tres"])
    workbook.save(tmp_path / "d.xlsx")
    frame = read_one(tmp_path / "d.xlsx", LOOSE).rows
    assert frame["fila"].tolist() == [2, 4]


def test_named_sheet_is_found_case_insensitively_else_the_first_sheet(tmp_path: Path):
    rows = [declaracion_row()]
    named = write_xlsx(tmp_path / "a.xlsx", rows, sheet="INTERVENCIONES ", extra_sheets=["Portada"])
    assert read_one(named).rows["hoja"].tolist() == ["INTERVENCIONES "]
    fallback = write_xlsx(tmp_path / "b.xlsx", rows, sheet="Hoja1")
    batch = read_one(fallback)
    assert batch.rows["hoja"].tolist() == ["Hoja1"]
    assert any("first sheet" in w for w in batch.warnings)


@pytest.mark.parametrize(
    ("encoding", "separator", "decimal_comma"),
    [("utf-8", ",", False), ("utf-8-sig", ",", False), ("cp1252", ";", True), ("utf-8", ";", True)],
)
def test_csv_encodings_and_separators(tmp_path: Path, encoding: str, separator: str, decimal_comma: bool):
    row = declaracion_row(nombre_entidad="Asociación Ñandú — Perú", monto_ejecutado=1234.5)
    if encoding == "cp1252":
        row["nombre_entidad"] = "Asociación Ñandú Perú"  # the em dash exists in cp1252 too, but keep it plain
    path = write_csv(tmp_path / "d.csv", [row], encoding=encoding, separator=separator, decimal_comma=decimal_comma)
    frame = read_one(path).rows
    assert frame.loc[0, "nombre_entidad"] == row["nombre_entidad"]
    assert frame.loc[0, "anio"] == "2024"  # no BOM glued to the first header
    assert frame["_csv_punto_y_coma"].tolist() == [separator == ";"]
    assert frame.loc[0, "monto_ejecutado"] == ("1234,5" if decimal_comma else "1234.5")


def test_loose_headers_match_contract_names(tmp_path: Path):
    path = tmp_path / "d.csv"
    path.write_text(" Año ;RUC_Entidad; Código  Intervención ;TÍTULO\n2024;20100047218;X-1;Agua\n", encoding="utf-8")
    frame = read_one(path, LOOSE).rows
    assert frame.loc[0, ["anio", "ruc_entidad", "codigo_intervencion", "titulo"]].tolist() == ["2024", "20100047218", "X-1", "Agua"]


def test_ragged_csv_rows_and_blank_first_line_do_not_break_reading(tmp_path: Path):
    path = tmp_path / "d.csv"
    path.write_text("\nanio,titulo\n2024,uno\n2024,dos,sobra\n2024\n", encoding="utf-8")
    batch = read_one(path, LOOSE)
    assert batch.rows["fila"].tolist() == [3, 4, 5]
    assert extra(batch, "columna_3") == ["", "sobra", ""]
    assert batch.rows["titulo"].tolist() == ["uno", "dos", ""]


def test_formula_like_text_is_kept_as_data(tmp_path: Path):
    path = tmp_path / "d.csv"
    path.write_text('anio,titulo\n2024,"=HYPERLINK(""http://x"",""y"")"\n2024,@SUM(A1)\n', encoding="utf-8")
    frame = read_one(path, LOOSE).rows
    assert frame["titulo"].tolist() == ['=HYPERLINK("http://x","y")', "@SUM(A1)"]


def test_duplicate_headers_make_the_file_unreadable(tmp_path: Path):
    path = tmp_path / "d.csv"
    path.write_text("anio,Título,titulo\n2024,a,b\n", encoding="utf-8")
    assert "aparece dos veces" in rejection(path, LOOSE).motivo


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("anio,titulo\n2024,agua\n".encode("utf-16"), "UTF-16"),
        (b"\x00\x01\x02binary\x00garbage" * 100, "bytes nulos"),
        (bytes([0x81, 0x8D, 0x8F, 0x90, 0x9D]) * 10 + b"\n", "codificación"),
        (b"   \n\n", "no tiene filas"),
    ],
)
def test_unreadable_csv_gives_a_spanish_reason(tmp_path: Path, content: bytes, reason: str):
    path = tmp_path / "d.csv"
    path.write_bytes(content)
    assert reason in rejection(path).motivo


def test_garbage_named_xlsx_is_unreadable(tmp_path: Path):
    path = tmp_path / "d.xlsx"
    path.write_bytes(b"PK\x03\x04 this is not really a zip" * 10)
    assert "no es un libro de Excel" in rejection(path).motivo


def test_zip_bomb_is_refused_before_parsing(tmp_path: Path):
    path = tmp_path / "bomba.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            block = b"\0" * (1 << 20)
            for _ in range(205):
                member.write(block)
    assert path.stat().st_size < 2_000_000
    assert "se descomprime a más de 200 MB" in rejection(path).motivo


def test_zip_whose_header_lies_about_its_size_is_refused(tmp_path: Path):
    """A member that declares a small size but inflates to more fails the CRC/size read-through."""
    honest = tmp_path / "honest.zip"
    payload = b"<row>" + b"a" * 5_000_000 + b"</row>"
    with zipfile.ZipFile(honest, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", payload)
    data = bytearray(honest.read_bytes())
    declared = len(payload).to_bytes(4, "little")
    lie = (1000).to_bytes(4, "little")
    assert data.count(declared) == 2  # local header and central directory
    path = tmp_path / "mentira.xlsx"
    path.write_bytes(bytes(data).replace(declared, lie))
    assert "no es un libro de Excel" in rejection(path).motivo


def test_a_damaged_zip_is_the_files_fault_and_a_disk_error_is_not(tmp_path: Path):
    """A broken central directory makes zipfile seek before the file's start (OSError EINVAL): the entity
    must re-save the workbook. A path that cannot be read as a file is the server's problem, read again later."""
    path = tmp_path / "damaged.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>", compress_type=zipfile.ZIP_BZIP2)  # read through
    data = bytearray(path.read_bytes())
    end_of_directory = data.rfind(b"PK\x05\x06")
    data[end_of_directory + 16 : end_of_directory + 20] = (0xFFFFFF00).to_bytes(4, "little")  # offset of the directory
    path.write_bytes(bytes(data))
    damaged = rejection(path)
    assert "guárdelo de nuevo como .xlsx" in damaged.motivo and not damaged.transient

    (tmp_path / "carpeta.xlsx").mkdir()
    (tmp_path / "carpeta.csv").mkdir()
    for name in ("carpeta.xlsx", "carpeta.csv"):
        disk = rejection(tmp_path / name, file=LandedFile(tmp_path / name, 0, 0))
        assert "No se pudo abrir el archivo en el servidor" in disk.motivo and disk.transient, name



def test_a_workbook_whose_named_sheet_is_empty_while_another_sheet_holds_the_rows_is_rejected_naming_it(tmp_path: Path):
    """Rows pasted into Hoja1 while `intervenciones` holds only the header must not vanish as 0 rows."""
    workbook = Workbook()
    named = workbook.active
    named.title = "intervenciones"
    named.append(DECLARACION.names)
    pasted = workbook.create_sheet("Hoja1")
    pasted.append(DECLARACION.names)
    for row in [declaracion_row(codigo_intervencion="A"), declaracion_row(codigo_intervencion="B")]:
        pasted.append([row[name] for name in DECLARACION.names])
    workbook.save(tmp_path / "pegado.xlsx")
    reason = rejection(tmp_path / "pegado.xlsx").motivo
    assert "«intervenciones»" in reason and "«Hoja1»" in reason and "2 fila(s)" in reason

    header_only = Workbook()
    header_only.active.title = "intervenciones"
    header_only.active.append(DECLARACION.names)
    header_only.create_sheet("Notas").append(["una nota suelta"])
    header_only.save(tmp_path / "vacio.xlsx")
    part = read_file(landed(tmp_path / "vacio.xlsx"), ReadSpec.of(DECLARACION))
    assert isinstance(part, FilePart) and len(part) == 0  # a header and no rows: read, with nothing in it


def test_a_password_protected_workbook_and_an_old_xls_are_told_apart_from_a_damaged_one(tmp_path: Path):
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = write_xlsx(tmp_path / "plano.xlsx", [declaracion_row()])
    encrypted = io.BytesIO()
    with plain.open("rb") as source:
        OOXMLFile(source).encrypt("secreto", encrypted)
    (tmp_path / "clave.xlsx").write_bytes(encrypted.getvalue())
    assert "protegido con contraseña" in rejection(tmp_path / "clave.xlsx").motivo

    (tmp_path / "viejo.xlsx").write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 1024)
    assert ".xls" in rejection(tmp_path / "viejo.xlsx").motivo


def test_a_formula_saved_without_its_value_is_a_cell_problem_not_an_empty_cell(tmp_path: Path):
    """openpyxl (like many programs) writes formulas without a cached result: every reader sees an empty cell."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "intervenciones"
    sheet.append(DECLARACION.names)
    good = declaracion_row(codigo_intervencion="A")
    sheet.append([good[name] for name in DECLARACION.names])
    with_formula = declaracion_row(codigo_intervencion="B")
    sheet.append([with_formula[name] for name in DECLARACION.names])
    column = DECLARACION.names.index("monto_ejecutado") + 1
    sheet.cell(row=3, column=column, value="=1000*2")
    workbook.save(tmp_path / "formula.xlsx")
    batch = read_one(tmp_path / "formula.xlsx")
    assert batch.problems.to_dict("records") == [{"index": 1, "columna": "monto_ejecutado", "regla": "formula_sin_valor"}]

    # a dropdown's list (`<formula1>`) is no cell formula; a second formula cell is found too
    from openpyxl.worksheet.datavalidation import DataValidation

    dropdown = DataValidation(type="list", formula1='"SI,NO"')
    sheet.add_data_validation(dropdown)
    dropdown.add("A2:A100")
    workbook.save(tmp_path / "desplegable.xlsx")
    assert read_one(tmp_path / "desplegable.xlsx").problems["index"].tolist() == [1]
    sheet.cell(row=2, column=column + 1, value="=SUM(1,2)")
    workbook.save(tmp_path / "dos.xlsx")
    problems = read_one(tmp_path / "dos.xlsx").problems
    assert sorted(zip(problems["index"], problems["columna"], strict=True)) == [
        (0, DECLARACION.names[column]), (1, "monto_ejecutado")]


def test_a_date_cell_with_a_time_reads_as_its_date_and_time(tmp_path: Path):
    path = write_xlsx(tmp_path / "d.xlsx", [declaracion_row(fecha_inicio=dt.datetime(2024, 1, 5, 14, 30))])
    assert read_one(path).rows.loc[0, "fecha_inicio"] == "2024-01-05 14:30:00"  # the contract keeps its date part


def test_a_read_keeps_the_sha256_of_the_files_bytes(tmp_path: Path):
    import hashlib

    path = write_csv(tmp_path / "d.csv", [declaracion_row()])
    part = read_file(landed(path), ReadSpec.of(DECLARACION))
    assert part.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
