"""Jobs: the yearly PNCTI chain (one partition = one declared year)."""

import dagster as dg

from cti_pipeline.defs.partitions import yearly_partitions

PNCTI_GROUPS = ("declaraciones", "registros", "pncti", "reportes")

pncti_anual_job = dg.define_asset_job(
    name="pncti_anual_job",
    selection=dg.AssetSelection.groups(*PNCTI_GROUPS),
    partitions_def=yearly_partitions,
    description="Toda la cadena PNCTI de un año: declaraciones, registros administrativos, marts e informe.",
)
