"""The results of the GPEDC (AGCED) round for phase 4, "Divulgación de resultados": what APCI presents to
development partners, civil society and every actor that took part.

Pure functions, no Dagster: `build_results` turns `marts.gpedc_indicadores`, `marts.gpedc_completitud` and the
pending list into a `GpedcResults`: participation per type of respondent, the indicators by dimension (value,
what it measures, method, whether the catalog row is verified), each partner's values beside the TOTAL with
one chart per partner-level indicator that has values, and what remains pending. `render_docx` (A4, tables
sized to the page by `outputs.docx_layout`), `render_html` and `render_markdown` render it. Headers are the
catalog's names and plain Spanish words; the tables hold codes, organisation names and counts only: no focal
point's name or contact ever reaches them. matplotlib and python-docx are imported where they are used.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cti_pipeline.contracts.gpedc import TOTAL, GpedcCatalogs
from cti_pipeline.domain.gpedc_marts import owed_items
from cti_pipeline.outputs import html_page_start, html_table, write_bytes_atomic
from cti_pipeline.outputs.report import as_float, data_uri, format_number, png_laid_out_once

FILE_STEM = "gpedc_resultados_ronda4"
STATES = ("VALIDADO", "OBSERVADO", "RECIBIDO", "PENDIENTE")

DIMENSIONS: dict[str, str] = {
    "1": "Dimensión 1. Enfoque de toda la sociedad",
    "2": "Dimensión 2. Estado y uso de los sistemas del país",
    "3": "Dimensión 3. Transparencia",
    "4": "Dimensión 4. No dejar a nadie atrás",
}
METHODS: dict[str, str] = {
    "PROYECTOS_ALINEADOS": "Intervenciones cuyos objetivos provienen de marcos del país ÷ intervenciones",
    "PARTE_DEL_TOTAL": "Suma de la parte ÷ suma del total, en las intervenciones",
    "PROMEDIO_COMPONENTES": "Promedio de los componentes",
    "DESEMBOLSADO_SOBRE_PROGRAMADO": "Desembolsado (hasta lo programado) ÷ programado",
    "SOBREDESEMBOLSO": "Desembolso por encima de lo programado ÷ desembolsado",
    "MIN_SOBRE_MAX": "Menor ÷ mayor de los dos montos",
    "PROMEDIO_SOBRE_BASE": "Promedio de los montos ÷ monto base",
    "PROPORCION_SI": "Respuestas SI ÷ respuestas SI o NO",
    "EXTERNO": "Fuente externa (lo calcula la AGCED)",
    "SIN_CALCULO": "Sin cálculo (respuestas consolidadas)",
}
TIPOS: dict[str, str] = {
    "GOBIERNO": "Gobierno",
    "SOCIO_DESARROLLO": "Socios para el desarrollo",
    "OSC": "Organizaciones de la sociedad civil",
}
PARTICIPATION_HEADERS = ["Tipo de respondente", "Respondentes", "Secciones asignadas", *(s.capitalize() for s in STATES)]
DIMENSION_HEADERS = ["Indicador", "Qué mide", "Valor (TOTAL)", "Método", "Verificado"]
PARTNER_HEADERS = ["Socio para el desarrollo", "Valor", "Numerador", "Denominador"]
PENDING_HEADERS = ["Entidad", "Sección", "Estado", "Ítems pendientes"]
PROVISIONAL = (
    "Cifras provisionales: los catálogos de ítems e indicadores son la lectura del proyecto de la Nota Metodológica de la "
    "ronda 2023–2026 (fuentes secundarias) y ninguna fila está verificada todavía con los documentos oficiales. Los valores "
    "oficiales los calcula el Equipo Conjunto de Apoyo de la AGCED."
)


@dataclass
class PartnerIndicator:
    """One partner-level indicator: each partner's value beside the TOTAL."""

    indicador: str
    nombre: str
    metodo: str
    verificado: str
    rows: list[list[str]]  # Socio, Valor, Numerador, Denominador (TOTAL last)
    values: list[tuple[str, float | None]]  # (label, value) for the chart, TOTAL last

    @property
    def has_values(self) -> bool:
        return any(v is not None for label, v in self.values if label != TOTAL)


