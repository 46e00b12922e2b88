"""Jobs: the yearly PNCTI chain (one partition = one declared year)."""

import dagster as dg

# "publicacion" (defs/publishing.py): the BI copy and the PostgreSQL publication, unpartitioned, run after the marts.
PNCTI_GROUPS = ("entidades", "declaraciones", "registros", "pncti", "reportes", "publicacion")

pncti_anual_job = dg.define_asset_job(
    name="pncti_anual_job",
    selection=dg.AssetSelection.groups(*PNCTI_GROUPS),  # yearly partitions, inferred from the assets
    description="Toda la cadena PNCTI de un año: declaraciones, registros administrativos, marts e informe.",
)
