"""The results of the GPEDC (AGCED) round for phase 4, "Divulgación de resultados": what APCI presents to
development partners, civil society and every actor that took part.

Pure functions, no Dagster: `build_results` turns `marts.gpedc_indicadores` and `marts.gpedc_completitud`
into a `GpedcResults`; `render_html`, `render_docx` and `render_markdown` render it. The tables hold codes,
organisation names and counts only: no focal point's name or contact ever reaches them.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cti_pipeline.outputs import html_page_start, html_table, write_bytes_atomic
from cti_pipeline.outputs.report import as_float, format_number

FILE_STEM = "gpedc_resultados_ronda4"
TOTAL = "TOTAL"
STATES = ("VALIDADO", "OBSERVADO", "RECIBIDO", "PENDIENTE")

# The indicators of contract gpedc.md, in the order they are presented, with what each one measures.
INDICATORS: dict[str, str] = {
    "objetivos_alineados": "Objetivos de las intervenciones tomados de los marcos de resultados del país",
    "indicadores_alineados": "Indicadores de resultado tomados de los marcos de resultados del país",
    "indicadores_fuente_gobierno": "Indicadores de resultado que se miden con datos y estadísticas del gobierno",
    "evaluaciones_con_gobierno": "Evaluaciones finales previstas que se hacen con participación del gobierno",
    "ods_17_15_1": "ODS 17.15.1: uso de los marcos de resultados del país (promedio de los tres componentes)",
    "previsibilidad_anual": "Previsibilidad anual: lo desembolsado frente a lo programado",
    "en_presupuesto": "Cooperación registrada en el presupuesto nacional frente a lo programado",
}

# Column titles of the partner table in the .docx: a code cannot wrap in a narrow column, words can.
SHORT_NAMES: dict[str, str] = {
    "objetivos_alineados": "Objetivos alineados",
    "indicadores_alineados": "Indicadores alineados",
    "indicadores_fuente_gobierno": "Indicadores con fuente del gobierno",
    "evaluaciones_con_gobierno": "Evaluaciones con el gobierno",
    "ods_17_15_1": "ODS 17.15.1",
    "previsibilidad_anual": "Previsibilidad anual",
    "en_presupuesto": "En el presupuesto",
}

TIPOS: dict[str, str] = {
    "GOBIERNO": "Gobierno",
    "SOCIO_DESARROLLO": "Socios para el desarrollo",
    "OSC": "Organizaciones de la sociedad civil",
}


@dataclass
class GpedcResults:
    anio_referencia: int
    generated_at: dt.datetime
    totals: list[list[str]]  # indicador, qué mide, valor, numerador, denominador
    partners: pd.DataFrame  # one row per partner: codigo_socio, entidad, then one text column per indicator
    participation: list[list[str]]  # tipo, respondentes, secciones asignadas, then one count per state
    warnings: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"Resultados de la 4ª ronda de monitoreo de la AGCED en el Perú (año de referencia {self.anio_referencia})"


def build_results(indicadores: pd.DataFrame, completitud: pd.DataFrame, anio_referencia: int, generated_at: dt.datetime) -> GpedcResults:
    """The tables of the results report, from the two GPEDC marts as they are."""
    warnings = []
    if indicadores.empty:
        warnings.append("marts.gpedc_indicadores está vacío: no hay lista de puntos focales o aún no se consolidó la ronda.")
    values = {(row.indicador, row.codigo_socio): row for row in indicadores.itertuples(index=False)}

    def shown(indicador: str, socio: str) -> str:
        row = values.get((indicador, socio))
        return format_number(as_float(row.valor) if row is not None else None, "%")

    def amount(indicador: str, column: str) -> str:
        row = values.get((indicador, TOTAL))
        number = as_float(getattr(row, column)) if row is not None else None
        return "" if number is None else format_number(number)

    totals = [
        [code, meaning, shown(code, TOTAL), amount(code, "numerador"), amount(code, "denominador")]
        for code, meaning in INDICATORS.items()
    ]
    names = (
        completitud.drop_duplicates("codigo_respondente").set_index("codigo_respondente")["entidad"].to_dict()
        if not completitud.empty else {}
    )
    codes = sorted({socio for _, socio in values if socio != TOTAL})
    partners = pd.DataFrame(
        [[code, names.get(code) or "", *(shown(indicador, code) for indicador in INDICATORS)] for code in codes],
        columns=["codigo_socio", "entidad", *INDICATORS],
    )
    participation = []
    for tipo, label in TIPOS.items():
        mine = completitud[completitud["tipo_respondente"] == tipo] if not completitud.empty else completitud
        if mine.empty:
            continue
        by_state = mine["estado"].value_counts()
        participation.append(
            [label, str(mine["codigo_respondente"].nunique()), str(len(mine)), *(str(int(by_state.get(s, 0))) for s in STATES)]
        )
    return GpedcResults(anio_referencia, generated_at, totals, partners, participation, warnings)


TOTAL_HEADERS = ["Indicador", "Qué mide", "Valor (TOTAL)", "Numerador", "Denominador"]
PARTICIPATION_HEADERS = ["Tipo de respondente", "Respondentes", "Secciones asignadas", *(s.capitalize() for s in STATES)]
ND_NOTE = "ND: el denominador es 0 (no hay datos del año de referencia para calcular el indicador)."


def partner_headers() -> list[str]:
    return ["Socio", "Entidad", *INDICATORS]


def render_html(results: GpedcResults) -> str:
    """A self-contained page; every text is escaped."""
    e = html.escape
    table = html_table
    parts = [
        *html_page_start(results.title, 70),
        f"<h1>{e(results.title)}</h1>",
        f"<p><em>Generado el {results.generated_at:%Y-%m-%d %H:%M} UTC a partir de marts.gpedc_indicadores y "
        "marts.gpedc_completitud, para la fase 4 de la hoja de ruta (divulgación de resultados).</em></p>",
        *(f'<p class="aviso"><strong>Advertencia:</strong> {e(w)}</p>' for w in results.warnings),
        "<h2>1. Participación</h2>",
        table(PARTICIPATION_HEADERS, results.participation),
        "<h2>2. Indicadores del país (TOTAL)</h2>",
        table(TOTAL_HEADERS, results.totals),
        "<h2>3. Indicadores por socio para el desarrollo</h2>",
        table(partner_headers(), results.partners.values.tolist()),
        f"<p>{e(ND_NOTE)}</p>",
        "</body></html>",
    ]
    return "\n".join(parts)


def render_docx(results: GpedcResults) -> bytes:
    """The same content as a .docx (python-docx) on landscape A4, for presentations and e-mail."""
    import io

    from docx import Document
    from docx.shared import RGBColor

    from cti_pipeline.outputs.docx_layout import add_table, use_a4

    document = Document()
    use_a4(document, landscape=True)
    document.core_properties.title = results.title
    document.core_properties.author = "cti_pipeline"
    document.add_heading(results.title, level=0)
    note = document.add_paragraph(
        f"Generado el {results.generated_at:%Y-%m-%d %H:%M} UTC a partir de marts.gpedc_indicadores y "
        "marts.gpedc_completitud, para la fase 4 de la hoja de ruta (divulgación de resultados)."
    )
    note.runs[0].italic = True
    for warning in results.warnings:
        run = document.add_paragraph().add_run(f"Advertencia: {warning}")
        run.bold = True
        run.font.color.rgb = RGBColor(0xB0, 0x00, 0x00)

    def table(headers: list[str], rows: list[list[str]]) -> None:
        add_table(document, headers, rows)

    document.add_heading("1. Participación", level=1)
    table(PARTICIPATION_HEADERS, results.participation)
    document.add_heading("2. Indicadores del país (TOTAL)", level=1)
    table(TOTAL_HEADERS, results.totals)
    document.add_heading("3. Indicadores por socio para el desarrollo", level=1)
    table(["Socio", "Entidad", *(SHORT_NAMES[code] for code in INDICATORS)], results.partners.values.tolist())
    document.add_paragraph(ND_NOTE)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def render_markdown(results: GpedcResults) -> str:
    """The TOTAL table for the asset's page in the UI."""
    lines = ["| indicador | valor (TOTAL) |", "|---|---:|"]
    lines += [f"| {code} | {valor} |" for code, _, valor, _, _ in results.totals]
    return "\n".join([*(f"**Advertencia:** {w}" for w in results.warnings), *lines])


def results_paths(exports_dir: Path) -> tuple[Path, Path]:
    """(docx, html) of the round's results report."""
    return Path(exports_dir) / f"{FILE_STEM}.docx", Path(exports_dir) / f"{FILE_STEM}.html"


def write_results(results: GpedcResults, exports_dir: Path) -> tuple[Path, Path]:
    """Write both twins atomically (temp file + rename): a reader never sees half a report."""
    docx_path, html_path = results_paths(exports_dir)
    write_bytes_atomic(docx_path, render_docx(results))
    write_bytes_atomic(html_path, render_html(results).encode("utf-8"))
    return docx_path, html_path
