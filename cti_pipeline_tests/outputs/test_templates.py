"""Excel templates: structure, validation, and a filled template read back with zero quarantined rows."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
import re
from pathlib import Path

import dagster as dg
import pytest
from openpyxl import load_workbook

from cti_pipeline.cli import main
from cti_pipeline.outputs.feedback import assert_no_formulas
from cti_pipeline.outputs.templates import write_template
from cti_pipeline_tests.factories import materialize_year, valid_ruc

DECLARACION_COLUMNS = [
    "anio", "ruc_entidad", "nombre_entidad", "tipo_entidad", "codigo_intervencion", "titulo", "fuente_cooperante",
    "pais_fuente", "tipo_cooperacion", "area_prioritaria", "ods", "departamento", "moneda", "monto_ejecutado",
    "beneficiarios", "participa_empresa_privada", "fecha_inicio", "fecha_fin",
]  # the contract's table, written out by hand


def validations_by_column(sheet) -> dict[str, object]:
    """header name → the DataValidation covering row 2 of its column."""
    headers = {cell.column_letter: cell.value for cell in sheet[1]}
    found = {}
    for validation in sheet.data_validations.dataValidation:
        for cell_range in validation.sqref.ranges:
            letter = re.match(r"[A-Z]+", cell_range.coord).group(0)
            assert cell_range.min_row == 2 and cell_range.max_row >= 1000
            found[headers[letter]] = validation
    return found


def list_values(workbook, validation) -> list[str]:
    formula = validation.formula1
    if formula.startswith('"'):
        return formula.strip('"').split(",")
    match = re.fullmatch(r"'?([^'!]+)'?!\$([A-Z]+)\$(\d+):\$([A-Z]+)\$(\d+)", formula)
    sheet_name, col, first, _, last = match.groups()
    sheet = workbook[sheet_name]
    return [str(sheet[f"{col}{row}"].value) for row in range(int(first), int(last) + 1)]


def fill_rows(path: Path, sheet_name: str, n: int, year: int, overrides: dict[str, object] | None = None) -> list[dict]:
    """Fill a template as a person would, using only what the template offers: dropdown values,
    numbers inside the validated bounds, dates, unique texts."""
    workbook = load_workbook(path)
    sheet = workbook[sheet_name]
    validations = validations_by_column(sheet)
    headers = [cell.value for cell in sheet[1]]
    written = []
    for i in range(n):
        row = {}
        for position, header in enumerate(headers, start=1):
            validation = validations.get(header)
            if overrides and header in overrides:
                value = overrides[header](i) if callable(overrides[header]) else overrides[header]
            elif validation is None or validation.type is None:  # none, or only an input message
                value = f"{header} {i + 1}"
            elif validation.type == "list":
                options = list_values(workbook, validation)
                value = options[(i + 1) % len(options)]
            elif validation.type in ("whole", "decimal"):
                low = float(validation.formula1)
                high = float(validation.formula2) if validation.formula2 else low + 1000
                value = int(low + (i % max(1, int(high - low)))) + 1 if validation.type == "whole" else low + 10.5
                value = min(value, high)
            elif validation.type == "date":
                value = dt.date(year, 6, 1)
            elif validation.type == "textLength":
                value = valid_ruc()
            else:
                raise AssertionError(f"unexpected validation {validation.type} on {header}")
            if header == "anio":
                value = year
            sheet.cell(row=i + 2, column=position).value = value
            row[header] = value
        written.append(row)
    workbook.save(path)
    return written


def test_declaracion_template_has_the_contract_columns_lists_formats_and_instructions(tmp_path: Path):
    path = write_template("declaracion", None, tmp_path / "plantilla.xlsx")
    workbook = load_workbook(path)
    assert workbook.sheetnames[0] == "intervenciones"
    assert "instrucciones" in workbook.sheetnames
    assert workbook["listas"].sheet_state == "hidden"
    sheet = workbook["intervenciones"]
    assert [c.value for c in sheet[1]] == DECLARACION_COLUMNS
    assert sheet.freeze_panes == "A2"
    letters = {c.value: c.column_letter for c in sheet[1]}
    for text_column in ("ruc_entidad", "departamento", "codigo_intervencion", "area_prioritaria"):
        assert sheet.column_dimensions[letters[text_column]].number_format == "@", text_column

    validations = validations_by_column(sheet)
    assert list_values(workbook, validations["tipo_entidad"]) == ["ENIEX", "ONGD", "IPREDA", "ENTIDAD_PUBLICA"]
    assert list_values(workbook, validations["tipo_cooperacion"]) == ["BILATERAL", "MULTILATERAL", "PRIVADA"]
    assert list_values(workbook, validations["moneda"]) == ["PEN", "USD"]
    assert list_values(workbook, validations["participa_empresa_privada"]) == ["SI", "NO"]
    assert list_values(workbook, validations["ods"]) == [str(i) for i in range(1, 18)]
    reference = Path(__file__).resolve().parents[2] / "data" / "reference"
    departamentos = [line.split(",")[0] for line in (reference / "departamentos.csv").read_text("utf-8").splitlines()[1:]]
    areas = [line.split(",")[0] for line in (reference / "areas_prioritarias.csv").read_text("utf-8").splitlines()[1:]]
    assert list_values(workbook, validations["departamento"]) == departamentos
    assert list_values(workbook, validations["area_prioritaria"]) == areas
    paises = list_values(workbook, validations["pais_fuente"])
    assert validations["pais_fuente"].formula1.startswith("'listas'!") and {"ESP", "PER", "ARG"} <= set(paises)
    assert (validations["monto_ejecutado"].type, validations["monto_ejecutado"].operator, validations["monto_ejecutado"].formula1) == (
        "decimal", "greaterThanOrEqual", "0")
    assert validations["beneficiarios"].type == "whole"
    assert validations["fecha_inicio"].type == "date" and validations["fecha_fin"].type == "date"
    assert validations["ruc_entidad"].type == "textLength"

    instructions = " ".join(str(c.value) for row in workbook["instrucciones"].iter_rows() for c in row if c.value)
    assert "Declaración Anual" in instructions and "obligatoria" in instructions.lower()
    assert all(name in instructions for name in DECLARACION_COLUMNS)
    assert_no_formulas(path)
    assert not any(c.data_type == "f" for s in workbook.worksheets for row in s.iter_rows() for c in row)


@pytest.mark.slow
def test_filled_declaracion_template_is_staged_with_zero_quarantine(data_dir: Path, resources, warehouse):
    from cti_pipeline.defs.declaraciones import declaraciones

    path = write_template("declaracion", None, data_dir / "landing" / "declaraciones" / "2024" / "entidad.xlsx")
    written = fill_rows(path, "intervenciones", 30, 2024, overrides={"ruc_entidad": valid_ruc("2010004721")})
    assert any(r["departamento"] == "01" for r in written)  # a code with a leading zero went through

    result = materialize_year([declaraciones], resources, "2024")
    assert result.success
    conn = warehouse()
    assert conn.execute("SELECT count(*) FROM quarantine.filas_rechazadas").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM quarantine.archivos_rechazados").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM staging.declaraciones WHERE anio = 2024").fetchone()[0] == len(written)
    codes = {r[0] for r in conn.execute("SELECT departamento FROM staging.declaraciones").fetchall()}
    assert codes == {r["departamento"] for r in written}


def registros_kinds() -> list[str]:
    registros = pytest.importorskip("cti_pipeline.contracts.registros")
    return list(registros.REGISTROS)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["capacitaciones", "accesos_web", "espacios_coordinacion", "compromisos",
                                  "asistencia_tecnica", "proyectos_css", "iniciativas_internacionales"])
def test_filled_registros_template_is_staged_with_zero_quarantine(kind: str, data_dir: Path, resources, warehouse):
    assert kind in registros_kinds()
    defs_registros = pytest.importorskip("cti_pipeline.defs.registros")
    path = write_template("registros", kind, data_dir / "landing" / "registros" / "2024" / f"{kind}_2024.xlsx")
    workbook = load_workbook(path)
    assert workbook.sheetnames[0] == kind and "instrucciones" in workbook.sheetnames
    assert workbook[kind].freeze_panes == "A2"
    written = fill_rows(path, kind, 12, 2024)

    result = materialize_year([defs_registros.registros], resources, "2024")
    assert result.success
    conn = warehouse()
    assert conn.execute("SELECT count(*) FROM quarantine.filas_rechazadas").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM quarantine.archivos_rechazados").fetchone()[0] == 0
    assert conn.execute(f"SELECT count(*) FROM staging.{kind} WHERE anio = 2024").fetchone()[0] == len(written)


@pytest.mark.parametrize(
    ("role", "sheets"),
    [("GOBIERNO", ["respuestas", "socios"]), ("SOCIO_DESARROLLO", ["respuestas", "intervenciones", "flujos"]), ("osc", ["respuestas"])],
)
def test_gpedc_template_has_the_v2_sheets_of_the_role_with_input_messages_and_dropdowns(role: str, sheets: list[str], tmp_path: Path):
    from cti_pipeline.contracts.gpedc import GpedcCatalogs

    catalogs = GpedcCatalogs.load(None)
    path = write_template("gpedc", role, tmp_path / f"gpedc_{role}.xlsx")
    workbook = load_workbook(path)
    data_sheets = [s for s in workbook.sheetnames if s not in ("instrucciones", "listas", "preguntas")]
    assert data_sheets == sheets and "preguntas" in workbook.sheetnames
    respuestas = workbook["respuestas"]
    assert [c.value for c in respuestas[1]] == ["codigo_respondente", "seccion", "modulo", "codigo_pregunta", "respuesta", "comentario"]
    validations = validations_by_column(respuestas)
    secciones = list_values(workbook, validations["seccion"])
    expected_group = {"GOBIERNO": ["A.1", "A.2", "A.3", "A.4", "A.5", "CSS"], "SOCIO_DESARROLLO": ["B.1", "B.2", "B.3"], "OSC": []}[role.upper()]
    assert secciones == [*expected_group, "C.1"]
    assert (validations["modulo"].formula1, validations["modulo"].formula2) == ("1", "4")
    items = list_values(workbook, validations["codigo_pregunta"])
    assert "C_17" in items and all(catalogs.item(code).hoja == "respuestas" for code in items)
    for name in sheets[1:]:
        sheet = workbook[name]
        by_column = validations_by_column(sheet)
        own = catalogs.items_of_sheet(name)
        assert [c.value for c in sheet[1]][-len(own):] == [item.columna for item in own]  # one column per catalog item
        for item in own:
            validation = by_column[item.columna]
            assert item.descripcion in validation.prompt and validation.showInputMessage  # the item's Spanish description
            if item.tipo == "SI_NO":
                assert list_values(workbook, validation) == ["SI", "NO"]
            if item.tipo == "CATEGORIA":
                assert list_values(workbook, validation) == list(item.categorias)
            if item.tipo in ("ENTERO", "MONTO_USD"):
                assert validation.type in ("whole", "decimal") and validation.formula1 == "0"
    listed = {row[0] for row in workbook["preguntas"].iter_rows(min_row=2, values_only=True)}
    assert ("B2_6" in listed) == (role.upper() == "SOCIO_DESARROLLO") and ("A3_4" in listed) == (role.upper() == "GOBIERNO")
    assert_no_formulas(path)


@pytest.mark.parametrize(("args", "fragment"), [(["registros", "foo"], "capacitaciones"), (["registros"], "KIND"),
                                                (["gpedc", "X"], "SOCIO_DESARROLLO"), (["gpedc"], "ROLE")])
def test_unknown_kind_or_role_is_a_clear_error(args: list[str], fragment: str, tmp_path: Path, capsys):
    out = tmp_path / "t.xlsx"
    with pytest.raises(ValueError, match=fragment):
        write_template(args[0], args[1] if len(args) > 1 else None, out)
    assert main(["template", *args, "--out", str(out)]) == 2
    assert fragment in capsys.readouterr().err
    assert not out.exists()


def test_cli_writes_the_template(tmp_path: Path, capsys, data_dir: Path):
    out = tmp_path / "sub" / "declaracion.xlsx"
    assert main(["template", "declaracion", "--out", str(out)]) == 0
    assert out.is_file() and "template written" in capsys.readouterr().out
    assert load_workbook(out).sheetnames[0] == "intervenciones"


GPEDC_ROSTER = [
    ("GOB01", "GOBIERNO", "Ministerio de Economía y Finanzas", "A.1;A.3;A.5;CSS"),
    ("SOC01", "SOCIO_DESARROLLO", "Agencia de Cooperación Ejemplo", "B.1;B.2;B.3;C.1"),
    ("SOC02", "SOCIO_DESARROLLO", "Agencia de Cooperación Dos", "B.1;B.2;B.3"),
    ("OSC01", "OSC", "Asociación Nacional de Centros", "C.1"),
]


def valid_answer(code: str) -> object:
    """A value that fits the item's type in the catalog (what a focal point reads in the «preguntas» sheet)."""
    from cti_pipeline.contracts.gpedc import GpedcCatalogs

    item = GpedcCatalogs.load(None).item(code)
    return {"SI_NO": "SI", "CATEGORIA": item.categorias[0] if item.categorias else "", "ENTERO": 3, "MONTO_USD": 10.5,
            "NUMERO": -2.5, "URL": "https://www.gob.pe"}.get(item.tipo, "Texto de la respuesta")


