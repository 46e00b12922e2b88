"""The benchmark: the analyst's naive script against `cti-pipeline materialize`, same files, same run.

    .venv/bin/python bench/run.py --rows 100000 --files 500      # headline (about 2-3 minutes)
    .venv/bin/python bench/run.py --rows 1000000 --no-naive      # scale (the naive script would take ~8 min)
    .venv/bin/python bench/run.py --zone DATA_DIR --year 2024 [--expected MANIFEST.json]   # a zone made elsewhere

Steps, each in its own subprocess (wall time, peak RSS of the process and of its whole tree):
1. generate the landing zone (bench/generate.py; cached in bench/out/zone_<rows>_<files>/, not timed);
2. Dagster start-up alone (import the definitions, open the instance) and a whole CLI run on an empty
   year (the fixed cost of `cti-pipeline materialize`);
3. the naive script (bench/naive.py) on the year folder, into a fresh DuckDB;
4. `cti-pipeline materialize --year Y` with a fresh DAGSTER_HOME and warehouse (the first run);
5. the same command again, nothing changed (the re-run), and once more after one workbook was sent
   again (its modification time moves; the other files come from the read cache);
6. the sensor tick over 10,000 files (bench/sensor_tick.py).
After 4, 5 and the one-file re-run the warehouse is checked against the generator's manifest (rows read, staged,
superseded, quarantined rows and rules, rejected files): the benchmark fails when they differ.
The per-phase profile comes from the asset's `tiempos_s` metadata in the Dagster instance.
Results: bench/out/results_<rows>.json and a Markdown summary on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from importlib.metadata import version
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PYTHON = sys.executable
CLI = str(Path(PYTHON).parent / "cti-pipeline")
# The declarations chain: raw, staging and quarantine of the declarations (the assets made together), the
# same work as the naive script. The group `declaraciones` also holds the filing tracker, which it does not do.
CHAIN_SELECTION = "key:raw/declaraciones"


# --- measuring subprocesses -------------------------------------------------------------------------


def _tree_rss_kb(root_pid: int) -> int:
    """Resident memory of a process and all its descendants (workers included), from /proc."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
            pid = int(entry.name)
            parents[pid] = int(fields[1])
            rss[pid] = int(fields[21]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {root_pid}, [root_pid]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    return sum(rss.get(pid, 0) for pid in tree)


def measure(command: list[str], env: dict[str, str] | None = None, label: str = "") -> dict[str, object]:
    """Run `command`; wall seconds, peak RSS (the largest process, from wait4) and peak tree RSS (sampled)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=out, stderr=err, text=True, cwd=ROOT)
        peak_tree = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak_tree
            while not done.is_set():
                peak_tree = max(peak_tree, _tree_rss_kb(process.pid))
                done.wait(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        done.set()
        sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    result = {
        "label": label,
        "command": " ".join(command),
        "seconds": round(wall, 3),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "peak_tree_rss_mb": round(peak_tree / 1024, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "exit_code": process.returncode,
    }
    print(f"  {label}: {result['seconds']} s, peak {result['peak_rss_mb']} MB (tree {result['peak_tree_rss_mb']} MB)", flush=True)
    if process.returncode != 0:
        print(stdout[-3000:], stderr[-5000:], sep="\n", file=sys.stderr)
        raise SystemExit(f"{label} failed with exit code {process.returncode}")
    result["stdout"] = stdout
    return result


# --- environment ---------------------------------------------------------------------------------------


def machine() -> dict[str, object]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as handle:
        memory_kb = int(handle.readline().split()[1])
    packages = ("pandas", "pyarrow", "duckdb", "python-calamine", "pandera", "openpyxl", "dagster")
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(memory_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "versions": {name: version(name) for name in packages},
        "load_average_at_start": os.getloadavg(),
    }


def fresh_env(work: Path, data_dir: Path, name: str) -> dict[str, str]:
    """A fresh CTI_DATA_DIR, warehouse and DAGSTER_HOME under `work/name`.

    The zone's landing/ (and reference/ overrides, if any) are copied with their modification times
    (which decide supersession), so that exports, the BI copy and the reports' fingerprints of one
    measurement never carry over to the next one, nor into a zone made elsewhere (`--zone`).
    """
    home = work / name / "dagster_home"
    if home.parent.exists():
        shutil.rmtree(home.parent)
    home.mkdir(parents=True)
    shutil.copyfile(ROOT / "dagster.yaml", home / "dagster.yaml")
    run_data = work / name / "data"
    for folder in ("landing", "reference"):
        if (data_dir / folder).is_dir():
            shutil.copytree(data_dir / folder, run_data / folder, symlinks=True)
    (run_data / "landing").mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CTI_", "DAGSTER_"))}
    env.update(
        CTI_DATA_DIR=str(run_data),
        CTI_WAREHOUSE=str(work / name / "cti.duckdb"),
        CTI_PII_SALT="bench-salt",
        DAGSTER_HOME=str(home),
    )
    return env


# --- correctness -----------------------------------------------------------------------------------


def warehouse_counts(path: Path, anio: int) -> dict[str, object]:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as conn:
        one = lambda sql: conn.execute(sql, [anio]).fetchone()[0]  # noqa: E731
        by_rule = conn.execute(
            "SELECT regla, count(*) FROM quarantine.filas_rechazadas WHERE origen = 'declaraciones' AND anio = ? GROUP BY 1 ORDER BY 1",
            [anio],
        ).fetchall()
        return {
            "filas_leidas": one("SELECT count(*) FROM raw.declaraciones WHERE anio = ?"),
            "staged": one("SELECT count(*) FROM staging.declaraciones WHERE anio = ?"),
            "superseded": one("SELECT count(*) FROM raw.declaraciones WHERE anio = ? AND estado_fila = 'superseded'"),
            "filas_en_cuarentena": one(
                "SELECT count(*) FROM (SELECT DISTINCT archivo, fila FROM quarantine.filas_rechazadas "
                "WHERE origen = 'declaraciones' AND anio = ?)"
            ),
            "filas_rechazadas": one("SELECT count(*) FROM quarantine.filas_rechazadas WHERE origen = 'declaraciones' AND anio = ?"),
            "filas_rechazadas_por_regla": dict(by_rule),
            "archivos_leidos": one("SELECT count(DISTINCT archivo) FROM raw.declaraciones WHERE anio = ?"),
            "archivos_rechazados": one(
                "SELECT count(*) FROM quarantine.archivos_rechazados WHERE origen = 'declaraciones' AND anio = ?"
            ),
        }


NAIVE_COUNTS = ("filas_leidas", "staged", "superseded", "filas_en_cuarentena")
CHECKED_COUNTS = (*NAIVE_COUNTS, "archivos_rechazados")


def describe_zone(year_dir: Path) -> dict[str, object]:
    """Sizes and formats of a landing zone made elsewhere (what the generator's manifest would say)."""
    files = [p for p in year_dir.iterdir() if p.is_file() and not p.name.startswith(("~$", "."))]
    formats = {"xlsx": sum(p.suffix.lower() == ".xlsx" for p in files), "csv": sum(p.suffix.lower() == ".csv" for p in files)}
    return {"rows": None, "entity_files": len(files), "bytes": sum(p.stat().st_size for p in files), "formats": formats,
            "rejected_files": None}


def touch_one_file(year_dir: Path) -> str:
    """An entity sends its workbook again: the largest .xlsx gets a modification time 1 ns later.

    The file is chosen so that no other file has its time or that time plus 1 ns: supersession (latest
    file per RUC) then decides exactly as before, and the manifest's counts still hold.
    """
    files = [p for p in year_dir.iterdir() if p.is_file() and not p.name.startswith(("~$", "."))]
    times = [p.stat().st_mtime_ns for p in files]
    for path in sorted((p for p in files if p.suffix.lower() == ".xlsx"), key=lambda p: -p.stat().st_size):
        mtime = path.stat().st_mtime_ns
        if times.count(mtime) == 1 and mtime + 1 not in times:
            os.utime(path, ns=(mtime + 1, mtime + 1))
            return path.name
    raise SystemExit(f"no workbook in {year_dir} can be touched without changing supersession")


def check(expected: dict[str, object], got: dict[str, object], label: str) -> list[str]:
    problems = [f"{label}: {key} = {got.get(key)!r}, the manifest says {value!r}" for key, value in expected.items() if got.get(key) != value]
    for problem in problems:
        print("  MISMATCH " + problem, file=sys.stderr)
    return problems


def asset_profile(home: Path) -> dict[str, object]:
    """The declaraciones asset's own account of its last run: tiempos_s, skip metadata and step duration."""
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(home))
    event = instance.get_latest_materialization_event(dg.AssetKey(["raw", "declaraciones"]))
    if event is None:
        return {}
    metadata = event.asset_materialization.metadata
    keys = ("tiempos_s", "memoria_pico_proceso_mb", "sin_cambios", "huella", "archivos_desde_cache", "archivos_leidos_en_paralelo")
    profile: dict[str, object] = {key: metadata[key].value for key in keys if key in metadata}
    steps: dict[str, dict[str, float]] = {}
    for record in instance.all_logs(event.run_id):
        if record.step_key and record.dagster_event and record.dagster_event.event_type_value in ("STEP_START", "STEP_SUCCESS"):
            steps.setdefault(record.step_key, {})[record.dagster_event.event_type_value] = record.timestamp
    profile["step_seconds"] = {k: round(v["STEP_SUCCESS"] - v["STEP_START"], 3) for k, v in steps.items() if len(v) == 2}
    stats = instance.get_run_stats(event.run_id)
    profile["run_seconds"] = round((stats.end_time or 0) - (stats.start_time or 0), 3)
    return profile


# --- the run ------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=None, help="entity files (default rows/200, at most 2000)")
    parser.add_argument("--year", type=int, default=2024)
    parser.add_argument("--seed", type=int, default=2030)
    parser.add_argument("--naive", action=argparse.BooleanOptionalAction, default=None, help="run the naive script (default: up to 200k rows)")
    parser.add_argument("--sensor-files", type=int, default=10_000)
    parser.add_argument("--whole-job", action=argparse.BooleanOptionalAction, default=True,
                        help="also time the whole PNCTI job (registros, marts, reports), not only the declarations chain")
    parser.add_argument("--zone", type=Path, default=None,
                        help="a landing zone made elsewhere (a CTI data directory with landing/declaraciones/<year>/) instead of "
                             "a generated one: the warehouse is then checked against the naive script's counts")
    parser.add_argument("--expected", type=Path, default=None,
                        help="with --zone: a JSON file whose \"expected\" object gives the counts the contract implies "
                             f"(any of {', '.join(CHECKED_COUNTS)}), e.g. the manifest bench/heldout_zone.py writes")
    parser.add_argument("--out", type=Path, default=BENCH / "out")
    args = parser.parse_args(argv)
    files = args.files or min(2000, max(10, args.rows // 200))
    run_naive = args.naive if args.naive is not None else (args.rows <= 200_000 or args.zone is not None)
    out: Path = args.out.resolve()
    anio = args.year
    info = machine()
    if args.zone:
        data_dir = args.zone.resolve()
        year_dir = data_dir / "landing" / "declaraciones" / str(anio)
        if not year_dir.is_dir():
            parser.error(f"{year_dir} does not exist")
        zone_name = data_dir.parent.name if data_dir.name == "data" else data_dir.name
        work = out / f"work_zone_{zone_name}"
        manifest = describe_zone(year_dir)
        expected = None  # without --expected, the naive script's counts are the reference (below)
        if args.expected:
            given = json.loads(args.expected.read_text())["expected"]
            expected = {k: given[k] for k in CHECKED_COUNTS if k in given}
        print(f"# cti_pipeline benchmark on {data_dir}: {manifest['entity_files']} files, year {anio}", flush=True)
    else:
        zone = out / f"zone_{args.rows}_{files}"
        work = out / f"work_{args.rows}_{files}"
        print(f"# cti_pipeline benchmark: {args.rows} rows, {files} entity files, year {anio}", flush=True)
        manifest_path = zone / "manifest.json"
        manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else None
        if not manifest or (manifest["rows"], manifest["entity_files"], manifest["seed"], manifest["anio"]) != (args.rows, files, args.seed, anio):
            print("generating the landing zone (not timed) ...", flush=True)
            subprocess.run([PYTHON, str(BENCH / "generate.py"), "--rows", str(args.rows), "--files", str(files), "--year", str(anio),
                            "--seed", str(args.seed), "--out", str(zone)], check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
            manifest = json.loads(manifest_path.read_text())
        expected = manifest["expected"]
        data_dir = Path(manifest["data_dir"])
        year_dir = Path(manifest["landing"])
    results: dict[str, object] = {"rows": manifest["rows"], "entity_files": manifest["entity_files"], "anio": anio, "machine": info,
                                  "zone": str(data_dir),
                                  "data": {k: manifest[k] for k in ("bytes", "formats", "rejected_files")} | {"expected": expected}}
    problems: list[str] = []

    print("measuring ...", flush=True)
    startup = measure([PYTHON, "-c", "import dagster as dg; from cti_pipeline.definitions import defs; defs(); dg.DagsterInstance.get()"],
                      fresh_env(work, data_dir, "startup"), "dagster start-up (import + load definitions)")
    empty_data = work / "empty_data"
    (empty_data / "landing").mkdir(parents=True, exist_ok=True)
    empty = measure([CLI, "materialize", "--year", str(anio), "--allow-empty"], fresh_env(work, empty_data, "empty"), "CLI materialize on an empty year")
    results["startup"] = {"import_and_definitions": startup, "cli_empty_year": empty}

    if run_naive:
        naive_db = work / "naive.duckdb"
        naive_db.parent.mkdir(parents=True, exist_ok=True)
        naive_db.unlink(missing_ok=True)
        naive = measure([PYTHON, "-W", "ignore", str(BENCH / "naive.py"), str(year_dir), str(anio), str(naive_db)], label="naive script")
        naive["result"] = json.loads(naive["stdout"].strip().splitlines()[-1])
        if expected is None:  # a zone without a manifest: the project must agree with the naive script
            expected = {k: naive["result"][k] for k in NAIVE_COUNTS}
            results["rows"] = naive["result"]["filas_leidas"]
            results["data"]["expected"] = expected | {"fuente": "naive script (no manifest)"}
        naive["matches_manifest"] = all(naive["result"][k] == expected[k] for k in NAIVE_COUNTS if k in expected)
        results["naive"] = naive
    if expected is None:
        print("  no manifest and no naive run: the warehouse counts are reported, not checked", file=sys.stderr)
        expected = {}

    chain_env = fresh_env(work, data_dir, "chain")
    chain_command = [CLI, "materialize", "--year", str(anio), "--select", CHAIN_SELECTION]
    chain = measure(chain_command, chain_env, f"cti-pipeline materialize --select {CHAIN_SELECTION} (first run)")
    chain["warehouse"] = warehouse_counts(Path(chain_env["CTI_WAREHOUSE"]), anio)
    if results["rows"] is None:
        results["rows"] = chain["warehouse"]["filas_leidas"]
    chain["profile"] = asset_profile(Path(chain_env["DAGSTER_HOME"]))
    problems += check(expected, chain["warehouse"], "declarations chain")
    results["chain"] = chain
    chain_again = measure(chain_command, chain_env, f"cti-pipeline materialize --select {CHAIN_SELECTION} (re-run)")
    chain_again["profile"] = asset_profile(Path(chain_env["DAGSTER_HOME"]))
    results["chain_rerun"] = chain_again
    changed = touch_one_file(Path(chain_env["CTI_DATA_DIR"]) / "landing" / "declaraciones" / str(anio))
    one_changed = measure(chain_command, chain_env, f"cti-pipeline materialize --select {CHAIN_SELECTION} (re-run, {changed} changed)")
    one_changed["changed_file"] = changed
    one_changed["warehouse"] = warehouse_counts(Path(chain_env["CTI_WAREHOUSE"]), anio)
    one_changed["profile"] = asset_profile(Path(chain_env["DAGSTER_HOME"]))
    problems += check(expected, one_changed["warehouse"], "one file changed")
    results["chain_one_changed"] = one_changed

    first = second = None
    if args.whole_job:
        env = fresh_env(work, data_dir, "pipeline")
        first = measure([CLI, "materialize", "--year", str(anio)], env, "cti-pipeline materialize, whole job (first run)")
        first["warehouse"] = warehouse_counts(Path(env["CTI_WAREHOUSE"]), anio)
        first["profile"] = asset_profile(Path(env["DAGSTER_HOME"]))
        problems += check(expected, first["warehouse"], "first run")
        results["materialize"] = first

        second = measure([CLI, "materialize", "--year", str(anio)], env, "cti-pipeline materialize, whole job (re-run, nothing changed)")
        second["warehouse"] = warehouse_counts(Path(env["CTI_WAREHOUSE"]), anio)
        second["profile"] = asset_profile(Path(env["DAGSTER_HOME"]))
        problems += check(expected, second["warehouse"], "re-run")
        results["rematerialize"] = second

    if (BENCH / "sensor_tick.py").exists() and args.sensor_files:
        tick = measure([PYTHON, str(BENCH / "sensor_tick.py"), "--files", str(args.sensor_files)], label=f"sensor tick ({args.sensor_files} files)")
        lines = [line for line in tick["stdout"].splitlines() if line.startswith("{")]
        tick["result"] = json.loads(lines[-1]) if lines else None
        results["sensor_tick"] = tick

    for measured in (startup, empty, chain, chain_again, one_changed, first, second, results.get("naive"), results.get("sensor_tick")):
        if measured:
            measured.pop("stdout", None)
    info["load_average_at_end"] = os.getloadavg()
    results["problems"] = problems
    summarise(results)
    out.mkdir(parents=True, exist_ok=True)
    target = out / (f"results_{work.name.removeprefix('work_')}.json" if args.zone else f"results_{args.rows}.json")
    target.write_text(json.dumps(results, indent=1, ensure_ascii=False))
    print(f"\nresults written to {target}")
    return 1 if problems else 0


def summarise(results: dict[str, object]) -> None:
    rows = results["rows"]
    first, second = results.get("materialize"), results.get("rematerialize")
    naive = results.get("naive")
    startup = results["startup"]
    print(f"\n## {rows:,} rows, {results['entity_files']} entity files ({results['data']['formats']['xlsx']} xlsx, "
          f"{results['data']['formats']['csv']} csv, {results['data']['bytes'] / 1e6:.1f} MB)\n")
    print("| step | wall s | rows/s | peak RSS MB (largest process / whole tree) |")
    print("|---|---:|---:|---:|")
    lines = [("Dagster start-up (import + definitions)", startup["import_and_definitions"], False),
             ("CLI materialize, empty year (fixed cost)", startup["cli_empty_year"], False)]
    if naive:
        lines.append(("naive script (openpyxl + pandas + DuckDB)", naive, True))
    lines += [(f"materialize --select {CHAIN_SELECTION}, first run", results["chain"], True),
              (f"materialize --select {CHAIN_SELECTION}, re-run unchanged", results["chain_rerun"], False),
              (f"materialize --select {CHAIN_SELECTION}, re-run after one file changed", results["chain_one_changed"], False),
              *([("materialize, whole PNCTI job, first run", first, True), ("materialize, whole PNCTI job, re-run unchanged", second, False)] if first else [])]
    if "sensor_tick" in results:
        lines.append((f"sensor tick script ({results['sensor_tick']['command'].split()[-1]} files, incl. writing them)", results["sensor_tick"], False))
    for label, measured, throughput in lines:
        rate = f"{rows / measured['seconds']:,.0f}" if throughput else ""
        print(f"| {label} | {measured['seconds']:.2f} | {rate} | {measured['peak_rss_mb']:.0f} / {measured['peak_tree_rss_mb']:.0f} |")
    chain, chain_again = results["chain"], results["chain_rerun"]
    if naive:
        results["ratio_chain_to_naive"] = round(chain["seconds"] / naive["seconds"], 3)
        results["ratio_materialize_to_naive"] = round(first["seconds"] / naive["seconds"], 3) if first else None
        print(f"\ndeclarations chain (CLI) / naive = {results['ratio_chain_to_naive']:.3f} "
              f"({naive['seconds'] / chain['seconds']:.1f}x faster); whole job / naive = {results['ratio_materialize_to_naive']}; "
              f"naive counts match the manifest: {naive['matches_manifest']}")
    results["ratio_chain_rerun_to_first"] = round(chain_again["seconds"] / chain["seconds"], 3)
    results["ratio_rerun_to_first"] = round(second["seconds"] / first["seconds"], 3) if first else None
    one_changed = results["chain_one_changed"]
    results["ratio_chain_one_changed_to_first"] = round(one_changed["seconds"] / chain["seconds"], 3)
    asset_first = chain["profile"].get("step_seconds", {}).get("declaraciones")
    asset_again = chain_again["profile"].get("step_seconds", {}).get("declaraciones")
    if asset_first and asset_again:
        results["ratio_asset_rerun_to_first"] = round(asset_again / asset_first, 3)
    print(f"re-run / first run: declarations chain CLI {results['ratio_chain_rerun_to_first']:.3f}, declaraciones step "
          f"{results.get('ratio_asset_rerun_to_first')}, whole job {results['ratio_rerun_to_first']}")
    changed_step = one_changed["profile"].get("step_seconds", {}).get("declaraciones")
    print(f"re-run after one file changed ({one_changed['changed_file']}) / first run: CLI {results['ratio_chain_one_changed_to_first']:.3f}, "
          f"declaraciones step {round(changed_step / asset_first, 3) if changed_step and asset_first else None}; "
          f"inside the asset (s): {json.dumps(one_changed['profile'].get('tiempos_s'))}")
    profile = chain.get("profile", {})
    if profile:
        print(f"\ndeclarations chain, inside the declaraciones asset (s): {json.dumps(profile.get('tiempos_s'))}; "
              f"files read by the worker process: {profile.get('archivos_leidos_en_paralelo')}")
        print(f"declarations chain, peak memory of the run process at the end of each phase (MiB): {json.dumps(profile.get('memoria_pico_proceso_mb'))}")
        print(f"declarations chain, Dagster steps (s): {json.dumps(profile.get('step_seconds'))}, run {profile.get('run_seconds')} s")
    if first and first.get("profile"):
        print(f"whole job, Dagster steps (s): {json.dumps(first['profile'].get('step_seconds'))}")
    if second and second.get("profile"):
        print(f"whole job re-run, Dagster steps (s): {json.dumps(second['profile'].get('step_seconds'))}")
        print(f"re-run, inside the asset (s): {json.dumps(second['profile'].get('tiempos_s'))}, sin_cambios={second['profile'].get('sin_cambios')}")
    if "sensor_tick" in results and results["sensor_tick"].get("result"):
        print(f"sensor tick: {json.dumps(results['sensor_tick']['result'])}")
    print(f"\nwarehouse after the first run matches the manifest: {not [p for p in results['problems'] if p.startswith('first')]}; "
          f"after the re-run: {not [p for p in results['problems'] if p.startswith('re-run')]}")
    print(f"machine: {results['machine']['nproc']} cores {results['machine']['cpu']}, {results['machine']['ram_gib']} GiB, "
          f"load average {results['machine']['load_average_at_start']} at start, {results['machine']['load_average_at_end']} at end")


if __name__ == "__main__":
    sys.exit(main())
