"""File-drop sensors: a new, changed or removed file in a landing folder requests one run of its year.

The scanning and the settling rule are pure (cti_pipeline/landing/settle.py): a group (year folder,
or the GPEDC round folder) is acted on when two consecutive ticks see the same files with the same size
and modification time, and that set differs from the last one handled. The run key is the fingerprint
of those files, so a tick that sees nothing new requests nothing and a restarted daemon (which keeps
the cursor, and in any case de-duplicates run keys) never re-runs a handled drop.

Every run that handles a folder, the sensor's or `cti-pipeline materialize`'s, carries the tag
`cti/huella/<source>/<group>` = the fingerprint of the files it read (`handled_tags`). A sensor that has
not handled a folder yet (a fresh instance after `scripts/up.sh`, a lost cursor) adopts a successful run
of exactly those files instead of requesting another. A year folder that holds files becomes a
partition when it settles (the sensor adds it).
"""

from datetime import date

import dagster as dg

from cti_pipeline.defs import jobs as job_defs
from cti_pipeline.defs import entidades as entidades_defs
from cti_pipeline.defs.partitions import YEARS
from cti_pipeline.defs.resources import CtiConfig
from cti_pipeline.landing import settle
from cti_pipeline.landing.discovery import FIRST_YEAR

MINIMUM_INTERVAL_SECONDS = 30
LANDING_TAG = "cti/landing"
FINGERPRINT_TAG = "cti/huella"
FILES_TAG = "cti/archivos"


def handled_tag(prefix: str, group: str) -> str:
    return f"{FINGERPRINT_TAG}.{prefix}.{group}"  # one namespace "/" at most: Dagster tag keys


def handled_tags(prefix: str, group: str, fingerprint: str) -> dict[str, str]:
    """What a run that reads `landing/<prefix>/<group>/` records of the files it read."""
    return {handled_tag(prefix, group): fingerprint}


def already_handled(context: dg.SensorEvaluationContext, prefix: str, settled: settle.Settled) -> bool:
    """A successful run (of this sensor, or of the command line) read exactly these files."""
    done = context.instance.get_run_records(
        dg.RunsFilter(tags=handled_tags(prefix, settled.group, settled.fingerprint), statuses=[dg.DagsterRunStatus.SUCCESS]), limit=1
    )
    return bool(done)


def downstream_selection(asset_graph, group: str, job_selection: dg.AssetSelection) -> list[dg.AssetKey]:
    """The assets of `group` and everything downstream of them that the job selects.

    A multi-asset that cannot be subset is taken whole. Empty when the group has no assets (yet).
    """
    keys = (dg.AssetSelection.groups(group).downstream() & job_selection).resolve(asset_graph, allow_missing=True)
    whole: set[dg.AssetKey] = set()
    for key in keys:
        whole |= set(asset_graph.get(key).execution_set_asset_keys)
    return sorted((k for k in whole if asset_graph.get(k).is_materializable), key=lambda k: k.to_user_string())


def _previous_state(context: dg.SensorEvaluationContext) -> dict[str, settle.GroupState]:
    try:
        return settle.load_cursor(context.cursor)
    except settle.CursorError as error:
        context.log.warning(str(error))
        return {}


def _tags(prefix: str, settled: settle.Settled) -> dict[str, str]:
    return {
        # a folder watched whole (the registry) is its own group
        LANDING_TAG: f"landing/{prefix}/" if settled.group == prefix else f"landing/{prefix}/{settled.group}/",
        FINGERPRINT_TAG: settled.fingerprint,
        FILES_TAG: str(settled.files),
        **handled_tags(prefix, settled.group, settled.fingerprint),
    }


