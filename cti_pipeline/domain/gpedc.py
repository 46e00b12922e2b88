"""The GPEDC 4th monitoring round: read and validate `landing/gpedc/ronda4/` against the round's catalogs.

No Dagster here. `consolidate` reads the roster first (without a usable roster nothing else is read),
then every questionnaire workbook sheet by sheet (`respuestas`, `intervenciones`, `flujos`, `socios`)
and APCI's validation log; it gives the staged and quarantined rows, one raw row per row read with its
fate, the file ledger's rows (`meta.archivos` before its counts) and the contents seen for the first
time (`meta.contenidos`). Re-sent workbooks are ordered by when the pipeline first saw their content
(`domain.ledger.seen_order`), not by modification times alone. The marts are `domain.gpedc_marts` and
`domain.gpedc_indicators`; the warehouse side is `domain.gpedc_store`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cti_pipeline.contracts import gpedc as contract
from cti_pipeline.contracts.columns import SourceSpec, typed_frame
from cti_pipeline.contracts.gpedc import PREGUNTAS_FILE, PUNTOS_FOCALES, RESPUESTAS, VALIDACIONES, GpedcCatalogs, Roster
from cti_pipeline.contracts.schema import Validation
from cti_pipeline.domain.ingest import empty_quarantine, failures_of, latest_per_group, now, quarantine_rows, rejected_files_frame, row_states
from cti_pipeline.domain.ledger import file_contents, files_frame, new_contents, seen_order
from cti_pipeline.landing.discovery import Discovery, FileRejection, LandedFile, discover_files
from cti_pipeline.landing.file_reader import NO_ROWS, UnreadableFile, workbook_sheet_names
from cti_pipeline.landing.folder_reader import ROW_COLUMN, SEMICOLON_COLUMN, FileBatch, read_folder

ORIGEN = "gpedc"  # meta.archivos, meta.contenidos and quarantine.archivos_rechazados
ROSTER_STEM = "puntos_focales"
VALIDATIONS_STEM = "validaciones"
TEMPLATE_SHEETS = ("instrucciones", "listas", "preguntas")  # the template's own sheets: ignored silently
FILA_STATES = ("staged", "quarantined", "superseded")
FILAS_COLUMNS = ["origen", "archivo", "hoja", "fila", "codigo_respondente", "estado_fila"]


@dataclass
class Consolidation:
    """Everything one read of the round folder writes."""

    anio: int  # the round's reference year (quarantine and meta.archivos rows carry it)
    roster_files: int  # roster files found (readable or not)
    roster: pd.DataFrame  # staged roster rows: codigo_respondente, tipo_respondente, entidad, secciones, archivo, fila
    staged: dict[str, pd.DataFrame]  # sheet → typed rows (respuestas, intervenciones, flujos, socios, validaciones)
    quarantined: pd.DataFrame
    rejected_files: pd.DataFrame
    filas: pd.DataFrame  # one row per row read (raw.gpedc_filas): no cell value, the roster holds contact details
    files: pd.DataFrame  # meta.archivos rows before their counts
    contents: pd.DataFrame  # meta.contenidos rows seen for the first time
    warnings: list[str] = field(default_factory=list)

    @property
    def roster_found(self) -> bool:
        return not self.roster.empty

    @property
    def roster_unusable(self) -> bool:
        """A roster file is there but no valid respondent could be read from it."""
        return self.roster_files > 0 and self.roster.empty

    def file_counts(self) -> pd.DataFrame:
        """Per file and sheet: rows read, staged, quarantined, superseded."""
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


@dataclass
class Sheet:
    """One kind of sheet of the round, as read and canonicalised."""

    spec: SourceSpec
    batch: FileBatch
    rows: pd.DataFrame
    prepared: pd.DataFrame
    order: pd.Series  # per row: when its file's content was first seen (ns)


@dataclass
class Outcome:
    staged: pd.DataFrame
    quarantined: pd.DataFrame
    filas: pd.DataFrame


# --- reading --------------------------------------------------------------------------------------


def read_sheet(files: list[LandedFile], spec: SourceSpec, catalogs: GpedcCatalogs, first_seen: Mapping[str, int],
               warnings: list[str]) -> Sheet:
    batch = read_folder(files, spec)
    # No cell of a GPEDC file is kept in a raw table (the roster's extra columns hold contact details).
    warnings.extend(w.replace("kept in raw and ignored downstream", "ignored and not stored") for w in batch.warnings)
    rows = batch.rows
    rows["hoja"] = rows["hoja"].astype("object")
    prepared = contract.prepare(spec, rows, catalogs, rows["archivo"], rows[SEMICOLON_COLUMN])
    order = rows["archivo"].map(seen_order(batch, first_seen)).astype("int64") if len(rows) else pd.Series(dtype="int64")
    return Sheet(spec, batch, rows, prepared, order)


def keep_files(sheet: Sheet, rejected: set[str]) -> Sheet:
    """The sheet without the rows of workbooks rejected whole (for one of their sheets)."""
    keep = ~sheet.rows["archivo"].isin(rejected)
    batch = FileBatch(sheet.batch.rows, sheet.batch.problems[sheet.batch.problems["index"].isin(sheet.rows.index[keep])],
                      sheet.batch.outcomes, sheet.batch.warnings)
    return Sheet(sheet.spec, batch, sheet.rows[keep], sheet.prepared[keep], sheet.order[keep])


def classify(files: list[LandedFile]) -> tuple[list[LandedFile], list[LandedFile], list[LandedFile], list[FileRejection]]:
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
            rejected.append(rejection(
                file,
                "Los cuestionarios de la ronda se envían como libro .xlsx con las hojas respuestas, intervenciones, "
                "flujos y/o socios; un CSV solo se acepta como puntos_focales.csv o validaciones.csv.",
            ))
    return roster, validations, workbooks, rejected


def rejection(file: LandedFile, motivo: str) -> FileRejection:
    return FileRejection(file.name, motivo, size=file.size, mtime_ns=file.mtime_ns)


def sheets_per_workbook(workbooks: list[LandedFile], rejected: list[FileRejection], warnings: list[str]) -> dict[str, list[LandedFile]]:
    """Which questionnaire sheets each workbook has (case-insensitive); a workbook with none is rejected."""
    by_sheet: dict[str, list[LandedFile]] = {sheet: [] for sheet in contract.QUESTIONNAIRE_SHEETS}
    for file in workbooks:
        try:
            names = workbook_sheet_names(file)
        except UnreadableFile as error:
            rejected.append(rejection(file, str(error)))
            continue
        present = {name.strip().casefold() for name in names}
        found = [sheet for sheet in contract.QUESTIONNAIRE_SHEETS if sheet in present]
        if not found:
            rejected.append(rejection(
                file,
                f"El libro no tiene ninguna de las hojas del cuestionario ({', '.join(contract.QUESTIONNAIRE_SHEETS)}); "
                f"hojas encontradas: {', '.join(names) or 'ninguna'}. Use la plantilla (cti-pipeline template gpedc).",
            ))
            continue
        others = [name for name in names if name.strip().casefold() not in (*contract.QUESTIONNAIRE_SHEETS, *TEMPLATE_SHEETS)]
        if others:
            warnings.append(f"{file.name}: sheet(s) ignored: {', '.join(others)}")
        for sheet in found:
            by_sheet[sheet].append(file)
    return by_sheet


# --- supersession ---------------------------------------------------------------------------------


def superseded_rows(sheet: Sheet, per: tuple[str, ...]) -> pd.Series:
    """Rows of a group (one respondent's section, one partner-year, …) sent again in a file first seen later."""
    if sheet.rows.empty:
        return pd.Series(False, index=sheet.rows.index, dtype=bool)
    groups = sheet.prepared[list(per)] if per else pd.DataFrame({"ronda": "ronda"}, index=sheet.rows.index)
    order = dict(zip(sheet.rows["archivo"], sheet.order, strict=True))  # one value per file
    superseded, _ = latest_per_group(sheet.rows["archivo"], groups, order, file_contents(sheet.batch))
    return superseded


def workbook_respondent(sheets: dict[str, Sheet]) -> dict[str, str]:
    """The one respondent code each workbook names in its other sheets (files naming several are left out)."""
    frames = [
        pd.DataFrame({"archivo": s.rows["archivo"], "codigo": s.prepared["codigo_respondente"]})
        for name, s in sheets.items() if name != "socios" and not s.rows.empty
    ]
    if not frames:
        return {}
    codes = pd.concat(frames, ignore_index=True).dropna().drop_duplicates()
    found = codes.groupby("archivo")["codigo"].agg(list)
    return {archivo: names[0] for archivo, names in found.items() if len(names) == 1}


# --- validation, quarantine, staging --------------------------------------------------------------

MessageContext = Callable[[str, str, pd.Series], dict[str, object]]


def process(sheet: Sheet, superseded: pd.Series, check: Validation, anio: int, context: MessageContext,
            keep_problems: Callable[[pd.DataFrame], pd.DataFrame] = lambda p: p) -> Outcome:
    """Validate the rows that count (the key rule sees only them), quarantine, stage, and give each row its fate."""
    active = sheet.prepared[~superseded.to_numpy(dtype=bool)]
    problems = keep_problems(sheet.batch.problems)
    problems = problems[problems["index"].isin(active.index)]
    failures = failures_of(check, active, problems)
    quarantined = quarantine_rows(sheet.spec.origen, anio, sheet.rows, failures, context)
    if not quarantined.empty:
        canonical = sheet.prepared.loc[failures.sort_values(["index", "columna", "regla"], kind="stable")["index"]]
        quarantined["mensaje"] = [prefix(sheet.spec, code, hoja) + text for code, hoja, text in
                                  zip(canonical["codigo_respondente"], quarantined["hoja"], quarantined["mensaje"], strict=True)]
    states = row_states(sheet.rows.index, superseded, failures)
    filas = pd.DataFrame({
        "origen": sheet.spec.origen,
        "archivo": sheet.rows["archivo"],
        "hoja": sheet.rows["hoja"],
        "fila": sheet.rows[ROW_COLUMN].astype("int64"),
        "codigo_respondente": sheet.prepared["codigo_respondente"],
        "estado_fila": states,
    }, index=sheet.rows.index)
    return Outcome(staged_rows(sheet, states.index[states == "staged"]), quarantined, filas.reset_index(drop=True))


def prefix(spec: SourceSpec, code: object, hoja: object) -> str:
    shown = "" if code is None or (not isinstance(code, str) and pd.isna(code)) else code
    if spec is PUNTOS_FOCALES:
        return f"Lista de puntos focales, fila de «{shown}»: "
    return f"Respondente {shown or 'sin código'}, hoja «{hoja if isinstance(hoja, str) and hoja else spec.sheet}»: "


def staged_rows(sheet: Sheet, index: pd.Index) -> pd.DataFrame:
    staged = typed_frame(sheet.spec, sheet.prepared, index)
    rows = sheet.rows.loc[index]
    if sheet.spec is not PUNTOS_FOCALES:
        staged["hoja"] = rows["hoja"].astype("str")  # missing for a CSV, as in raw and quarantine
        staged["actualizado_en"] = pd.to_datetime(sheet.order.loc[index], unit="ns").astype("datetime64[us]")
    staged["archivo"] = rows["archivo"]
    staged["fila"] = rows[ROW_COLUMN].astype("int64")
    return staged.reset_index(drop=True)


def message_context(spec: SourceSpec, prepared: pd.DataFrame, check: Validation, catalogs: GpedcCatalogs,
                    roster: Roster | None) -> MessageContext:
    """The values each rule's Spanish message names, from the row's canonical values and the catalogs."""
    columns = {item.columna: item for item in catalogs.items if item.columna and item.hoja == spec.sheet}
    sheet_sections = catalogs.sheet_sections(spec.sheet) if spec.sheet in contract.STRUCTURED_SHEETS else ()

    def value(row: pd.Series, name: str) -> str:
        found = row.get(name)
        return "" if found is None or (not isinstance(found, str) and pd.isna(found)) else str(found)

    def context(rule: str, column: str, raw: pd.Series) -> dict[str, object]:
        row = prepared.loc[raw.name]
        respondent = value(row, "codigo_respondente")
        if rule == "valor_no_permitido":
            allowed = check.allowed_values(column) or (", ".join(catalogs.section_codes) if column == "secciones" else "")
            return {"permitidos": allowed}
        if rule == "seccion_no_asignada":
            section = value(row, "seccion") or (columns[column].seccion if column in columns else ", ".join(sheet_sections))
            assigned = roster.assigned.get(respondent, ()) if roster is not None else ()
            return {"seccion": section, "respondente": respondent, "permitidos": ", ".join(assigned) or "ninguna"}
        if rule == "socio_desconocido":
            return {"permitidos": ", ".join(roster.partners) if roster is not None and roster.partners
                    else "la lista no tiene socios para el desarrollo"}
        if rule == "modulo_invalido":
            return {"seccion": value(row, "seccion")}
        if rule == "parte_mayor_que_total":
            total = contract.PARTS[column]
            return {"columna_total": total, "total": value(row, total)}
        if rule == "clave_duplicada":
            return {"clave": ", ".join(f"{k}={value(row, k)}" for k in spec.key)}
        if rule == "pregunta_desconocida":
            section = value(row, "seccion")
            examples = [item.codigo for item in catalogs.answered_items(section)][:3]
            return {"seccion": section, "catalogo": PREGUNTAS_FILE, "ejemplo": ", ".join(examples) or "A1_2"}
        if rule == "pregunta_en_otra_hoja":
            item = catalogs.item(value(row, "codigo_pregunta"))
            return {"item": item.codigo, "hoja": item.hoja, "columna_item": item.columna}
        if rule == "respuesta_invalida":
            item = columns.get(column) or catalogs.by_section_key.get(
                (value(row, "seccion"), contract.item_key(pd.Series([value(row, "codigo_pregunta")], dtype="str")).iloc[0]))
            if item is None:
                return {"item": value(row, "codigo_pregunta"), "descripcion": "", "esperado": contract.EXPECTED["LIBRE"]}
            return {"item": item.codigo, "descripcion": item.descripcion, "esperado": item.expected}
        return {}

    return context


def own_columns(spec: SourceSpec) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Cell problems of the contract's columns only: an extra column of the roster may hold a contact detail,
    which a quarantine row would repeat."""
    names = set(spec.names)
    return lambda problems: problems[problems["columna"].isin(names)]


# --- the round ------------------------------------------------------------------------------------


def consolidate(round_dir: Path, catalogs: GpedcCatalogs, first_seen: Mapping[str, int] | None = None,
                detected_at: dt.datetime | None = None) -> Consolidation:
    """Read and validate the whole round folder (roster first: without a usable one nothing else is read)."""
    first_seen = first_seen or {}
    detected_at = detected_at or now()
    anio = catalogs.anio_referencia
    discovery = discover_files(round_dir)
    warnings = list(discovery.warnings)
    roster_files, validation_files, workbooks, early = classify(discovery.files)
    early = discovery.rejected + early
    batches: list[FileBatch] = []
    rejected_whole: dict[str, list[str]] = {}  # workbook → why (one of its sheets could not be read)
    outcomes: list[Outcome] = []
    staged: dict[str, pd.DataFrame] = {}
    questionnaire_files: dict[str, list[LandedFile]] = {}

    roster_sheet = read_sheet(roster_files, PUNTOS_FOCALES, catalogs, first_seen, warnings)
    batches.append(roster_sheet.batch)
    if len(roster_files) > 1:
        warnings.append(f"several roster files ({', '.join(f.name for f in roster_files)}): the one first seen latest counts")
    # An unreadable or empty roster never hides a readable older one: only readable files with rows take part.
    roster_superseded = superseded_rows(roster_sheet, ())
    roster_check = contract.roster_validation(catalogs)
    roster_outcome = process(roster_sheet, roster_superseded, roster_check, anio,
                             message_context(PUNTOS_FOCALES, roster_sheet.prepared, roster_check, catalogs, None),
                             own_columns(PUNTOS_FOCALES))
    outcomes.append(roster_outcome)
    roster_frame = roster_outcome.staged

    if roster_frame.empty:
        waiting = workbooks + validation_files
        if roster_files:
            warnings.append(
                f"the focal-point roster ({', '.join(f.name for f in roster_files)}) could not be used: "
                "no readable file with a valid row; questionnaires and validations were not read"
            )
        else:
            warnings.append(
                f"no focal-point roster (puntos_focales.csv|xlsx) in {round_dir}: the GPEDC marts are empty"
                + (f"; {len(waiting)} questionnaire/validation file(s) wait for it and were not read" if waiting else "")
            )
        early += [rejection(file, "No se leyó: la ronda aún no tiene una lista de puntos focales válida "
                                  "(puntos_focales.csv o .xlsx). Se leerá cuando APCI cargue la lista.") for file in waiting]
    else:
        roster = Roster(roster_frame[list(PUNTOS_FOCALES.names)], catalogs.section_codes)
        specs = contract.questionnaire_specs(catalogs)
        by_sheet = sheets_per_workbook(workbooks, early, warnings)
        questionnaire_files = by_sheet
        sheets = {name: read_sheet(by_sheet[name], spec, catalogs, first_seen, warnings) for name, spec in specs.items()}
        for sheet in sheets.values():
            # A questionnaire sheet without a single row (not even a header) is as good as absent.
            sheet.batch.outcomes = [(f, o) for f, o in sheet.batch.outcomes if not (isinstance(o, FileRejection) and o.motivo == NO_ROWS)]
            batches.append(sheet.batch)
            for refused in sheet.batch.rejected:
                rejected_whole.setdefault(refused.archivo, []).append(refused.motivo)
        # A workbook with a sheet that cannot be read is rejected whole: nothing of it reaches staging.
        sheets = {name: keep_files(sheet, set(rejected_whole)) for name, sheet in sheets.items()}
        socios = sheets["socios"]
        socios.prepared["codigo_respondente"] = socios.prepared["codigo_respondente"].fillna(
            socios.rows["archivo"].map(workbook_respondent(sheets))).astype("str")
        for name, sheet in sheets.items():
            check = (contract.respuestas_validation(catalogs, roster) if name == RESPUESTAS
                     else contract.structured_validation(name, catalogs, roster))
            outcome = process(sheet, superseded_rows(sheet, contract.SUPERSEDED_PER[name]), check, anio,
                              message_context(sheet.spec, sheet.prepared, check, catalogs, roster))
            outcomes.append(outcome)
            staged[name] = outcome.staged
        validations = read_sheet(validation_files, VALIDACIONES, catalogs, first_seen, warnings)
        batches.append(validations.batch)
        check = contract.validaciones_validation(catalogs, roster)
        outcome = process(validations, pd.Series(False, index=validations.rows.index, dtype=bool), check, anio,
                          message_context(VALIDACIONES, validations.prepared, check, catalogs, roster))
        outcomes.append(outcome)
        staged["validaciones"] = outcome.staged

    by_file = {r.archivo: r for r in early}
    rejections = list(by_file.values()) + [FileRejection(name, " ".join(dict.fromkeys(reasons))) for name, reasons in rejected_whole.items()]
    for batch in batches:
        for refused in batch.rejected:
            if refused.archivo not in rejected_whole and refused.archivo not in by_file:
                rejections.append(refused)  # a roster or validation file that could not be read
                by_file[refused.archivo] = refused
    files = ledger_files(anio, early, batches, rejected_whole, [f for files in questionnaire_files.values() for f in files])
    contents = pd.concat([new_contents(ORIGEN, batch, first_seen) for batch in batches], ignore_index=True)
    quarantined = [o.quarantined for o in outcomes if not o.quarantined.empty]
    return Consolidation(
        anio=anio,
        roster_files=len(roster_files),
        roster=roster_frame,
        staged=staged,
        quarantined=pd.concat(quarantined, ignore_index=True) if quarantined else empty_quarantine(),
        rejected_files=rejected_files_frame(ORIGEN, anio, sorted(rejections, key=lambda r: r.archivo), detected_at),
        filas=pd.concat([o.filas for o in outcomes], ignore_index=True).astype({"fila": "int64"}),
        files=files,
        contents=contents.drop_duplicates("huella_contenido", ignore_index=True),
        warnings=warnings,
    )


def ledger_files(anio: int, early: list[FileRejection], batches: list[FileBatch], rejected_whole: Mapping[str, list[str]],
                 listed: list[LandedFile] = ()) -> pd.DataFrame:
    """One `meta.archivos` row per file of the folder (before its counts): a workbook read sheet by sheet is one
    row, its sheets listed in `hoja`; one refused sheet rejects it whole."""
    parts = [files_frame(ORIGEN, anio, Discovery(rejected=early), FileBatch(pd.DataFrame(), pd.DataFrame()))]
    parts += [files_frame(ORIGEN, anio, Discovery(), batch) for batch in batches]
    if listed:  # every workbook read sheet by sheet, even one whose questionnaire sheets are all empty (SIN_FILAS)
        parts.append(pd.DataFrame({
            "origen": ORIGEN, "anio": anio, "archivo": [f.name for f in listed], "bytes": [f.size for f in listed],
            "modificado_en": pd.to_datetime([f.mtime_ns for f in listed], unit="ns"),
        }).reindex(columns=parts[0].columns))
    frame = pd.concat([p for p in parts if not p.empty], ignore_index=True) if any(not p.empty for p in parts) else parts[0]

    def joined(separator: str) -> Callable[[pd.Series], object]:
        def join(values: pd.Series) -> object:
            found = list(dict.fromkeys(v for v in values if isinstance(v, str) and v))
            return separator.join(found) if found else None
        return join

    merged = frame.groupby("archivo", sort=True, as_index=False).agg(
        origen=("origen", "first"), anio=("anio", "first"), hoja=("hoja", joined(", ")), bytes=("bytes", "max"),
        modificado_en=("modificado_en", "max"), ruc_entidad=("ruc_entidad", "first"),
        huella_contenido=("huella_contenido", joined(", ")), motivo=("motivo", joined(" ")),
    )
    whole = merged["archivo"].map({name: " ".join(dict.fromkeys(reasons)) for name, reasons in rejected_whole.items()})
    merged["motivo"] = whole.where(whole.notna(), merged["motivo"])
    return merged.astype({"origen": "str", "anio": "Int64", "archivo": "str", "hoja": "str", "bytes": "Int64", "ruc_entidad": "str",
                          "huella_contenido": "str", "motivo": "str"}).astype({"modificado_en": "datetime64[us]"})
