"""How long a file-drop sensor tick takes over a landing zone of N files (default 10,000).

    .venv/bin/python bench/sensor_tick.py [--files 10000] [--years 1] [--repeat 5]

Writes N small files into a temporary `landing/declaraciones/<anio>/` (spread over --years year
folders, plus lock and hidden files that must be skipped), then times, cold and warm:
- the pure part (cti_pipeline/landing/settle.py): scandir + stat, fingerprints, cursor;
- a whole `declaraciones_sensor` tick through Dagster (`evaluate_tick` on the project's definitions,
  including resolving the downstream asset selection when a year settles).
Prints one JSON line. The contract asks for a tick over 10,000 files well under a second; the tests
do not assert timing (the machine is shared), this script measures it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def build_zone(root: Path, files: int, years: int) -> Path:
    source = root / "landing" / "declaraciones"
    row = b"anio,ruc_entidad,codigo_intervencion\r\n2024,20100047218,INT-001\r\n"
    for i in range(files):
        year_dir = source / str(2024 - i % years)
        year_dir.mkdir(parents=True, exist_ok=True)
        (year_dir / f"entidad_{i:05d}.csv").write_bytes(row)
    for year_dir in source.iterdir():
        (year_dir / ".~lock.entidad_00000.csv#").write_text("lock")
        (year_dir / "~$entidad_00000.xlsx").write_text("lock")
    return source


def timed(fn, repeat: int) -> tuple[float, list[float], object]:
    runs, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - start)
    return runs[0], runs, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--years", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cti_sensor_bench_") as tmp:
        root = Path(tmp) / "data"
        source = build_zone(root, args.files, args.years)
        os.environ["CTI_DATA_DIR"] = str(root)
        os.environ.setdefault("CTI_PII_SALT", "bench-salt")

        from cti_pipeline.landing import settle as fp

        def pure_tick(state):
            scan = fp.scan_years(source)
            step = fp.advance(state, scan, "declaraciones")
            fp.dump_cursor(step.cursor)
            return step

        first = pure_tick({})
        pure_cold, pure_runs, step = timed(lambda: pure_tick(first.cursor), args.repeat)
        assert sum(s.files for s in step.settled) == args.files, "every file must be seen"

        import dagster as dg

        from cti_pipeline.definitions import defs as load_defs

        defs = load_defs()
        sensor = defs.resolve_sensor_def("declaraciones_sensor")
        (root / "dagster_home").mkdir()
        instance = dg.DagsterInstance.local_temp(str(root / "dagster_home"))  # the partitions live in an instance, as the daemon's

        def dagster_tick(cursor):
            with dg.build_sensor_context(cursor=cursor, instance_ref=instance.get_ref(), definitions=defs, resources=defs.resources) as context:
                return sensor.evaluate_tick(context)

        recorded = dagster_tick(None)  # the first tick after the drop records it
        start = time.perf_counter()
        settled = dagster_tick(recorded.cursor)  # the second confirms it and requests one run per year
        settle_seconds = time.perf_counter() - start
        assert len(settled.run_requests) == args.years
        _, quiet_runs, _ = timed(lambda: dagster_tick(settled.cursor), args.repeat)

    print(
        json.dumps(
            {
                "files": args.files,
                "year_folders": args.years,
                "pure_tick_s": {"first": round(pure_cold, 4), "median": round(statistics.median(pure_runs), 4)},
                "dagster_tick_settling_s": round(settle_seconds, 4),
                "dagster_tick_nothing_new_s": {"median": round(statistics.median(quiet_runs), 4), "max": round(max(quiet_runs), 4)},
                "cursor_chars": len(settled.cursor or ""),
            }
        )
    )


if __name__ == "__main__":
    main()
