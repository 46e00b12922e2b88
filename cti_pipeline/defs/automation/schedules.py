"""Schedules (America/Lima): the yearly PNCTI run, and GPEDC runs that follow the roadmap phases.

Phase windows are read from reference/hoja_de_ruta.csv at every evaluation (the $CTI_DATA_DIR/reference/
override included), so moving a phase is an edit of that file. Outside its window a phase schedule
skips with a reason that names the phase and its window (visible in the UI's tick history).
"""

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg

from cti_pipeline.defs.partitions import add_years
from cti_pipeline.domain import roadmap
from cti_pipeline.landing import settle
from cti_pipeline.landing.discovery import YEARLY_SOURCES, years_with_files
from cti_pipeline.defs.resources import CtiConfig

TIMEZONE = "America/Lima"
LIMA = ZoneInfo(TIMEZONE)


def evaluation_day(context: dg.ScheduleEvaluationContext) -> dt.date:
    """The tick's date in Lima (a naive scheduled time is read as Lima time; no time means now)."""
    moment = context.scheduled_execution_time or dt.datetime.now(LIMA)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LIMA)
    return moment.astimezone(LIMA).date()


@dg.schedule(
    name="pncti_anual",
    cron_schedule="0 6 1 4 *",
    execution_timezone=TIMEZONE,
    job_name="pncti_anual_job",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Cada 1 de abril a las 06:00 (Lima): toda la cadena PNCTI del año anterior (las declaraciones "
    "vencen en el primer trimestre).",
)
def pncti_anual(context: dg.ScheduleEvaluationContext, cti: CtiConfig):
    day = evaluation_day(context)
    year = day.year - 1
    years, _ = years_with_files(cti.paths.landing_dir, YEARLY_SOURCES, today=day)
    if year not in years:
        return dg.SkipReason(f"No llegó ningún archivo de {year} a landing/declaraciones/{year}/ ni a landing/registros/{year}/.")
    add_years(context.instance, [year])  # a schedule cannot ask the daemon to add a partition as a sensor does
    return dg.RunRequest(run_key=f"pncti_anual-{year}", partition_key=str(year), tags={"cti/origen": "pncti_anual"})


@dg.schedule(
    name="declaraciones_seguimiento",
    cron_schedule="0 7 * 1-4 1",
    execution_timezone=TIMEZONE,
    job_name="declaraciones_seguimiento_job",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Los lunes a las 07:00 (Lima) de enero a abril: el seguimiento de la Declaración Anual del año anterior "
    "(quién presentó, quién está omisa) y `exports/omisas_{anio}.xlsx`, con lo que llegó hasta ese día.",
)
def declaraciones_seguimiento(context: dg.ScheduleEvaluationContext, cti: CtiConfig):
    day = evaluation_day(context)
    year = day.year - 1
    years, _ = years_with_files(cti.paths.landing_dir, ("declaraciones",), today=day)
    registry = any(settle.observe_folder(cti.paths.landing_dir / "entidades"))
    if year not in years and not registry:
        return dg.SkipReason(f"Ni declaraciones de {year} ni registro de entidades en landing/: no hay a quién seguir.")
    add_years(context.instance, [year])  # a schedule cannot ask the daemon to add a partition as a sensor does
    return dg.RunRequest(run_key=f"declaraciones_seguimiento-{day.isoformat()}", partition_key=str(year),
                         tags={"cti/origen": "declaraciones_seguimiento"})


def phase_schedule(name: str, cron_schedule: str, fase: int, job_name: str, when: str) -> dg.ScheduleDefinition:
    """A schedule that requests `job_name` on its cron ticks inside roadmap phase `fase`, and skips outside."""

    @dg.schedule(
        name=name,
        cron_schedule=cron_schedule,
        execution_timezone=TIMEZONE,
        job_name=job_name,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"{when} (Lima), solo dentro de la fase {fase} de reference/hoja_de_ruta.csv "
        f"(ventana leída del archivo en cada evaluación): ejecuta {job_name}.",
    )
    def _phase_schedule(context: dg.ScheduleEvaluationContext, cti: CtiConfig):
        day = evaluation_day(context)
        window = roadmap.phase(cti.paths.reference_override_dir, fase)
        if not window.contains(day):
            return dg.SkipReason(window.outside_reason(day))
        context.log.info(f"{name}: {day} is inside phase {fase} ({window.window}), requesting {job_name}")
        return dg.RunRequest(
            run_key=f"{name}-{day.isoformat()}",
            tags={"cti/origen": name, "cti/fase": str(fase)},
        )

    return _phase_schedule


gpedc_recoleccion = phase_schedule("gpedc_recoleccion", "0 7 * * 1", 2, "gpedc_recoleccion_job", "Los lunes a las 07:00")
gpedc_revision = phase_schedule("gpedc_revision", "0 7 * * *", 3, "gpedc_revision_job", "Cada día a las 07:00")
gpedc_divulgacion = phase_schedule("gpedc_divulgacion", "0 7 1 * *", 4, "gpedc_divulgacion_job", "El 1 de cada mes a las 07:00")
