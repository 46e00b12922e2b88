"""A run killed outright never blocks later runs, and a run waiting for the duckdb pool stops on SIGTERM.

Real processes: `cti-pipeline materialize` started as a subprocess, killed with SIGKILL or SIGTERM while it
holds or waits for the pool's only slot. Every wait is on an event in the Dagster instance, with a deadline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from cti_pipeline.defs.automation.dead_runs import PROCESS_TAG, reap_dead_runs
from cti_pipeline.processes import identity, is_gone
from cti_pipeline.sample import write_sample_data

CLI = [sys.executable, "-m", "cti_pipeline.cli"]


def start(*arguments: str) -> subprocess.Popen:
    return subprocess.Popen([*CLI, *arguments], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def wait_for(condition, what: str, timeout: float = 180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"waited {timeout:.0f} s for {what}")


def run_of(instance: dg.DagsterInstance, partition: str) -> dg.DagsterRun | None:
    runs = instance.get_runs(dg.RunsFilter(tags={"dagster/partition": partition}))
    return runs[0] if runs else None


def has_event(instance: dg.DagsterInstance, run: dg.DagsterRun | None, text: str) -> bool:
    return run is not None and any(text in (entry.user_message or "") for entry in instance.all_logs(run.run_id))


@pytest.mark.slow
def test_identity_tells_a_live_process_from_a_gone_one_and_from_a_reused_pid():
    assert not is_gone(identity())  # this process
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    recorded = identity(child.pid)
    child.wait()
    assert is_gone(recorded)
    host, pid, start_ticks = identity().rsplit(":", 2)
    assert is_gone(f"{host}:{pid}:{int(start_ticks) + 1}")  # same pid, another start: another process
    assert not is_gone(f"another-host:{child.pid}:1")  # never judged from here
    assert not is_gone("not an identity")


@pytest.mark.slow
def test_a_run_killed_while_holding_the_pool_does_not_block_the_next_run(data_dir: Path):
    write_sample_data(data_dir, years=[2023, 2024], rows=20_000)
    instance = dg.DagsterInstance.get()
    victim = start("materialize", "--year", "2024", "--select", "group:declaraciones")
    wait_for(lambda: has_event(instance, run_of(instance, "2024"), 'Started execution of step "declaraciones"'), "the first run's step")
    os.killpg(victim.pid, signal.SIGKILL)  # as the OOM killer or a reboot would
    victim.wait()
    killed = run_of(instance, "2024")
    assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.STARTED  # what Dagster alone would keep
    assert killed.tags[PROCESS_TAG].split(":")[1] == str(victim.pid)  # the run recorded its process

    later = start("materialize", "--year", "2023", "--select", "group:declaraciones")
    output = later.communicate(timeout=300)[0]
    assert later.returncode == 0, output
    assert "had been interrupted (its process is gone): marked failed" in output
    assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE
    assert instance.event_log_storage.get_concurrency_info("duckdb").claimed_slots == []


@pytest.mark.slow
def test_a_run_waiting_for_the_pool_stops_on_sigterm_and_gives_its_turn_back(data_dir: Path):
    write_sample_data(data_dir, years=[2023], rows=50)
    instance = dg.DagsterInstance.get()
    # Another live run (this test's own process) holds the pool's only slot for as long as the test needs.
    holder = instance.add_run(dg.DagsterRun(job_name="pncti_anual_job", run_id="c" * 36, tags={PROCESS_TAG: identity()},
                                            status=dg.DagsterRunStatus.STARTED))
    instance.event_log_storage.set_concurrency_slots("duckdb", 1)
    instance.event_log_storage.claim_concurrency_slot("duckdb", holder.run_id, "declaraciones")

    waiting = start("materialize", "--year", "2023", "--select", "group:declaraciones")
    wait_for(lambda: has_event(instance, run_of(instance, "2023"), "blocked by limit for pool duckdb"), "the run to wait for the pool")
    waiting.send_signal(signal.SIGTERM)
    output = waiting.communicate(timeout=30)[0]
    assert waiting.returncode == 128 + signal.SIGTERM, output
    assert "stopped by SIGTERM" in output
    assert run_of(instance, "2023").status == dg.DagsterRunStatus.CANCELED
    info = instance.event_log_storage.get_concurrency_info("duckdb")
    assert [slot.run_id for slot in info.claimed_slots] == [holder.run_id]  # the holder's, nothing of the stopped run
    assert all(step.run_id == holder.run_id for step in info.pending_steps)


@pytest.mark.slow
def test_the_daemons_sensor_fails_a_run_whose_process_is_gone_and_frees_its_slot(data_dir: Path, defs: dg.Definitions):
    instance = dg.DagsterInstance.get()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    recorded = identity(gone.pid)
    gone.wait()
    dead = instance.add_run(dg.DagsterRun(job_name="pncti_anual_job", run_id="a" * 36, tags={PROCESS_TAG: recorded}, status=dg.DagsterRunStatus.STARTED))
    alive = instance.add_run(dg.DagsterRun(job_name="pncti_anual_job", run_id="b" * 36, tags={PROCESS_TAG: identity()}, status=dg.DagsterRunStatus.STARTED))
    instance.event_log_storage.set_concurrency_slots("duckdb", 1)
    instance.event_log_storage.claim_concurrency_slot("duckdb", dead.run_id, "declaraciones")

    with dg.build_sensor_context(instance_ref=instance.get_ref(), definitions=defs, resources=defs.resources) as context:
        result = defs.resolve_sensor_def("ejecuciones_interrumpidas").evaluate_tick(context)
    assert "1 interrupted run(s) marked failed" in result.skip_message
    assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
    assert instance.get_run_by_id(alive.run_id).status == dg.DagsterRunStatus.STARTED  # a live process is left alone
    assert instance.event_log_storage.get_concurrency_info("duckdb").claimed_slots == []
    assert reap_dead_runs(instance) == []  # once