def run_key(context: dg.SensorEvaluationContext, name: str, prefix: str, settled: settle.Settled) -> str:
    """The fingerprint of the files, so that a drop already handled is never run twice, even with the
    cursor lost (Dagster refuses a run key it has seen). When the files return to a set an earlier run
    already had (a file dropped, then removed again), the key gets the number of such earlier runs:
    the removal must run, or the removed file's rows would stay in the warehouse."""
    key = f"{name}-{settled.group}-{settled.fingerprint}"
    if settled.previous is None:
        return key
    earlier = context.instance.get_run_records(
        dg.RunsFilter(tags={LANDING_TAG: f"landing/{prefix}/{settled.group}/", FINGERPRINT_TAG: settled.fingerprint})
    )
    return f"{key}-{len(earlier)}" if earlier else key


def _result(
    context: dg.SensorEvaluationContext,
    prefix: str,
    scan: settle.Scan,
    step: settle.Advance,
    requests: list[dg.RunRequest],
    new_years: list[str] = (),
) -> dg.SensorResult:
    cursor = settle.dump_cursor(step.cursor)
    partitions = [dg.AddDynamicPartitionsRequest(YEARS, sorted(new_years))] if new_years else []
    if requests or partitions:
        for warning in scan.warnings:
            context.log.warning(warning)
        return dg.SensorResult(run_requests=requests, cursor=cursor, dynamic_partitions_requests=partitions)
    if step.waiting:
        reason = f"landing/{prefix}: waiting for {', '.join(step.waiting)} to settle (files changed since the last tick)"
    else:
        reason = f"landing/{prefix}: nothing new ({len(scan.groups)} folder(s), {scan.file_count} file(s) already handled)"
    return dg.SensorResult(skip_reason=reason, cursor=cursor)


def yearly_landing_sensor(source: str, description: str) -> dg.SensorDefinition:
    """Watches `landing/<source>/<anio>/`; requests pncti_anual_job for that year, `source` group + downstream."""

    @dg.sensor(
        name=f"{source}_sensor",
        job_name=job_defs.pncti_anual_job.name,
        minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=description,
    )
    def _sensor(context: dg.SensorEvaluationContext, cti: CtiConfig):
        scan = settle.scan_years(cti.paths.landing_dir / source)
        step = settle.advance(_previous_state(context), scan, source)
        requests: list[dg.RunRequest] = []
        new_years: list[str] = []
        if step.settled:
            if context.repository_def is None:
                raise dg.DagsterInvariantViolationError(f"{source}_sensor needs the repository to resolve its assets")
            selection = downstream_selection(context.repository_def.asset_graph, source, job_defs.pncti_anual_job.selection)
            years = set(context.instance.get_dynamic_partitions(YEARS))
            for settled in step.settled:
                if not FIRST_YEAR <= int(settled.group) <= date.today().year + 1:
                    context.log.info(f"landing/{source}/{settled.group}/ changed but {settled.group} is not a year of data: skipped")
                    continue
                if settled.group not in years:
                    if not settled.files:
                        continue  # an emptied folder of a year that is no partition: nothing to clear
                    new_years.append(settled.group)
                if settled.previous is None and already_handled(context, source, settled):
                    context.log.info(f"landing/{source}/{settled.group}/: a successful run already read these files")
                    continue
                if not selection:
                    context.log.warning(f"no asset in group {source}: landing/{source}/{settled.group}/ not processed")
                    continue
                context.log.info(
                    f"landing/{source}/{settled.group}/ settled on {settled.files} file(s) "
                    f"(fingerprint {settled.fingerprint}): requesting partition {settled.group}"
                )
                requests.append(
                    dg.RunRequest(
                        run_key=run_key(context, source, source, settled),
                        partition_key=settled.group,
                        asset_selection=selection,
                        tags=_tags(source, settled),
                    )
                )
        return _result(context, source, scan, step, requests, new_years)

    return _sensor


