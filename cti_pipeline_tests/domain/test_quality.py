from pathlib import Path

import duckdb

from cti_pipeline.domain.quality import duplicate_keys


def test_duplicate_keys_compare_normalised_text_within_the_year(tmp_path: Path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        conn.execute("CREATE SCHEMA staging")
        conn.execute("CREATE TABLE staging.t (anio INTEGER, entidad VARCHAR, tema VARCHAR)")
        conn.execute(
            "INSERT INTO staging.t VALUES (2024, 'Gobierno Regional de Junín', 'agua'), "
            "(2024, '  GOBIERNO  REGIONAL DE JUNIN', 'Agua'), (2024, 'MEF', 'agua'), (2023, 'MEF', 'agua')"
        )
        normalised = duplicate_keys(conn, "staging.t", ("entidad", "tema"), 2024)
        assert normalised[["entidad", "tema", "veces"]].values.tolist() == [["gobierno regional de junin", "agua", 2]]
        every_year = duplicate_keys(conn, "staging.t", ("entidad", "tema"))  # no year: MEF repeats across years
        assert sorted(every_year[["entidad", "tema", "veces"]].values.tolist()) == [
            ["gobierno regional de junin", "agua", 2], ["mef", "agua", 2]]
        assert duplicate_keys(conn, "staging.missing", ("entidad",), 2024).empty
