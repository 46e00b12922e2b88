"""A GPEDC workbook landed twice with the same bytes counts once, at the first consolidation and at the
next (which knows when that content was first seen); real workbooks through `domain.gpedc.consolidate`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from cti_pipeline_tests.gpedc.conftest import BASE, answer, consolidate, intervention, rules_of, write_roster, write_workbook


@pytest.mark.parametrize("same_mtime", [False, True], ids=["copied-later", "touched"])
def test_a_workbook_landed_twice_with_the_same_bytes_counts_once_at_every_run(tmp_path: Path, same_mtime):
    folder = tmp_path / "ronda4"
    write_roster(folder)
    write_workbook(folder / "soc1.xlsx", {"respuestas": [answer("SOC1", "B.1", "B1_2", "SI")],
                                          "intervenciones": [intervention("SOC1", 1), intervention("SOC1", 2)]}, mtime=BASE + 10)
    shutil.copyfile(folder / "soc1.xlsx", folder / "soc1 (1).xlsx")
    os.utime(folder / "soc1 (1).xlsx", (BASE + (10 if same_mtime else 20),) * 2)

    first = consolidate(folder)
    second = consolidate(folder, first_seen=dict(zip(first.contents["huella_contenido"], first.contents["primera_vez_ns"], strict=True)))
    for result in (first, second):
        assert rules_of(result) == []  # never clave_duplicada between a file and its copy
        assert result.staged["respuestas"][["codigo_respondente", "codigo_pregunta", "respuesta"]].values.tolist() == [["SOC1", "B1_2", "SI"]]
        assert sorted(result.staged["intervenciones"]["codigo_intervencion"]) == ["SOC1-01", "SOC1-02"]
    assert second.staged["intervenciones"]["archivo"].tolist() == first.staged["intervenciones"]["archivo"].tolist()
