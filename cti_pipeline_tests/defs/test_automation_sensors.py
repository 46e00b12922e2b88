"""File-drop sensors evaluated through the project's definitions over real files in a tmp landing zone."""

from __future__ import annotations

import pytest
import datetime as dt
import os
import uuid
from pathlib import Path

import dagster as dg

from cti_pipeline.defs.automation.sensors import handled_tags
from cti_pipeline.landing.discovery import FIRST_YEAR
from cti_pipeline.landing.settle import fingerprint as fp_fingerprint
from cti_pipeline.landing.settle import observe_folder as fp_observe
from cti_pipeline_tests.factories import declaracion_row, write_csv, write_xlsx


class Daemon:
    """Ticks one sensor the way the daemon does: the cursor a tick returns is the next tick's cursor."""

    def __init__(self, defs: dg.Definitions, name: str, cursor: str | None = None):
        self.defs = defs
        self.sensor = defs.resolve_sensor_def(name)
        self.instance = dg.DagsterInstance.get()  # persistent (the test's DAGSTER_HOME), as the daemon's is
        self.cursor = cursor

    def tick(self) -> list[dg.RunRequest]:
        with dg.build_sensor_context(
            cursor=self.cursor, instance_ref=self.instance.get_ref(), definitions=self.defs, resources=self.defs.resources
        ) as context:
            result = self.sensor.evaluate_tick(context)
        for request in result.dynamic_partitions_requests or []:  # what the daemon does with them
            self.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        self.cursor = result.cursor
        self.last = result
        return list(result.run_requests or [])

    def launch(self, requests: list[dg.RunRequest]) -> list[str]:
        """Record each request as a run in the instance, with the tags the daemon gives it; return the keys."""
        for request in requests:
            tags = {**request.tags, "dagster/run_key": request.run_key, "dagster/sensor_name": self.sensor.name}
            self.instance.add_run(dg.DagsterRun(job_name=self.sensor.job_name, run_id=str(uuid.uuid4()), tags=tags))
        return [request.run_key for request in requests]

    def settle(self) -> list[dg.RunRequest]:
        """Two ticks: the first records what landed, the second confirms it did not move."""
        assert self.tick() == [], "a drop must not be picked up on the tick that first sees it"
        return self.tick()


def job_assets_downstream_of(defs: dg.Definitions, group: str) -> set[dg.AssetKey]:
    """Computed here from the graph (breadth-first over children), not through AssetSelection."""
    graph = defs.resolve_asset_graph()
    job = defs.resolve_job_def("pncti_anual_job")
    in_job = set(job.asset_layer.selected_asset_keys)
    frontier = [k for k in graph.get_all_asset_keys() if graph.get(k).group_name == group]
    seen = set(frontier)
    while frontier:
        key = frontier.pop()
        for child in graph.get(key).child_entity_keys:
            if isinstance(child, dg.AssetKey) and child not in seen:
                seen.add(child)
                frontier.append(child)
    return {k for k in seen if k in in_job and graph.get(k).is_materializable}


def drop_declaraciones(landing: Path, year: int, count: int) -> list[Path]:
    return [
        write_xlsx(landing / "declaraciones" / str(year) / f"entidad_{i}.xlsx", [declaracion_row(anio=year, codigo_intervencion=f"INT-{i:03d}")])
        for i in range(count)
    ]


def touch(path: Path, seconds: int) -> None:
    ns = seconds * 1_000_000_000
    os.utime(path, ns=(ns, ns))


def test_sensors_start_running_every_30_seconds(defs: dg.Definitions):
    jobs = {"declaraciones_sensor": "pncti_anual_job", "registros_sensor": "pncti_anual_job", "gpedc_sensor": "gpedc_job"}
    for name, job_name in jobs.items():
        sensor = defs.resolve_sensor_def(name)
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
        assert sensor.minimum_interval_seconds == 30
        assert sensor.job_name == job_name
    assert defs.resolve_sensor_def("cti_run_failure_sensor").default_status == dg.DefaultSensorStatus.RUNNING


