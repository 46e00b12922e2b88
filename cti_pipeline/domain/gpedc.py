"""The GPEDC 4th monitoring round: consolidate the questionnaires, track completeness, compute indicators.

No Dagster here. `consolidate` reads `landing/gpedc/ronda4/` (roster, one workbook per respondent,
validations) into staged and quarantined rows; `completitud` and `indicadores` compute the two marts
from the staged tables.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cti_pipeline.contracts import gpedc as contract
from cti_pipeline.contracts.columns import SourceSpec, typed_frame
from cti_pipeline.contracts.gpedc import (
    ANIO_REFERENCIA,
    INTERVENCIONES,
    PRESUPUESTO,
    PUNTOS_FOCALES,
    QUESTIONNAIRE_SPECS,
    RESPUESTAS,
    SHEET_SECTION,
    SOCIO,
    VALIDACIONES,
    Roster,
)
import pandera.pandas as pa

from cti_pipeline.domain.ingest import quarantine_rows, rejected_files_frame, row_states
from cti_pipeline.domain.indicators import round_half_up
from cti_pipeline.landing.discovery import FileRejection, LandedFile, discover_files
from cti_pipeline.landing.file_reader import UnreadableFile, workbook_sheet_names
from cti_pipeline.landing.folder_reader import MTIME_COLUMN, ROW_COLUMN, SEMICOLON_COLUMN, FileBatch, read_folder

ROSTER_STEM = "puntos_focales"
VALIDATIONS_STEM = "validaciones"
SHEETS = tuple(spec.sheet for spec in QUESTIONNAIRE_SPECS)
STATES = ("PENDIENTE", "OBSERVADO", "RECIBIDO", "VALIDADO")  # tracker order: what is owed first
FILA_STATES = ("staged", "quarantined", "superseded")


@dataclass
class Consolidation:
    """Everything the consolidation writes: staged sheets, quarantine, rejected files, row fates."""

    roster_found: bool
    roster: pd.DataFrame  # codigo_respondente, tipo_respondente, entidad, secciones (nothing else)
    staged: dict[str, pd.DataFrame]  # sheet name (respuestas, ..., validaciones) → typed rows
    quarantined: pd.DataFrame
    rejected_files: pd.DataFrame
    filas: pd.DataFrame  # one row per row read: origen, archivo, hoja, fila, codigo_respondente, estado_fila
    warnings: list[str] = field(default_factory=list)

    def file_counts(self) -> pd.DataFrame:
        """Per file and sheet: rows read, staged, quarantined, superseded (the "nothing lost" identity)."""
        columns = ["archivo", "hoja", "leidas", *FILA_STATES]
        if self.filas.empty:
            return pd.DataFrame(columns=columns)
        keys = self.filas[["archivo", "hoja"]].fillna("")
        counts = pd.crosstab([keys["archivo"], keys["hoja"]], self.filas["estado_fila"])
        for state in FILA_STATES:
            if state not in counts:
                counts[state] = 0
        counts["leidas"] = counts[list(FILA_STATES)].sum(axis=1)
        return counts.reset_index()[columns]


# --- reading --------------------------------------------------------------------------------------


@dataclass
class _Sheet:
    """One kind of sheet of the round, as read and canonicalised."""

    spec: SourceSpec
    rows: pd.DataFrame
    prepared: pd.DataFrame
    problems: pd.DataFrame


def _read(files: list[LandedFile], spec: SourceSpec, rejected: dict[str, list[str]], warnings: list[str]) -> _Sheet:
    batch: FileBatch = read_folder(files, spec)
    for rejection in batch.rejected:
        rejected.setdefault(rejection.archivo, []).append(rejection.motivo)
    # No cell of a GPEDC file is kept in a raw table (the roster's extra columns hold contact details).
    warnings.extend(w.replace("kept in raw and ignored downstream", "ignored and not stored") for w in batch.warnings)
    rows = batch.rows
    rows["hoja"] = rows["hoja"].astype("object")
    return _Sheet(spec, rows, contract.prepare(spec, rows, rows["archivo"], rows[SEMICOLON_COLUMN]), batch.problems)


def _drop_files(sheet: _Sheet, names: set[str]) -> _Sheet:
    keep = ~sheet.rows["archivo"].isin(names)
    kept = sheet.problems[sheet.problems["index"].isin(sheet.rows.index[keep])]
    return _Sheet(sheet.spec, sheet.rows[keep], sheet.prepared[keep], kept)


def _classify(files: list[LandedFile]) -> tuple[list[LandedFile], list[LandedFile], list[LandedFile], list[FileRejection]]:
    """Roster files, validation files, questionnaire workbooks, and CSVs that cannot be a questionnaire."""
    roster, validations, workbooks, rejected = [], [], [], []
    for file in files:
        stem = file.path.stem.strip().casefold()
        if stem == ROSTER_STEM:
            roster.append(file)
        elif stem == VALIDATIONS_STEM:
            validations.append(file)
        elif file.suffix == ".xlsx":
            workbooks.append(file)
        else:
            rejected.append(
                FileRejection(
                    file.name,
                    "Los cuestionarios de la ronda se envían como libro .xlsx con las hojas respuestas, intervenciones, "
                    "flujos y/o presupuesto; un CSV solo se acepta como puntos_focales.csv o validaciones.csv.",
                )
            )
    return roster, validations, workbooks, rejected


def _sheets_per_workbook(
    workbooks: list[LandedFile], rejected: dict[str, list[str]], warnings: list[str]
) -> dict[str, list[LandedFile]]:
    """Which questionnaire sheets each workbook has (case-insensitive); a workbook with none is rejected."""
    by_sheet: dict[str, list[LandedFile]] = {sheet: [] for sheet in SHEETS}
    for file in workbooks:
        try:
            names = workbook_sheet_names(file)
        except UnreadableFile as error:
            rejected.setdefault(file.name, []).append(str(error))
            continue
        present = {name.strip().casefold() for name in names}
        found = [sheet for sheet in SHEETS if sheet in present]
        if not found:
            rejected.setdefault(file.name, []).append(
                f"El libro no tiene ninguna de las hojas del cuestionario ({', '.join(SHEETS)}); "
                f"hojas encontradas: {', '.join(names) or 'ninguna'}. Use la plantilla del cuestionario AGCED."
            )
            continue
        others = [name for name in names if name.strip().casefold() not in SHEETS]
        if others:
            warnings.append(f"{file.name}: sheet(s) ignored: {', '.join(others)}")
        for sheet in found:
            by_sheet[sheet].append(file)
    return by_sheet


# --- supersession ---------------------------------------------------------------------------------


def _superseded(prepared: pd.DataFrame, rows: pd.DataFrame, by: list[str]) -> pd.Series:
    """A group (e.g. one respondent's section) sent in several files: the latest-modified file counts."""
    if prepared.empty:
        return pd.Series(False, index=prepared.index, dtype=bool)
    groups = prepared[by].astype("object").where(prepared[by].notna(), None)
    complete = groups.notna().all(axis=1)
    mtime = rows[MTIME_COLUMN]
    latest = mtime[complete].groupby([groups.loc[complete, c] for c in by]).transform("max")
    return (complete & (mtime < latest.reindex(prepared.index))).fillna(False).astype(bool)


def _workbook_respondent(sheets: dict[str, _Sheet]) -> dict[str, str]:
    """The one respondent code each workbook names in its other sheets (files naming several are left out)."""
    codes = pd.concat(
        [pd.DataFrame({"archivo": s.rows["archivo"], "codigo": s.prepared["codigo_respondente"]}) for k, s in sheets.items() if k != "presupuesto"],
        ignore_index=True,
    ).dropna()
    unique = codes.drop_duplicates().groupby("archivo")["codigo"].agg(list)
    return {archivo: found[0] for archivo, found in unique.items() if len(found) == 1}


# --- validation -----------------------------------------------------------------------------------


def _model(spec: SourceSpec, roster: Roster | None, section_codes: tuple[str, ...]):
    if spec is PUNTOS_FOCALES:
        return contract.puntos_focales_model(section_codes)
    factory = {
        "respuestas": contract.respuestas_model,
        "intervenciones": contract.intervenciones_model,
        "flujos": contract.flujos_model,
        "presupuesto": contract.presupuesto_model,
        "validaciones": contract.validaciones_model,
    }[spec.sheet]
    return factory(roster)


def _rule_columns(spec: SourceSpec) -> dict[str, str]:
    columns = dict(contract.DATAFRAME_RULE_COLUMNS)
    columns["clave_duplicada"] = contract.KEY_COLUMN.get(spec.sheet, "codigo_respondente")
    columns["respondente_no_identificado"] = "codigo_respondente"
    return columns


def model_failures(model: type[pa.DataFrameModel], prepared: pd.DataFrame, dataframe_rule_columns: dict[str, str]) -> pd.DataFrame:
    """Run the pandera model lazily; one row per (row index, column, rule) that failed."""
    try:
        model.validate(prepared, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
    else:
        return pd.DataFrame({"index": pd.Series(dtype="int64"), "columna": pd.Series(dtype="str"), "regla": pd.Series(dtype="str")})
    cases = cases[cases["index"].notna()]
    rule = cases["check"].astype("str").where(cases["check"] != "not_nullable", "obligatorio")
    is_frame_rule = cases["schema_context"] == "DataFrameSchema"
    column = cases["column"].astype("str").where(~is_frame_rule, rule.map(dataframe_rule_columns))
    failures = pd.DataFrame({"index": cases["index"].astype("int64"), "columna": column, "regla": rule})
    return failures.drop_duplicates().reset_index(drop=True)


def _failures(sheet: _Sheet, active: pd.Series, roster: Roster | None, section_codes: tuple[str, ...]) -> pd.DataFrame:
    prepared = sheet.prepared[active]
    found = [model_failures(_model(sheet.spec, roster, section_codes), prepared, _rule_columns(sheet.spec))]
    if sheet.spec is not PUNTOS_FOCALES and not sheet.problems.empty:  # the roster's extra columns are contact details
        found.append(sheet.problems[sheet.problems["index"].isin(sheet.rows.index[active])])
    failures = pd.concat(found, ignore_index=True)
    if sheet.spec is INTERVENCIONES:  # one failure per part that exceeds its total, on that part's column
        parts = failures["regla"] == "parte_mayor_que_total"
        exceeded = contract.part_exceeds_total(prepared.loc[failures.loc[parts, "index"].unique()])
        expanded = exceeded.stack()
        expanded = expanded[expanded].reset_index()
        refined = pd.DataFrame({"index": expanded.iloc[:, 0].astype("int64"), "columna": expanded.iloc[:, 1], "regla": "parte_mayor_que_total"})
        failures = pd.concat([failures[~parts], refined], ignore_index=True)
    return failures


def _quarantine(
    sheet: _Sheet, failures: pd.DataFrame, roster: Roster | None, section_codes: tuple[str, ...]
) -> pd.DataFrame:
    spec, prepared = sheet.spec, sheet.prepared
    assigned = roster.assigned if roster is not None else {}
    partners = ", ".join(sorted(roster.partners)) if roster is not None else ""

    def context(rule: str, column: str, row: pd.Series) -> dict[str, object]:
        canonical = prepared.loc[row.name]
        respondent = canonical.get("codigo_respondente")
        respondent = None if pd.isna(respondent) else respondent
        if rule == "valor_no_permitido":
            return {"permitidos": contract.allowed_values(spec, column, section_codes)}
        if rule == "seccion_no_asignada":
            section = canonical["seccion"] if "seccion" in canonical else SHEET_SECTION[spec.sheet]
            return {"valor": section, "respondente": respondent, "permitidos": ", ".join(sorted(assigned.get(respondent, ()))) or "ninguna"}
        if rule == "socio_desconocido":
            return {"permitidos": partners or "la lista no tiene socios para el desarrollo"}
        if rule == "modulo_invalido":
            return {"seccion": canonical.get("seccion")}
        if rule == "parte_mayor_que_total":
            return {"total": canonical[contract.PARTS[column]]}
        if rule == "clave_duplicada":
            return {"clave": ", ".join(f"{k}={'' if pd.isna(canonical[k]) else canonical[k]}" for k in spec.key)}
        return {}

    quarantined = quarantine_rows(spec.origen, ANIO_REFERENCIA, sheet.rows, failures, context)
    if quarantined.empty:
        return quarantined
    source = prepared.loc[failures.sort_values(["index", "columna", "regla"], kind="stable")["index"]]
    if spec is PUNTOS_FOCALES:
        prefix = [f"Lista de puntos focales, fila de «{'' if pd.isna(code) else code}»: " for code in source["codigo_respondente"]]
    else:
        prefix = [
            f"Respondente {'sin código' if pd.isna(code) else code}, hoja «{hoja or spec.sheet}»: "
            for code, hoja in zip(source["codigo_respondente"], quarantined["hoja"], strict=True)
        ]
    quarantined["mensaje"] = [p + m for p, m in zip(prefix, quarantined["mensaje"], strict=True)]
    return quarantined


def _staged(sheet: _Sheet, index: pd.Index) -> pd.DataFrame:
    if sheet.spec is PUNTOS_FOCALES:
        return sheet.prepared.loc[index, PUNTOS_FOCALES.names].reset_index(drop=True)
    staged = typed_frame(sheet.spec, sheet.prepared, index)
    rows = sheet.rows.loc[index]
    staged["hoja"] = rows["hoja"].astype("str")  # missing for a CSV, as in raw and quarantine
    staged["actualizado_en"] = pd.to_datetime(rows[MTIME_COLUMN], unit="ns").astype("datetime64[us]")
    staged["archivo"] = rows["archivo"]
    staged["fila"] = rows[ROW_COLUMN].astype("int64")
    return staged.reset_index(drop=True)


@dataclass
class _Outcome:
    staged: pd.DataFrame
    quarantined: pd.DataFrame
    filas: pd.DataFrame


def _process(sheet: _Sheet, superseded: pd.Series, roster: Roster | None, section_codes: tuple[str, ...]) -> _Outcome:
    failures = _failures(sheet, ~superseded, roster, section_codes)
    states = row_states(sheet.rows.index, superseded, failures)
    filas = pd.DataFrame(
        {
            "origen": sheet.spec.origen,
            "archivo": sheet.rows["archivo"],
            "hoja": sheet.rows["hoja"],
            "fila": sheet.rows[ROW_COLUMN].astype("int64"),
            "codigo_respondente": sheet.prepared["codigo_respondente"],
            "estado_fila": states,
        }
    ).reset_index(drop=True)
    return _Outcome(_staged(sheet, states.index[states == "staged"]), _quarantine(sheet, failures, roster, section_codes), filas)


def consolidate(round_dir: Path, section_codes: tuple[str, ...], detected_at: dt.datetime | None = None) -> Consolidation:
    """Read and validate the whole round folder (roster first: without it nothing else is read)."""
    detected_at = detected_at or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    discovery = discover_files(round_dir)
    warnings = list(discovery.warnings)
    roster_files, validation_files, workbooks, not_questionnaires = _classify(discovery.files)
    rejected: dict[str, list[str]] = {}
    outcomes: list[_Outcome] = []

    roster_sheet = _read(roster_files, PUNTOS_FOCALES, rejected, warnings)
    if len(roster_files) > 1:
        warnings.append(f"several roster files ({', '.join(f.name for f in roster_files)}): the latest-modified one counts")
    latest_roster = roster_sheet.rows[MTIME_COLUMN] < roster_sheet.rows[MTIME_COLUMN].max()
    roster_outcome = _process(roster_sheet, latest_roster, None, section_codes)
    outcomes.append(roster_outcome)
    roster_found = not roster_sheet.rows.empty
    staged: dict[str, pd.DataFrame] = {}

    if not roster_found:
        waiting = len(workbooks) + len(validation_files)
        warnings.append(
            f"no focal-point roster (puntos_focales.csv|xlsx) in {round_dir}: the GPEDC marts are empty"
            + (f"; {waiting} questionnaire/validation file(s) wait for it and were not read" if waiting else "")
        )
    else:
        roster = Roster(roster_outcome.staged, section_codes)
        by_sheet = _sheets_per_workbook(workbooks, rejected, warnings)
        sheets = {spec.sheet: _read(by_sheet[spec.sheet], spec, rejected, warnings) for spec in QUESTIONNAIRE_SPECS}
        # A workbook rejected for one sheet is rejected whole: nothing of it reaches staging.
        sheets = {name: _drop_files(sheet, set(rejected)) for name, sheet in sheets.items()}
        respondent_of = _workbook_respondent(sheets)
        budget = sheets["presupuesto"]
        budget.prepared["codigo_respondente"] = budget.prepared["codigo_respondente"].fillna(
            budget.rows["archivo"].map(respondent_of)
        ).astype("str")
        group_by = {"respuestas": ["codigo_respondente", "seccion"]}
        for name, sheet in sheets.items():
            superseded = _superseded(sheet.prepared, sheet.rows, group_by.get(name, ["codigo_respondente"]))
            outcome = _process(sheet, superseded, roster, section_codes)
            outcomes.append(outcome)
            staged[name] = outcome.staged
        validation_sheet = _read(validation_files, VALIDACIONES, rejected, warnings)
        outcome = _process(validation_sheet, pd.Series(False, index=validation_sheet.rows.index, dtype=bool), roster, section_codes)
        outcomes.append(outcome)
        staged["validaciones"] = outcome.staged

    rejections = not_questionnaires + discovery.rejected + [FileRejection(name, " ".join(reasons)) for name, reasons in rejected.items()]
    return Consolidation(
        roster_found=roster_found,
        roster=roster_outcome.staged,
        staged=staged,
        quarantined=pd.concat([o.quarantined for o in outcomes], ignore_index=True),
        rejected_files=rejected_files_frame("gpedc", ANIO_REFERENCIA, rejections, detected_at),
        filas=pd.concat([o.filas for o in outcomes], ignore_index=True),
        warnings=warnings,
    )


# --- marts ----------------------------------------------------------------------------------------


def latest_validations(validaciones: pd.DataFrame) -> pd.DataFrame:
    """The latest validation row per (respondent, section): latest `fecha`, then the later row read."""
    columns = ["codigo_respondente", "seccion", "estado", "fecha", "observacion"]
    if validaciones.empty:
        return pd.DataFrame({c: pd.Series(dtype="str") for c in columns})
    ordered = validaciones.assign(_f=pd.to_datetime(validaciones["fecha"])).sort_values(
        ["_f", "archivo", "fila"], kind="stable"
    )
    return ordered.drop_duplicates(["codigo_respondente", "seccion"], keep="last")[columns].reset_index(drop=True)


def _received(respuestas: pd.DataFrame, data_sheets: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per (respondent, section): questions answered, anything received, and when it last changed."""
    frames = []
    if not respuestas.empty:
        answered = respuestas.assign(_answered=respuestas["respuesta"].notna())
        frames.append(
            answered.groupby(["codigo_respondente", "seccion"], as_index=False).agg(
                preguntas_respondidas=("_answered", "sum"), recibido=("_answered", "size"), actualizado_en=("actualizado_en", "max")
            )
        )
    for sheet, frame in data_sheets.items():
        if frame is None or frame.empty:
            continue
        grouped = frame.groupby("codigo_respondente", as_index=False).agg(
            recibido=("fila", "size"), actualizado_en=("actualizado_en", "max")
        )
        frames.append(grouped.assign(seccion=SHEET_SECTION[sheet], preguntas_respondidas=0))
    if not frames:
        return pd.DataFrame(columns=["codigo_respondente", "seccion", "preguntas_respondidas", "recibido", "actualizado_en"])
    received = pd.concat(frames, ignore_index=True)
    return received.groupby(["codigo_respondente", "seccion"], as_index=False).agg(
        preguntas_respondidas=("preguntas_respondidas", "sum"), recibido=("recibido", "sum"), actualizado_en=("actualizado_en", "max")
    )


def completitud(roster: pd.DataFrame, section_codes: tuple[str, ...], staged: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per (respondent, assigned section) with its collection/validation state.

    PENDIENTE: nothing received; RECIBIDO: answers or data rows staged; OBSERVADO / VALIDADO: the
    latest validation row of that respondent and section (it counts even over newer answers).
    """
    columns = ["codigo_respondente", "entidad", "tipo_respondente", "seccion", "preguntas_respondidas", "estado", "ultima_actualizacion"]
    assignments = Roster(roster, section_codes).assignments()
    if assignments.empty:
        return pd.DataFrame({c: pd.Series(dtype="str") for c in columns}).astype(
            {"preguntas_respondidas": "int64", "ultima_actualizacion": "datetime64[us]"}
        )
    empty = pd.DataFrame()
    received = _received(staged.get("respuestas", empty), {k: staged.get(k, empty) for k in SHEET_SECTION})
    validation = latest_validations(staged.get("validaciones", empty))
    tracker = assignments.merge(received, on=["codigo_respondente", "seccion"], how="left").merge(
        validation[["codigo_respondente", "seccion", "estado", "fecha"]], on=["codigo_respondente", "seccion"], how="left"
    )
    has_data = tracker["recibido"].fillna(0) > 0
    estado = tracker["estado"].astype("object")
    estado = estado.where(estado.notna(), pd.Series(["RECIBIDO" if d else "PENDIENTE" for d in has_data], index=tracker.index))
    validated_at = pd.to_datetime(tracker["fecha"]).astype("datetime64[us]")
    received_at = pd.to_datetime(tracker["actualizado_en"]).astype("datetime64[us]")
    tracker["estado"] = estado.astype("str")
    tracker["preguntas_respondidas"] = tracker["preguntas_respondidas"].fillna(0).astype("int64")
    tracker["ultima_actualizacion"] = pd.concat([received_at, validated_at], axis=1).max(axis=1).astype("datetime64[us]")
    return tracker[columns].reset_index(drop=True)


INDICADORES = (
    "objetivos_alineados",
    "indicadores_alineados",
    "indicadores_fuente_gobierno",
    "evaluaciones_con_gobierno",
    "ods_17_15_1",
    "previsibilidad_anual",
    "en_presupuesto",
)
ODS_COMPONENTS = ("objetivos_alineados", "indicadores_alineados", "indicadores_fuente_gobierno")
TOTAL = "TOTAL"


def _ratio(numerador: float, denominador: float) -> float | None:
    """%, 2 decimals, rounded half up as the PNCTI indicators are (3.125 → 3.13; Python's round gives 3.12)."""
    return None if denominador == 0 else round_half_up(100.0 * numerador / denominador, 2)


def reference_interventions(intervenciones: pd.DataFrame, anio: int = ANIO_REFERENCIA) -> pd.DataFrame:
    """Interventions approved in the reference year count for the B.2 indicators."""
    if intervenciones.empty:
        return intervenciones
    return intervenciones[pd.to_datetime(intervenciones["fecha_aprobacion"]).dt.year == anio]


def indicadores(
    roster: pd.DataFrame,
    intervenciones: pd.DataFrame,
    flujos: pd.DataFrame,
    presupuesto: pd.DataFrame,
    anio: int = ANIO_REFERENCIA,
) -> pd.DataFrame:
    """Per development partner of the roster and TOTAL, the working definitions of contract gpedc.md."""
    partners = sorted(roster.loc[roster["tipo_respondente"] == SOCIO, "codigo_respondente"]) if not roster.empty else []
    iv = reference_interventions(intervenciones, anio)
    fl = flujos[flujos["anio"] == anio] if not flujos.empty else flujos
    pr = presupuesto[presupuesto["anio"] == anio] if not presupuesto.empty else presupuesto

    def total(frame: pd.DataFrame, code_column: str, code: str, column: str) -> float:
        if frame.empty:
            return 0.0
        return float(frame.loc[frame[code_column] == code, column].astype("float64").sum())

    rows: list[tuple[str, str, float, float]] = []
    for code in partners:
        mine = iv[iv["codigo_respondente"] == code] if not iv.empty else iv
        indicadores_total = total(iv, "codigo_respondente", code, "indicadores_total")
        rows.append(("objetivos_alineados", code, total(iv, "codigo_respondente", code, "objetivos_alineados"), total(iv, "codigo_respondente", code, "objetivos_total")))
        rows.append(("indicadores_alineados", code, total(iv, "codigo_respondente", code, "indicadores_alineados"), indicadores_total))
        rows.append(("indicadores_fuente_gobierno", code, total(iv, "codigo_respondente", code, "indicadores_fuente_gobierno"), indicadores_total))
        with_government = float((mine["evaluacion_con_gobierno"] == "SI").sum()) if not mine.empty else 0.0
        planned = float((mine["evaluacion_final_prevista"] == "SI").sum()) if not mine.empty else 0.0
        rows.append(("evaluaciones_con_gobierno", code, with_government, planned))
        d, p = total(fl, "codigo_respondente", code, "desembolsado_usd"), total(fl, "codigo_respondente", code, "programado_usd")
        rows.append(("previsibilidad_anual", code, min(d, p), max(d, p)))
        r = total(pr, "codigo_socio", code, "registrado_en_presupuesto_usd")
        rows.append(("en_presupuesto", code, min(r, p), max(r, p)))
    frame = pd.DataFrame(rows, columns=["indicador", "codigo_socio", "numerador", "denominador"])

    # ods_17_15_1: mean of the defined components, per partner; TOTAL = mean of the partners' values.
    ods_rows = []
    for code in partners:
        parts = frame[(frame["codigo_socio"] == code) & frame["indicador"].isin(ODS_COMPONENTS) & (frame["denominador"] > 0)]
        ratios = parts["numerador"] / parts["denominador"]
        ods_rows.append(("ods_17_15_1", code, float(ratios.sum()), float(len(ratios))))
    ods = pd.DataFrame(ods_rows, columns=frame.columns)

    pooled = frame.groupby("indicador", as_index=False)[["numerador", "denominador"]].sum().assign(codigo_socio=TOTAL)
    defined = ods[ods["denominador"] > 0]
    ods_total = pd.DataFrame(
        [("ods_17_15_1", TOTAL, float((defined["numerador"] / defined["denominador"]).sum()), float(len(defined)))], columns=frame.columns
    )
    everything = pd.concat([frame, ods, pooled, ods_total], ignore_index=True) if partners else frame
    everything["valor"] = [_ratio(n, d) for n, d in zip(everything["numerador"], everything["denominador"], strict=True)]
    everything["valor"] = everything["valor"].astype("float64")
    everything["anio_referencia"] = anio
    order = {name: position for position, name in enumerate(INDICADORES)}
    everything["_i"] = everything["indicador"].map(order)
    everything["_s"] = (everything["codigo_socio"] == TOTAL).astype(int)
    everything = everything.sort_values(["_i", "_s", "codigo_socio"], kind="stable")
    return everything[["indicador", "codigo_socio", "valor", "numerador", "denominador", "anio_referencia"]].reset_index(drop=True)


ESTADO_LABEL = {"PENDIENTE": "Pendiente", "OBSERVADO": "Observado", "RECIBIDO": "Recibido", "VALIDADO": "Validado"}


def tracker_markdown(tracker: pd.DataFrame, max_entities: int = 40) -> str:
    """The follow-up note APCI would send: per entity, what is still owed first, then the rest."""
    if tracker.empty:
        return "_Sin lista de puntos focales: no hay secciones asignadas todavía._"
    counts = tracker["estado"].value_counts()
    total = len(tracker)
    lines = [
        f"**{counts.get('PENDIENTE', 0)} de {total} secciones pendientes**, {counts.get('OBSERVADO', 0)} observadas, "
        f"{counts.get('RECIBIDO', 0)} recibidas sin validar, {counts.get('VALIDADO', 0)} validadas.",
        "",
    ]
    rank = {state: position for position, state in enumerate(STATES)}
    frame = tracker.assign(_rank=tracker["estado"].map(rank))
    owed = frame.groupby("codigo_respondente")["estado"].agg(lambda s: int((s == "PENDIENTE").sum() + (s == "OBSERVADO").sum()))
    order = frame.drop_duplicates("codigo_respondente").assign(_owed=lambda f: f["codigo_respondente"].map(owed))
    order = order.sort_values(["_owed", "entidad"], ascending=[False, True], kind="stable")
    for shown, entity in enumerate(order.itertuples()):
        if shown == max_entities:
            lines.append(f"_… {len(order) - max_entities} entidades más_")
            break
        mine = frame[frame["codigo_respondente"] == entity.codigo_respondente].sort_values(["_rank", "seccion"], kind="stable")
        lines.append(f"**{entity.entidad}** ({entity.codigo_respondente}, {entity.tipo_respondente})")
        for state, group in mine.groupby("_rank", sort=True):
            label = ESTADO_LABEL[group["estado"].iloc[0]]
            sections = ", ".join(
                f"{row.seccion} ({row.preguntas_respondidas} resp.)" if row.estado != "PENDIENTE" else row.seccion
                for row in group.itertuples()
            )
            lines.append(f"- {label}: {sections}")
        lines.append("")
    return "\n".join(lines).strip()
