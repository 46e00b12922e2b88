import datetime as dt
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from cti_pipeline.landing.discovery import LandedFile
from cti_pipeline.landing.readers import UnreadableFile, read_table
from cti_pipeline_tests.factories import declaracion_row, write_csv, write_xlsx


def landed(path: Path) -> LandedFile:
    stat = path.stat()
    return LandedFile(path, stat.st_size, stat.st_mtime_ns)


def test_xlsx_header_is_first_non_empty_row_and_rows_keep_excel_numbers(tmp_path: Path):
    rows = [declaracion_row(codigo_intervencion="A"), declaracion_row(codigo_intervencion="B")]
    path = write_xlsx(tmp_path / "d.xlsx", rows, leading_blank_rows=2)
    table = read_table(landed(path), "intervenciones")
    # header on Excel row 3, data on rows 4 and 5
    assert table.frame["fila"].tolist() == [4, 5]
    assert table.frame["codigo_intervencion"].tolist() == ["A", "B"]
    assert table.hoja == "intervenciones"


def test_xlsx_cells_become_the_text_a_person_reads(tmp_path: Path):
    row = declaracion_row(ruc_entidad=20100047218, departamento=8, monto_ejecutado=1500.5, ods=6.0,
                          fecha_inicio=dt.datetime(2024, 1, 15), fecha_fin=dt.date(2024, 12, 31))
    path = write_xlsx(tmp_path / "d.xlsx", [row])
    frame = read_table(landed(path), "intervenciones").frame
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
    frame = read_table(landed(tmp_path / "d.xlsx"), "intervenciones").frame
    assert frame["fila"].tolist() == [2, 4]


def test_named_sheet_is_found_case_insensitively_else_the_first_sheet(tmp_path: Path):
    rows = [declaracion_row()]
    named = write_xlsx(tmp_path / "a.xlsx", rows, sheet="INTERVENCIONES ", extra_sheets=["Portada"])
    assert read_table(landed(named), "intervenciones").hoja == "INTERVENCIONES "
    fallback = write_xlsx(tmp_path / "b.xlsx", rows, sheet="Hoja1")
    table = read_table(landed(fallback), "intervenciones")
    assert table.hoja == "Hoja1" and len(table.frame) == 1
    assert any("first sheet" in w for w in table.warnings)


@pytest.mark.parametrize(
    ("encoding", "separator", "decimal_comma"),
    [("utf-8", ",", False), ("utf-8-sig", ",", False), ("cp1252", ";", True), ("utf-8", ";", True)],
)
def test_csv_encodings_and_separators(tmp_path: Path, encoding: str, separator: str, decimal_comma: bool):
    row = declaracion_row(nombre_entidad="Asociación Ñandú — Perú", monto_ejecutado=1234.5)
    if encoding == "cp1252":
        row["nombre_entidad"] = "Asociación Ñandú Perú"  # the em dash exists in cp1252 too, but keep it plain
    path = write_csv(tmp_path / "d.csv", [row], encoding=encoding, separator=separator, decimal_comma=decimal_comma)
    table = read_table(landed(path), "intervenciones")
    assert table.frame.loc[0, "nombre_entidad"] == row["nombre_entidad"]
    assert "anio" in table.frame.columns  # no BOM glued to the first header
    assert table.decimal_comma is (separator == ";")
    assert table.frame.loc[0, "monto_ejecutado"] == ("1234,5" if decimal_comma else "1234.5")


def test_loose_headers_match_contract_names(tmp_path: Path):
    path = tmp_path / "d.csv"
    path.write_text(" Año ;RUC_Entidad; Código  Intervención ;TÍTULO\n2024;20100047218;X-1;Agua\n", encoding="utf-8")
    frame = read_table(landed(path), "intervenciones").frame
    assert list(frame.columns) == ["anio", "ruc_entidad", "codigo_intervencion", "titulo", "fila"]


def test_ragged_csv_rows_and_blank_first_line_do_not_break_reading(tmp_path: Path):
    path = tmp_path / "d.csv"
    path.write_text("\nanio,titulo\n2024,uno\n2024,dos,sobra\n2024\n", encoding="utf-8")
    frame = read_table(landed(path), "intervenciones").frame
    assert frame["fila"].tolist() == [3, 4, 5]
    assert frame["columna_3"].tolist() == ["", "sobra", ""]
    assert frame["titulo"].tolist() == ["uno", "dos", ""]


def test_formula_like_text_is_kept_as_data(tmp_path: Path):
    path = tmp_path / "d.csv"
    path.write_text('anio,titulo\n2024,"=HYPERLINK(""http://x"",""y"")"\n2024,@SUM(A1)\n', encoding="utf-8")
    frame = read_table(landed(path), "intervenciones").frame
    assert frame["titulo"].tolist() == ['=HYPERLINK("http://x","y")', "@SUM(A1)"]


def test_duplicate_headers_make_the_file_unreadable(tmp_path: Path):
    path = tmp_path / "d.csv"
    path.write_text("anio,Título,titulo\n2024,a,b\n", encoding="utf-8")
    with pytest.raises(UnreadableFile, match="aparece dos veces"):
        read_table(landed(path), "intervenciones")


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
    with pytest.raises(UnreadableFile, match=reason):
        read_table(landed(path), "intervenciones")


def test_garbage_named_xlsx_is_unreadable(tmp_path: Path):
    path = tmp_path / "d.xlsx"
    path.write_bytes(b"PK\x03\x04 this is not really a zip" * 10)
    with pytest.raises(UnreadableFile, match="no es un libro de Excel"):
        read_table(landed(path), "intervenciones")


def test_zip_bomb_is_refused_before_parsing(tmp_path: Path):
    path = tmp_path / "bomba.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            block = b"\0" * (1 << 20)
            for _ in range(205):
                member.write(block)
    assert path.stat().st_size < 2_000_000
    with pytest.raises(UnreadableFile, match="se descomprime a más de 200 MB"):
        read_table(landed(path), "intervenciones")


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
    with pytest.raises(UnreadableFile):
        read_table(landed(path), "intervenciones")


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
    with pytest.raises(UnreadableFile, match="guárdelo de nuevo como .xlsx") as damaged:
        read_table(LandedFile(path, path.stat().st_size, 0), "intervenciones")
    assert not damaged.value.transient

    (tmp_path / "carpeta.xlsx").mkdir()
    (tmp_path / "carpeta.csv").mkdir()
    for name in ("carpeta.xlsx", "carpeta.csv"):
        with pytest.raises(UnreadableFile, match="No se pudo abrir el archivo en el servidor") as disk:
            read_table(LandedFile(tmp_path / name, 0, 0), "intervenciones")
        assert disk.value.transient, name