@dataclass
class GpedcResults:
    anio_referencia: int
    generated_at: dt.datetime
    participation: list[list[str]]
    dimensions: list[tuple[str, list[list[str]], list[str]]]  # (title, rows, notes of the ND values)
    partner_indicators: list[PartnerIndicator]
    partner_names: dict[str, str]
    pending: list[list[str]]
    charts: dict[str, bytes] = field(default_factory=dict)  # indicador → PNG
    warnings: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"Resultados de la 4ª ronda de monitoreo de la AGCED en el Perú (año de referencia {self.anio_referencia})"

    @property
    def charted(self) -> list[PartnerIndicator]:
        return [p for p in self.partner_indicators if p.has_values]

    @property
    def without_values(self) -> list[PartnerIndicator]:
        return [p for p in self.partner_indicators if not p.has_values]


def verified(text: object) -> str:
    return "Sí" if str(text).strip().upper() in ("SI", "SÍ", "S", "1") else "No (provisional)"


def shown(value: object) -> str:
    return format_number(as_float(value), "%")


def amount(value: object) -> str:
    number = as_float(value)
    return "" if number is None else format_number(round(number, 2))


def build_results(indicadores: pd.DataFrame, completitud: pd.DataFrame, pendientes: pd.DataFrame, catalogs: GpedcCatalogs,
                  generated_at: dt.datetime, charts: bool = True) -> GpedcResults:
    """The content of the results report, from the marts as they are (and the pending list)."""
    warnings = []
    if indicadores.empty:
        warnings.append("marts.gpedc_indicadores está vacío: no hay lista de puntos focales o aún no se consolidó la ronda.")
    values = {(row.indicador, row.codigo_socio): row for row in indicadores.itertuples(index=False)}
    names = (completitud.drop_duplicates("codigo_respondente").set_index("codigo_respondente")["entidad"].to_dict()
             if not completitud.empty else {})
    partners = sorted({socio for _, socio in values if socio != TOTAL})

    dimensions: dict[str, tuple[list[list[str]], list[str]]] = {}
    partner_indicators = []
    for indicator in catalogs.indicators:
        total = values.get((indicator.indicador, TOTAL))
        rows, notes = dimensions.setdefault(indicator.dimension, ([], []))
        value = shown(total.valor) if total is not None else "ND"
        rows.append([indicator.indicador, indicator.nombre, value, METHODS.get(indicator.metodo, indicator.metodo),
                     verified(indicator.verificado)])
        if value == "ND" and total is not None and isinstance(total.nota, str) and total.nota:
            notes.append(f"{indicator.indicador}: {total.nota}")
        if indicator.nivel != "SOCIO":
            continue
        table, chart_values = [], []
        for code in [*partners, TOTAL]:
            row = values.get((indicator.indicador, code))
            label = "TOTAL" if code == TOTAL else f"{names.get(code) or code} ({code})"
            table.append([label, shown(row.valor) if row is not None else "ND",
                          amount(row.numerador) if row is not None else "", amount(row.denominador) if row is not None else ""])
            chart_values.append((code, as_float(row.valor) if row is not None else None))
        partner_indicators.append(PartnerIndicator(indicator.indicador, indicator.nombre, indicator.metodo,
                                                   verified(indicator.verificado), table, chart_values))
    ordered = sorted(dimensions.items(), key=lambda item: (len(item[0]), item[0]))
    participation = []
    for tipo, label in TIPOS.items():
        mine = completitud[completitud["tipo_respondente"] == tipo] if not completitud.empty else completitud
        if mine.empty:
            continue
        by_state = mine["estado"].value_counts()
        participation.append([label, str(mine["codigo_respondente"].nunique()), str(len(mine)),
                              *(str(int(by_state.get(s, 0))) for s in STATES)])
    results = GpedcResults(
        anio_referencia=catalogs.anio_referencia,
        generated_at=generated_at,
        participation=participation,
        dimensions=[(DIMENSIONS.get(code, f"Dimensión {code}"), rows, notes) for code, (rows, notes) in ordered],
        partner_indicators=partner_indicators,
        partner_names={code: names.get(code) or code for code in partners},
        pending=pending_rows(completitud, pendientes),
        warnings=warnings,
    )
    if charts:
        results.charts = {p.indicador: partner_chart(p) for p in results.charted}
    return results