@pytest.mark.slow
def test_files_dropped_across_years_give_one_run_per_year(defs: dg.Definitions, data_dir: Path):
    landing = data_dir / "landing"
    dropped = {2023: drop_declaraciones(landing, 2023, 2), 2024: drop_declaraciones(landing, 2024, 3)}
    daemon = Daemon(defs, "declaraciones_sensor")

    requests = daemon.settle()

    assert sorted(r.partition_key for r in requests) == ["2023", "2024"]
    expected_assets = job_assets_downstream_of(defs, "declaraciones")
    assert {dg.AssetKey(["raw", "declaraciones"]), dg.AssetKey(["staging", "declaraciones"])} <= expected_assets
    job = defs.resolve_job_def("pncti_anual_job")
    for request in requests:
        assert set(request.asset_selection) == expected_assets
        job.get_subset(asset_selection=set(request.asset_selection))  # a selection the job can run
        year = int(request.partition_key)
        assert request.tags["cti/landing"] == f"landing/declaraciones/{year}/"
        assert request.tags["cti/archivos"] == str(len(dropped[year]))
    assert [(r.partitions_def_name, list(r.partition_keys)) for r in daemon.last.dynamic_partitions_requests] == [("anio", ["2023", "2024"])]
    assert daemon.instance.get_dynamic_partitions("anio") == ["2023", "2024"]  # the years that landed, no other
    assert len({r.run_key for r in requests}) == 2

    # Same files, next tick: nothing.
    assert daemon.tick() == []
    assert "nothing new" in daemon.last.skip_message


@pytest.mark.slow
def test_changed_and_removed_files_request_their_year_again(defs: dg.Definitions, data_dir: Path):
    landing = data_dir / "landing"
    a, b = drop_declaraciones(landing, 2024, 2)
    drop_declaraciones(landing, 2023, 1)
    daemon = Daemon(defs, "declaraciones_sensor")
    first = {r.partition_key: r.run_key for r in daemon.settle()}

    write_xlsx(a, [declaracion_row(), declaracion_row(codigo_intervencion="INT-999")])  # re-submitted
    touch(a, 1_900_000_000)
    changed = daemon.settle()
    assert [r.partition_key for r in changed] == ["2024"]
    assert changed[0].run_key != first["2024"]

    b.unlink()
    removed = daemon.settle()
    assert [r.partition_key for r in removed] == ["2024"]
    assert removed[0].tags["cti/archivos"] == "1"
    assert removed[0].run_key not in (first["2024"], changed[0].run_key)
    assert daemon.tick() == []


@pytest.mark.slow
def test_a_file_dropped_then_removed_runs_the_year_each_time_even_back_to_a_set_already_run(defs: dg.Definitions, data_dir: Path):
    landing = data_dir / "landing"
    drop_declaraciones(landing, 2024, 2)
    daemon = Daemon(defs, "declaraciones_sensor")
    keys = daemon.launch(daemon.settle())
    stray = landing / "declaraciones" / "2024" / "equivocado.xlsx"
    for _ in range(2):  # dropped by mistake and removed, twice
        write_xlsx(stray, [declaracion_row(codigo_intervencion="X")])
        keys += daemon.launch(daemon.settle())
        stray.unlink()
        keys += daemon.launch(daemon.settle())
    assert len(keys) == 5 and len(set(keys)) == 5  # every change ran: none is a key Dagster would skip
    assert daemon.tick() == []

    amnesic = Daemon(defs, "declaraciones_sensor")  # the cursor lost: the current files were handled
    amnesic.instance = daemon.instance
    assert [r.run_key for r in amnesic.settle()] == [keys[0]]


@pytest.mark.slow
def test_restarted_daemon_does_not_rerun_a_handled_drop(defs: dg.Definitions, data_dir: Path):
    drop_declaraciones(data_dir / "landing", 2024, 2)
    before = Daemon(defs, "declaraciones_sensor")
    [handled] = before.settle()

    restarted = Daemon(defs, "declaraciones_sensor", cursor=before.cursor)  # new process, stored cursor
    assert restarted.tick() == [] and restarted.tick() == []

    # Even with the cursor lost, the same files give the same run key, which Dagster de-duplicates.
    amnesic = Daemon(defs, "declaraciones_sensor")
    assert [r.run_key for r in amnesic.settle()] == [handled.run_key]


