"""Row rules (`regla`) and the Spanish message a person at the declaring entity can act on.

Every pandera check is named after its rule; this is the one place that words them.
"""

from __future__ import annotations

from cti_pipeline.settings import MAX_CELL_CHARS

MESSAGES: dict[str, str] = {
    "obligatorio": "La columna «{columna}» es obligatoria y está vacía (o la celda tiene un error de Excel como #N/A). Complete el dato.",
    "anio_distinto_carpeta": "El año de la fila ({valor}) no coincide con el año declarado {anio}. Corrija «anio» o envíe la fila en la declaración de su año.",
    "entero_invalido": "«{valor}» no es un número entero válido en la columna «{columna}».",
    "decimal_invalido": "«{valor}» no es un número válido en la columna «{columna}». Use solo cifras y un separador decimal.",
    "fecha_invalida": "«{valor}» no es una fecha válida en la columna «{columna}». Use AAAA-MM-DD, DD/MM/AAAA o una celda de fecha de Excel.",
    "valor_no_permitido": "«{valor}» no es un valor permitido en la columna «{columna}». Valores permitidos: {permitidos}.",
    "si_no_invalido": "«{valor}» no es un valor permitido en la columna «{columna}». Escriba SI o NO.",
    "ruc_invalido": "«{valor}» no es un RUC válido: debe tener 11 dígitos, empezar por 10, 15, 16, 17 o 20 y su último dígito debe ser el dígito verificador de SUNAT.",
    "pais_iso3_invalido": "«{valor}» no es un código de país ISO 3166-1 alfa-3 (por ejemplo ESP, DEU, USA). Déjelo vacío para organismos multilaterales.",
    "area_desconocida": "«{valor}» no es un código de área prioritaria del catálogo ({permitidos}).",
    "departamento_desconocido": "«{valor}» no es un código de departamento del INEI (01 a 25, o 00 para varios departamentos / nacional).",
    "ods_fuera_de_rango": "«{valor}» no es un ODS: use un número del 1 al 17, o deje la celda vacía.",
    "negativo": "«{valor}» es negativo; la columna «{columna}» debe ser mayor o igual que 0.",
    "fecha_fin_anterior": "La fecha de fin ({valor}) es anterior a la fecha de inicio.",
    "fuera_del_anio": "La intervención (del {valor}) no se ejecutó en {anio}: sus fechas deben cruzar el año declarado.",
    "formula_sin_valor": "La celda de «{columna}» tiene una fórmula guardada sin su resultado (el programa que guardó el archivo no la calculó), "
    "así que su valor no se puede leer. Abra el archivo en Excel y guárdelo de nuevo, o escriba el valor en lugar de la fórmula.",
    "celda_demasiado_larga": "La celda de «{columna}» tiene más de " + f"{MAX_CELL_CHARS:_}".replace("_", ".")
    + " caracteres, el límite de Excel. Acorte el texto.",
    "clave_duplicada": "La clave ({clave}) se repite en el archivo; ambas filas se rechazan. Deje una sola fila por clave.",
    "reenvio_ambiguo": "El RUC {valor} se declara en varios archivos con la misma fecha de modificación ({archivos}); no se sabe cuál es el vigente. Vuelva a enviar solo el archivo correcto.",
    "mes_invalido": "«{valor}» no es un mes: use un número del 1 al 12.",
    "nota_fuera_de_rango": "«{valor}» no es una nota válida: la escala es de 0 a 20.",
    "fecha_fuera_del_anio": "La fecha {valor} no pertenece al año {anio}.",
    # the registry of entities that must file (contract declaracion_anual.md)
    "fecha_baja_anterior": "La fecha de baja ({valor}) es anterior a la fecha de inscripción.",
    "registro_ambiguo": "Varios archivos del registro de entidades llegaron a la vez ({archivos}); no se sabe cuál es el vigente. Deje en landing/entidades/ solo el archivo correcto.",
    # GPEDC 4th monitoring round (contract gpedc.md)
    "respondente_desconocido": "El código de respondente «{valor}» no está en la lista de puntos focales de la ronda. Use el código que APCI le asignó o pida a APCI que lo registre.",
    "respondente_no_identificado": "No se pudo identificar al respondente de la fila: escriba su «codigo_respondente» en la hoja, o incluya en el mismo libro la hoja «respuestas» con su código.",
    "seccion_no_asignada": "La sección {seccion} no está asignada al respondente {respondente} en la lista de puntos focales (secciones asignadas: {permitidos}). Envíe solo sus secciones o pida a APCI que actualice la asignación.",
    "socio_desconocido": "«{valor}» no es el código de un socio para el desarrollo de la lista de puntos focales ({permitidos}).",
    "modulo_invalido": "«{valor}» no es un módulo válido para la sección {seccion}: en la sección C.1 indique el módulo (1 a 4); en las demás secciones deje «modulo» vacío.",
    "parte_mayor_que_total": "«{columna}» ({valor}) es mayor que su total «{columna_total}» ({total}). Cada parte debe ser menor o igual que el total: corrija uno de los dos.",
    "pregunta_desconocida": "«{valor}» no es un ítem de la sección {seccion} en el catálogo de preguntas de la ronda ({catalogo}). Revise el código del ítem (por ejemplo {ejemplo}); si es un ítem real del cuestionario que falta en el catálogo, pida a APCI que lo agregue.",
    "pregunta_en_otra_hoja": "El ítem {item} no se responde en la hoja «respuestas»: va en la hoja «{hoja}», columna «{columna_item}». Escriba allí su respuesta.",
    "respuesta_invalida": "«{valor}» no es una respuesta válida para el ítem {item} ({descripcion}): se espera {esperado}.",
    # registros administrativos (contract registros_administrativos.md)
    "pais_socio_invalido": "«{valor}» no es un código de país ISO 3166-1 alfa-3: escriba el país socio con tres letras (por ejemplo BOL, COL, THA).",
}


def message(rule: str, **values: object) -> str:
    template = MESSAGES.get(rule, "La fila incumple la regla «{regla}» en la columna «{columna}» (valor «{valor}»).")
    fields = {"columna": "", "valor": "", "anio": "", "permitidos": "", "clave": "", "archivos": "", "regla": rule}
    fields.update({k: "" if v is None else v for k, v in values.items()})
    return template.format(**fields)
