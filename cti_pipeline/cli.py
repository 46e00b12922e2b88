"""The `cti-pipeline` command: materialise through Dagster, write sample data, write templates."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import shutil
import signal
import sys
import threading
import time
import uuid
import warnings
from contextlib import contextmanager
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cti_pipeline.settings import PROJECT_ROOT, Settings

log = logging.getLogger("cti_pipeline.cli")

PNCTI_JOB = "pncti_anual_job"
GPEDC_JOB = "gpedc_job"
PUBLISH_JOB = "publicacion_job"


def ensure_dagster_home() -> Path:
    """DAGSTER_HOME defaults to .dagster_home/ of the checkout, seeded with the project's dagster.yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or PROJECT_ROOT / ".dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() and (PROJECT_ROOT / "dagster.yaml").exists():
        shutil.copyfile(PROJECT_ROOT / "dagster.yaml", config)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


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


def run_job(defs, instance, job_name: str, partition_key: str | None, keys, tags: dict[str, str] | None = None,
            progress: Progress | None = None) -> RunSummary | None:
    """Run `job_name` in process: the whole job when `keys` is None, else only those assets (none: no run)."""
    if keys is not None and not keys:
        return None
    import dagster as dg

    job = defs.resolve_job_def(job_name)
    label = f"{job_name}[{partition_key}]" if partition_key else job_name
    run_id = str(uuid.uuid4())
    outcome: dict[str, object] = {}

    def execute() -> None:
        try:
            outcome["result"] = job.execute_in_process(
                run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
                instance=instance,
                partition_key=partition_key,
                asset_selection=sorted(keys) if keys is not None else None,
                raise_on_error=False,
                run_id=run_id,
                tags=tags,
            )
        except BaseException as error:  # noqa: BLE001 - handed to the main thread
            outcome["error"] = error

    # Dagster runs in a worker thread: in the main thread it would capture SIGTERM and SIGINT and, while a step
    # waits for the duckdb pool, never look at them again. Here this thread keeps them (stop_on_signal).
    worker = threading.Thread(target=execute, name=f"run-{run_id[:8]}", daemon=True)
    with (progress or Progress(enabled=False)).run(label, instance, run_id), stop_on_signal(instance, run_id, label):
        worker.start()
        while worker.is_alive():
            worker.join(0.2)
    if "error" in outcome:
        raise outcome["error"]
    result = outcome["result"]
    summary = RunSummary(label=label, success=result.success, run_id=result.run_id)
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


