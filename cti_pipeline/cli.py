"""The `cti-pipeline` command: materialise through Dagster, write sample data, write templates."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cti_pipeline.settings import PROJECT_ROOT, Settings

log = logging.getLogger("cti_pipeline.cli")

PNCTI_JOB = "pncti_anual_job"
GPEDC_JOB = "gpedc_job"
PUBLISH_JOB = "publicacion_job"
YEARLY_SOURCES = ("declaraciones", "registros")


def ensure_dagster_home() -> Path:
    """DAGSTER_HOME defaults to .dagster_home/ of the checkout, seeded with the project's dagster.yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or PROJECT_ROOT / ".dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() and (PROJECT_ROOT / "dagster.yaml").exists():
        shutil.copyfile(PROJECT_ROOT / "dagster.yaml", config)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def landing_years(settings: Settings) -> list[int]:
    from cti_pipeline.landing.discovery import discover_years

    years: set[int] = set()
    for source in YEARLY_SOURCES:
        found, warnings = discover_years(settings.paths.landing_dir / source)
        years.update(found)
        for warning in warnings:
            log.warning(warning)
    return sorted(years)


@dataclass
class RunSummary:
    label: str
    success: bool
    run_id: str
    materialized: dict[str, dict[str, object]] = field(default_factory=dict)
    failed_checks: list[str] = field(default_factory=list)
    warned_checks: list[str] = field(default_factory=list)
    failed_steps: list[str] = field(default_factory=list)


class SelectionError(ValueError):
    """A --select that Dagster cannot parse, or that names nothing this command can run."""


def resolve_selection(defs, selection: str | None):
    """The asset keys `selection` names, with the siblings a multi-asset must materialise with them
    (staging/declaraciones comes with raw/ and quarantine/declaraciones, as in the UI); None for all."""
    if selection is None:
        return None
    import dagster as dg

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", dg.BetaWarning)  # group: and tag: pass a beta parameter inside Dagster
            chosen = dg.AssetSelection.from_string(selection).required_multi_asset_neighbors().resolve(defs.resolve_asset_graph())
    except Exception as error:  # the grammar's errors, a bare name that is no key, clauses Dagster cannot resolve here
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise SelectionError(f"--select {selection!r} is not a valid asset selection: {first_line}") from error
    if not chosen:
        raise SelectionError(f"--select {selection!r} matches no asset (e.g. \"group:declaraciones\", \"key:staging/declaraciones\")")
    return chosen


@dataclass
class Plan:
    """Which assets each job runs: None is the whole job, an empty set is no run."""

    yearly: set | None  # pncti_anual_job, once per year
    gpedc: set | None  # gpedc_job, once, only without --year
    publish: set | None  # publicacion_job, once, after the others
    skipped: list[str] = field(default_factory=list)  # selected assets that this invocation does not run, and why


def plan_runs(defs, chosen, with_years: bool) -> Plan:
    """Route a selection to the jobs that run its assets. Partitioned assets run in the yearly job; the
    unpartitioned publication assets run once in their own job rather than once per year; the GPEDC round
    is not a year partition, so --year leaves it out (contract: "nothing of the GPEDC round")."""
    if chosen is None:
        return Plan(None, None if not with_years else set(), set())  # publication: only when a run needs it
    graph = defs.resolve_asset_graph()
    keys = {name: set(defs.resolve_job_def(name).asset_layer.executable_asset_keys) for name in (PNCTI_JOB, GPEDC_JOB, PUBLISH_JOB)}
    yearly = {key for key in chosen & keys[PNCTI_JOB] if graph.get(key).partitions_def is not None}
    publish = (chosen & keys[PUBLISH_JOB]) - yearly
    gpedc = (chosen & keys[GPEDC_JOB]) - yearly - publish
    plan = Plan(yearly, gpedc, publish)
    if with_years and gpedc:
        plan.skipped.append(f"{', '.join(sorted(k.to_user_string() for k in gpedc))} (the GPEDC round runs without --year)")
        plan.gpedc = set()
    orphans = chosen - yearly - gpedc - publish
    if orphans:
        plan.skipped.append(f"{', '.join(sorted(k.to_user_string() for k in orphans))} (in no job this command runs)")
    return plan


