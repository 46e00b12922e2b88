"""The one entry Dagster loads: every module under cti_pipeline/defs/ is assembled here."""

from pathlib import Path

import dagster as dg

from cti_pipeline.memory import use_system_allocator_for_arrow


@dg.definitions
def defs() -> dg.Definitions:
    use_system_allocator_for_arrow()  # process-wide, for the run processes that load these definitions
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