@pytest.mark.slow
def test_a_file_still_being_copied_is_not_picked_up_until_stable(defs: dg.Definitions, data_dir: Path):
    year_dir = data_dir / "landing" / "declaraciones" / "2024"
    source = write_xlsx(data_dir / "outside" / "grande.xlsx", [declaracion_row(codigo_intervencion=f"INT-{i}") for i in range(300)])
    payload = source.read_bytes()
    year_dir.mkdir(parents=True)
    copying = year_dir / "grande.xlsx"
    daemon = Daemon(defs, "declaraciones_sensor")

    third = len(payload) // 3
    for end in (third, 2 * third):  # the copy goes on between ticks
        with copying.open("ab") as handle:
            handle.write(payload[end - third : end])
        assert daemon.tick() == []
        assert "waiting for 2024" in daemon.last.skip_message
    with copying.open("ab") as handle:
        handle.write(payload[2 * third :])
    assert daemon.tick() == []  # the size moved again since the last tick
    [request] = daemon.tick()  # same size and mtime twice: picked up, complete
    assert copying.stat().st_size == len(payload)
    assert request.partition_key == "2024" and request.tags["cti/archivos"] == "1"


@pytest.mark.slow
def test_lock_hidden_links_and_subfolders_are_ignored(defs: dg.Definitions, data_dir: Path, tmp_path: Path):
    landing = data_dir / "landing"
    [real] = drop_declaraciones(landing, 2024, 1)
    daemon = Daemon(defs, "declaraciones_sensor")
    [request] = daemon.settle()

    year_dir = real.parent
    (year_dir / ".~lock.entidad_0.xlsx#").write_text("usuario,equipo")
    (year_dir / "~$entidad_0.xlsx").write_bytes(b"\x00" * 165)
    (year_dir / ".DS_Store").write_bytes(b"\x00")
    (year_dir / "enlace.xlsx").symlink_to(real)
    write_xlsx(year_dir / "borradores" / "viejo.xlsx", [declaracion_row()])
    (landing / "declaraciones" / "2025").mkdir()
    (landing / "declaraciones" / "2025" / "~$solo_lock.xlsx").write_text("x")
    assert daemon.tick() == [] and daemon.tick() == []
    assert request.tags["cti/archivos"] == "1"


@pytest.mark.slow
def test_folders_that_are_no_year_of_data_are_skipped_and_an_empty_year_is_no_partition(defs: dg.Definitions, data_dir: Path):
    landing = data_dir / "landing"
    this_year = dt.date.today().year
    drop_declaraciones(landing, FIRST_YEAR - 1, 1)
    drop_declaraciones(landing, this_year + 2, 1)
    drop_declaraciones(landing, this_year, 1)
    (landing / "declaraciones" / str(this_year - 1)).mkdir()  # a year folder with nothing in it
    daemon = Daemon(defs, "declaraciones_sensor")
    assert [r.partition_key for r in daemon.settle()] == [str(this_year)]
    assert daemon.tick() == []  # the skipped years are not reconsidered every tick
    assert daemon.instance.get_dynamic_partitions("anio") == [str(this_year)]


@pytest.mark.slow
def test_a_sensor_adopts_a_successful_run_of_the_command_line_that_read_the_same_files(defs: dg.Definitions, data_dir: Path):
    """After scripts/up.sh the CLI has materialised every year: the daemon's first ticks must not run them again."""
    landing = data_dir / "landing"
    drop_declaraciones(landing, 2024, 2)
    drop_declaraciones(landing, 2023, 1)
    daemon = Daemon(defs, "declaraciones_sensor")
    files = fp_observe(landing / "declaraciones" / "2024")
    tags = handled_tags("declaraciones", "2024", fp_fingerprint("declaraciones/2024", files))
    daemon.instance.add_run(dg.DagsterRun(job_name="pncti_anual_job", run_id=str(uuid.uuid4()), tags=tags, status=dg.DagsterRunStatus.SUCCESS))
    daemon.instance.add_run(dg.DagsterRun(job_name="pncti_anual_job", run_id=str(uuid.uuid4()),  # a failed run is no reason to skip
                                          tags=handled_tags("declaraciones", "2023", "otra"), status=dg.DagsterRunStatus.FAILURE))

    assert [r.partition_key for r in daemon.settle()] == ["2023"]
    drop_declaraciones(landing, 2024, 3)  # then an entity re-submits: that is new
    assert [r.partition_key for r in daemon.settle()] == ["2024"]


