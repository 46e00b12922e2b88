"""Administrative records behind the PNCTI indicators (shared contract registros_administrativos.md).

Seven kinds of file, each with its columns (a `SourceSpec`), declared once: every check of a kind follows
from its column specs (contracts/schema.py).
"""

from __future__ import annotations

from cti_pipeline.contracts.columns import Column, SourceSpec
from cti_pipeline.contracts.schema import Validation, validation

PROGRAMAS = ("CTI", "CSS")
SECCIONES = ("BECAS", "ESTADISTICAS", "EXPERIENCIAS_EXITOSAS", "TRIANGULAR")
ESTADOS_COMPROMISO = ("CUMPLIDO", "EN_PROCESO", "PENDIENTE")
ROLES_PERU = ("OFERENTE", "RECEPTOR", "DOBLE")

# Personal data: pseudonymised in raw and staging, masked in quarantine, never in marts or logs.
PERSONAL_COLUMNS = ("participante_id",)

REGISTROS: dict[str, SourceSpec] = {
    spec.origen: spec
    for spec in (
        SourceSpec(
            origen="capacitaciones",
            sheet="capacitaciones",
            columns=(
                Column("anio", "integer", True, folder_year=True),
                Column("programa", "code", True, PROGRAMAS),
                Column("participante_id", "text", True),
                Column("entidad", "text", True),
                Column("es_uocti", "yes_no", True),
                Column("nota", "decimal", False, minimum=0, maximum=20, range_rule="nota_fuera_de_rango"),
            ),
        ),
        SourceSpec(
            origen="accesos_web",
            sheet="accesos_web",
            key=("mes", "seccion"),
            columns=(
                Column("anio", "integer", True, folder_year=True),
                Column("mes", "integer", True, minimum=1, maximum=12, range_rule="mes_invalido"),
                Column("seccion", "code", True, SECCIONES),
                Column("accesos", "integer", True, minimum=0),
            ),
        ),
        SourceSpec(
            origen="espacios_coordinacion",
            sheet="espacios_coordinacion",
            key=("espacio_id", "entidad_participante"),
            columns=(
                Column("anio", "integer", True, folder_year=True),
                Column("espacio_id", "text", True),
                Column("nombre_espacio", "text", True),
                Column("fecha", "date", True, within_year=True),
                Column("entidad_participante", "text", True),
            ),
        ),
        SourceSpec(
            origen="compromisos",
            sheet="compromisos",
            key=("compromiso_id",),
            columns=(
                Column("anio", "integer", True, folder_year=True),
                Column("compromiso_id", "text", True),
                Column("espacio_id", "text", True),
                Column("estado", "code", True, ESTADOS_COMPROMISO),
            ),
        ),
        SourceSpec(
            origen="asistencia_tecnica",
            sheet="asistencia_tecnica",
            key=("entidad", "fecha", "tema"),
            key_column="entidad",
            columns=(
                Column("anio", "integer", True, folder_year=True),
                Column("entidad", "text", True),
                Column("fecha", "date", True, within_year=True),
                Column("tema", "text", False),
            ),
        ),
        SourceSpec(
            origen="proyectos_css",
            sheet="proyectos_css",
            key=("codigo_proyecto",),
            columns=(
                Column("anio", "integer", True, folder_year=True),
                Column("codigo_proyecto", "text", True),
                Column("rol_peru", "code", True, ROLES_PERU),
                Column("pais_socio", "iso3", True, catalog="iso3", rule="pais_socio_invalido"),
                Column("sector", "text", False),
            ),
        ),
        SourceSpec(
            origen="iniciativas_internacionales",
            sheet="iniciativas_internacionales",
            key=("iniciativa_id",),
            columns=(
                Column("anio", "integer", True, folder_year=True),
                Column("iniciativa_id", "text", True),
                Column("foro", "text", True),
                Column("liderada_por_peru", "yes_no", True),
            ),
        ),
    )
}
KINDS: tuple[str, ...] = tuple(REGISTROS)


def kind_of_file(name: str) -> str | None:
    """The kind a landed file belongs to: its name starts with the kind (longest match, case-insensitive)."""
    lowered = name.casefold()
    matches = [kind for kind in KINDS if lowered.startswith(kind)]
    return max(matches, key=len) if matches else None


def unknown_kind_reason(name: str) -> str:
    return (
        f"El nombre del archivo «{name}» no empieza por un tipo de registro conocido. "
        f"Tipos admitidos: {', '.join(KINDS)} (por ejemplo capacitaciones_2024.xlsx)."
    )


def registro_validation(kind: str, anio: int, iso3_codes: frozenset[str] = frozenset()) -> Validation:
    """The checks of rows of `kind` in folder year `anio`: all of them follow from the column specs."""
    return validation(REGISTROS[kind], anio=anio, codes={"iso3": iso3_codes})
