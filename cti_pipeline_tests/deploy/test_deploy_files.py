"""The two deployments run the same files: deploy/server.sh (one machine) and docker-compose.yaml.

Docker cannot run here, so the compose file is checked statically: what would break a `docker compose up`,
and anything by which it could drift from what server.sh runs (and test_server_topology.py runs for real).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from cti_pipeline.settings import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"
ROLES = ["code", "webserver", "daemon"]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yaml").read_text())


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())


@pytest.mark.slow
def test_every_dagster_process_starts_through_the_same_script(compose: dict, pyproject: dict):
    services = compose["services"]
    for role in ROLES:
        assert services[role]["command"] == ["deploy/dagster-process.sh", role]
    server_sh = (DEPLOY / "server.sh").read_text()
    assert 'PROCESSES=(code webserver daemon proxy)' in server_sh
    assert '"$DEPLOY/dagster-process.sh" "$name"' in server_sh

    script = (DEPLOY / "dagster-process.sh").read_text()
    project = pyproject["tool"]["dg"]["project"]
    assert f"-m {project['code_location_target_module']} --location-name {project['code_location_name']}" in script
    assert script.count('-w "$here/workspace.yaml"') == 2   # the webserver and the daemon
    assert os.access(DEPLOY / "dagster-process.sh", os.X_OK) and os.access(DEPLOY / "server.sh", os.X_OK)
    unknown = subprocess.run(["bash", str(DEPLOY / "dagster-process.sh"), "nothing"], capture_output=True, text=True,
                             env={**os.environ, "DAGSTER_HOME": str(PROJECT_ROOT)})
    assert unknown.returncode == 2 and "usage" in unknown.stderr


def test_one_workspace_reaches_the_code_server_in_both(compose: dict, pyproject: dict):
    server = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())["load_from"][0]["grpc_server"]
    assert server["host"] == {"env": "CTI_CODE_SERVER_HOST"} and server["port"] == {"env": "CTI_CODE_SERVER_PORT"}
    assert server["location_name"] == pyproject["tool"]["dg"]["project"]["code_location_name"]
    top = yaml.safe_load((PROJECT_ROOT / "workspace.yaml").read_text())["load_from"][0]["python_module"]
    assert top["location_name"] == server["location_name"]

    services = compose["services"]
    for role in ROLES:   # compose: the code service by name, the port it listens on
        environment = services[role]["environment"]
        assert environment["CTI_CODE_SERVER_HOST"] == "code"
        assert environment["CTI_CODE_SERVER_PORT"] == "4000"
    assert services["code"]["environment"]["CTI_CODE_SERVER_LISTEN"] == "0.0.0.0"
    server_sh = (DEPLOY / "server.sh").read_text()   # one machine: loopback only
    assert "export CTI_CODE_SERVER_HOST=127.0.0.1 CTI_CODE_SERVER_LISTEN=127.0.0.1" in server_sh
    assert "export CTI_WEBSERVER_LISTEN=127.0.0.1" in server_sh


def test_one_instance_file_in_both(compose: dict):
    for role in ROLES:
        mounts = [v for v in compose["services"][role]["volumes"] if v.endswith("/opt/dagster/home/dagster.yaml:ro")]
        assert mounts, f"{role} has no instance file"
        assert re.search(r":-([^}]+)}", mounts[0]).group(1) == "dagster.postgres.yaml"
    assert 'cp "$DEPLOY/dagster.postgres.yaml" "$DAGSTER_HOME/dagster.yaml"' in (DEPLOY / "server.sh").read_text()
    instance = yaml.safe_load((DEPLOY / "dagster.postgres.yaml").read_text())
    assert instance["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert instance["concurrency"]["pools"]["default_limit"] == 1   # the duckdb pool


def test_the_ui_is_reached_only_through_the_proxy(compose: dict):
    services = compose["services"]
    assert "ports" not in services["webserver"] and "ports" not in services["code"] and "ports" not in services["daemon"]
    proxy = services["proxy"]
    assert proxy["ports"] == ["${CTI_PROXY_PORT:-8443}:8443"]
    assert "./proxy.conf.template:/etc/nginx/templates/cti_pipeline.conf.template:ro" in proxy["volumes"]

    template = (DEPLOY / "proxy.conf.template").read_text()
    code = "\n".join(line for line in template.splitlines() if not line.lstrip().startswith("#"))
    variables = set(re.findall(r"\$\{(\w+)\}", code))
    assert variables == {"CTI_PROXY_PORT", "CTI_WEBSERVER_UPSTREAM", "CTI_TLS_CERT", "CTI_TLS_KEY", "CTI_HTPASSWD"}
    assert variables <= set(proxy["environment"]), "the proxy container leaves a template variable unset"
    assert proxy["environment"]["CTI_PROXY_PORT"] == "8443"
    assert proxy["environment"]["CTI_WEBSERVER_UPSTREAM"] == f"webserver:{services['webserver']['environment']['CTI_WEBSERVER_PORT']}"
    server_sh = (DEPLOY / "server.sh").read_text()
    for variable in variables:   # and server.sh fills in every one of them
        assert f"[{variable}]=" in server_sh
    assert "auth_basic_user_file ${CTI_HTPASSWD};" in template and "ssl_certificate ${CTI_TLS_CERT};" in " ".join(template.split())


def test_the_image_carries_the_deploy_scripts(compose: dict):
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    copied = []
    for source in re.findall(r"^COPY (?:--chown=\S+ )?(\S+(?: \S+)*) \S+$", dockerfile, flags=re.M):
        for item in source.split():
            assert (PROJECT_ROOT / item).exists(), f"Dockerfile copies missing {item}"
            copied.append(item)
    for item in ("deploy/dagster-process.sh", "deploy/workspace.yaml", "deploy/dagster.postgres.yaml"):
        assert item in copied and f"!{item}" in ignore, f"{item} does not reach the image"
    assert re.search(r"^WORKDIR /opt/cti_pipeline$", dockerfile, flags=re.M)   # so deploy/... resolves
    assert re.search(r'^CMD \["deploy/dagster-process.sh", "code"\]$', dockerfile, flags=re.M)


def test_the_compose_file_is_coherent_with_the_images_and_instance_files(compose: dict):
    services = compose["services"]
    assert {"postgres", "code", "webserver", "daemon", "proxy"} <= set(services)
    docker_instance = yaml.safe_load((DEPLOY / "dagster.docker.yaml").read_text())["run_launcher"]["config"]
    for name in ROLES:
        service = services[name]
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        for variable in docker_instance["env_vars"]:  # what run containers receive, the daemon must have
            assert variable in service["environment"], f"{name} lacks {variable}"
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "cti_data:/data" in services["code"]["volumes"]  # DefaultRunLauncher: runs are the code server's subprocesses

    # DockerRunLauncher's network and volume are the compose file's fixed names
    assert compose["networks"]["cti"]["name"] == docker_instance["network"]
    volume_name = docker_instance["container_kwargs"]["volumes"][0].split(":")[0]
    assert compose["volumes"]["cti_data"]["name"] == volume_name

    init = services["postgres"]["volumes"][1].split(":")[0]
    assert (DEPLOY / init).exists()
    assert "postgres-init.sh" in (DEPLOY / "server.sh").read_text()   # the same roles and databases on one machine
    assert "cti_bi" in services["code"]["environment"]["CTI_PUBLISH_URL"]


def test_generated_state_stays_out_of_git():
    ignored = (PROJECT_ROOT / ".gitignore").read_text().splitlines()
    assert ".deploy/" in ignored and "deploy/.env" in ignored and ".pg/" in ignored


@pytest.mark.slow
def test_logins_are_added_changed_and_removed(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CTI_", "DAGSTER_"))}
    env.update(CTI_DEPLOY_ENV=str(tmp_path / "none.env"), CTI_DEPLOY_DIR=str(tmp_path / "state"))

    def user(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(DEPLOY / "server.sh"), "user", *args], input=stdin, env=env,
                              capture_output=True, text=True, timeout=60)

    htpasswd = tmp_path / "state" / "proxy" / "htpasswd"
    assert user("add", "ana", stdin="primera-clave-larga\n").returncode == 0
    assert user("add", "luis", stdin="segunda-clave-larga\n").returncode == 0
    first = htpasswd.read_text()
    assert user("add", "ana", stdin="otra-clave-mas-larga\n").returncode == 0   # a new password replaces the old
    lines = htpasswd.read_text().splitlines()
    assert [line.split(":")[0] for line in lines] == ["luis", "ana"]
    assert all(line.split(":")[1].startswith("$6$") for line in lines)   # SHA-512 crypt, never the password
    assert "primera-clave-larga" not in first and lines[1] not in first
    assert htpasswd.stat().st_mode & 0o007 == 0   # nobody else reads it
    assert user("list").stdout.split() == ["luis", "ana"]
    assert user("add", "corta", stdin="corta\n").returncode != 0
    assert user("add", "no:valido", stdin="una-clave-bastante-larga\n").returncode != 0
    assert user("del", "luis").returncode == 0
    assert user("list").stdout.split() == ["ana"]
    assert user("del", "nadie").returncode != 0


@pytest.mark.slow
def test_settings_are_read_as_compose_reads_the_env_file_and_the_environment_wins(tmp_path: Path):
    (tmp_path / "deploy.env").write_text(
        f"CTI_DEPLOY_DIR={tmp_path / 'state'}\n"
        "# a comment line\n"
        "CTI_WEBSERVER_PORT=3111   # a comment after the value\n"
        'CTI_CODE_SERVER_PORT="4111"\n'
        "CTI_PROXY_PORT=8443\n"
        "CTI_SERVER_NAME=cti.ejemplo.pe\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CTI_", "DAGSTER_"))}
    env.update(CTI_DEPLOY_ENV=str(tmp_path / "deploy.env"), CTI_PROXY_PORT="9443")
    status = subprocess.run(["bash", str(DEPLOY / "server.sh"), "status"], env=env, capture_output=True, text=True, timeout=60)
    assert status.returncode == 3   # nothing runs
    assert status.stdout.splitlines() == [
        "code: stopped, 127.0.0.1:4111",
        "webserver: stopped, 127.0.0.1:3111",
        "daemon: stopped, no port",
        "proxy: stopped, https://cti.ejemplo.pe:9443/",
        f"postgres: stopped, 127.0.0.1:5433 ({tmp_path / 'state' / 'postgres'})",
    ]
    assert not (tmp_path / "state").exists()   # reading settings creates nothing

    (tmp_path / "deploy.env").write_text("CTI_DEPLOY_DIR=relative/state\n")
    relative = subprocess.run(["bash", str(DEPLOY / "server.sh"), "status"], env=env, capture_output=True, text=True, timeout=60)
    assert relative.returncode == 1 and "absolute path" in relative.stderr


@pytest.mark.slow
def test_a_stale_pid_file_never_stops_another_program(tmp_path: Path):
    """After a reboot a pid file may name a process that is not ours: stop leaves it alone."""
    other = subprocess.Popen(["sleep", "60"], start_new_session=True)   # leads its own process group
    try:
        run = tmp_path / "state" / "run"
        run.mkdir(parents=True)
        (run / "daemon.pid").write_text(f"{other.pid} 1\n")   # same pid, another start time
        (run / "proxy.pid").write_text("1 1\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CTI_", "DAGSTER_"))}
        env.update(CTI_DEPLOY_ENV=str(tmp_path / "none.env"), CTI_DEPLOY_DIR=str(tmp_path / "state"))
        status = subprocess.run(["bash", str(DEPLOY / "server.sh"), "status"], env=env, capture_output=True, text=True, timeout=60)
        assert "daemon: stopped" in status.stdout and "proxy: stopped" in status.stdout
        stop = subprocess.run(["bash", str(DEPLOY / "server.sh"), "stop"], env=env, capture_output=True, text=True, timeout=60)
        assert stop.returncode == 0, stop.stderr
        assert other.poll() is None, "server.sh stop killed a process it did not start"
    finally:
        other.kill()
        other.wait()


def server_sh(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(DEPLOY / "server.sh"), *args], env=env, capture_output=True, text=True, timeout=60)


def clean_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CTI_", "DAGSTER_"))}
    env.update(settings)
    return env


@pytest.mark.slow
def test_only_the_owner_of_the_state_runs_the_deployment(tmp_path: Path):
    """Run as root by mistake, the UI and its runs would run as root and the owner could not stop them."""
    if os.geteuid() == 0:
        state = tmp_path / "state"
        state.mkdir()
        os.chown(state, 65534, 65534)   # nobody's
    else:
        state = Path("/usr")   # root's, not ours
    env = clean_env(CTI_DEPLOY_ENV=str(tmp_path / "none.env"), CTI_DEPLOY_DIR=str(state))
    for command in (["start"], ["stop"], ["restart", "webserver"], ["user", "list"], ["cert"]):
        refused = server_sh(*command, env=env)
        assert refused.returncode == 1, (command, refused.stderr)
        assert f"{state} belongs to" in refused.stderr and "run this as" in refused.stderr
    assert not (state / "run").exists() and not (state / "logs").exists()   # nothing started, nothing written
    assert server_sh("status", env=env).returncode == 3   # looking is allowed


@pytest.mark.slow
def test_a_self_signed_certificate_names_an_ip_address_as_an_address(tmp_path: Path):
    """Users who type https://192.0.2.10:8443/ need IP:192.0.2.10 in the certificate, not DNS:192.0.2.10."""
    for name, expected in (("192.0.2.10", "IP Address:192.0.2.10"), ("cti.ejemplo.pe", "DNS:cti.ejemplo.pe")):
        state = tmp_path / name
        made = server_sh("cert", env=clean_env(CTI_DEPLOY_ENV=str(tmp_path / "none.env"), CTI_DEPLOY_DIR=str(state),
                                               CTI_SERVER_NAME=name))
        assert made.returncode == 0, made.stderr
        certificate = next(state.rglob("selfsigned.crt"))
        names = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", str(certificate)],
                               capture_output=True, text=True, check=True).stdout
        assert expected in names and "DNS:localhost" in names and "IP Address:127.0.0.1" in names
        assert f"DNS:{name}" not in names or expected.startswith("DNS")


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("runuser"), reason="needs root to start a process of another user")
def test_a_process_the_owner_cannot_signal_keeps_its_pid_file_and_root_can_stop_it():
    """A process root started by mistake: the owner's stop says how to stop it and keeps tracking it."""
    tmp_path = Path(tempfile.mkdtemp(prefix="cti_owner_"))   # under /tmp: pytest's own folders are root's alone
    run = tmp_path / "state" / "run"
    run.mkdir(parents=True)
    stray = subprocess.Popen(["sleep", "120"], start_new_session=True)   # root's
    try:
        started = (Path(f"/proc/{stray.pid}/stat").read_text().rsplit(") ", 1)[1]).split()[19]
        (run / "daemon.pid").write_text(f"{stray.pid} {started}\n")
        # a copy of the script where nobody can read it (a checkout under a private folder may not be)
        script = tmp_path / "app" / "deploy" / "server.sh"
        script.parent.mkdir(parents=True)
        shutil.copy(DEPLOY / "server.sh", script)
        for path in (tmp_path / "app", script.parent):
            path.chmod(0o755)
        script.chmod(0o755)
        for path in (tmp_path, tmp_path / "state", run, run / "daemon.pid"):
            os.chown(path, 65534, 65534)
        env = clean_env(CTI_DEPLOY_ENV=str(tmp_path / "none.env"), CTI_DEPLOY_DIR=str(tmp_path / "state"), CTI_STOP_TIMEOUT="1")
        owner = subprocess.run(["runuser", "-u", "nobody", "--", "bash", str(script), "stop", "daemon"],
                               env=env, capture_output=True, text=True, timeout=60)
        assert owner.returncode == 1 and "as root, sudo" in owner.stderr and "stop daemon" in owner.stderr
        assert stray.poll() is None and (run / "daemon.pid").exists()
        assert server_sh("stop", "daemon", env=env).returncode == 0   # root, one process
        assert stray.wait(timeout=10) is not None and not (run / "daemon.pid").exists()
    finally:
        if stray.poll() is None:
            stray.kill()
            stray.wait()
        shutil.rmtree(tmp_path, ignore_errors=True)
