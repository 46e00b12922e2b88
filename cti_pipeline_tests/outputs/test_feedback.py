"""Feedback workbooks for declaring entities, from a real declarations run into a temporary warehouse."""

from __future__ import annotations

import pytest
import re
from collections import defaultdict
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
from openpyxl import load_workbook

from cti_pipeline import unchanged
from cti_pipeline.defs.declaraciones import declaraciones
from cti_pipeline.defs.reportes import observaciones_entidades
from cti_pipeline.outputs.feedback import group_feedback, write_feedback
from cti_pipeline_tests.factories import materialize_year, DECLARACION_HEADERS, declaracion_row, valid_ruc, write_csv, write_xlsx

RUC_A = valid_ruc("2010004721")
RUC_B = valid_ruc("2060000001")
RUC_A_MISTYPED = RUC_A[:-1] + str((int(RUC_A[-1]) + 1) % 10)  # a wrong check digit
RUC_PERSONA = valid_ruc("1045678901")  # a natural person's RUC embeds their DNI
FORMULA_TEXTS = ["=HYPERLINK(\"http://example.org\",\"x\")", "+51 999", "-3+4", "@SUM(A1)"]


def landing_year(data_dir: Path, year: int = 2024) -> Path:
    return data_dir / "landing" / "declaraciones" / str(year)


def write_inputs(data_dir: Path) -> dict[tuple[str, int], str | None]:
    """Write the year's files; return (archivo, fila) → RUC text for every row the test made bad."""
    year = landing_year(data_dir)
    bad: dict[tuple[str, int], str | None] = {}
    a_rows = [
        declaracion_row(codigo_intervencion="A1"),
        declaracion_row(codigo_intervencion="A2", moneda="YEN"),
        declaracion_row(codigo_intervencion="A3", monto_ejecutado=-5, ods=30),
        declaracion_row(codigo_intervencion="A4", ruc_entidad=RUC_A_MISTYPED),
    ]
    write_xlsx(year / "entidad_a.xlsx", a_rows)
    # The mistyped RUC's row goes to the entity its file declares, not to a workbook of its own.
    bad[("entidad_a.xlsx", 3)] = bad[("entidad_a.xlsx", 4)] = bad[("entidad_a.xlsx", 5)] = RUC_A

    b_rows = [declaracion_row(ruc_entidad=RUC_B, codigo_intervencion="B0")]
    b_rows += [declaracion_row(ruc_entidad=RUC_B, codigo_intervencion=f"B{i + 1}", moneda=text) for i, text in enumerate(FORMULA_TEXTS)]
    write_csv(year / "entidad_b.csv", b_rows, encoding="cp1252", separator=";")
    for i in range(len(FORMULA_TEXTS)):
        bad[("entidad_b.csv", 3 + i)] = RUC_B

    c_rows = [
        declaracion_row(ruc_entidad="2010004721X", codigo_intervencion="C1"),
        declaracion_row(ruc_entidad="=1+2", codigo_intervencion="C2"),
        declaracion_row(ruc_entidad="", codigo_intervencion="C3"),
        declaracion_row(ruc_entidad="../../etc/passwd", codigo_intervencion="C4"),
    ]
    write_csv(year / "mixta c.csv", c_rows)
    bad[("mixta c.csv", 2)] = "2010004721X"
    bad[("mixta c.csv", 3)] = "=1+2"
    bad[("mixta c.csv", 4)] = None
    bad[("mixta c.csv", 5)] = "../../etc/passwd"

    persona = [declaracion_row(ruc_entidad=RUC_PERSONA, nombre_entidad="Juana Pérez Quispe", codigo_intervencion="P1", moneda="XXX")]
    write_csv(year / "persona.csv", persona)
    bad[("persona.csv", 2)] = RUC_PERSONA

    (year / "roto.xlsx").write_bytes(b"this is not a workbook")
    write_csv(year / "sin moneda.csv", [declaracion_row(codigo_intervencion="X")], headers=[h for h in DECLARACION_HEADERS if h != "moneda"])
    return bad


def read_sheet(path: Path, sheet: str) -> pd.DataFrame:
    workbook = load_workbook(path)
    for worksheet in workbook.worksheets:
        for row in worksheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{path.name}!{cell.coordinate} is a formula"
    rows = list(workbook[sheet].iter_rows(values_only=True))
    return pd.DataFrame(rows[1:], columns=rows[0])


