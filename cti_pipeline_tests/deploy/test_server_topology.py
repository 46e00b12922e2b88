"""deploy/server.sh brings up the production topology as real processes, behind the login proxy.

PostgreSQL (server profile of scripts/postgres.sh), the gRPC code server, the webserver and the daemon
on the PostgreSQL instance, nginx with TLS and basic auth in front. Everything goes through the proxy
as an operator's browser would: the GraphQL API launches a partition run, the daemon takes it from the
queue; a file dropped in landing/ is picked up by a sensor tick; the code server is restarted as a
deploy would, and runs launch again. Every process started is stopped, also when the test fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from cti_pipeline.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow

SERVER_SH = PROJECT_ROOT / "deploy" / "server.sh"
PROCESSES = ("code", "webserver", "daemon", "proxy")
USER, PASSWORD = "operadora", "una-clave-de-prueba-larga"
LOCATION = {"repositoryLocationName": "cti_pipeline", "repositoryName": "__repository__"}
JOB = "pncti_anual_job"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what: str, check: Callable[[], Any], seconds: float, every: float = 1.0) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    pytest.fail(f"timed out after {seconds:.0f} s waiting for {what} (last: {last!r})")


def live_members(group: int) -> list[int]:
    """Processes of process group `group` that have not exited (zombies waiting to be reaped do not count)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()   # after "pid (comm) ": state ppid pgrp ...
        if int(fields[2]) == group and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def outside_address() -> str | None:
    """An address of this machine other than loopback (None when it has none)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))   # TEST-NET-1: no packet is sent by a UDP connect
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def refused(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=5):
            return False
    except OSError:
        return True


@dataclass
class Topology:
    root: Path
    ports: dict[str, int]
    groups: set[int] = field(default_factory=set)   # every process group started, for the teardown

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def landing(self) -> Path:
        return self.state / "data" / "landing"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.ports['proxy']}"

    @property
    def certificate(self) -> Path:
        return self.state / "proxy" / "tls" / "selfsigned.crt"

    def env(self) -> dict[str, str]:
        # the test's own settings must not leak into the deployment: only what its env file says
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CTI_", "DAGSTER_", "PG"))}
        env["CTI_DEPLOY_ENV"] = str(self.root / "deploy.env")
        return env

    def server(self, *args: str, stdin: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        result = subprocess.run(
            ["bash", str(SERVER_SH), *args], input=stdin, env=self.env(), capture_output=True, text=True, timeout=timeout,
        )
        self.record_groups()
        assert result.returncode == 0, f"server.sh {' '.join(args)} failed:\n{result.stderr}\n{self.logs()}"
        return result

    def record_groups(self) -> None:
        for name in PROCESSES:
            pid_file = self.state / "run" / f"{name}.pid"
            if pid_file.exists() and pid_file.read_text().strip():
                self.groups.add(int(pid_file.read_text().split()[0]))   # "PID START_TIME"

    def group(self, name: str) -> int:
        return int((self.state / "run" / f"{name}.pid").read_text().split()[0])

    def postmaster(self) -> int | None:
        pid_file = self.state / "postgres" / "data" / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (OSError, IndexError, ValueError):
            return None
        return pid if Path(f"/proc/{pid}").exists() else None

    def logs(self, lines: int = 25) -> str:
        out = []
        for log in sorted((self.state / "logs").glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {log.name}\n" + "\n".join(tail))
        return "\n".join(out)

    def teardown(self) -> None:
        """server.sh stop, then kill whatever survived it (a failed start, a hung process)."""
        try:
            subprocess.run(["bash", str(SERVER_SH), "stop"], env=self.env(), capture_output=True, timeout=120)
        except subprocess.TimeoutExpired:
            pass
        for group in self.groups:
            if live_members(group):
                os.killpg(group, signal.SIGKILL)
        postmaster = self.postmaster()
        if postmaster:
            os.kill(postmaster, signal.SIGQUIT)   # PostgreSQL's immediate shutdown
        shutil.rmtree(self.root, ignore_errors=True)


class Api:
    """The GraphQL API as a logged-in user reaches it: through the proxy, TLS checked against its certificate."""

    def __init__(self, topology: Topology):
        self.session = requests.Session()
        self.session.auth = (USER, PASSWORD)
        self.certificate = str(topology.certificate)   # per request: a session's `verify` loses to REQUESTS_CA_BUNDLE
        self.url = f"{topology.url}/graphql"

    def query(self, text: str, **variables: Any) -> dict[str, Any]:
        response = self.session.post(self.url, json={"query": text, "variables": variables}, verify=self.certificate, timeout=60)
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    def location_loaded(self) -> bool:
        data = self.query("{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
                          "locationOrLoadError { __typename } } } } }")
        entries = data["workspaceOrError"]["locationEntries"]
        return any(e["name"] == "cti_pipeline" and e["loadStatus"] == "LOADED"
                   and e["locationOrLoadError"]["__typename"] == "RepositoryLocation" for e in entries)

    def partition_keys(self) -> list[str]:
        data = self.query(
            "query($selector: PipelineSelector!) { pipelineOrError(params: $selector) { __typename "
            "... on Pipeline { partitionKeysOrError { ... on PartitionKeys { partitionKeys } } } } }",
            selector={**LOCATION, "pipelineName": JOB},
        )
        return data["pipelineOrError"]["partitionKeysOrError"]["partitionKeys"]

    def launch(self, partition: str) -> tuple[str, str]:
        data = self.query(
            "mutation($params: ExecutionParams!) { launchRun(executionParams: $params) { __typename "
            "... on LaunchRunSuccess { run { runId status } } ... on PythonError { message } } }",
            params={
                "selector": {**LOCATION, "pipelineName": JOB},
                "runConfigData": {},
                "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition}]},
            },
        )
        result = data["launchRun"]
        assert result["__typename"] == "LaunchRunSuccess", result
        return result["run"]["runId"], result["run"]["status"]

    def run_status(self, run_id: str) -> str:
        data = self.query('query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }', id=run_id)
        return data["runOrError"]["status"]

    def event_types(self, run_id: str) -> list[str]:
        data = self.query('query($id: ID!) { runOrError(runId: $id) { ... on Run { eventConnection { events { __typename } } } } }',
                          id=run_id)
        return [event["__typename"] for event in data["runOrError"]["eventConnection"]["events"]]

    def runs_tagged(self, key: str, value: str) -> list[dict[str, Any]]:
        data = self.query(
            "query($tags: [ExecutionTag!]) { runsOrError(filter: {tags: $tags}) { ... on Runs { results { "
            "runId status tags { key value } } } } }",
            tags=[{"key": key, "value": value}],
        )
        return data["runsOrError"]["results"]

    def sensor_ticks(self, name: str) -> list[dict[str, Any]]:
        data = self.query(
            "query($selector: SensorSelector!) { sensorOrError(sensorSelector: $selector) { ... on Sensor { "
            "sensorState { ticks(limit: 10) { status runIds skipReason } } } } }",
            selector={**LOCATION, "sensorName": name},
        )
        return data["sensorOrError"]["sensorState"]["ticks"]

    def finished(self, run_id: str) -> str | None:
        status = self.run_status(run_id)
        return status if status in {"SUCCESS", "FAILURE", "CANCELED"} else None


@pytest.fixture
def topology() -> Iterator[Topology]:
    # Not pytest's tmp_path: when the test runs as root, PostgreSQL (as postgres) and nginx's workers
    # (as www-data) must reach the state folder, and pytest's base temp folder is private.
    root = Path(tempfile.mkdtemp(prefix="cti_deploy_test_"))
    root.chmod(0o755)
    ports = {name: free_port() for name in ("postgres", "code", "webserver", "proxy")}
    (root / "deploy.env").write_text(
        "# secrets and ports of this test's deployment (server.sh reads it as it reads deploy/.env)\n"
        f"CTI_DEPLOY_DIR={root / 'state'}\n"
        "DAGSTER_PG_PASSWORD=clave-dagster-de-prueba\n"
        "CTI_PUBLISH_PASSWORD=clave/publicacion@de:prueba\n"   # characters that must be percent-encoded in the URL
        "CTI_BI_PASSWORD=clave-bi-de-prueba\n"
        "CTI_PII_SALT=sal-de-prueba\n"
        f"CTI_PG_PORT={ports['postgres']}\n"
        f"CTI_CODE_SERVER_PORT={ports['code']}\n"
        f"CTI_WEBSERVER_PORT={ports['webserver']}\n"
        f"CTI_PROXY_PORT={ports['proxy']}\n"
    )
    topology = Topology(root, ports)
    try:
        topology.server("user", "add", USER, stdin=PASSWORD + "\n")
        topology.server("start")
        yield topology
    finally:
        topology.teardown()


def test_the_production_topology_behind_the_login(topology: Topology, tmp_path: Path):
    started = time.monotonic()
    api = Api(topology)

    # Only the proxy answers from outside loopback, and only after a login.
    anonymous = requests.get(f"{topology.url}/server_info", verify=str(topology.certificate), timeout=30)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
    wrong = requests.get(f"{topology.url}/graphql", auth=(USER, "otra-clave-cualquiera"), verify=str(topology.certificate), timeout=30)
    assert wrong.status_code == 401
    assert requests.get(f"{topology.url}/server_info", auth=(USER, PASSWORD), verify=str(topology.certificate),
                        timeout=30).json()["dagster_version"]
    address = outside_address()
    if address:
        for name in ("postgres", "code", "webserver"):
            assert refused(address, topology.ports[name]), f"{name} answers on {address}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # the certificate names 127.0.0.1 and the host name, not this address
            assert requests.get(f"https://{address}:{topology.ports['proxy']}/", verify=False, timeout=30).status_code == 401

    wait_for("the code location to load in the webserver", api.location_loaded, 120)
    assert api.partition_keys() == []  # years become partitions as their files land

    # A declaration is dropped while the daemon runs: the sensor confirms it on one tick, adds its year as a
    # partition and requests the year's run on the next.
    sample = tmp_path / "sample"
    subprocess.run([str(PROJECT_ROOT / ".venv" / "bin" / "cti-pipeline"), "sample-data", "--out", str(sample)],
                   check=True, capture_output=True, env=topology.env())
    year = sorted(p.name for p in (sample / "landing" / "declaraciones").iterdir())[-1]
    dropped = sorted((sample / "landing" / "declaraciones" / year).glob("*.csv"))[0]
    folder = topology.landing / "declaraciones" / year
    folder.mkdir(parents=True)
    shutil.copyfile(dropped, folder / ".copiando.tmp")
    (folder / ".copiando.tmp").rename(folder / dropped.name)   # arrives whole, as a copy-then-rename would

    def sensor_run():
        runs = api.runs_tagged("dagster/sensor_name", "declaraciones_sensor")
        return runs[0] if runs else None

    requested = wait_for("declaraciones_sensor to request a run for the dropped file", sensor_run, 150, every=2)
    tags = {t["key"]: t["value"] for t in requested["tags"]}
    assert tags["dagster/partition"] == year
    assert tags["cti/landing"] == f"landing/declaraciones/{year}/"
    assert api.partition_keys() == [year]
    # the tick records its run ids once it has submitted them, a moment after the run exists
    wait_for("the sensor's tick to record the run", lambda: any(
        requested["runId"] in tick["runIds"] and tick["status"] == "SUCCESS" for tick in api.sensor_ticks("declaraciones_sensor")
    ), 60)
    assert wait_for("the sensor's run to finish", lambda: api.finished(requested["runId"]), 180) == "SUCCESS", topology.logs()

    # A partition run launched through the API waits in the queue until the daemon starts it.
    run_id, status = api.launch(year)
    assert status == "QUEUED"
    assert wait_for(f"run {run_id} to finish", lambda: api.finished(run_id), 180) == "SUCCESS", topology.logs()
    events = api.event_types(run_id)
    # queued by the webserver, started by the daemon (the only one that takes runs off the queue)
    assert events.index("RunEnqueuedEvent") < events.index("RunStartingEvent") < events.index("RunSuccessEvent")

    # The marts reached the cti_bi database, readable by the BI role with its password (scram over TCP).
    with psycopg.connect(host="127.0.0.1", port=topology.ports["postgres"], dbname="cti_bi", user="cti_bi",
                         password="clave-bi-de-prueba") as conn:
        rows = conn.execute("SELECT count(*) FROM marts.pncti_indicadores WHERE anio = %s", (int(year),)).fetchone()[0]
    assert rows > 0

    # A deploy of new code restarts the code server; the webserver and the daemon keep going.
    before = topology.group("code")
    topology.server("restart", "code", timeout=240)
    assert topology.group("code") != before and not live_members(before)
    wait_for("the code location to load again", api.location_loaded, 120)
    run_id, status = api.launch(year)
    assert status == "QUEUED"
    assert wait_for(f"run {run_id} after the restart", lambda: api.finished(run_id), 180) == "SUCCESS", topology.logs()

    # Stop: no process of the topology is left.
    topology.server("stop", timeout=180)
    for group in topology.groups:
        assert not live_members(group), f"process group {group} survived stop: {live_members(group)}"
    assert topology.postmaster() is None
    assert refused("127.0.0.1", topology.ports["proxy"])
    print(f"topology test body: {time.monotonic() - started:.0f} s")
