"""The registry of entities through `process_entidades` on real files: the same files give the same
registry at every run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from cti_pipeline.domain.entidades import process_entidades
from cti_pipeline_tests.factories import valid_ruc, write_csv

T0 = 1_740_000_000
HEADERS = ["ruc_entidad", "nombre_entidad", "tipo_entidad", "fecha_inscripcion", "fecha_baja"]


@pytest.mark.parametrize("same_mtime", [False, True], ids=["copied-later", "touched"])
def test_a_registry_file_landed_twice_with_the_same_bytes_is_one_registry_at_every_run(tmp_path: Path, same_mtime):
    folder = tmp_path / "entidades"
    rows = [{"ruc_entidad": valid_ruc(f"20{n:08d}"), "nombre_entidad": f"Entidad {n}", "tipo_entidad": "ONGD",
             "fecha_inscripcion": "2020-01-01"} for n in (60_000_001, 60_000_002)]
    write_csv(folder / "entidades.csv", rows, headers=HEADERS, mtime=T0)
    shutil.copyfile(folder / "entidades.csv", folder / "entidades (1).csv")
    os.utime(folder / "entidades (1).csv", (T0 + (0 if same_mtime else 60),) * 2)

    first = process_entidades(folder)
    seen = dict(zip(first.contents["huella_contenido"], first.contents["primera_vez_ns"], strict=True))
    second = process_entidades(folder, first_seen=seen)
    for result in (first, second):
        assert result.quarantined.empty  # never registro_ambiguo
        assert sorted(result.staged["ruc_entidad"]) == sorted(r["ruc_entidad"] for r in rows)
        assert result.raw["estado_fila"].value_counts().to_dict() == {"staged": 2, "superseded": 2}
    assert second.staged[["ruc_entidad", "archivo"]].values.tolist() == first.staged[["ruc_entidad", "archivo"]].values.tolist()
