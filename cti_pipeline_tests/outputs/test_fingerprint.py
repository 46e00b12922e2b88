"""The fingerprint of an output's inputs and the record beside its files, on real frames and files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from cti_pipeline.outputs.fingerprint import (
    forget_record,
    inputs_fingerprint,
    record_path,
    unchanged_outputs,
    write_record,
    writer_version,
)

WRITER = writer_version(["cti_pipeline.outputs.feedback"], ["openpyxl"])


def rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "archivo": ["a.xlsx", "a.xlsx", "b.csv"],
            "fila": np.array([2, 3, 7], dtype="int32"),
            "valor": ["YEN", None, "=1+2"],
            "mixto": pd.Series([3, "3", None], dtype=object),
        }
    )


def fingerprint(frame: pd.DataFrame, writer: str = WRITER, anio: int = 2024) -> str:
    return inputs_fingerprint({"filas": frame}, writer, anio=anio)


def test_the_fingerprint_follows_every_value_the_order_the_year_and_the_writer():
    base = fingerprint(rows())
    assert fingerprint(rows()) == base  # deterministic
    changed = rows()
    changed.loc[1, "valor"] = "None"  # text "None" is not an empty cell
    assert fingerprint(changed) != base
    typed = rows()
    typed.loc[0, "mixto"] = "3"  # the number 3 and the text "3" are different cells
    assert fingerprint(typed) != base
    assert fingerprint(rows().iloc[[1, 0, 2]].reset_index(drop=True)) != base  # row order is output order
    assert fingerprint(rows().astype({"fila": "int64"})) != base  # dtype
    assert fingerprint(rows(), anio=2025) != base
    assert fingerprint(rows(), writer=writer_version(["cti_pipeline.outputs.feedback"], ["openpyxl", "pandas"])) != base
    assert writer_version(["cti_pipeline.outputs.report"]) != writer_version(["cti_pipeline.outputs.feedback"])


def test_outputs_are_kept_only_while_fingerprint_and_files_are_as_recorded(tmp_path: Path):
    exports = tmp_path / "exports"
    folder = exports / "observaciones" / "2024"
    folder.mkdir(parents=True)
    outputs = [folder / "a.xlsx", folder / "resumen_apci.xlsx"]
    for path in outputs:
        path.write_bytes(b"contenido " + path.name.encode())
    record = record_path(exports, "observaciones_entidades_2024")
    write_record(record, "h1", outputs, {"graficos": 2})

    assert record.is_file() and record.parent.name == ".huellas" and not any(p.name.startswith(".") for p in folder.iterdir())
    assert json.loads(record.read_text())["archivos"] == {
        "observaciones/2024/a.xlsx": [outputs[0].stat().st_size, outputs[0].stat().st_mtime_ns],
        "observaciones/2024/resumen_apci.xlsx": [outputs[1].stat().st_size, outputs[1].stat().st_mtime_ns],
    }
    assert unchanged_outputs(record, "h1", outputs, owned_folder=folder) == {"graficos": 2}
    assert unchanged_outputs(record, "h2", outputs, owned_folder=folder) is None  # other inputs or writer
    assert unchanged_outputs(record, "h1", outputs[:1], owned_folder=folder) is None  # other set of files expected

    (folder / "extra.xlsx").write_bytes(b"x")
    assert unchanged_outputs(record, "h1", outputs, owned_folder=folder) is None  # a file the output does not own
    assert unchanged_outputs(record, "h1", outputs) is not None  # (when no folder is owned, others may be there)
    (folder / "extra.xlsx").unlink()

    outputs[0].write_bytes(b"editado a mano, otro largo")
    assert unchanged_outputs(record, "h1", outputs, owned_folder=folder) is None  # a file changed since
    write_record(record, "h1", outputs)
    assert unchanged_outputs(record, "h1", outputs, owned_folder=folder) == {}
    outputs[1].unlink()
    assert unchanged_outputs(record, "h1", outputs, owned_folder=folder) is None  # a file deleted

    forget_record(record)
    forget_record(record)  # idempotent
    assert unchanged_outputs(record, "h1", outputs) is None
    record.parent.mkdir(exist_ok=True)
    record.write_text("{not json")
    assert unchanged_outputs(record, "h1", outputs) is None  # a damaged record means rewrite


def test_a_writer_package_counts_as_its_init_module():
    from cti_pipeline.outputs.fingerprint import module_path

    assert module_path("cti_pipeline.outputs") == "outputs/__init__.py"
    assert module_path("cti_pipeline.outputs.feedback") == "outputs/feedback.py"
    assert writer_version(["cti_pipeline.outputs", "cti_pipeline.outputs.feedback"]) != writer_version(["cti_pipeline.outputs.feedback"])
