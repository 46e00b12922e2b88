"""When a run fails, one clear line in the run's own log and in the sensor's log.

The line says which job, which partition (year), which step failed with the first line of its error,
and which landing folder holds the files concerned, so whoever reads it knows where to look.
"""

import dagster as dg

from cti_pipeline.defs.automation.sensors import LANDING_TAG
from cti_pipeline.landing.discovery import YEARLY_SOURCES

GPEDC_FOLDER = "landing/gpedc/ronda4/"
REGISTRY_FOLDER = "landing/entidades/"


def first_line(text: str | None) -> str:
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return "(no message)"


def user_error(error):
    """The user's own exception inside Dagster's wrappers (DagsterExecutionStepExecutionError → cause)."""
    while error is not None and error.cause is not None and (error.cls_name or "").startswith("Dagster"):
        error = error.cause
    return error


def _groups_of_step(repository_def: dg.RepositoryDefinition | None, step_key: str) -> set[str]:
    """The asset groups of the op behind `step_key` (empty when it is not an asset step or unknown)."""
    if repository_def is None:
        return set()
    groups: set[str] = set()
    for assets_def in repository_def.asset_graph.assets_defs:
        if assets_def.is_executable and assets_def.node_def.name == step_key.split(".")[0]:
            groups |= {g for g in assets_def.group_names_by_key.values() if g}
    return groups


def landing_folder(job_name: str, partition: str | None, tags: dict[str, str], groups: set[str]) -> str:
    """The landing folder a failure concerns: the sensor's tag when the run came from a drop, else from the step."""
    if tags.get(LANDING_TAG):
        return tags[LANDING_TAG]
    if job_name.startswith("gpedc") or any(g.startswith("gpedc") for g in groups):
        return GPEDC_FOLDER
    if job_name == "entidades_job" or "entidades" in groups:
        return REGISTRY_FOLDER
    year = partition or "<anio>"
    direct = [f"landing/{source}/{year}/" for source in YEARLY_SOURCES if source in groups]
    if direct:
        return " and ".join(direct)
    inputs = " and ".join(f"landing/{source}/{year}/" for source in YEARLY_SOURCES)
    return f"none directly (a downstream step); its inputs come from {inputs}"


def failure_lines(context: dg.RunFailureSensorContext) -> list[str]:
    run = context.dagster_run
    partition = run.tags.get("dagster/partition")
    failures = context.get_step_failure_events()
    prefix = f"Run {run.run_id[:8]} of job {run.job_name} failed; partition (year): {partition or 'none'}"
    if not failures:
        folder = landing_folder(run.job_name, partition, dict(run.tags), set())
        return [f"{prefix}; no step failed ({first_line(context.failure_event.message)}); landing folder: {folder}"]
    lines = []
    for event in failures:
        error = user_error(getattr(event.event_specific_data, "error", None))
        cause = first_line(error.message if error else event.message)
        if error and error.cls_name:
            qualified, _, rest = cause.partition(": ")
            if rest and qualified.split(".")[-1] == error.cls_name:
                cause = rest  # "pkg.module.ReferenceError: text" → "text"
            cause = f"{error.cls_name}: {cause}"
        folder = landing_folder(
            run.job_name, partition, dict(run.tags), _groups_of_step(context.repository_def, event.step_key or "")
        )
        lines.append(f"{prefix}; step {event.step_key} failed: {cause}; landing folder: {folder}")
    return lines


@dg.run_failure_sensor(
    name="cti_run_failure_sensor",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Escribe en el log de la ejecución fallida (y del sensor) qué job, año, paso y error, "
    "y qué carpeta de landing revisar.",
)
def cti_run_failure_sensor(context: dg.RunFailureSensorContext):
    for line in failure_lines(context):
        context.log.error(line)
        context.instance.report_engine_event(line, context.dagster_run)
