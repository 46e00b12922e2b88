"""The one entry Dagster loads: every module under cti_pipeline/defs/ is assembled here."""

from pathlib import Path

import dagster as dg

from cti_pipeline.defs.publishing import publish_postgres
from cti_pipeline.memory import use_system_allocator_for_arrow
from cti_pipeline.settings import Settings


@dg.definitions
def defs() -> dg.Definitions:
    use_system_allocator_for_arrow()  # process-wide, for the run processes that load these definitions
    loaded = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    if not Settings.from_env().publish_url:  # no SQL database to publish to: no asset for it
        return loaded
    return dg.Definitions.merge(loaded, dg.Definitions(assets=[publish_postgres]))