def folder_landing_sensor(name: str, prefix: str, folder: str, job_name: str, description: str) -> dg.SensorDefinition:
    """Watches the flat folder `landing/<prefix>/<folder>/`; requests the whole (unpartitioned) `job_name`."""

    @dg.sensor(
        name=name,
        job_name=job_name,
        minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=description,
    )
    def _sensor(context: dg.SensorEvaluationContext, cti: CtiConfig):
        scan = settle.scan_folder(cti.paths.landing_dir / prefix / folder)
        step = settle.advance(_previous_state(context), scan, prefix)
        requests = []
        for settled in step.settled:
            if settled.previous is None and already_handled(context, prefix, settled):
                context.log.info(f"landing/{prefix}/{settled.group}/: a successful run already read these files")
                continue
            context.log.info(
                f"landing/{prefix}/{settled.group}/ settled on {settled.files} file(s) "
                f"(fingerprint {settled.fingerprint}): requesting {job_name}"
            )
            requests.append(
                dg.RunRequest(run_key=run_key(context, name, prefix, settled), tags=_tags(prefix, settled))
            )
        return _result(context, prefix, scan, step, requests)

    return _sensor


@dg.sensor(
    name="entidades_sensor",
    jobs=[job_defs.pncti_anual_job, entidades_defs.entidades_job],
    minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Un registro de entidades nuevo o cambiado en landing/entidades/ vuelve a calcular el seguimiento de la "
    "Declaración Anual (y lo que depende de él) de cada año ya cargado, cuando los archivos dejan de cambiar; sin años "
    "cargados, solo lee el registro (entidades_job).",
)
def entidades_sensor(context: dg.SensorEvaluationContext, cti: CtiConfig):
    prefix = "entidades"
    scan = settle.scan_folder(cti.paths.landing_dir / prefix, group=prefix)
    step = settle.advance(_previous_state(context), scan, prefix)
    requests: list[dg.RunRequest] = []
    for settled in step.settled:
        if settled.previous is None and already_handled(context, prefix, settled):
            context.log.info(f"landing/{prefix}/: a successful run already read these files")
            continue
        key = run_key(context, "entidades", prefix, settled)
        years = sorted(context.instance.get_dynamic_partitions(YEARS))
        if not years:
            context.log.info(f"landing/{prefix}/ settled on {settled.files} file(s): no year loaded yet, reading the registry alone")
            requests.append(dg.RunRequest(run_key=key, job_name=entidades_defs.entidades_job.name, tags=_tags(prefix, settled)))
            continue
        if context.repository_def is None:
            raise dg.DagsterInvariantViolationError("entidades_sensor needs the repository to resolve its assets")
        selection = downstream_selection(context.repository_def.asset_graph, prefix, job_defs.pncti_anual_job.selection)
        context.log.info(f"landing/{prefix}/ settled on {settled.files} file(s): refreshing the filing tracker of {', '.join(years)}")
        requests += [
            dg.RunRequest(run_key=f"{key}-{year}", job_name=job_defs.pncti_anual_job.name, partition_key=year,
                          asset_selection=selection, tags=_tags(prefix, settled))
            for year in years
        ]
    return _result(context, prefix, scan, step, requests)


declaraciones_sensor = yearly_landing_sensor(
    "declaraciones",
    "Un archivo nuevo, cambiado o retirado en `landing/declaraciones/{anio}/` pide una ejecución de ese año "
    "(declaraciones y todo lo que depende de ellas en pncti_anual_job), cuando los archivos dejan de cambiar.",
)
registros_sensor = yearly_landing_sensor(
    "registros",
    "Un archivo nuevo, cambiado o retirado en `landing/registros/{anio}/` pide una ejecución de ese año "
    "(registros administrativos y todo lo que depende de ellos en pncti_anual_job), cuando los archivos dejan de cambiar.",
)


gpedc_sensor = folder_landing_sensor(
    "gpedc_sensor",
    "gpedc",
    "ronda4",
    "gpedc_job",
    "Un archivo nuevo, cambiado o retirado en landing/gpedc/ronda4/ pide una ejecución de gpedc_job, "
    "cuando los archivos dejan de cambiar.",
)
