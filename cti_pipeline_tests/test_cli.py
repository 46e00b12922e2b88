"""The cti-pipeline command as a cron job or a person would run it."""

import hashlib
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from cti_pipeline.cli import main


def digest(folder: Path) -> str:
    hasher = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        hasher.update(str(path.relative_to(folder)).encode())
        hasher.update(path.read_bytes())
    return hasher.hexdigest()


def test_sample_data_is_deterministic_and_has_bad_files(tmp_path: Path):
    assert main(["sample-data", "--out", str(tmp_path / "a"), "--years", "2024", "--rows", "100"]) == 0
    assert main(["sample-data", "--out", str(tmp_path / "b" / "landing"), "--years", "2024", "--rows", "100"]) == 0
    assert digest(tmp_path / "a" / "landing") == digest(tmp_path / "b" / "landing")
    names = {p.name for p in (tmp_path / "a" / "landing" / "declaraciones" / "2024").iterdir()}
    assert any(n.endswith(".csv") for n in names) and any(n.endswith(".xlsx") for n in names)
    assert any(n.startswith("~$") for n in names)


@pytest.mark.slow
def test_materialize_quarantines_bad_input_and_exits_zero(data_dir: Path, capsys: pytest.CaptureFixture):
    assert main(["sample-data", "--out", str(data_dir), "--years", "2024", "--rows", "120"]) == 0
    code = main(["materialize", "--year", "2024", "--select", "group:declaraciones"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "pncti_anual_job[2024]: OK" in out
    with duckdb.connect(str(data_dir / "warehouse" / "cti.duckdb"), read_only=True) as conn:
        staged = conn.execute("SELECT count(*) FROM staging.declaraciones").fetchone()[0]
        rows, rules = conn.execute(
            "SELECT count(DISTINCT (archivo, fila)), count(*) FROM quarantine.filas_rechazadas WHERE origen = 'declaraciones'"
        ).fetchone()
        rejected = conn.execute("SELECT count(*) FROM quarantine.archivos_rechazados").fetchone()[0]
    assert f"rows staged: declaraciones {staged}" in out
    assert f"rows quarantined: {rows} ({rules} broken rules); files rejected: {rejected}" in out and rejected >= 2
    # the run is recorded in the instance at DAGSTER_HOME, so it shows in the UI
    runs = dg.DagsterInstance.get().get_run_records()
    # the year, then the publication of the filing tracker it changed (a mart)
    assert sorted((r.dagster_run.job_name, r.dagster_run.tags.get("dagster/partition", "")) for r in runs) == [
        ("pncti_anual_job", "2024"), ("publicacion_job", "")]


@pytest.mark.slow
def test_materialize_exits_non_zero_when_a_step_fails(data_dir: Path, capsys: pytest.CaptureFixture):
    main(["sample-data", "--out", str(data_dir), "--years", "2024", "--rows", "50"])
    (data_dir / "reference").mkdir()
    (data_dir / "reference" / "tipo_cambio.csv").write_text("anio,tasa\n2024,3.7\n")
    code = main(["materialize", "--year", "2024", "--select", "group:declaraciones"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED" in out and "pen_por_usd" in out


@pytest.mark.slow
def test_materialize_without_year_runs_every_landing_year(data_dir: Path, capsys: pytest.CaptureFixture):
    main(["sample-data", "--out", str(data_dir), "--years", "2022", "2023", "--rows", "40"])
    (data_dir / "landing" / "declaraciones" / "borrador").mkdir()
    assert main(["materialize", "--select", "group:declaraciones"]) == 0
    out = capsys.readouterr().out
    assert "pncti_anual_job[2022]: OK" in out and "pncti_anual_job[2023]: OK" in out


def test_the_warehouse_connection_caps_duckdb_memory_and_the_environment_overrides_it(tmp_path: Path):
    from cti_pipeline.defs.resources import warehouse_resource
    from cti_pipeline.settings import Settings

    for environ, expected in (({}, "122.0 MiB"), ({"CTI_DUCKDB_MEMORY_LIMIT": "1GB"}, "953.6 MiB")):
        settings = Settings.from_env({"CTI_DATA_DIR": str(tmp_path), **environ})
        with warehouse_resource(settings).get_connection() as conn:
            assert conn.execute("SELECT current_setting('memory_limit')").fetchone()[0] == expected


@pytest.mark.slow
def test_select_brings_the_assets_made_together_and_runs_only_what_it_names(data_dir: Path, capsys: pytest.CaptureFixture):
    main(["sample-data", "--out", str(data_dir), "--years", "2024", "--rows", "40"])
    assert main(["materialize", "--year", "2024", "--select", "key:staging/declaraciones"]) == 0
    out = capsys.readouterr().out
    assert "pncti_anual_job[2024]: OK, 3 assets materialised" in out
    assert main(["materialize", "--select", "group:gpedc"]) == 0
    out = capsys.readouterr().out
    assert "gpedc_job: OK" in out and "pncti_anual_job" not in out
    runs = dg.DagsterInstance.get().get_run_records()
    materialised = {
        record.dagster_run.job_name: sorted(k.to_user_string() for k in record.dagster_run.asset_selection or [])
        for record in runs
    }
    assert materialised["pncti_anual_job"] == ["quarantine/declaraciones", "raw/declaraciones", "staging/declaraciones"]
    assert all(key.split("/")[1].startswith("gpedc") for key in materialised["gpedc_job"])
    # each run says which landing folders it read, so a sensor adopts it for those only (not registros/2024/)
    claimed = {record.dagster_run.job_name: sorted(k for k in record.dagster_run.tags if k.startswith("cti/huella."))
               for record in runs}
    assert claimed == {"pncti_anual_job": ["cti/huella.declaraciones.2024"], "gpedc_job": ["cti/huella.gpedc.ronda4"], "publicacion_job": []}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["--select", "nosuch"], "is not a valid asset selection"),
        (["--select", "key:staging/declaraciones and"], "is not a valid asset selection"),
        (["--select", ""], "is not a valid asset selection"),
        (["--select", "status:MISSING"], "is not a valid asset selection"),
        (["--select", "key:nosuch"], "matches no asset"),
        (["--year", "2024", "--select", "group:gpedc"], "the GPEDC round runs without --year"),
    ],
)
def test_a_selection_or_year_that_names_nothing_to_run_is_refused_with_exit_2_and_no_run(data_dir, capsys, arguments, said):
    main(["sample-data", "--out", str(data_dir), "--years", "2024", "--rows", "20"])
    assert main(["materialize", *arguments]) == 2
    assert said in capsys.readouterr().err
    assert dg.DagsterInstance.get().get_run_records() == []


@pytest.mark.slow
def test_a_year_without_input_is_not_materialised_into_marts_reports_or_bi_unless_asked(data_dir, capsys):
    main(["sample-data", "--out", str(data_dir), "--years", "2024", "--rows", "20"])
    assert main(["materialize", "--year", "2024"]) == 0
    bi = data_dir / "warehouse" / "bi.duckdb"
    before = bi.read_bytes()
    runs = len(dg.DagsterInstance.get().get_run_records())

    assert main(["materialize", "--year", "2025"]) == 0
    assert "2025: no file under landing/declaraciones/2025/ or landing/registros/2025/; nothing materialised" in capsys.readouterr().err
    assert bi.read_bytes() == before and not list((data_dir / "exports").glob("*2025*"))
    with dg.DagsterInstance.get() as instance:
        assert len(instance.get_run_records()) == runs and instance.get_dynamic_partitions("anio") == ["2024"]

    misfiled = data_dir / "landing" / "declaraciones" / "1999"  # a folder that is no year of data, even asked for
    misfiled.mkdir()
    (misfiled / "entidad.csv").write_text("anio,ruc_entidad\n1999,20100047218\n", encoding="utf-8")
    assert main(["materialize", "--year", "1999", "--allow-empty"]) == 0
    assert "1999: not a year of data (2000–" in capsys.readouterr().err
    with dg.DagsterInstance.get() as instance:
        assert len(instance.get_run_records()) == runs and instance.get_dynamic_partitions("anio") == ["2024"]
    misfiled.joinpath("entidad.csv").unlink()

    assert main(["materialize", "--year", "2025", "--allow-empty", "--select", "group:pncti"]) == 0  # asked for: an all-ND year
    with duckdb.connect(str(data_dir / "warehouse" / "cti.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT count(*), count(valor) FROM marts.pncti_indicadores WHERE anio = 2025").fetchone() == (18, 0)


@pytest.mark.slow
def test_withdraw_year_takes_a_year_out_of_the_warehouse_exports_bi_and_partitions(data_dir, capsys):
    main(["sample-data", "--out", str(data_dir), "--years", "2024", "--rows", "20"])
    assert main(["materialize", "--year", "2024"]) == 0
    assert main(["materialize", "--year", "2025", "--allow-empty"]) == 0  # by mistake
    warehouse, bi = data_dir / "warehouse" / "cti.duckdb", data_dir / "warehouse" / "bi.duckdb"
    with duckdb.connect(str(bi), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM marts.pncti_indicadores WHERE anio = 2025").fetchone() == (18,)
    assert (data_dir / "exports" / "reporte_cumplimiento_pncti_2025.docx").exists()

    assert main(["withdraw-year", "2024"]) == 2  # its files are still in landing/
    assert "landing/declaraciones/2024/" in capsys.readouterr().err
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
                               "time.sleep(60)", str(warehouse)], stdout=subprocess.PIPE, text=True)
    try:  # another process (a run) holds the warehouse: a clear refusal, nothing withdrawn
        assert holder.stdout.readline().strip() == "held"
        assert main(["withdraw-year", "2025"]) == 1
        assert "the warehouse is in use" in capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()
    assert (data_dir / "exports" / "reporte_cumplimiento_pncti_2025.docx").exists()
    assert main(["withdraw-year", "2025"]) == 0
    assert "2025 withdrawn" in capsys.readouterr().out
    for path in (warehouse, bi):
        with duckdb.connect(str(path), read_only=True) as conn:
            years = conn.execute("SELECT DISTINCT anio FROM marts.pncti_indicadores ORDER BY anio").fetchall()
            assert years == [(2024,)], path
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM meta.huellas WHERE anio = 2025").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM staging.declaraciones WHERE anio = 2024").fetchone()[0] > 0
    assert not list((data_dir / "exports").glob("*2025*")) and (data_dir / "exports" / "reporte_cumplimiento_pncti_2024.docx").exists()
    with dg.DagsterInstance.get() as instance:
        assert instance.get_dynamic_partitions("anio") == ["2024"]


