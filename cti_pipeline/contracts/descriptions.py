"""What every column of the staging tables, the marts and `meta.archivos` means: the one place.

The Dagster UI shows these sentences in each asset's column schema (defs/metadata.py), and the column
tables of docs/bi.md are generated from them (`python -m cti_pipeline.contracts.descriptions docs/bi.md`;
a test fails when the doc is behind). A column name means the same in every table (`COMMON`) unless a
table says otherwise (`BY_TABLE`). The GPEDC item columns (`b2_6`, `a3_4`…) are described by the
questionnaire catalog (`reference/gpedc_preguntas.csv`), passed in as `items`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from cti_pipeline.contracts import tables

COMMON: dict[str, str] = {
    # provenance
    "anio": "Año declarado (la partición): el de la carpeta `landing/<fuente>/<anio>/` del archivo.",
    "archivo": "Archivo de landing del que viene la fila.",
    "fila": "Número de fila en el archivo, como se ve en Excel (la cabecera cuenta como fila).",
    "hoja": "Hoja del libro de Excel leída (vacío en un CSV).",
    "actualizado_en": "Cuándo el pipeline vio por primera vez el contenido del archivo (UTC).",
    # entities
    "ruc_entidad": "RUC de la entidad (11 dígitos, dígito verificador de SUNAT).",
    "nombre_entidad": "Nombre de la entidad.",
    "tipo_entidad": "ENIEX, ONGD, IPREDA o ENTIDAD_PUBLICA.",
    "entidad": "Nombre de la institución (nunca el de una persona).",
    # Declaración Anual
    "codigo_intervencion": "Código de la intervención que da la entidad (único por entidad y año).",
    "titulo": "Título de la intervención.",
    "fuente_cooperante": "Fuente cooperante (agencia, organismo o fundación).",
    "pais_fuente": "País de la fuente (ISO 3166-1 alfa-3); vacío para organismos multilaterales.",
    "tipo_cooperacion": "BILATERAL, MULTILATERAL o PRIVADA.",
    "area_prioritaria": "Código del área prioritaria de la CTI (reference/areas_prioritarias.csv).",
    "area_prioritaria_nombre": "Nombre del área prioritaria.",
    "es_prioritaria": "SI cuando el área cuenta como prioritaria para IOP.01.01.",
    "ods": "ODS principal (1 a 17) al que contribuye; vacío = sin alinear a un ODS.",
    "departamento": "Ubigeo INEI del departamento (2 dígitos; 00 = varios o nacional).",
    "departamento_nombre": "Nombre del departamento.",
    "moneda": "Moneda del monto declarado: PEN o USD.",
    "monto_ejecutado": "Monto ejecutado en el año, en la moneda declarada.",
    "monto_usd": "Monto en USD (convertido con el tipo de cambio del año, reference/tipo_cambio.csv).",
    "beneficiarios": "Personas beneficiarias declaradas (vacío = no se sabe; en las sumas cuenta 0).",
    "participa_empresa_privada": "SI cuando una empresa privada financia o ejecuta la intervención.",
    "fecha_inicio": "Fecha de inicio de la intervención.",
    "fecha_fin": "Fecha de fin de la intervención.",
    # registry
    "fecha_inscripcion": "Fecha de inscripción en el registro de APCI.",
    "fecha_baja": "Fecha de baja del registro; vacía mientras la entidad sigue inscrita.",
    # registros administrativos
    "programa": "CTI (capacitación en CTI a miembros del Sistema) o CSS (gestión de la Cooperación Sur-Sur).",
    "participante_id": "Seudónimo del participante (SHA-256 con sal del DNI u otro identificador): nunca el dato en claro.",
    "es_uocti": "SI cuando el participante trabaja en un órgano a cargo de la CTI (UOCTI).",
    "nota": "Nota final de la capacitación (0 a 20); vacía = sin evaluar.",
    "mes": "Mes (1 a 12).",
    "seccion": "Sección de la web de APCI: BECAS, ESTADISTICAS, EXPERIENCIAS_EXITOSAS o TRIANGULAR.",
    "accesos": "Número de accesos en el mes (0 es un valor registrado).",
    "espacio_id": "Código del espacio de coordinación.",
    "nombre_espacio": "Nombre del espacio de coordinación.",
    "fecha": "Fecha del registro (dentro del año).",
    "entidad_participante": "Entidad que participa en el espacio de coordinación.",
    "compromiso_id": "Código del compromiso.",
    "estado": "Estado del registro.",
    "tema": "Tema de la asistencia técnica.",
    "codigo_proyecto": "Código del proyecto de Cooperación Sur-Sur.",
    "rol_peru": "Rol del Perú: OFERENTE, RECEPTOR o DOBLE.",
    "pais_socio": "País socio (ISO 3166-1 alfa-3); ALC según reference/paises_alc.csv.",
    "sector": "Sector del proyecto.",
    "iniciativa_id": "Código de la iniciativa.",
    "foro": "Foro internacional (OCDE, AGCED, SEGIB, OEA, Alianza del Pacífico…).",
    "liderada_por_peru": "SI cuando el Perú lidera la iniciativa.",
    # GPEDC
    "codigo_respondente": "Código del respondente en la lista de puntos focales.",
    "tipo_respondente": "GOBIERNO, SOCIO_DESARROLLO u OSC.",
    "secciones": "Secciones del cuestionario asignadas al respondente, separadas por «;».",
    "modulo": "Módulo (1 a 4) de la sección C.1; vacío en las demás.",
    "codigo_pregunta": "Código del ítem del cuestionario, como lo escribe el catálogo (A1_2, B1_4…).",
    "respuesta": "Respuesta al ítem, en su forma canónica (SI/NO, categoría en mayúsculas, número); vacía = sin responder.",
    "comentario": "Comentario del respondente (los correos electrónicos se enmascaran en la exportación).",
    "fecha_aprobacion": "Fecha de aprobación de la intervención.",
    "codigo_socio": "Código del socio para el desarrollo (un SOCIO_DESARROLLO de la lista de puntos focales).",
    "observacion": "Observación de APCI al validar.",
    # indicators
    "indicador": "Código del indicador.",
    "nombre": "Nombre del indicador.",
    "valor": "Valor calculado, redondeado a 2 decimales; NULL cuando no está disponible (nota dice por qué).",
    "numerador": "Numerador del valor (la suma detrás del porcentaje).",
    "denominador": "Denominador del valor.",
    "fuente": "De qué insumo se calcula.",
    "avance_pct": "Avance en %.",
    "intervenciones": "Número de intervenciones.",
}

BY_TABLE: dict[str, dict[str, str]] = {
    "staging.compromisos": {"estado": "CUMPLIDO, EN_PROCESO o PENDIENTE."},
    "staging.gpedc_validaciones": {"estado": "VALIDADO u OBSERVADO (cuenta la última validación por respondente y sección).",
                                   "seccion": "Sección del cuestionario validada (A.1 … C.1, CSS)."},
    "staging.gpedc_respuestas": {"seccion": "Sección del cuestionario (A.1 … A.5, B.1 … B.3, C.1, CSS)."},
    "staging.gpedc_flujos": {"anio": "Año de los flujos (solo cuenta el año de referencia de la ronda)."},
    "staging.gpedc_socios": {"anio": "Año al que se refiere la fila (solo cuenta el año de referencia de la ronda)."},
    "staging.gpedc_intervenciones": {"monto_usd": "Monto aprobado de la intervención, en USD."},
    "staging.entidades": {"archivo": "Archivo del registro de entidades (el visto más recientemente cuenta)."},
    "marts.pncti_indicadores": {
        "indicador": "Código PNCTI del indicador (IOP.01.01, ISS.02.01.01.01…; reference/pncti_indicadores.csv).",
        "anio": "Año que mide el valor.",
        "nivel": "OBJETIVO o SERVICIO.",
        "objetivo_prioritario": "Objetivo prioritario de la PNCTI (OP.01 … OP.04).",
        "servicio": "Servicio de la PNCTI (indicadores de servicio).",
        "unidad": "Unidad: %, número de entidades, participantes, accesos…",
        "fuente": "Insumo del que se calcula: declaraciones o un tipo de registro administrativo.",
        "valor_esperado": "Logro esperado del año (reference/logros_esperados.csv); NULL si no se fijó.",
        "avance_pct": "100 × valor ÷ valor_esperado, con el valor redondeado, a 2 decimales; NULL si falta alguno.",
        "estado": "DISPONIBLE o ND (no disponible: sin insumo del año, un servicio que no dejó registro, denominador 0, "
        "un año anterior a vigente_desde, o montos sin tipo de cambio).",
        "valor_reportado": "Lo que publicó el reporte oficial de cumplimiento del año; NULL si nada.",
        "avance_reportado_pct": "El avance publicado, cuando lo hay.",
        "coincide_reportado": "El valor calculado, redondeado a los decimales publicados, coincide con el publicado; NULL si nada se publicó.",
        "coincide_avance": "Lo mismo para el avance.",
        "beneficiarios_en_blanco": "IOP.01.03: declaraciones sin beneficiarios (contadas como 0).",
        "nota": "Por qué un valor es ND, o qué saber de él.",
        "cobertura_pct": "Indicadores de las declaraciones: % de las entidades obligadas que presentaron (NULL sin registro de entidades).",
        "preliminar": "Indicadores de las declaraciones: TRUE hasta que pase la fecha de cierre del año (reference/plazos_declaracion.csv).",
    },
    "marts.cti_ejecucion": {
        "monto_usd": "Monto ejecutado en USD de las intervenciones del grupo.",
        "beneficiarios": "Personas beneficiarias declaradas (los vacíos cuentan 0).",
        "entidades": "Entidades declarantes distintas del grupo (no se suma entre filas).",
    },
    "marts.declaracion_cumplimiento": {
        "anio": "Año declarado.",
        "nombre_entidad": "Nombre de la entidad (del registro; si no está inscrita, el de sus filas).",
        "obligada": "SI cuando el registro la obliga a presentar ese año (inscrita hasta el 31 de diciembre, sin baja antes del 1 de enero).",
        "estado": "PRESENTADA, PRESENTADA_CON_OBSERVACIONES (filas en cuarentena), RECHAZADA (nada pasó a staging) u OMISA (no presentó).",
        "primera_presentacion": "Fecha de modificación de su primer archivo (UTC).",
        "ultima_presentacion": "Fecha de modificación de su último archivo (UTC).",
        "fuera_de_plazo": "SI cuando su primer archivo llegó después de fecha_limite (hora de Lima); vacío si no presentó.",
        "archivos": "Archivos que envió (incluidos los reemplazados y los rechazados).",
        "intervenciones": "Intervenciones que pasaron a staging.",
        "filas_en_cuarentena": "Filas suyas en cuarentena.",
        "monto_usd": "Suma de monto_usd de sus intervenciones en staging.",
        "fecha_limite": "Plazo de presentación del año (reference/plazos_declaracion.csv; por defecto el 31 de marzo del año siguiente).",
    },
    "marts.gpedc_completitud": {
        "seccion": "Sección asignada (A.1 … A.5, B.1 … B.3, C.1, CSS).",
        "preguntas_esperadas": "Ítems de la sección que se responden en la hoja respuestas (catálogo); NULL si el catálogo es solo «*».",
        "preguntas_respondidas": "De ellos, ítems con una respuesta válida no vacía.",
        "avance_pct": "100 × respondidas ÷ esperadas; NULL si esperadas es NULL o 0.",
        "intervenciones": "B.2: intervenciones en staging del respondente (0 en otras secciones).",
        "estado": "PENDIENTE (nada recibido), RECIBIDO, OBSERVADO o VALIDADO (cuenta la última validación).",
        "ultima_actualizacion": "Última vez que llegó una respuesta o una validación; NULL si está pendiente.",
    },
    "marts.gpedc_indicadores": {
        "indicador": "Código del indicador del marco 2023–2026 (1.1.1 … 4.3.3; reference/gpedc_indicadores.csv).",
        "dimension": "Dimensión: 1 enfoque de toda la sociedad, 2 sistemas del país, 3 transparencia, 4 no dejar a nadie atrás.",
        "nombre": "Qué mide (del catálogo).",
        "codigo_socio": "Código del socio para el desarrollo, o TOTAL.",
        "valor": "Porcentaje, 2 decimales; NULL cuando no puede calcularse (nota dice por qué). Sin respuesta nunca cuenta 0.",
        "numerador": "La suma detrás del valor (PROMEDIO_COMPONENTES: la suma de los valores de los componentes).",
        "denominador": "El denominador (PROMEDIO_COMPONENTES: cuántos componentes).",
        "metodo": "Cómo se calcula (PROPORCION_SI, DESEMBOLSADO_SOBRE_PROGRAMADO…).",
        "fuente": "CUESTIONARIO o EXTERNA (lo calcula el Equipo Conjunto de Apoyo de la AGCED).",
        "verificado": "SI cuando APCI contrastó la fila del catálogo con la Nota Metodológica oficial; NO: provisional.",
        "nota": "Por qué el valor es NULL.",
        "anio_referencia": "Año de referencia de las cifras (2022 en la 4ª ronda).",
    },
    "meta.archivos": {
        "origen": "Fuente: declaraciones, registros, entidades o gpedc.",
        "anio": "Año de la carpeta (vacío para el registro de entidades; el año de referencia en GPEDC).",
        "archivo": "Nombre del archivo en la carpeta de landing.",
        "hoja": "Hoja leída (vacía en un CSV o en un archivo rechazado).",
        "bytes": "Tamaño del archivo.",
        "modificado_en": "Fecha de modificación del archivo (UTC).",
        "ruc_entidad": "Declaraciones: el RUC válido que lleva la mayoría de sus filas (o el de su nombre, si no tiene filas).",
        "estado_archivo": "LEIDO, RECHAZADO, SIN_FILAS (una cabecera y ninguna fila) o REEMPLAZADO (todas sus filas reemplazadas por un archivo posterior).",
        "filas_leidas": "Filas leídas del archivo.",
        "filas_en_staging": "De ellas, en staging.",
        "filas_en_cuarentena": "De ellas, en cuarentena (filas, no reglas).",
        "filas_reemplazadas": "De ellas, reemplazadas por un reenvío posterior. filas_leidas = staging + cuarentena + reemplazadas.",
        "motivo": "Por qué se rechazó el archivo (RECHAZADO).",
        "huella_contenido": "SHA-256 del contenido del archivo.",
    },
}


def describe(table: str, columns: Iterable[str], items: Mapping[str, str] | None = None) -> dict[str, str]:
    """column → its description in `table` (the table's own, else the common one, else the catalog item's)."""
    own, items = BY_TABLE.get(table, {}), items or {}
    return {column: own.get(column) or COMMON.get(column) or items.get(column, "") for column in columns}


# --- docs/bi.md ------------------------------------------------------------------------------------

MARKER = re.compile(r"(<!-- columnas: (?P<table>[\w.]+) -->\n)(?P<body>.*?)(<!-- /columnas -->)", re.S)


def markdown_columns(table: str, columns: Mapping[str, str]) -> str:
    """The column table of docs/bi.md for `table` (columns: name → SQL type)."""
    described = describe(table, columns)
    lines = ["| columna | tipo | qué es |", "|---|---|---|"]
    lines += [f"| `{name}` | {sql_type.lower()} | {described[name]} |" for name, sql_type in columns.items()]
    return "\n".join(lines) + "\n"


def render_doc(text: str, tables: Mapping[str, Mapping[str, str]]) -> str:
    """`text` with the table between each `<!-- columnas: t -->` and `<!-- /columnas -->` regenerated."""
    return MARKER.sub(lambda m: m.group(1) + markdown_columns(m.group("table"), tables[m.group("table")]) + m.group(4), text)


def documented_tables() -> dict[str, Mapping[str, str]]:
    return {
        "marts.pncti_indicadores": tables.PNCTI_INDICADORES,
        "marts.cti_ejecucion": tables.CTI_EJECUCION,
        "marts.declaracion_cumplimiento": tables.DECLARACION_CUMPLIMIENTO,
        "marts.gpedc_completitud": tables.GPEDC_COMPLETITUD,
        "marts.gpedc_indicadores": tables.GPEDC_INDICADORES,
        "meta.archivos": tables.ARCHIVOS,
    }


if __name__ == "__main__":  # python -m cti_pipeline.contracts.descriptions docs/bi.md
    path = Path(sys.argv[1])
    path.write_text(render_doc(path.read_text(encoding="utf-8"), documented_tables()), encoding="utf-8")