@pytest.mark.slow
def test_filled_gpedc_templates_are_consolidated_with_zero_quarantine(data_dir: Path, resources, warehouse):
    defs_gpedc = pytest.importorskip("cti_pipeline.defs.gpedc")
    ronda = data_dir / "landing" / "gpedc" / "ronda4"
    ronda.mkdir(parents=True)
    roster = "codigo_respondente,tipo_respondente,entidad,secciones\n" + "\n".join(",".join(r) for r in GPEDC_ROSTER) + "\n"
    (ronda / "puntos_focales.csv").write_text(roster, encoding="utf-8")

    def respuestas(code: str, sections: list[str], items: list[str]) -> dict:
        """One row per item of the dropdown, in its section (C.1 items with a module), answered as its type says."""
        from cti_pipeline.contracts.gpedc import GpedcCatalogs

        catalogs = GpedcCatalogs.load(None)
        mine = [i for i in items if catalogs.item(i).seccion in sections]
        return {
            "codigo_respondente": code,
            "seccion": lambda i: catalogs.item(mine[i]).seccion,
            "modulo": lambda i: (i % 4) + 1 if catalogs.item(mine[i]).seccion == "C.1" else None,
            "codigo_pregunta": lambda i: mine[i],
            "respuesta": lambda i: valid_answer(mine[i]),
        }, len(mine)

    def items_of(path: Path) -> list[str]:
        workbook = load_workbook(path)
        return list_values(workbook, validations_by_column(workbook["respuestas"])["codigo_pregunta"])

    expected: dict[str, int] = defaultdict(int)
    gobierno = write_template("gpedc", "GOBIERNO", ronda / "gobierno.xlsx")
    overrides, n = respuestas("GOB01", ["A.1", "A.5"], items_of(gobierno))
    expected["respuestas"] += len(fill_rows(gobierno, "respuestas", n, 2022, overrides))
    partners = ["SOC01", "SOC02"]
    expected["socios"] += len(fill_rows(gobierno, "socios", 2, 2022, {"codigo_respondente": "GOB01", "codigo_socio": lambda i: partners[i],
                                                                        "a3_4": 1500.5}))
    socio = write_template("gpedc", "SOCIO_DESARROLLO", ronda / "socio.xlsx")
    overrides, n = respuestas("SOC01", ["B.1", "C.1"], items_of(socio))
    expected["respuestas"] += len(fill_rows(socio, "respuestas", n, 2022, overrides))
    expected["intervenciones"] += len(fill_rows(socio, "intervenciones", 5, 2022, {
        "codigo_respondente": "SOC01", "b2_10": 5, "b2_10_1": lambda i: i % 5, "b2_10_2": 2}))
    expected["flujos"] += len(fill_rows(socio, "flujos", 1, 2022, {"codigo_respondente": "SOC01", "b3_2": 100.0, "b3_5": 50.0}))
    osc = write_template("gpedc", "OSC", ronda / "osc.xlsx")
    overrides, n = respuestas("OSC01", ["C.1"], items_of(osc))
    expected["respuestas"] += len(fill_rows(osc, "respuestas", n, 2022, overrides))

    result = dg.materialize([defs_gpedc.gpedc_consolidacion], resources=resources)
    assert result.success
    conn = warehouse()
    quarantined = conn.execute("SELECT archivo, hoja, fila, columna, regla, mensaje FROM quarantine.filas_rechazadas").fetchall()
    assert quarantined == []
    assert conn.execute("SELECT count(*) FROM quarantine.archivos_rechazados").fetchone()[0] == 0
    for sheet, n in expected.items():
        assert conn.execute(f"SELECT count(*) FROM staging.gpedc_{sheet}").fetchone()[0] == n, sheet
    assert expected["respuestas"] > 40 and expected["socios"] == 2