def run_job(defs, instance, job_name: str, partition_key: str | None, keys) -> RunSummary | None:
    """Run `job_name` in process: the whole job when `keys` is None, else only those assets (none: no run)."""
    if keys is not None and not keys:
        return None
    import dagster as dg

    job = defs.resolve_job_def(job_name)
    result = job.execute_in_process(
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        instance=instance,
        partition_key=partition_key,
        asset_selection=sorted(keys) if keys is not None else None,
        raise_on_error=False,
    )
    summary = RunSummary(label=f"{job_name}[{partition_key}]" if partition_key else job_name, success=result.success, run_id=result.run_id)
    for event in result.all_events:
        if event.event_type_value == "ASSET_MATERIALIZATION":
            metadata = event.event_specific_data.materialization.metadata
            summary.materialized[event.asset_key.to_user_string()] = {k: v.value for k, v in metadata.items()}
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if not evaluation.passed:
                name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
                if evaluation.severity == dg.AssetCheckSeverity.WARN:
                    summary.warned_checks.append(name)
                else:
                    summary.failed_checks.append(name)
        elif event.event_type_value == "STEP_FAILURE":
            summary.failed_steps.append(f"{event.step_key}: {root_cause(event.event_specific_data.error)}")
    return summary


def root_cause(error) -> str:
    """The innermost error of a Dagster SerializableErrorInfo chain, on one line."""
    while error.cause is not None:
        error = error.cause
    return f"{error.cls_name}: {error.message.strip().splitlines()[-1]}" if error.message.strip() else error.cls_name


def summary_lines(summary: RunSummary) -> list[str]:
    """What one run staged, quarantined and rejected, from its assets' materialisation metadata."""
    staged = {k: m.get("dagster/row_count") for k, m in summary.materialized.items() if k.startswith("staging/")}
    quarantine = [m for k, m in summary.materialized.items() if k.startswith("quarantine/")]
    marts = {k: m.get("dagster/row_count") for k, m in summary.materialized.items() if k.startswith("marts/")}
    lines = []
    if staged:
        lines.append("    rows staged: " + ", ".join(f"{k.removeprefix('staging/')} {v}" for k, v in sorted(staged.items())))
    if quarantine:
        rows = sum(int(m.get("filas_en_cuarentena", 0) or 0) for m in quarantine)
        rules = sum(int(m.get("dagster/row_count", 0) or 0) for m in quarantine)
        files = sum(int(m.get("archivos_rechazados", 0) or 0) for m in quarantine)
        lines.append(f"    rows quarantined: {rows} ({rules} broken rules); files rejected: {files}")
    if marts:
        lines.append("    marts: " + ", ".join(f"{k.removeprefix('marts/')} {v} rows" for k, v in sorted(marts.items())))
    return lines


def materialize(years: list[int] | None, selection: str | None) -> int:
    ensure_dagster_home()
    import dagster as dg

    from cti_pipeline.definitions import defs as load_defs

    settings = Settings.from_env()
    defs = load_defs()
    try:
        chosen = resolve_selection(defs, selection)
    except SelectionError as error:
        print(str(error), file=sys.stderr)
        return 2
    plan = plan_runs(defs, chosen, bool(years))
    for skipped in plan.skipped:
        print(f"--select: not run: {skipped}", file=sys.stderr)
    if chosen is not None and not (plan.yearly or plan.gpedc or plan.publish):
        print(f"--select {selection!r}: nothing to run", file=sys.stderr)
        return 2
    instance = dg.DagsterInstance.get()
    partitions = defs.resolve_job_def(PNCTI_JOB).partitions_def
    valid = set(partitions.get_partition_keys(dynamic_partitions_store=instance))
    unknown = [year for year in years or [] if str(year) not in valid]
    if unknown:
        print(f"no such year partition: {', '.join(map(str, unknown))} (partitions run {min(valid)}–{max(valid)})", file=sys.stderr)
        return 2
    run_years = years or []
    if not years:
        found = landing_years(settings)
        run_years = [year for year in found if str(year) in valid]
        for year in sorted(set(found) - set(run_years)):
            print(f"year folder {year} under landing/ is outside the partitions ({min(valid)}–{max(valid)}); skipped", file=sys.stderr)
    summaries: list[RunSummary] = []
    for year in run_years:
        summaries.append(run_job(defs, instance, PNCTI_JOB, str(year), plan.yearly))
    summaries.append(run_job(defs, instance, GPEDC_JOB, None, plan.gpedc))
    # A successful run that changed marts without publishing them (GPEDC, --select) is followed by the
    # publication job, as the daemon's run-status sensor does for UI runs (defs/publishing.py).
    from cti_pipeline.publishing import needs_publication

    summaries = [summary for summary in summaries if summary]
    if plan.publish:  # selected publication assets run once, after what they publish
        summaries.append(run_job(defs, instance, PUBLISH_JOB, None, plan.publish))
    elif any(s.success and needs_publication(s.materialized) for s in summaries):
        summaries.append(run_job(defs, instance, PUBLISH_JOB, None, None))

    print(f"\ncti-pipeline materialize — data: {settings.data_dir}  warehouse: {settings.warehouse}")
    for summary in summaries:
        state = "OK" if summary.success else "FAILED"
        print(f"  {summary.label}: {state}, {len(summary.materialized)} assets materialised (run {summary.run_id})")
        for line in summary_lines(summary):
            print(line)
        for check in summary.warned_checks:
            print(f"    warning (check): {check}")
        for check in summary.failed_checks:
            print(f"    failed check: {check}")
        for step in summary.failed_steps:
            print(f"    failed step: {step}")
    if not summaries:
        print("  nothing to materialise: no year folders under landing/" + (" (and the GPEDC round runs without --year)" if years else ""))
    return 0 if all(s.success for s in summaries) else 1