@contextmanager
def stop_on_signal(instance, run_id: str, label: str):
    """SIGTERM or SIGINT (Ctrl-C) stop the command at once, even while its run waits for the duckdb pool: the
    run is marked canceled and gives back any slot. A step cut short leaves the warehouse as it was (each year
    is written in one transaction)."""

    def stop(signum, _frame) -> None:
        run = instance.get_run_by_id(run_id)
        if run is not None and not run.is_finished:
            instance.report_run_canceled(run, f"cti-pipeline stopped by signal {signal.Signals(signum).name}")
            instance.event_log_storage.free_concurrency_slots_for_run(run_id)
        print(f"\n{label}: stopped by {signal.Signals(signum).name}; run {run_id} canceled", file=sys.stderr, flush=True)
        os._exit(128 + signum)

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class Progress:
    """On a terminal, what a long materialize is doing: "[2/3] pncti_anual_job[2024]", each step as it ends,
    and the elapsed time (read from the run's own events while it runs)."""

    def __init__(self, total: int = 0, enabled: bool | None = None, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.total, self.done, self.started = total, 0, time.monotonic()

    @contextmanager
    def run(self, label: str, instance, run_id: str):
        self.done += 1
        if not self.enabled:
            yield
            return
        print(f"[{self.done}/{self.total}] {label} …", file=self.stream, flush=True)
        stop = threading.Event()
        watcher = threading.Thread(target=self._watch, args=(instance, run_id, stop), daemon=True)
        watcher.start()
        try:
            yield
        finally:
            stop.set()
            watcher.join()
            print(f"[{self.done}/{self.total}] {label} done, {self.elapsed()} elapsed", file=self.stream, flush=True)

    def elapsed(self) -> str:
        seconds = int(time.monotonic() - self.started)
        return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"

    def _watch(self, instance, run_id: str, stop: threading.Event) -> None:
        import dagster as dg

        seen = 0
        while not stop.wait(1.0):
            try:
                records = instance.get_records_for_run(run_id=run_id, of_type={dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}).records
            except Exception:  # the run's storage is not there yet
                continue
            for record in records[seen:]:
                event = record.event_log_entry.dagster_event
                state = "done" if event.event_type == dg.DagsterEventType.STEP_SUCCESS else "FAILED"
                print(f"    step {event.step_key} {state} ({self.elapsed()})", file=self.stream, flush=True)
            seen = len(records)


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


def materialize(years: list[int] | None, selection: str | None, allow_empty: bool = False) -> int:
    ensure_dagster_home()
    import dagster as dg

    from cti_pipeline.defs.partitions import add_years
    from cti_pipeline.definitions import defs as load_defs
    from cti_pipeline.landing.discovery import FIRST_YEAR, YEARLY_SOURCES, years_with_files
    from cti_pipeline.publishing import needs_publication

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
    with_input, warnings = years_with_files(settings.paths.landing_dir, YEARLY_SOURCES)
    for warning in warnings:
        log.warning(warning)
    instance = prepared_instance()
    run_years = sorted(with_input) if not years else []
    last = dt.date.today().year + 1
    for year in years or []:
        if not FIRST_YEAR <= year <= last:
            print(f"{year}: not a year of data ({FIRST_YEAR}–{last}); nothing materialised", file=sys.stderr)
        elif year in with_input or allow_empty:
            run_years.append(year)
        else:
            print(f"{year}: no file under landing/declaraciones/{year}/ or landing/registros/{year}/; nothing materialised "
                  "(--allow-empty materialises an empty year on purpose)", file=sys.stderr)
    if plan.yearly is None or plan.yearly:
        add_years(instance, run_years)
    runs = [(PNCTI_JOB, str(year), plan.yearly, year_tags(settings, year, plan.yearly)) for year in run_years]
    runs.append((GPEDC_JOB, None, plan.gpedc, folder_tags(settings, "gpedc", "ronda4") if reads(plan.gpedc, "gpedc") else {}))
    progress = Progress(total=sum(keys is None or bool(keys) for _, _, keys, _ in runs))
    summaries = [run_job(defs, instance, job, key, keys, tags, progress) for job, key, keys, tags in runs]
    summaries = [summary for summary in summaries if summary]
    # A successful run that changed marts without publishing them (GPEDC, --select) is followed by the
    # publication job, as the daemon's run-status sensor does for UI runs (defs/publishing.py).
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
        print("  nothing to materialise: no year with files under landing/" + (" (and the GPEDC round runs without --year)" if years else ""))
    return 0 if all(s.success for s in summaries) else 1


def prepared_instance():
    """The Dagster instance, with runs whose process is gone marked failed (their duckdb slot freed) and the
    duckdb pool given its slots before this command's runs claim one."""
    import dagster as dg

    from cti_pipeline.defs.automation.dead_runs import ensure_pool_limit, reap_dead_runs

    instance = dg.DagsterInstance.get()
    ensure_pool_limit(instance)
    for run_id in reap_dead_runs(instance):
        print(f"run {run_id} had been interrupted (its process is gone): marked failed, its duckdb slot freed", file=sys.stderr)
    return instance


def folder_tags(settings: Settings, prefix: str, group: str) -> dict[str, str]:
    """The tag the file-drop sensors look for: this run read these files (defs/automation/sensors.py). The
    registry's folder is `landing/entidades/` itself (group `entidades`)."""
    from cti_pipeline.defs.automation.sensors import handled_tags
    from cti_pipeline.landing import settle

    folder = settings.paths.landing_dir / prefix / (group if group != prefix else "")
    files = settle.observe_folder(folder)
    return handled_tags(prefix, group, settle.fingerprint(f"{prefix}/{group}", files)) if files else {}


def reads(keys, source: str) -> bool:
    """Whether a run of `keys` (None: its whole job) reads `source`'s landing folder (its raw asset)."""
    import dagster as dg

    return keys is None or dg.AssetKey(["raw", source]) in keys


def year_tags(settings: Settings, year: int, keys) -> dict[str, str]:
    """A year's run reads its folders of every yearly source, and the registry (those its selection reads)."""
    from cti_pipeline.landing.discovery import YEARLY_SOURCES

    tags = {}
    for source, group in [*((source, str(year)) for source in YEARLY_SOURCES), ("entidades", "entidades")]:
        if reads(keys, source):
            tags.update(folder_tags(settings, source, group))
    return tags


def withdraw_year(year: int) -> int:
    """Take a year out of the warehouse, the exports, BI and the partitions (e.g. one materialised by mistake)."""
    ensure_dagster_home()
    import dagster as dg

    from cti_pipeline.contracts.tables import yearly_tables
    from cti_pipeline.defs.partitions import YEARS
    from cti_pipeline.definitions import defs as load_defs
    from cti_pipeline.landing.discovery import YEARLY_SOURCES, years_with_files
    from cti_pipeline.outputs import year_outputs
    from cti_pipeline.warehouse import delete_year

    settings = Settings.from_env()
    with_input, _ = years_with_files(settings.paths.landing_dir, YEARLY_SOURCES)
    if year in with_input:
        folders = ", ".join(f"landing/{source}/{year}/" for source in with_input[year])
        print(f"{year} still has files in {folders}: move them away first, or the file-drop sensors add the year again",
              file=sys.stderr)
        return 2
    import duckdb

    deleted = {}
    if settings.warehouse.exists():
        try:
            conn = duckdb.connect(str(settings.warehouse))
        except duckdb.IOException as error:  # a run holds the warehouse (DuckDB admits one writer process)
            print(f"the warehouse is in use ({str(error).splitlines()[0]}): try again when the running runs end", file=sys.stderr)
            return 1
        with conn:
            deleted = delete_year(conn, year, yearly_tables())
    removed = year_outputs(settings.paths.exports_dir, year)
    for path in removed:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    for origen in YEARLY_SOURCES:
        shutil.rmtree(settings.paths.read_cache_dir(origen, year), ignore_errors=True)
    instance = prepared_instance()
    if instance.has_dynamic_partition(YEARS, str(year)):
        instance.delete_dynamic_partition(YEARS, str(year))
    publication = run_job(load_defs(), instance, PUBLISH_JOB, None, None)
    print(f"{year} withdrawn: {sum(deleted.values())} rows from {len([t for t, n in deleted.items() if n])} tables, "
          f"{len(removed)} export(s); partition removed; BI republished ({'OK' if publication.success else 'FAILED'})")
    return 0 if publication.success else 1


def sample_data(out: Path, years: list[int], rows: int, seed: int) -> int:
    from cti_pipeline.landing.discovery import FIRST_YEAR
    from cti_pipeline.sample import write_sample_data

    last = dt.date.today().year + 1
    for year in years:
        if not FIRST_YEAR <= year <= last:
            print(f"warning: year {year} is outside the years of data ({FIRST_YEAR}–{last}): materialize will skip it", file=sys.stderr)

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
        description="Without --year: every year with files under landing/ plus the GPEDC round. With --year: only "
        "those years (a year with no landed file is skipped, with a message, unless --allow-empty). Exits 1 when a step fails "
        "(quarantined rows or files are not failures), 2 on a --select that matches nothing to run. On a terminal it shows "
        "each run and step as it ends.",
    )
    run.add_argument("--year", type=int, action="append", dest="years", metavar="Y", help="a year (repeatable); a year without any landed file is not materialised unless --allow-empty")
    run.add_argument("--allow-empty", action="store_true", help="materialise a --year even when no file landed for it (an all-ND year)")
    run.add_argument("--select", metavar="DAGSTER_SELECTION", help='asset selection, e.g. "group:declaraciones" or "key:staging/declaraciones" (an asset made together '
                     'with others, like the three of the declarations, brings them along)')

    withdraw = commands.add_parser(
        "withdraw-year",
        help="take a year out of the warehouse, its exports, BI and the year partitions (e.g. one materialised by mistake)",
        description="Deletes the year's rows from every yearly table (raw, staging, quarantine, marts, meta), its reports and "
        "follow-up workbooks, removes the year partition and republishes BI (bi.duckdb, Parquet, CTI_PUBLISH_URL). Refused "
        "while landing/ still holds files of that year.",
    )
    withdraw.add_argument("year", type=int, help="the year to withdraw")

    sample = commands.add_parser("sample-data", help="write realistic, deterministic sample inputs (with some bad files and rows)")
    sample.add_argument("--out", type=Path, required=True, help="a data dir (files go to DIR/landing/) or a landing dir")
    sample.add_argument("--years", type=int, nargs="+", default=[2023, 2024], help="years of declarations and records (default 2023 2024)")
    sample.add_argument("--rows", type=positive_int, default=480, help="declaration rows per year (default 480)")
    sample.add_argument("--seed", type=int, default=2030, help="random seed: the same seed writes the same bytes (default 2030)")

    blank = commands.add_parser("template", help="write a blank Excel template with dropdowns and validation")
    blank.add_argument("kind", choices=["declaracion", "registros", "gpedc"])
    blank.add_argument("name", nargs="?", help="the registros KIND or the gpedc ROLE")
    blank.add_argument("--out", type=Path, required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    if args.command == "materialize":
        return materialize(args.years, args.select, args.allow_empty)
    if args.command == "withdraw-year":
        return withdraw_year(args.year)
    if args.command == "sample-data":
        return sample_data(args.out, args.years, args.rows, args.seed)
    return template(args.kind, args.name, args.out)


if __name__ == "__main__":
    sys.exit(main())
