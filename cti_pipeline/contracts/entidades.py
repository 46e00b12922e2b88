"""APCI's registry of the entities that must file the Declaración Anual (contract declaracion_anual.md,
"Who must file, who filed"): its columns, declared once. Who must file for a year is decided in
domain/cumplimiento.py."""

from __future__ import annotations

import pandas as pd

from cti_pipeline.contracts.columns import Column, SourceSpec, as_date
from cti_pipeline.contracts.declaracion import TIPOS_ENTIDAD
from cti_pipeline.contracts.schema import RowRule, Validation, validation

ENTIDADES = SourceSpec(
    origen="entidades",
    sheet="entidades",
    key=("ruc_entidad",),
    key_scope="file",  # one file is the registry (the latest); its rows may not repeat a RUC
    columns=(
        Column("ruc_entidad", "ruc", True),
        Column("nombre_entidad", "text", True),
        Column("tipo_entidad", "code", True, TIPOS_ENTIDAD),
        Column("fecha_inscripcion", "date", True),
        Column("fecha_baja", "date", False),
    ),
)


def entidades_validation() -> Validation:
    def deregistered_after_registering(df: pd.DataFrame) -> pd.Series:
        start, end = as_date(df["fecha_inscripcion"]), as_date(df["fecha_baja"])
        return start.isna() | end.isna() | (end >= start)

    return validation(ENTIDADES, rules=(RowRule("fecha_baja_anterior", "fecha_baja", deregistered_after_registering),))