@pytest.mark.slow
def test_a_selection_runs_each_asset_once_in_the_job_that_owns_it(data_dir: Path, capsys: pytest.CaptureFixture):
    main(["sample-data", "--out", str(data_dir), "--years", "2023", "2024", "--rows", "20"])
    assert main(["materialize", "--year", "2024", "--select", "group:gpedc or key:marts/cti_ejecucion or group:publicacion"]) == 0
    captured = capsys.readouterr()
    assert "not run: exports/gpedc_ronda4" in captured.err and "(the GPEDC round runs without --year)" in captured.err
    runs = {
        (r.dagster_run.job_name, r.dagster_run.tags.get("dagster/partition")): sorted(k.to_user_string() for k in r.dagster_run.asset_selection or [])
        for r in dg.DagsterInstance.get().get_run_records()
    }
    # the publication assets ran once, in their own job, not with a year
    assert runs == {
        ("pncti_anual_job", "2024"): ["marts/cti_ejecucion"],
        ("publicacion_job", None): ["bi/marts_duckdb"],  # no CTI_PUBLISH_URL: no publish/postgres
    }


@pytest.mark.slow
def test_a_selection_on_an_empty_landing_zone_has_nothing_to_do_and_says_so(data_dir: Path, capsys: pytest.CaptureFixture):
    (data_dir / "landing").mkdir(parents=True, exist_ok=True)
    assert main(["materialize", "--select", "group:declaraciones"]) == 0
    assert "nothing to materialise: no year with files under landing/" in capsys.readouterr().out
    assert dg.DagsterInstance.get().get_run_records() == []


def test_sample_data_refuses_a_row_count_below_one_and_warns_of_a_year_that_is_no_year_of_data(tmp_path: Path, capsys: pytest.CaptureFixture):
    with pytest.raises(SystemExit) as refused:
        main(["sample-data", "--out", str(tmp_path / "a"), "--rows", "-5"])
    assert refused.value.code == 2 and "must be 1 or more" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()
    assert main(["sample-data", "--out", str(tmp_path / "b"), "--years", "2030", "--rows", "10"]) == 0
    assert "year 2030 is outside the years of data" in capsys.readouterr().err
