"""Runs whose process is gone are marked failed and give back their `duckdb` pool slot.

A run killed outright (kill -9, the OOM killer, a reboot, `docker kill`) stays STARTED in the instance and
keeps the only slot of the `duckdb` pool, so every later run would wait for ever. Each run records its
process (`cti/proceso`, set when its resources start: defs/resources.py); `reap_dead_runs` fails the
unfinished runs whose recorded process no longer runs on this host and frees their slots. The command line
calls it before it starts, and the sensor below does it every minute for the daemon's runs.
"""

import contextlib
import fcntl
from pathlib import Path

import dagster as dg

from cti_pipeline.defs.resources import PROCESS_TAG
from cti_pipeline.processes import is_gone

UNFINISHED = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


def reap_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Fail every unfinished run whose process is gone and free its pool slots; the run ids."""
    reaped = []
    for record in instance.get_run_records(dg.RunsFilter(statuses=UNFINISHED)):
        run = record.dagster_run
        process = run.tags.get(PROCESS_TAG)
        if not process or not is_gone(process):
            continue
        instance.report_run_failed(run, f"The process of this run ({process}) is gone (killed or the machine restarted): marked failed")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        reaped.append(run.run_id)
    return reaped


def ensure_pool_limit(instance: dg.DagsterInstance, pool: str = "duckdb") -> None:
    """Give `pool` exactly the instance's default number of slots before runs race for it. Two processes that
    initialise a brand-new pool at the same moment can each allocate a slot (on SQLite both count 0 slots,
    then both add one), so processes of one host take turns here (a lock file beside the instance); a pool
    left with too many slots by such a race is set back to the limit."""
    limit = instance.get_concurrency_config().pool_config.default_pool_limit
    if limit is None:
        return
    lock = Path(instance.root_directory) / ".cti-pool.lock" if instance.root_directory else None
    with open(lock, "a") if lock else contextlib.nullcontext() as handle:
        if handle is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        if instance.event_log_storage.get_concurrency_info(pool).slot_count != limit:
            instance.event_log_storage.set_concurrency_slots(pool, limit)


@dg.sensor(
    name="ejecuciones_interrumpidas",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Marca como fallidas las ejecuciones cuyo proceso ya no existe (matado, reinicio del servidor) y "
    "libera su turno en el pool duckdb, para que las siguientes no esperen para siempre.",
)
def ejecuciones_interrumpidas(context: dg.SensorEvaluationContext):
    reaped = reap_dead_runs(context.instance)
    if not reaped:
        return dg.SkipReason("no run whose process is gone")
    for run_id in reaped:
        context.log.warning(f"run {run_id[:8]}: its process is gone; marked failed and its duckdb slot freed")
    return dg.SkipReason(f"{len(reaped)} interrupted run(s) marked failed: {', '.join(r[:8] for r in reaped)}")
