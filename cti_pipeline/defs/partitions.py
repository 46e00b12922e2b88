"""Yearly partitions: the declared year of the Declaración Anual and of the administrative records."""

import dagster as dg

FIRST_YEAR = "2019"

yearly_partitions = dg.TimeWindowPartitionsDefinition(
    cron_schedule="0 0 1 1 *",
    fmt="%Y",
    start=FIRST_YEAR,
    end_offset=1,  # the current, unfinished year is a partition too
    timezone="America/Lima",
)


def partition_year(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> int:
    return int(context.partition_key)
