"""The small .xlsx writer, read back by openpyxl (what Excel users' tools do) and by calamine."""

import datetime as dt
from pathlib import Path

import pytest
from openpyxl import load_workbook
from python_calamine import CalamineWorkbook

from cti_pipeline.outputs.xlsx import Sheet, column_letter, write_workbook

RECORDS = [
    ["=1+1", 7, 2.5, True, dt.date(2024, 3, 1), dt.datetime(2024, 3, 1, 14, 30), None],
    ["línea 1\nlínea 2 <&>", -3, 1e-7, False, None, None, "con\x07control"],
]
COLUMNS = ["texto", "entero", "decimal", "si_no", "fecha", "fecha_hora", "extra"]


def test_values_styles_and_layout_read_back_as_written(tmp_path: Path):
    path = write_workbook(tmp_path / "w.xlsx", [
        Sheet("datos", COLUMNS, RECORDS, {"texto": 40}), Sheet("vacía", ["a"], []),
    ])
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["datos", "vacía"]
    sheet = workbook["datos"]
    assert [c.value for c in sheet[1]] == COLUMNS and all(c.font.b for c in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["A"].width == 40 and sheet.column_dimensions["B"].width == 18
    first, second = ([c.value for c in row] for row in sheet.iter_rows(min_row=2))
    assert first == ["=1+1", 7, 2.5, True, dt.datetime(2024, 3, 1), dt.datetime(2024, 3, 1, 14, 30), None]
    assert sheet["A2"].data_type == "s"  # text that looks like a formula stays text
    assert second == ["línea 1\nlínea 2 <&>", -3, 1e-7, False, None, None, "concontrol"]
    assert sheet["E2"].is_date and sheet["F2"].is_date

    calamine = CalamineWorkbook.from_path(str(path))
    rows = calamine.get_sheet_by_name("datos").to_python()
    assert rows[1][:5] == ["=1+1", 7.0, 2.5, True, dt.date(2024, 3, 1)]


def test_sheet_titles_must_be_unique_after_excels_31_character_cut(tmp_path: Path):
    with pytest.raises(ValueError, match="unique"):
        write_workbook(tmp_path / "w.xlsx", [Sheet("x" * 40, ["a"], []), Sheet("x" * 35, ["a"], [])])


def test_column_letters():
    assert [column_letter(n) for n in (1, 26, 27, 52, 703)] == ["A", "Z", "AA", "AZ", "AAA"]