def materialize(resources) -> dg.ExecuteInProcessResult:
    result = materialize_year([declaraciones, observaciones_entidades], resources, "2024")
    assert result.success
    return result


@pytest.mark.slow
def test_each_entity_gets_exactly_its_quarantined_rows_and_apci_a_summary(data_dir: Path, resources, warehouse):
    bad = write_inputs(data_dir)
    result = materialize(resources)
    conn = warehouse()
    quarantine = conn.execute(
        "SELECT archivo, hoja, fila, columna, regla, valor, mensaje FROM quarantine.filas_rechazadas "
        "WHERE anio = 2024 AND origen = 'declaraciones'"
    ).df()
    conn.close()
    assert set(zip(quarantine["archivo"], quarantine["fila"], strict=True)) == set(bad)  # the run saw what the test made bad

    # Expected: every quarantine row, in the workbook of the entity that sent it (`bad`).
    expected: dict[str, set[tuple]] = defaultdict(set)
    for row in quarantine.itertuples(index=False):
        ruc = bad[(row.archivo, row.fila)]
        key = f"ruc:{ruc}" if ruc else f"archivo:{row.archivo}"
        expected[key].add((row.archivo, row.fila, row.columna, row.regla, row.valor or None, row.mensaje))  # '' is an empty cell

    folder = data_dir / "exports" / "observaciones" / "2024"
    books = sorted(p.name for p in folder.iterdir())
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+\.xlsx", name) and not name.startswith(".") for name in books), books
    assert f"{RUC_A}.xlsx" in books and f"{RUC_B}.xlsx" in books and "resumen_apci.xlsx" in books
    assert f"{RUC_A_MISTYPED}.xlsx" not in books
    assert "sin_ruc_roto.xlsx" in books and "sin_ruc_sin_moneda.xlsx" in books and "sin_ruc_mixta_c.xlsx" in books

    summary = read_sheet(folder / "resumen_apci.xlsx", "por_entidad").fillna("")
    seen: dict[str, set[tuple]] = {}
    for entry in summary.itertuples(index=False):
        rows = read_sheet(folder / entry.libro, "filas_observadas")
        if entry.ruc_entidad:
            key = f"ruc:{entry.ruc_entidad}"
        else:
            key = f"archivo:{rows['archivo'].iloc[0]}" if not rows.empty else f"rechazado:{entry.libro}"
        got = {(r.archivo, r.fila, r.columna, r.regla, r.valor or None, r.mensaje) for r in rows.itertuples(index=False)}
        assert len(got) == len(rows)
        seen[key] = got
        assert entry.reglas_incumplidas == len(rows)
        assert entry.filas_en_cuarentena == rows[["archivo", "fila"]].drop_duplicates().shape[0]
    assert {k: v for k, v in seen.items() if v} == dict(expected)

    # Formula-like text went back as text, unchanged.
    b_rows = read_sheet(folder / f"{RUC_B}.xlsx", "filas_observadas")
    assert sorted(b_rows["valor"]) == sorted(FORMULA_TEXTS)
    odd = [name for name in books if name.startswith("ruc_")]
    assert len(odd) == 3  # 2010004721X, =1+2, ../../etc/passwd: sanitised, distinct
    assert all(".." not in name and "/" not in name and "=" not in name for name in odd)

    # Rejected files: each in its own sin_ruc workbook and in the APCI summary.
    for name, archivo in (("sin_ruc_roto.xlsx", "roto.xlsx"), ("sin_ruc_sin_moneda.xlsx", "sin moneda.csv")):
        files = read_sheet(folder / name, "archivos_rechazados")
        assert files["archivo"].tolist() == [archivo] and files["motivo"].iloc[0]
        assert read_sheet(folder / name, "filas_observadas").empty
    rejected = read_sheet(folder / "resumen_apci.xlsx", "archivos_rechazados")
    assert sorted(rejected["archivo"]) == ["roto.xlsx", "sin moneda.csv"]
    per_rule = read_sheet(folder / "resumen_apci.xlsx", "por_regla").set_index("regla")["reglas_incumplidas"].to_dict()
    assert per_rule == quarantine.groupby("regla").size().to_dict()

    metadata = next(
        e.materialization.metadata for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey(["reportes", "observaciones_entidades"])
    )
    assert metadata["libros_entidades"].value == len(books) - 1
    assert metadata["reglas_incumplidas"].value == len(quarantine)
    assert "=HYPERLINK" not in metadata["por_entidad"].value  # counts only, no cell values
    assert RUC_PERSONA not in metadata["por_entidad"].value and RUC_PERSONA[:2] + "********" in metadata["por_entidad"].value
    persona = summary[summary["ruc_entidad"] == RUC_PERSONA]
    assert persona["nombre_entidad"].tolist() == [""]  # a person's name stays out of the APCI summary
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["todas_las_observaciones_asignadas"] is True


