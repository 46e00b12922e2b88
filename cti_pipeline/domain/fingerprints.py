"""Whether a year must be read again: a fingerprint of everything its result depends on.

The result of one source and year is a function of the files discovery sees in the year folder
(name, size, modification time; rejected entries and warnings too), the reference catalogs it uses
(their bytes), and the code and libraries that turn files into rows. `year_fingerprint` hashes all
of that in a few milliseconds (scandir + stat, no file is opened). The fingerprint of the last
successful write is kept in `meta.huellas`, written in the same transaction as the data, together
with the row counts written; a run whose fingerprint equals the stored one, on a warehouse that
still holds exactly those counts, need not read the files again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import duckdb
import pandas as pd

from cti_pipeline.contracts.reference import catalog_path
from cti_pipeline.landing.discovery import discover_files
from cti_pipeline.landing.fingerprint import fingerprint
from cti_pipeline.warehouse import table_exists

TABLE = "meta.huellas"
HUELLAS = {
    "origen": "VARCHAR",
    "anio": "INTEGER",
    "huella": "VARCHAR",
    "filas_raw": "BIGINT",
    "filas_staging": "BIGINT",
    "filas_cuarentena": "BIGINT",
    "archivos_rechazados": "BIGINT",
    "escrito_en": "TIMESTAMP",
}
PACKAGE = Path(__file__).resolve().parent.parent
# The code that decides which rows a year's files give (relative to the package).
CODE = ("settings.py", "warehouse.py", "contracts", "landing/discovery.py", "landing/readers.py", "domain/reading.py", "domain/read_cache.py",
        "domain/read_helper.py", "domain/ingest.py")
LIBRARIES = ("pandas", "pandera", "pyarrow", "python-calamine", "duckdb")
# The counts written with each fingerprint, compared with the warehouse before a year is skipped.
COUNTED = ("filas_raw", "filas_staging", "filas_cuarentena", "archivos_rechazados")
QUARANTINE_TABLES = ("quarantine.filas_rechazadas", "quarantine.archivos_rechazados")


@dataclass(frozen=True)
class Counted:
    """Where one source's rows of a year are: its raw and staging tables, and its `origen` values in the
    quarantine tables. `Counted.of(origen)` is the usual one-table-per-layer case."""

    raw: tuple[str, ...]
    staging: tuple[str, ...]
    origenes: tuple[str, ...]

    @classmethod
    def of(cls, origen: str) -> Counted:
        return cls((f"raw.{origen}",), (f"staging.{origen}",), (origen,))


def year_fingerprint(
    source: str,
    year_dir: Path,
    anio: int,
    catalogs: Iterable[str],
    override_dir: Path | None,
    code: Iterable[str] = (),
    settings: Iterable[str] = (),
) -> str:
    """Files discovery sees (and rejects), the catalogs' bytes, the code's bytes and library versions,
    and any `settings` the rows depend on (pass a digest of a secret, never the secret)."""
    discovery = discover_files(year_dir)
    digest = hashlib.sha256(f"{source}\x00{anio}\n".encode())
    digest.update(fingerprint(f"{source}/{anio}", {f.name: (f.size, f.mtime_ns) for f in discovery.files}).encode())
    for rejected in sorted(discovery.rejected, key=lambda r: r.archivo):
        digest.update(f"\nrejected\x00{rejected.archivo}\x00{rejected.motivo}".encode())
    for warning in discovery.warnings:
        digest.update(f"\nwarning\x00{warning}".encode())
    for name in sorted(catalogs):
        path = catalog_path(name, override_dir)
        digest.update(f"\ncatalog\x00{name}\x00".encode() + (path.read_bytes() if path else b"<missing>"))
    for setting in settings:
        digest.update(f"\nsetting\x00{setting}".encode())
    digest.update(code_version((*CODE, *code)).encode())
    return digest.hexdigest()[:32]


def code_version(paths: Iterable[str], libraries: Iterable[str] = LIBRARIES) -> str:
    """sha256 over the given package files (folders: their .py files) and the libraries' versions."""
    digest = hashlib.sha256()
    for relative in sorted(set(paths)):
        path = PACKAGE / relative
        if not path.exists():  # a renamed module must not silently drop out of the fingerprint
            raise FileNotFoundError(f"code_version: {relative} is not in the package")
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(f"\n{file.relative_to(PACKAGE)}\x00".encode() + file.read_bytes())
    for library in sorted(set(libraries)):
        try:
            digest.update(f"\n{library}=={version(library)}".encode())
        except PackageNotFoundError:
            digest.update(f"\n{library} missing".encode())
    return digest.hexdigest()


def huella_frame(
    origen: str,
    anio: int,
    huella: str,
    counts: Mapping[str, int],
    written_at: dt.datetime | None = None,
    *,
    transient_rejections: int = 0,
) -> pd.DataFrame:
    """The one `meta.huellas` row of a successful write (for `warehouse.replace_partitions`); no row when
    a file failed for a reason that may not recur (the disk, memory), so that writing it removes the
    year's old fingerprint and the next run reads the year again instead of keeping that rejection."""
    written_at = written_at or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    row = {"origen": origen, "anio": anio, "huella": huella, **{k: int(counts[k]) for k in COUNTED}, "escrito_en": written_at}
    frame = pd.DataFrame([row]).astype({"anio": "int64", **{k: "int64" for k in COUNTED}})
    return frame.iloc[:0] if transient_rejections else frame


def unchanged(conn: duckdb.DuckDBPyConnection, origen: str, anio: int, huella: str, where: Counted | None = None) -> bool:
    """The stored fingerprint equals `huella` and the tables still hold the counts written with it (a
    table dropped since then means the year is written again, which creates it)."""
    where = where or Counted.of(origen)
    if not all(table_exists(conn, table) for table in (TABLE, *where.raw, *where.staging, *QUARANTINE_TABLES)):
        return False
    stored = conn.execute(
        f"SELECT {', '.join(COUNTED)} FROM meta.huellas WHERE origen = ? AND anio = ? AND huella = ?", [origen, anio, huella]
    ).fetchall()
    return len(stored) == 1 and stored[0] == warehouse_counts(conn, anio, where)


def warehouse_counts(conn: duckdb.DuckDBPyConnection, anio: int, where: Counted) -> tuple[int, ...]:
    """The COUNTED values for one year as the warehouse holds them now (its tables must exist)."""
    filas, archivos = QUARANTINE_TABLES
    return (
        _count(conn, where.raw, anio),
        _count(conn, where.staging, anio),
        _count(conn, (filas,), anio, where.origenes),
        _count(conn, (archivos,), anio, where.origenes),
    )


def _count(conn: duckdb.DuckDBPyConnection, tables: Iterable[str], anio: int, origenes: tuple[str, ...] | None = None) -> int:
    total = 0
    for table in tables:
        schema, name = table.split(".", 1)
        sql, params = f'SELECT count(*) FROM "{schema}"."{name}" WHERE anio = ?', [anio]
        if origenes is not None:
            sql, params = sql + " AND list_contains(?, origen)", [anio, list(origenes)]
        total += conn.execute(sql, params).fetchone()[0]
    return total
