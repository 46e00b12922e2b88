"""Yearly partitions: the declared year of the Declaración Anual and of the administrative records.

A year is a partition once data for it has landed: the file-drop sensors add the year of a folder that
holds files, `cti-pipeline materialize` adds the years it finds, and a schedule adds the year it is due
to run when there is input for it. So the UI shows the years people filed, and nothing for the rest.
`cti-pipeline withdraw-year` removes one.
"""

import dagster as dg

YEARS = "anio"

yearly_partitions = dg.DynamicPartitionsDefinition(name=YEARS)


def partition_year(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> int:
    return int(context.partition_key)


def add_years(instance: dg.DagsterInstance, years) -> list[str]:
    """Add the years that are not partitions yet; the ones added."""
    new = sorted({str(year) for year in years} - set(instance.get_dynamic_partitions(YEARS)))
    if new:
        instance.add_dynamic_partitions(YEARS, new)
    return new