def sample_data(out: Path, years: list[int], rows: int, seed: int) -> int:
    from cti_pipeline.defs.partitions import yearly_partitions

    partitions = yearly_partitions.get_partition_keys()
    for year in years:
        if str(year) not in partitions:
            print(f"warning: year {year} is outside the partitions ({partitions[0]}–{partitions[-1]}): materialize will skip it", file=sys.stderr)
    from cti_pipeline.sample import write_sample_data

    landing = write_sample_data(out, years, rows, seed)
    print(f"sample data written to {landing}")
    return 0


def template(kind: str, name: str | None, out: Path) -> int:
    try:
        from cti_pipeline.outputs.templates import write_template
    except ImportError:
        print("templates are not available in this version", file=sys.stderr)
        return 2
    try:
        path = write_template(kind, name, out)
    except ValueError as error:
        print(str(error), file=sys.stderr)
        return 2
    print(f"template written to {path}")
    return 0


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cti-pipeline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser(
        "materialize",
        help="materialise assets through Dagster (recorded at DAGSTER_HOME, visible in the UI)",
        description="Without --year: every year found under landing/ plus the GPEDC round. With --year: only "
        "those years' partitions. Exits 1 when a step fails (quarantined rows or files are not failures), 2 on a year that is no partition "
        "or a --select that matches nothing to run.",
    )
    run.add_argument("--year", type=int, action="append", dest="years", metavar="Y", help="a year partition (repeatable)")
    run.add_argument("--select", metavar="DAGSTER_SELECTION", help='asset selection, e.g. "group:declaraciones" or "key:staging/declaraciones" (an asset made together '
                     'with others, like the three of the declarations, brings them along)')

    sample = commands.add_parser("sample-data", help="write realistic, deterministic sample inputs (with some bad files and rows)")
    sample.add_argument("--out", type=Path, required=True, help="a data dir (files go to DIR/landing/) or a landing dir")
    sample.add_argument("--years", type=int, nargs="+", default=[2023, 2024])
    sample.add_argument("--rows", type=positive_int, default=480, help="declaration rows per year (default 480)")
    sample.add_argument("--seed", type=int, default=2030)

    blank = commands.add_parser("template", help="write a blank Excel template with dropdowns and validation")
    blank.add_argument("kind", choices=["declaracion", "registros", "gpedc"])
    blank.add_argument("name", nargs="?", help="the registros KIND or the gpedc ROLE")
    blank.add_argument("--out", type=Path, required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    if args.command == "materialize":
        return materialize(args.years, args.select)
    if args.command == "sample-data":
        return sample_data(args.out, args.years, args.rows, args.seed)
    return template(args.kind, args.name, args.out)


if __name__ == "__main__":
    sys.exit(main())
