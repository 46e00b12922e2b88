"""Environment → paths and secrets, read in one place (see shared contract warehouse.md)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent
SHIPPED_REFERENCE_DIR = PROJECT_ROOT / "data" / "reference"
DEVELOPMENT_PII_SALT = "cti-pipeline-development-salt-not-for-production"

# Limits that protect a run (contract README, "Limits protect the run").
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_CELL_CHARS = 32_767

# DuckDB keeps what a run inserts in its buffer pool until memory runs short (by default 80 % of the
# machine). Capping it lets DuckDB evict written blocks, so a million-row year stays well under 1.5 GB
# (docs/benchmarks.md); it spills to disk beyond the cap. Override with CTI_DUCKDB_MEMORY_LIMIT.
DEFAULT_DUCKDB_MEMORY_LIMIT = "128MB"


@dataclass(frozen=True)
class DataPaths:
    """Every path under the data folder ($CTI_DATA_DIR): the one place that says where things are."""

    root: Path

    @property
    def landing_dir(self) -> Path:
        return self.root / "landing"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    @property
    def reference_override_dir(self) -> Path:
        return self.root / "reference"

    @property
    def bi_copy(self) -> Path:
        return self.root / "warehouse" / "bi.duckdb"

    @property
    def bi_parquet(self) -> Path:
        """The marts as Parquet files, beside the BI copy (warehouse.publish_parquet)."""
        return self.root / "warehouse" / "parquet"

    def read_cache_dir(self, origen: str, anio: int | str) -> Path:
        """Where the files of one source and year, as last read, are kept (landing/read_cache.py)."""
        return self.root / ".cache" / "lecturas" / origen / str(anio)


@dataclass(frozen=True)
class Settings:
    """The environment, read once: what the resources (defs/resources.py) and the command line are built from."""

    data_dir: Path
    warehouse: Path
    pii_salt: str
    publish_url: str | None
    duckdb_memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT

    @property
    def paths(self) -> DataPaths:
        return DataPaths(self.data_dir)

    @property
    def pii_salt_is_default(self) -> bool:
        return self.pii_salt == DEVELOPMENT_PII_SALT

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("CTI_DATA_DIR") or PROJECT_ROOT / "data").resolve()
        warehouse = Path(env.get("CTI_WAREHOUSE") or data_dir / "warehouse" / "cti.duckdb").resolve()
        salt = env.get("CTI_PII_SALT") or DEVELOPMENT_PII_SALT
        return cls(
            data_dir=data_dir,
            warehouse=warehouse,
            pii_salt=salt,
            publish_url=env.get("CTI_PUBLISH_URL") or None,
            duckdb_memory_limit=env.get("CTI_DUCKDB_MEMORY_LIMIT") or DEFAULT_DUCKDB_MEMORY_LIMIT,
        )
