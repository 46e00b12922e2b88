"""The round's tracker (`marts.gpedc_completitud`) and what each focal point still owes (`pendientes`).

No Dagster here: staged frames in, frames out. `RoundData` is the staged round as the warehouse holds it
(`domain.gpedc_store.read_round`); what counts as expected and answered comes from the catalogs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from cti_pipeline.contracts.gpedc import ANY_ITEM, RESPUESTAS, STRUCTURED_SHEETS, GpedcCatalogs, Item, Roster, item_key
from cti_pipeline.contracts.tables import GPEDC_COMPLETITUD
from cti_pipeline.domain.indicators import round_half_up

STATES = ("PENDIENTE", "OBSERVADO", "RECIBIDO", "VALIDADO")  # tracker order: what is owed first
ESTADO_LABEL = {"PENDIENTE": "Pendiente", "OBSERVADO": "Observado", "RECIBIDO": "Recibido", "VALIDADO": "Validado"}
PENDIENTES_COLUMNS = ["codigo_respondente", "entidad", "tipo_respondente", "seccion", "hoja", "codigo_pregunta", "codigo_socio",
                      "descripcion"]


@dataclass
class RoundData:
    """The staged round: the roster and one frame per sheet (typed, as staged)."""

    roster: pd.DataFrame
    sheets: dict[str, pd.DataFrame] = field(default_factory=dict)  # respuestas, intervenciones, flujos, socios, validaciones

    def sheet(self, name: str) -> pd.DataFrame:
        return self.sheets.get(name, pd.DataFrame())

    def roster_of(self, catalogs: GpedcCatalogs) -> Roster:
        columns = ["codigo_respondente", "tipo_respondente", "entidad", "secciones"]
        frame = self.roster[columns] if not self.roster.empty else pd.DataFrame({c: pd.Series(dtype="str") for c in columns})
        return Roster(frame, catalogs.section_codes)


def answered(data: RoundData) -> pd.DataFrame:
    """Staged `respuestas` rows with a non-blank answer, with the item id as compared (`clave`)."""
    respuestas = data.sheet(RESPUESTAS)
    if respuestas.empty:
        return pd.DataFrame(columns=["codigo_respondente", "seccion", "codigo_pregunta", "clave"])
    given = respuestas[respuestas["respuesta"].notna()]
    return given.assign(clave=item_key(given["codigo_pregunta"].astype("str")))


def in_reference_year(sheet: str, frame: pd.DataFrame, anio: int) -> pd.DataFrame:
    """The rows of a structured sheet that are about the reference year (interventions approved in it)."""
    if frame.empty:
        return frame
    if sheet == "intervenciones":
        return frame[pd.to_datetime(frame["fecha_aprobacion"]).dt.year == anio]
    return frame[pd.to_numeric(frame["anio"]) == anio]


def structured_received(data: RoundData, catalogs: GpedcCatalogs) -> pd.DataFrame:
    """Per staged structured row: the (respondent, section) it is data of, and when it arrived. A single-section
    sheet's row belongs to that section; a `socios` row to each section of which it has a filled item."""
    frames = []
    for sheet in STRUCTURED_SHEETS:
        rows = data.sheet(sheet)
        if rows.empty:
            continue
        sections = catalogs.sheet_sections(sheet)
        if len(sections) == 1:
            frames.append(pd.DataFrame({"codigo_respondente": rows["codigo_respondente"], "seccion": sections[0],
                                        "actualizado_en": rows["actualizado_en"]}))
            continue
        for section in sections:
            columns = [item.columna for item in catalogs.items_of_sheet(sheet) if item.seccion == section and item.columna in rows]
            filled = rows[columns].notna().any(axis=1) if columns else pd.Series(False, index=rows.index)
            mine = rows[filled]
            frames.append(pd.DataFrame({"codigo_respondente": mine["codigo_respondente"], "seccion": section,
                                        "actualizado_en": mine["actualizado_en"]}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["codigo_respondente", "seccion", "actualizado_en"])


def latest_validations(validaciones: pd.DataFrame) -> pd.DataFrame:
    """The latest validation row per (respondent, section): latest `fecha`, then the later row read."""
    columns = ["codigo_respondente", "seccion", "estado", "fecha", "observacion"]
    if validaciones.empty:
        return pd.DataFrame({c: pd.Series(dtype="str") for c in columns})
    ordered = validaciones.assign(_f=pd.to_datetime(validaciones["fecha"]), _a=validaciones["actualizado_en"]).sort_values(
        ["_f", "_a", "archivo", "fila"], kind="stable")
    return ordered.drop_duplicates(["codigo_respondente", "seccion"], keep="last")[columns].reset_index(drop=True)


def expected_items(catalogs: GpedcCatalogs, seccion: str) -> int | None:
    """Catalog items of a section answered in `respuestas`; None for a section whose catalog is only `*`."""
    listed = catalogs.answered_items(seccion)
    if not listed and seccion in catalogs.any_item_sections:
        return None
    return len(listed)


def completitud(data: RoundData, catalogs: GpedcCatalogs) -> pd.DataFrame:
    """One row per (respondent, assigned section): expected and answered items, interventions, state.

    PENDIENTE: nothing received; RECIBIDO: answers or structured rows staged for the section; OBSERVADO /
    VALIDADO: the latest validation row of that respondent and section (it counts even over newer answers).
    """
    columns = list(GPEDC_COMPLETITUD)
    assignments = data.roster_of(catalogs).assignments()
    if assignments.empty:
        return empty_tracker()
    given = answered(data)
    respuestas = data.sheet(RESPUESTAS)
    received = pd.concat([
        respuestas[["codigo_respondente", "seccion", "actualizado_en"]] if not respuestas.empty else None,
        structured_received(data, catalogs),
    ], ignore_index=True)
    received_by = received.groupby(["codigo_respondente", "seccion"]).agg(
        recibido=("seccion", "size"), actualizado_en=("actualizado_en", "max")) if not received.empty else pd.DataFrame()
    interventions = data.sheet("intervenciones")
    per_respondent = interventions.groupby("codigo_respondente").size() if not interventions.empty else pd.Series(dtype="int64")
    intervention_sections = set(catalogs.sheet_sections("intervenciones"))
    validation = latest_validations(data.sheet("validaciones")).set_index(["codigo_respondente", "seccion"])

    records = []
    for row in assignments.itertuples(index=False):
        key = (row.codigo_respondente, row.seccion)
        expected = expected_items(catalogs, row.seccion)
        mine = given[(given["codigo_respondente"] == row.codigo_respondente) & (given["seccion"] == row.seccion)]
        if expected is None:
            answered_count = int(mine["clave"].nunique())
        else:
            listed = {item.clave for item in catalogs.answered_items(row.seccion)}
            answered_count = int(mine.loc[mine["clave"].isin(listed), "clave"].nunique())
        got = received_by.loc[key] if not received_by.empty and key in received_by.index else None
        checked = validation.loc[key] if key in validation.index else None
        estado = checked["estado"] if checked is not None else ("RECIBIDO" if got is not None else "PENDIENTE")
        moments = [m for m in (got["actualizado_en"] if got is not None else None,
                               checked["fecha"] if checked is not None else None) if m is not None and not pd.isna(m)]
        records.append({
            "codigo_respondente": row.codigo_respondente,
            "entidad": row.entidad,
            "tipo_respondente": row.tipo_respondente,
            "seccion": row.seccion,
            "preguntas_esperadas": expected,
            "preguntas_respondidas": answered_count,
            "avance_pct": round_half_up(100.0 * answered_count / expected, 2) if expected else None,
            "intervenciones": int(per_respondent.get(row.codigo_respondente, 0)) if row.seccion in intervention_sections else 0,
            "estado": estado,
            "ultima_actualizacion": max(pd.Timestamp(m) for m in moments) if moments else None,
        })
    tracker = pd.DataFrame.from_records(records, columns=columns)
    return tracker.astype({"preguntas_esperadas": "Int64", "preguntas_respondidas": "int64", "avance_pct": "float64",
                           "intervenciones": "int64", "ultima_actualizacion": "datetime64[us]"})


def empty_tracker() -> pd.DataFrame:
    types = {"preguntas_esperadas": "Int64", "preguntas_respondidas": "int64", "avance_pct": "float64", "intervenciones": "int64",
             "ultima_actualizacion": "datetime64[us]"}
    return pd.DataFrame({c: pd.Series(dtype=types.get(c, "str")) for c in GPEDC_COMPLETITUD})


def pendientes(data: RoundData, catalogs: GpedcCatalogs) -> pd.DataFrame:
    """Per respondent and assigned section, the catalog items still without a valid answer: `respuestas` items
    not answered; a structured item when no staged row of the reference year gives it a value for that
    respondent (for `socios` items: for each partner of the roster); `*` when a `*`-only section has nothing."""
    roster = data.roster_of(catalogs)
    given = answered(data)
    done = set(zip(given["codigo_respondente"], given["seccion"], given["clave"], strict=True))
    answered_sections = set(zip(given["codigo_respondente"], given["seccion"], strict=True))
    anio = catalogs.anio_referencia
    filled: dict[str, pd.DataFrame] = {sheet: in_reference_year(sheet, data.sheet(sheet), anio) for sheet in STRUCTURED_SHEETS}
    records = []

    def owe(row, item: Item, socio: str | None = None) -> None:
        records.append((row.codigo_respondente, row.entidad, row.tipo_respondente, row.seccion, item.hoja, item.codigo, socio,
                        item.descripcion))

    for row in roster.assignments().itertuples(index=False):
        for item in (i for i in catalogs.items if i.seccion == row.seccion):
            if item.hoja == RESPUESTAS:
                if item.clave == ANY_ITEM:
                    if not catalogs.answered_items(row.seccion) and (row.codigo_respondente, row.seccion) not in answered_sections:
                        owe(row, item)
                elif (row.codigo_respondente, row.seccion, item.clave) not in done:
                    owe(row, item)
                continue
            rows = filled[item.hoja]
            values = rows[rows[item.columna].notna()] if not rows.empty and item.columna in rows else rows.iloc[0:0]
            if item.hoja == "socios":
                given_for = set(values["codigo_socio"]) if not values.empty else set()
                for socio in roster.partners:
                    if socio not in given_for:
                        owe(row, item, socio)
            elif values.empty or not (values["codigo_respondente"] == row.codigo_respondente).any():
                owe(row, item)
    return pd.DataFrame.from_records(records, columns=PENDIENTES_COLUMNS).astype("str")


def tracker_markdown(tracker: pd.DataFrame, owed: pd.DataFrame, max_entities: int = 40, max_items: int = 12) -> str:
    """The follow-up note APCI would send: per entity (who owes most first), its sections by state and, for each,
    the items still pending."""
    if tracker.empty:
        return "_Sin lista de puntos focales: no hay secciones asignadas todavía._"
    counts = tracker["estado"].value_counts()
    lines = [
        f"**{counts.get('PENDIENTE', 0)} de {len(tracker)} secciones pendientes**, {counts.get('OBSERVADO', 0)} observadas, "
        f"{counts.get('RECIBIDO', 0)} recibidas sin validar, {counts.get('VALIDADO', 0)} validadas; "
        f"{len(owed)} ítems pendientes en total.",
        "",
    ]
    rank = {state: position for position, state in enumerate(STATES)}
    frame = tracker.assign(_rank=tracker["estado"].map(rank))
    owed_count = owed.groupby("codigo_respondente").size() if not owed.empty else pd.Series(dtype="int64")
    order = frame.drop_duplicates("codigo_respondente").assign(
        _owed=lambda f: f["codigo_respondente"].map(owed_count).fillna(0),
        _pending=lambda f: f["codigo_respondente"].map(frame.groupby("codigo_respondente")["estado"].agg(
            lambda s: int(s.isin(("PENDIENTE", "OBSERVADO")).sum()))),
    ).sort_values(["_pending", "_owed", "entidad"], ascending=[False, False, True], kind="stable")
    for shown, entity in enumerate(order.itertuples()):
        if shown == max_entities:
            lines.append(f"_… {len(order) - max_entities} entidades más_")
            break
        mine = frame[frame["codigo_respondente"] == entity.codigo_respondente].sort_values(["_rank", "seccion"], kind="stable")
        lines.append(f"**{entity.entidad}** ({entity.codigo_respondente}, {entity.tipo_respondente})")
        for row in mine.itertuples():
            items = owed[(owed["codigo_respondente"] == row.codigo_respondente) & (owed["seccion"] == row.seccion)] if not owed.empty else owed
            text = f"- {ESTADO_LABEL[row.estado]}: {row.seccion}"
            if row.estado != "PENDIENTE":
                text += f" ({row.preguntas_respondidas} resp.)"
            if not items.empty:
                text += f" — debe {len(items)} ítem(s): {owed_items(items, max_items)}"
            lines.append(text)
        lines.append("")
    return "\n".join(lines).strip()


def owed_items(items: pd.DataFrame, max_items: int = 12) -> str:
    """`A3_4 (AECID, GIZ), B3_5` — socios items with the partners they are still missing for."""
    parts = []
    for codigo, group in items.groupby("codigo_pregunta", sort=False):
        socios = [s for s in group["codigo_socio"] if isinstance(s, str) and s and s != "nan"]
        parts.append(f"{codigo} ({', '.join(socios)})" if socios else str(codigo))
    shown = parts[:max_items]
    return ", ".join(shown) + (f" y {len(parts) - max_items} más" if len(parts) > max_items else "")