@pytest.mark.slow
def test_registros_sensor_selects_the_registros_group_and_downstream(defs: dg.Definitions, data_dir: Path):
    folder = data_dir / "landing" / "registros" / "2024"
    write_csv(folder / "capacitaciones_2024.csv", [{"anio": 2024, "codigo": "CAP-1"}])
    write_csv(folder / "accesos_web_2024.csv", [{"anio": 2024, "mes": 1}], encoding="cp1252", separator=";")
    expected = job_assets_downstream_of(defs, "registros")
    requests = Daemon(defs, "registros_sensor").settle()
    if not expected:
        assert requests == []  # no registros asset yet: nothing to run
        return
    [request] = requests
    assert request.partition_key == "2024" and set(request.asset_selection) == expected
    defs.resolve_job_def("pncti_anual_job").get_subset(asset_selection=set(request.asset_selection))
    assert request.tags["cti/landing"] == "landing/registros/2024/" and request.tags["cti/archivos"] == "2"
    assert not set(request.asset_selection) & job_assets_downstream_of(defs, "declaraciones") - expected


@pytest.mark.slow
def test_a_tick_over_10000_files(defs: dg.Definitions, data_dir: Path):
    folder = data_dir / "landing" / "declaraciones" / "2024"
    folder.mkdir(parents=True)
    row = b"anio,ruc_entidad,codigo_intervencion\r\n2024,20100047218,INT-001\r\n"
    for i in range(10_000):
        (folder / f"entidad_{i:05d}.csv").write_bytes(row)
    daemon = Daemon(defs, "declaraciones_sensor")
    [request] = daemon.settle()
    assert request.tags["cti/archivos"] == "10000"
    assert len(daemon.cursor) < 300  # the cursor does not grow with the number of files
    assert daemon.tick() == []


@pytest.mark.slow
def test_gpedc_sensor_requests_the_round_once_per_drop(defs: dg.Definitions, data_dir: Path):
    folder = data_dir / "landing" / "gpedc" / "ronda4"
    write_csv(folder / "puntos_focales.csv", [{"codigo_respondente": "GOB-01", "tipo_respondente": "GOBIERNO"}])
    workbook = write_xlsx(folder / "respuesta_gob01.xlsx", [{"codigo_respondente": "GOB-01"}], sheet="B.1")
    (folder / "~$respuesta_gob01.xlsx").write_text("lock")
    daemon = Daemon(defs, "gpedc_sensor")
    assert defs.resolve_sensor_def("gpedc_sensor").job_name == "gpedc_job"

    [request] = daemon.settle()
    assert request.partition_key is None
    assert request.tags["cti/landing"] == "landing/gpedc/ronda4/" and request.tags["cti/archivos"] == "2"
    assert daemon.tick() == []

    workbook.unlink()
    [again] = daemon.settle()
    assert again.run_key != request.run_key and again.tags["cti/archivos"] == "1"


@pytest.mark.slow
def test_entidades_sensor_reads_the_registry_alone_then_refreshes_the_tracker_of_every_year(defs: dg.Definitions, data_dir: Path):
    registry = data_dir / "landing" / "entidades" / "entidades.csv"
    write_csv(registry, [{"ruc_entidad": "20100047218", "nombre_entidad": "Asociación Civil Agua para Todos", "tipo_entidad": "ONGD"}])
    daemon = Daemon(defs, "entidades_sensor")

    [alone] = daemon.settle()  # no year loaded yet
    assert alone.job_name == "entidades_job" and alone.partition_key is None
    assert alone.tags["cti/landing"] == "landing/entidades/"
    assert daemon.tick() == []

    daemon.instance.add_dynamic_partitions("anio", ["2023", "2024"])
    write_csv(registry, [{"ruc_entidad": "20100047218", "nombre_entidad": "Agua para Todos", "tipo_entidad": "ONGD"}])
    touch(registry, 1_900_000_000)
    requests = daemon.settle()
    assert sorted(r.partition_key for r in requests) == ["2023", "2024"]
    expected = job_assets_downstream_of(defs, "entidades")
    assert {dg.AssetKey(["staging", "entidades"]), dg.AssetKey(["marts", "declaracion_cumplimiento"])} <= expected
    job = defs.resolve_job_def("pncti_anual_job")
    for request in requests:
        assert request.job_name == "pncti_anual_job" and set(request.asset_selection) == expected
        job.get_subset(asset_selection=set(request.asset_selection))
    assert len({r.run_key for r in requests}) == 2