@pytest.mark.slow
def test_rerun_replaces_the_years_old_workbooks(data_dir: Path, resources):
    write_inputs(data_dir)
    materialize(resources)
    folder = data_dir / "exports" / "observaciones" / "2024"
    (folder / "99999999999.xlsx").write_bytes(b"stale")
    year = landing_year(data_dir)
    for name in ("entidad_b.csv", "mixta c.csv", "roto.xlsx", "sin moneda.csv", "persona.csv"):
        (year / name).unlink()
    write_xlsx(year / "entidad_a.xlsx", [declaracion_row(codigo_intervencion="A1"), declaracion_row(codigo_intervencion="A2", ods=40)])
    materialize(resources)
    assert sorted(p.name for p in folder.iterdir()) == [f"{RUC_A}.xlsx", "resumen_apci.xlsx"]
    rows = read_sheet(folder / f"{RUC_A}.xlsx", "filas_observadas")
    assert rows[["fila", "regla"]].values.tolist() == [[3, "ods_fuera_de_rango"]]
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temporary folders left


@pytest.mark.slow
def test_year_without_quarantine_writes_an_empty_summary(data_dir: Path, resources):
    write_xlsx(landing_year(data_dir) / "ok.xlsx", [declaracion_row()])
    materialize(resources)
    folder = data_dir / "exports" / "observaciones" / "2024"
    assert [p.name for p in folder.iterdir()] == ["resumen_apci.xlsx"]
    assert read_sheet(folder / "resumen_apci.xlsx", "por_entidad").empty


def test_rejected_file_maps_to_the_ruc_raw_shows_for_it(tmp_path: Path):
    rows = pd.DataFrame(columns=["archivo", "hoja", "fila", "columna", "regla", "valor", "mensaje", "ruc_entidad", "nombre_entidad"])
    files = pd.DataFrame({"archivo": ["x.xlsx", "y.xlsx"], "motivo": ["dañado", "=cmd|' /C calc'!A0"]})
    file_rucs = pd.DataFrame({"archivo": ["x.xlsx"], "ruc_entidad": [RUC_A], "filas": [1]})
    entities = group_feedback(rows, files, file_rucs)
    assert sorted(e.workbook for e in entities) == [f"{RUC_A}.xlsx", "sin_ruc_y.xlsx"]
    result = write_feedback(entities, 2025, tmp_path)
    motivo = read_sheet(result.folder / "sin_ruc_y.xlsx", "archivos_rechazados")["motivo"].tolist()
    assert motivo == ["=cmd|' /C calc'!A0"]


# --- re-runs: an unchanged year keeps its workbooks ------------------------------------------------

FEEDBACK = dg.AssetKey(["reportes", "observaciones_entidades"])