def pending_rows(completitud: pd.DataFrame, pendientes: pd.DataFrame) -> list[list[str]]:
    """Per entity and section with something still owed: its state and the items (socios items with their partners)."""
    if pendientes.empty:
        return []
    state = {(r.codigo_respondente, r.seccion): r.estado for r in completitud.itertuples()} if not completitud.empty else {}
    rows = []
    for (code, entity, section), items in pendientes.groupby(["codigo_respondente", "entidad", "seccion"], sort=False):
        rows.append([str(entity), str(section), state.get((code, section), "").capitalize(), owed_items(items, max_items=40)])
    return rows


# --- chart ----------------------------------------------------------------------------------------


def partner_chart(indicator: PartnerIndicator, dpi: int = 110) -> bytes:
    """Each partner's value as a horizontal bar with its value written beside it; TOTAL last, in another colour."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # imported here, not at module load
    from matplotlib.figure import Figure

    labels = [code for code, _ in indicator.values]
    numbers = [value or 0.0 for _, value in indicator.values]
    figure = Figure(figsize=(6.3, 0.32 * len(labels) + 1.0), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.subplots()
    positions = list(range(len(labels)))[::-1]
    colours = ["#1f5fa6" if code != TOTAL else "#e07b00" for code in labels]
    ax.barh(positions, numbers, color=colours, height=0.6)
    for position, (_, value) in zip(positions, indicator.values, strict=True):
        ax.text((value or 0.0) + 1.5, position, format_number(value, "%"), va="center", fontsize=8)
    ax.set_yticks(positions, labels, fontsize=8)
    ax.set_xlim(0, 118)
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.tick_params(axis="x", labelsize=8)
    ax.set_xlabel("%", fontsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_title(f"{indicator.indicador}: valor por socio y TOTAL", fontsize=9)
    return png_laid_out_once(figure)


# --- renderers ------------------------------------------------------------------------------------

INTRO = ("Generado el {at:%Y-%m-%d %H:%M} UTC a partir de marts.gpedc_indicadores y marts.gpedc_completitud, para la fase 4 de "
         "la hoja de ruta (divulgación de resultados). Solo cuentan los datos del año de referencia {anio}.")


def render_html(results: GpedcResults) -> str:
    """A self-contained page (charts embedded); every text is escaped."""
    e = html.escape
    parts = [
        *html_page_start(results.title, 60, "img{max-width:100%}"),
        f"<h1>{e(results.title)}</h1>",
        f"<p><em>{e(INTRO.format(at=results.generated_at, anio=results.anio_referencia))}</em></p>",
        f"<p>{e(PROVISIONAL)}</p>",
        *(f'<p class="aviso"><strong>Advertencia:</strong> {e(w)}</p>' for w in results.warnings),
        "<h2>1. Participación</h2>",
        html_table(PARTICIPATION_HEADERS, results.participation),
        "<h2>2. Indicadores por dimensión (TOTAL del país)</h2>",
    ]
    for title, rows, notes in results.dimensions:
        parts += [f"<h3>{e(title)}</h3>", html_table(DIMENSION_HEADERS, rows)]
        if notes:
            parts.append("<ul>" + "".join(f"<li>ND — {e(note)}</li>" for note in notes) + "</ul>")
    parts.append("<h2>3. Valores de cada socio para el desarrollo junto al TOTAL</h2>")
    for indicator in results.charted:
        parts += [
            f"<h3>{e(indicator.indicador)}. {e(indicator.nombre)}</h3>",
            f"<p>Método: {e(METHODS.get(indicator.metodo, indicator.metodo))}. Verificado: {e(indicator.verificado)}.</p>",
        ]
        if indicator.indicador in results.charts:
            parts.append(f'<p><img alt="{e(indicator.indicador)}" src="{data_uri(results.charts[indicator.indicador])}"></p>')
        parts.append(html_table(PARTNER_HEADERS, indicator.rows))
    if results.without_values:
        parts.append(f"<p>{e(without_values_sentence(results))}</p>")
    parts += ["<h2>4. Lo que queda pendiente</h2>", pending_html(results), "</body></html>"]
    return "\n".join(parts)


def pending_html(results: GpedcResults) -> str:
    if not results.pending:
        return "<p>No queda nada pendiente.</p>"
    return html_table(PENDING_HEADERS, results.pending)


def without_values_sentence(results: GpedcResults) -> str:
    codes = ", ".join(p.indicador for p in results.without_values)
    return f"Sin valores por socio en el año de referencia (ND, externos o sin cálculo): {codes}."


def render_docx(results: GpedcResults) -> bytes:
    """The same content as a .docx (python-docx) on portrait A4, for presentations and e-mail."""
    import io

    from docx import Document
    from docx.shared import RGBColor

    from cti_pipeline.outputs.docx_layout import add_picture, add_table, use_a4

    document = Document()
    use_a4(document)
    document.core_properties.title = results.title
    document.core_properties.author = "cti_pipeline"
    document.add_heading(results.title, level=0)
    note = document.add_paragraph(INTRO.format(at=results.generated_at, anio=results.anio_referencia))
    note.runs[0].italic = True
    document.add_paragraph(PROVISIONAL)
    for warning in results.warnings:
        run = document.add_paragraph().add_run(f"Advertencia: {warning}")
        run.bold = True
        run.font.color.rgb = RGBColor(0xB0, 0x00, 0x00)

    document.add_heading("1. Participación", level=1)
    add_table(document, PARTICIPATION_HEADERS, results.participation)
    document.add_heading("2. Indicadores por dimensión (TOTAL del país)", level=1)
    for title, rows, notes in results.dimensions:
        document.add_heading(title, level=2)
        add_table(document, DIMENSION_HEADERS, rows)
        for text in notes:
            document.add_paragraph(f"ND — {text}", style="List Bullet")
    document.add_heading("3. Valores de cada socio para el desarrollo junto al TOTAL", level=1)
    for indicator in results.charted:  # heading, method, chart and table stay on one page
        heading = document.add_heading(f"{indicator.indicador}. {indicator.nombre}", level=2)
        method = document.add_paragraph(f"Método: {METHODS.get(indicator.metodo, indicator.metodo)}. Verificado: {indicator.verificado}.")
        together = [heading, method]
        if indicator.indicador in results.charts:
            together.append(add_picture(document, results.charts[indicator.indicador]))
        for paragraph in together:
            paragraph.paragraph_format.keep_with_next = True
        add_table(document, PARTNER_HEADERS, indicator.rows)
    if results.without_values:
        document.add_paragraph(without_values_sentence(results))
    document.add_heading("4. Lo que queda pendiente", level=1)
    if results.pending:
        add_table(document, PENDING_HEADERS, results.pending)
    else:
        document.add_paragraph("No queda nada pendiente.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def render_markdown(results: GpedcResults) -> str:
    """The TOTAL of every indicator, with its method and whether it is verified, for the asset's page in the UI."""
    lines = ["| indicador | valor (TOTAL) | método | verificado |", "|---|---:|---|---|"]
    for _, rows, _ in results.dimensions:
        lines += [f"| {code} | {valor} | {metodo} | {verificado} |" for code, _, valor, metodo, verificado in rows]
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