def file_states(folder: Path) -> dict[str, tuple[int, int]]:
    """name → (inode, mtime_ns): a rewrite builds new files in a fresh folder, so both change."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def feedback_only(resources) -> tuple[dict, dict[str, bool]]:
    """Materialise the feedback asset alone (the declarations stay as the warehouse holds them)."""
    result = materialize_year([observaciones_entidades], resources, "2024")
    assert result.success
    metadata = next(e.materialization.metadata for e in result.get_asset_materialization_events() if e.asset_key == FEEDBACK)
    return metadata, {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


@pytest.mark.slow
def test_unchanged_rerun_keeps_the_workbooks_and_reports_sin_cambios(data_dir: Path, resources):
    write_inputs(data_dir)
    first = next(
        e.materialization.metadata for e in materialize(resources).get_asset_materialization_events() if e.asset_key == FEEDBACK
    )
    folder = data_dir / "exports" / "observaciones" / "2024"
    before = file_states(folder)
    assert first["sin_cambios"].value is False

    metadata, checks = feedback_only(resources)
    assert file_states(folder) == before  # nothing rewritten
    assert metadata["sin_cambios"].value is True and metadata["huella"].value == first["huella"].value
    assert set(metadata) == set(first) | {"nota"}
    for key in ("libros_entidades", "reglas_incumplidas", "archivos_rechazados", "dagster/row_count", "por_entidad", "por_regla", "carpeta"):
        assert metadata[key].value == first[key].value, key
    assert checks == {"todas_las_observaciones_asignadas": True}  # the check still runs on what was read
    assert not any(p.name.startswith(".") for p in folder.iterdir())  # the record is not among the deliverables


@pytest.mark.slow
def test_a_changed_quarantine_row_rewrites_the_workbooks(data_dir: Path, resources, settings):
    write_inputs(data_dir)
    materialize(resources)
    folder = data_dir / "exports" / "observaciones" / "2024"
    before = file_states(folder)
    with duckdb.connect(str(settings.warehouse)) as conn:
        conn.execute(
            "UPDATE quarantine.filas_rechazadas SET mensaje = 'Mensaje corregido' "
            "WHERE anio = 2024 AND origen = 'declaraciones' AND archivo = 'entidad_a.xlsx' AND fila = 3"
        )

    metadata, checks = feedback_only(resources)
    assert metadata["sin_cambios"].value is False
    after = file_states(folder)
    assert set(after) == set(before) and all(after[name] != before[name] for name in before)
    rows = read_sheet(folder / f"{RUC_A}.xlsx", "filas_observadas")
    assert rows.loc[rows["fila"] == 3, "mensaje"].tolist() == ["Mensaje corregido"]
    assert checks == {"todas_las_observaciones_asignadas": True}
    assert feedback_only(resources)[0]["sin_cambios"].value is True  # and the next run keeps them again


@pytest.mark.slow
def test_a_deleted_workbook_or_another_code_version_rewrites(data_dir: Path, resources, monkeypatch):
    write_inputs(data_dir)
    materialize(resources)
    folder = data_dir / "exports" / "observaciones" / "2024"
    (folder / f"{RUC_B}.xlsx").unlink()

    metadata, _ = feedback_only(resources)
    assert metadata["sin_cambios"].value is False
    assert sorted(read_sheet(folder / f"{RUC_B}.xlsx", "filas_observadas")["valor"]) == sorted(FORMULA_TEXTS)

    before = file_states(folder)
    monkeypatch.setattr(unchanged, "code_version", lambda: "otra versión del código")  # as if the writer changed
    metadata, _ = feedback_only(resources)
    assert metadata["sin_cambios"].value is False and file_states(folder) != before


def test_grouping_keeps_row_order_counts_distinct_rows_and_picks_the_most_common_name(tmp_path: Path):
    rows = pd.DataFrame(
        [
            ("a.xlsx", "h", 2, "moneda", "moneda_valida", "YEN", "m1", RUC_A, "Beta"),
            ("b.csv", None, 9, "ods", "ods_fuera_de_rango", "30", "m2", RUC_B, "Otra"),
            ("a.xlsx", "h", 2, "ods", "ods_fuera_de_rango", "31", "m3", f" {RUC_A} ", "Alfa"),
            ("a.xlsx", "h", 5, "moneda", "moneda_valida", "=1+2", "m4", RUC_A, None),
            ("c.csv", None, 3, "ruc_entidad", "ruc_valido", "", "m5", "", "Sin RUC"),
        ],
        columns=["archivo", "hoja", "fila", "columna", "regla", "valor", "mensaje", "ruc_entidad", "nombre_entidad"],
    ).astype({"fila": "int32"})
    files = pd.DataFrame({"archivo": ["x.xlsx"], "motivo": ["dañado"]})
    file_rucs = pd.DataFrame({"archivo": ["x.xlsx", "x.xlsx"], "ruc_entidad": [RUC_B, RUC_A], "filas": [1, 1]})
    entities = {e.workbook: e for e in group_feedback(rows, files, file_rucs)}

    assert sorted(entities) == sorted([f"{RUC_A}.xlsx", f"{RUC_B}.xlsx", "sin_ruc_c.xlsx"])
    a = entities[f"{RUC_A}.xlsx"]
    assert a.rows["mensaje"].tolist() == ["m1", "m3", "m4"]  # original order
    assert a.observed_rows() == 2 and a.nombre_entidad == "Alfa"  # Alfa and Beta once each: the first in order
    assert a.files.values.tolist() == [["x.xlsx", "dañado"]] == entities[f"{RUC_B}.xlsx"].files.values.tolist()
    assert entities["sin_ruc_c.xlsx"].ruc_entidad is None and entities["sin_ruc_c.xlsx"].nombre_entidad == "Sin RUC"

    result = write_feedback(list(entities.values()), 2024, tmp_path)
    written = read_sheet(result.folder / f"{RUC_A}.xlsx", "filas_observadas")
    assert written["valor"].tolist() == ["YEN", "31", "=1+2"] and written["fila"].tolist() == [2, 2, 5]
    intro = dict(read_sheet(result.folder / f"{RUC_A}.xlsx", "resumen").values.tolist())
    assert intro["Filas observadas"] == 2 and intro["Reglas incumplidas"] == 3 and intro["Año declarado"] == 2024
    per_rule = read_sheet(result.folder / "resumen_apci.xlsx", "por_regla").set_index("regla")
    assert per_rule.loc["ods_fuera_de_rango"].tolist() == [2, 2, 2] and per_rule.loc["moneda_valida"].tolist() == [2, 2, 1]
    sheet = load_workbook(result.folder / f"{RUC_A}.xlsx")["filas_observadas"]
    assert sheet.freeze_panes == "A2" and sheet["A1"].font.b and sheet.column_dimensions["G"].width == 90


def test_a_mistyped_ruc_goes_to_the_ruc_most_of_its_file_carries_and_a_valid_one_stays_its_own():
    columns = ["archivo", "hoja", "fila", "columna", "regla", "valor", "mensaje", "ruc_entidad", "nombre_entidad"]
    rows = pd.DataFrame(
        [
            ("consorcio.xlsx", "h", 2, "ruc_entidad", "ruc_valido", RUC_A_MISTYPED, "m1", RUC_A_MISTYPED, "Alfa"),
            ("consorcio.xlsx", "h", 3, "moneda", "moneda_valida", "YEN", "m2", RUC_B, "Beta"),
            ("consorcio.xlsx", "h", 4, "moneda", "moneda_valida", "YEN", "m3", RUC_A, "Alfa"),
        ],
        columns=columns,
    )
    # raw: RUC_A on 5 rows of the file, RUC_B on 2, the typo on 1; a rejected file shows a valid RUC and a typo
    file_rucs = pd.DataFrame({
        "archivo": ["consorcio.xlsx"] * 3 + ["ambiguo.csv"] * 2,
        "ruc_entidad": [RUC_A, RUC_B, RUC_A_MISTYPED, RUC_B, RUC_A_MISTYPED],
        "filas": [5, 2, 1, 3, 1],
    })
    files = pd.DataFrame({"archivo": ["ambiguo.csv"], "motivo": ["reenvio_ambiguo"]})
    entities = {e.workbook: e for e in group_feedback(rows, files, file_rucs)}
    assert sorted(entities) == [f"{RUC_A}.xlsx", f"{RUC_B}.xlsx"]
    assert entities[f"{RUC_A}.xlsx"].rows["mensaje"].tolist() == ["m1", "m3"]
    assert entities[f"{RUC_B}.xlsx"].rows["mensaje"].tolist() == ["m2"]
    assert entities[f"{RUC_B}.xlsx"].files["archivo"].tolist() == ["ambiguo.csv"]


@pytest.mark.slow
def test_a_rejected_file_whose_name_holds_a_ruc_goes_to_that_entitys_workbook(data_dir: Path, resources):
    year = landing_year(data_dir)
    headers = [h for h in DECLARACION_HEADERS if h != "titulo"]  # a required column missing: the file is rejected whole
    write_csv(year / f"{RUC_B}_2024.csv", [declaracion_row(ruc_entidad=RUC_B)], headers=headers)
    materialize(resources)
    folder = data_dir / "exports" / "observaciones" / "2024"
    assert sorted(p.name for p in folder.iterdir()) == [f"{RUC_B}.xlsx", "resumen_apci.xlsx"]
    assert read_sheet(folder / f"{RUC_B}.xlsx", "archivos_rechazados")["archivo"].tolist() == [f"{RUC_B}_2024.csv"]
