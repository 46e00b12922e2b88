"""The PNCTI compliance report draft (reporte de cumplimiento) for CEPLAN: content and renderers.

Pure functions, no Dagster: `build_report` turns the rows of `marts.pncti_indicadores` of one
year (plus quarantine counts) into a `Report`; `render_docx`, `render_html` and
`render_markdown` turn a `Report` into the three twins; `objective_charts` draws one PNG per
priority objective (value against logro esperado), each laid out once, and `write_report` draws only
one small chart more, for the UI thumbnail. matplotlib and python-docx are imported inside the
functions that use them, so importing this module (and the Dagster definitions) does not load them.
The structure follows the report CEPLAN receives: a header table (política, ministerio rector,
problema público, dispositivo legal, resumen), I. objetivos prioritarios, II. servicios,
III. alternativas, and an annex.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cti_pipeline.outputs import html_page_start, html_table, write_bytes_atomic

POLITICA = "Política Nacional de Cooperación Técnica Internacional (PNCTI) al 2030"
MINISTERIO_RECTOR = "Ministerio de Relaciones Exteriores (MRE)"
PROBLEMA_PUBLICO = (
    "Insuficiente eficacia de la Cooperación Técnica Internacional (CTI) orientada a complementar esfuerzos "
    "por lograr el desarrollo sostenible, acorde al rol dual del país."
)
DISPOSITIVO_LEGAL = "Decreto Supremo N° 008-2023-RE"
ND = "ND"

OBJETIVOS: dict[str, str] = {
    "OP.01": "Consolidar la contribución de la CTI hacia las prioridades de desarrollo del país",
    "OP.02": "Generar nuevas oportunidades de cooperación entre el Sistema Nacional Descentralizado de CTI y los actores del desarrollo",
    "OP.03": "Posicionar al Perú como oferente de cooperación técnica en ALC y otras regiones",
    "OP.04": "Afianzar la proyección del Perú como referente de Cooperación Internacional para el Desarrollo",
}

SERVICIOS: dict[str, str] = {
    "SS.01.02.01": "Programa de capacitación en materia de CTI a los integrantes del Sistema",
    "SS.01.02.02": "Servicio de difusión de la oferta de becas a los actores de desarrollo",
    "SS.02.01.01": "Espacios de coordinación estratégicos para los integrantes del Sistema y otros actores del desarrollo",
    "SS.02.02.01": "Servicio de difusión de experiencias exitosas de CTI, de manera permanente, para los integrantes "
    "del Sistema y otros actores del desarrollo",
    "SS.02.03.01": "Servicio de asistencia técnica para facilitar la implementación de esquemas innovadores de "
    "cooperación a los diversos actores del desarrollo",
    "SS.02.05.01": "Provisión de información sobre la CTI a los actores del desarrollo",
    "SS.03.01.01": "Programa de capacitación sobre la gestión de la CSS con énfasis en la OPCTI a los actores del desarrollo",
    "SS.03.05.01": "Servicio de difusión de las oportunidades de Cooperación Triangular a los actores del desarrollo",
}

PLACEHOLDER_ALTERNATIVAS = (
    "[PENDIENTE – TEXTO DE LOS ANALISTAS] Redacte aquí las alternativas para mejorar la implementación de la "
    "política nacional y las recomendaciones. Esta sección no se genera automáticamente."
)
PLACEHOLDER_ANALISIS = "[PENDIENTE – TEXTO DE LOS ANALISTAS] Análisis cualitativo del objetivo y de sus indicadores."

INDICATOR_COLUMNS = ["Código", "Indicador", "Unidad", "Valor", "Logro esperado", "Avance (%)", "Estado"]
RECONCILIATION_COLUMNS = ["Código", "Indicador", "Valor calculado", "Valor publicado", "Avance calculado", "Avance publicado"]
QUARANTINE_COLUMNS = ["Origen", "Filas en cuarentena", "Reglas incumplidas", "Archivos rechazados"]


@dataclass(frozen=True)
class IndicatorLine:
    codigo: str
    nombre: str
    nivel: str  # OBJETIVO or SERVICIO
    objetivo: str
    servicio: str | None
    unidad: str
    valor: float | None
    valor_esperado: float | None
    avance_pct: float | None
    estado: str
    valor_reportado: float | None
    coincide_reportado: bool | None
    avance_reportado_pct: float | None = None  # optional mart columns (more are welcome in the contract)
    coincide_avance: bool | None = None
    cobertura_pct: float | None = None  # the declaration-based indicators: how much of the registry filed
    preliminar: bool | None = None

    @property
    def disagrees(self) -> bool:
        return self.coincide_reportado is False or self.coincide_avance is False

    @property
    def coverage_note(self) -> str | None:
        """Beside a declaration-based value: "preliminar: 57 % de las entidades obligadas han presentado"."""
        if self.preliminar is None:
            return None
        filed = f"{format_number(self.cobertura_pct, '%')} de las entidades obligadas han presentado" if self.cobertura_pct is not None else None
        if self.preliminar:
            return f"preliminar: {filed}" if filed else "preliminar (sin registro de entidades)"
        return filed

    @property
    def cells(self) -> list[str]:
        value = format_number(self.valor, self.unidad)
        return [
            self.codigo,
            self.nombre,
            self.unidad,
            f"{value} ({self.coverage_note})" if self.coverage_note else value,
            format_number(self.valor_esperado, self.unidad),
            format_number(self.avance_pct, "%"),
            self.estado,
        ]


@dataclass(frozen=True)
class Objective:
    codigo: str
    titulo: str
    indicators: list[IndicatorLine]  # objective level
    services: dict[str, list[IndicatorLine]]  # servicio → service-level indicators


@dataclass
class Report:
    anio: int
    resumen: str
    objectives: list[Objective]
    reconciliation: list[IndicatorLine]
    quarantine: pd.DataFrame  # Origen, Filas en cuarentena, Reglas incumplidas, Archivos rechazados
    warnings: list[str] = field(default_factory=list)
    generated_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC).replace(microsecond=0))

    @property
    def header(self) -> list[tuple[str, str]]:
        return [
            ("Política nacional", POLITICA),
            ("Ministerio rector o conductor", MINISTERIO_RECTOR),
            ("Problema público identificado", PROBLEMA_PUBLICO),
            ("Dispositivo legal", DISPOSITIVO_LEGAL),
            ("Resumen del reporte de cumplimiento", self.resumen),
        ]

    @property
    def title(self) -> str:
        return f"Reporte de cumplimiento de la {POLITICA} – año {self.anio} (borrador)"

    @property
    def indicators(self) -> list[IndicatorLine]:
        lines: list[IndicatorLine] = []
        for objective in self.objectives:
            lines.extend(objective.indicators)
            for service_lines in objective.services.values():
                lines.extend(service_lines)
        return lines


# --- values ---------------------------------------------------------------------------------------


def as_float(value: object) -> float | None:
    if value is None or value is pd.NA:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def clean(value: object) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def as_bool(value: object) -> bool | None:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return bool(value)


def format_number(value: float | None, unidad: str = "") -> str:
    """`ND` when missing; integers without decimals; else up to 2 decimals (point as decimal mark)."""
    if value is None:
        return ND
    if float(value).is_integer():
        text = f"{int(value):,}".replace(",", " ")
    else:
        text = f"{value:,.2f}".replace(",", " ").rstrip("0").rstrip(".")
    return f"{text} %" if unidad == "%" else text


def servicio_of(codigo: str) -> str | None:
    """ISS.01.02.01.01 → SS.01.02.01 (the service an indicator measures)."""
    match = re.fullmatch(r"ISS\.(\d+\.\d+\.\d+)\.\d+", codigo)
    return f"SS.{match.group(1)}" if match else None


def objective_sort_key(codigo: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"[.]", codigo))


# --- model ----------------------------------------------------------------------------------------


def build_report(
    indicadores: pd.DataFrame,
    anio: int,
    quarantine: pd.DataFrame | None = None,
    catalog: pd.DataFrame | None = None,
) -> Report:
    """The report of year `anio` from rows of marts.pncti_indicadores (other years are ignored).

    `catalog` (reference/pncti_indicadores.csv: codigo, nivel, objetivo_prioritario, servicio,
    unidad, nombre) lists every indicator the report must show: one the mart lacks appears as ND.
    `quarantine` has columns origen, filas, reglas, archivos (see `quarantine_counts_sql`).
    """
    warnings: list[str] = []
    rows = indicadores[indicadores["anio"].astype("int64") == int(anio)] if not indicadores.empty else indicadores
    lines: dict[str, IndicatorLine] = {}
    service_of_catalog: dict[str, str] = {}
    if catalog is not None and not catalog.empty:
        for entry in catalog.itertuples(index=False):
            servicio = str(getattr(entry, "servicio", "") or "").strip() or servicio_of(entry.codigo)
            if servicio:
                service_of_catalog[entry.codigo] = servicio
    for row in rows.itertuples(index=False):
        codigo = str(row.indicador)
        lines[codigo] = IndicatorLine(
            codigo=codigo,
            nombre=str(row.nombre) if isinstance(row.nombre, str) else codigo,
            nivel=str(row.nivel).upper(),
            objetivo=str(row.objetivo_prioritario),
            servicio=clean(getattr(row, "servicio", None)) or service_of_catalog.get(codigo) or servicio_of(codigo),
            unidad=str(row.unidad) if isinstance(row.unidad, str) else "",
            valor=as_float(row.valor),
            valor_esperado=as_float(row.valor_esperado),
            avance_pct=as_float(row.avance_pct),
            estado=str(row.estado) if isinstance(row.estado, str) else (ND if as_float(row.valor) is None else "DISPONIBLE"),
            valor_reportado=as_float(row.valor_reportado),
            coincide_reportado=as_bool(row.coincide_reportado),
            avance_reportado_pct=as_float(getattr(row, "avance_reportado_pct", None)),
            coincide_avance=as_bool(getattr(row, "coincide_avance", None)),
            cobertura_pct=as_float(getattr(row, "cobertura_pct", None)),
            preliminar=as_bool(getattr(row, "preliminar", None)),
        )
    if catalog is not None and not catalog.empty:
        missing = [e for e in catalog.itertuples(index=False) if e.codigo not in lines]
        if missing and lines:
            warnings.append(f"{len(missing)} indicador(es) del catálogo sin fila en el mart: {', '.join(e.codigo for e in missing)}.")
        for entry in missing:
            lines[entry.codigo] = IndicatorLine(
                codigo=entry.codigo,
                nombre=str(getattr(entry, "nombre", "") or entry.codigo),
                nivel=str(entry.nivel).upper(),
                objetivo=str(entry.objetivo_prioritario),
                servicio=service_of_catalog.get(entry.codigo),
                unidad=str(entry.unidad),
                valor=None,
                valor_esperado=None,
                avance_pct=None,
                estado=ND,
                valor_reportado=None,
                coincide_reportado=None,
            )
    if rows.empty:
        warnings.append(
            f"marts.pncti_indicadores no tiene filas para {anio}: todos los indicadores figuran como ND. "
            "Materialice los indicadores PNCTI del año antes de usar este borrador."
        )

    objective_codes = sorted({line.objetivo for line in lines.values()} | set(OBJETIVOS), key=objective_sort_key)
    objectives: list[Objective] = []
    for code in objective_codes:
        mine = sorted((l for l in lines.values() if l.objetivo == code), key=lambda l: objective_sort_key(l.codigo))
        services: dict[str, list[IndicatorLine]] = {}
        for line in mine:
            if line.nivel != "OBJETIVO":
                services.setdefault(line.servicio or "(sin servicio)", []).append(line)
        objectives.append(
            Objective(
                codigo=code,
                titulo=OBJETIVOS.get(code, code),
                indicators=[l for l in mine if l.nivel == "OBJETIVO"],
                services=dict(sorted(services.items(), key=lambda item: objective_sort_key(item[0]))),
            )
        )

    reconciliation = [
        l for l in sorted(lines.values(), key=lambda l: objective_sort_key(l.codigo)) if l.disagrees
    ]
    quarantine_table = quarantine_table_of(quarantine)
    report = Report(anio=int(anio), resumen="", objectives=objectives, reconciliation=reconciliation,
                    quarantine=quarantine_table, warnings=warnings)
    report.resumen = summary_paragraph(report)
    return report


def quarantine_table_of(quarantine: pd.DataFrame | None) -> pd.DataFrame:
    if quarantine is None or quarantine.empty:
        return pd.DataFrame(columns=QUARANTINE_COLUMNS)
    table = quarantine.rename(
        columns={"origen": "Origen", "filas": "Filas en cuarentena", "reglas": "Reglas incumplidas", "archivos": "Archivos rechazados"}
    )[QUARANTINE_COLUMNS]
    return table.sort_values("Origen").reset_index(drop=True)


def summary_paragraph(report: Report) -> str:
    lines = report.indicators
    objetivo = [l for l in lines if l.nivel == "OBJETIVO"]
    disponibles = [l for l in lines if l.valor is not None]
    con_logro = [l for l in lines if l.avance_pct is not None]
    cumplidos = [l for l in con_logro if l.avance_pct >= 100]
    filas = int(report.quarantine["Filas en cuarentena"].sum()) if not report.quarantine.empty else 0
    archivos = int(report.quarantine["Archivos rechazados"].sum()) if not report.quarantine.empty else 0
    text = (
        f"El presente borrador muestra los avances de la Cooperación Técnica Internacional (CTI) en el año "
        f"{report.anio}, en el marco de la {POLITICA}, con {len(report.objectives)} objetivos prioritarios. "
        f"Se reportan {len(lines)} indicadores ({len(objetivo)} a nivel de objetivos y {len(lines) - len(objetivo)} "
        f"de servicios): {len(disponibles)} con valor disponible y {len(lines) - len(disponibles)} no disponibles (ND). "
        f"De los {len(con_logro)} indicadores con logro esperado y valor, {len(cumplidos)} alcanzaron o superaron "
        f"el 100 % de avance."
    )
    if report.reconciliation:
        text += (
            f" {len(report.reconciliation)} indicador(es) calculados no coinciden con el valor publicado "
            f"({', '.join(l.codigo for l in report.reconciliation)}; ver anexo)."
        )
    text += (
        f" Los datos provienen de los registros procesados por el pipeline; {filas} fila(s) quedaron en cuarentena "
        f"y {archivos} archivo(s) fueron rechazados (ver anexo)."
    )
    return text


# --- charts ---------------------------------------------------------------------------------------


def objective_charts(report: Report, dpi: int = 110) -> dict[str, bytes]:
    """One PNG per objective that has objective-level indicators."""
    return {o.codigo: objective_chart(o, report.anio, dpi) for o in report.objectives if o.indicators}


def objective_chart(objective: Objective, anio: int, dpi: int = 110) -> bytes:
    """For each objective-level indicator, its valor beside its logro esperado (PNG)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # imported here: slow to import, and only a report needs it
    from matplotlib.figure import Figure

    indicators = objective.indicators
    # Drawn at the size it is shown in the .docx: its 8-10 pt labels stay 8-10 pt. Three indicators fill the
    # text width of an A4 page (17 cm); more are scaled down to it (docx_layout.add_picture); one is as wide
    # as the title needs.
    figure = Figure(figsize=(max(2.1 * len(indicators) + 0.4, 4.2), 2.6), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(indicators), squeeze=False)[0]
    for ax, line in zip(axes, indicators, strict=True):
        values = [line.valor or 0.0, line.valor_esperado or 0.0]
        bars = ax.bar(["Valor", "Logro\nesperado"], values, color=["#1f5fa6", "#b8b8b8"])
        labels = [format_number(line.valor, line.unidad), format_number(line.valor_esperado, line.unidad)]
        top = max([v for v in values if v] or [1.0])
        for bar, label in zip(bars, labels, strict=True):
            ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height() + top * 0.02, label, ha="center", va="bottom", fontsize=8)
        ax.set_ylim(0, top * 1.25)
        ax.set_title(line.codigo, fontsize=9)
        ax.tick_params(labelsize=8)
        ax.set_ylabel(line.unidad, fontsize=8)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    figure.suptitle(f"{objective.codigo}: valor obtenido y logro esperado ({anio})", fontsize=10)
    return png_laid_out_once(figure)


def png_laid_out_once(figure) -> bytes:
    """The figure as PNG, its constrained layout computed once.

    With a layout engine set, savefig draws twice (once to lay out, once to render) and runs the layout
    on both draws; here the layout runs once and is then fixed (engine removed), so savefig draws once.
    The PNG is the same, byte for byte.
    """
    import matplotlib

    figure.get_layout_engine().execute(figure)
    with matplotlib.rc_context({"figure.autolayout": False, "figure.constrained_layout.use": False}):
        figure.set_layout_engine(None)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


# --- renderers ------------------------------------------------------------------------------------


def render_docx(report: Report, charts: dict[str, bytes] | None = None) -> bytes:
    """The report as a .docx (python-docx) on A4, charts embedded (layout: outputs/docx_layout.py)."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import RGBColor

    from cti_pipeline.outputs.docx_layout import add_picture, add_space, add_table, format_table, text_width, use_a4

    charts = objective_charts(report) if charts is None else charts
    document = Document()
    use_a4(document)
    document.core_properties.title = report.title
    document.core_properties.author = "cti_pipeline"
    title = document.add_heading(report.title, level=0)
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    note = document.add_paragraph(
        f"Borrador generado automáticamente el {report.generated_at:%Y-%m-%d %H:%M} UTC a partir de marts.pncti_indicadores. "
        "Revise las cifras y complete las secciones marcadas como pendientes antes de enviarlo a CEPLAN."
    )
    note.runs[0].italic = True
    for warning in report.warnings:
        paragraph = document.add_paragraph()
        run = paragraph.add_run(f"Advertencia: {warning}")
        run.bold = True
        run.font.color.rgb = RGBColor(0xB0, 0x00, 0x00)

    document.add_heading("1. Políticas nacionales de la lista sectorial", level=1)
    header = document.add_table(rows=0, cols=2)
    header.style = "Table Grid"
    for label, value in report.header:
        cells = header.add_row().cells
        cells[0].text = label
        cells[0].paragraphs[0].runs[0].bold = True
        cells[1].text = value
    format_table(header, text_width(document), header_rows=0)
    add_space(document)

    def indicator_table(lines: list[IndicatorLine]) -> None:
        add_table(document, INDICATOR_COLUMNS, [l.cells for l in lines])

    document.add_heading("I. Cumplimiento de los objetivos prioritarios de la política nacional", level=1)
    for objective in report.objectives:
        document.add_heading(f"{objective.codigo}. {objective.titulo}", level=2)
        if objective.indicators:
            document.add_paragraph(objective_sentence(objective))
            indicator_table(objective.indicators)
        else:
            document.add_paragraph("Este objetivo no tiene indicadores a nivel de objetivo en el mart.")
        if objective.codigo in charts:
            add_picture(document, charts[objective.codigo])
        document.add_paragraph(PLACEHOLDER_ANALISIS).runs[0].italic = True

    document.add_heading(
        "II. Situación de las principales actividades que contribuyen al cumplimiento del objetivo de la política nacional",
        level=1,
    )
    for objective in report.objectives:
        document.add_heading(f"{objective.codigo}. {objective.titulo}", level=2)
        if not objective.services:
            document.add_paragraph("Este objetivo no tiene servicios con indicadores en el mart.")
        for servicio, lines in objective.services.items():
            document.add_heading(f"{servicio}: {SERVICIOS.get(servicio, servicio)}", level=3)
            indicator_table(lines)

    document.add_heading("III. Alternativas para mejorar la implementación de la política nacional", level=1)
    placeholder = document.add_paragraph()
    run = placeholder.add_run(PLACEHOLDER_ALTERNATIVAS)
    run.bold = True
    run.font.color.rgb = RGBColor(0xB0, 0x00, 0x00)

    document.add_heading("Anexo. Conciliación con el valor publicado y calidad de los datos", level=1)
    document.add_heading("A.1 Indicadores cuyo valor calculado no coincide con el publicado", level=2)
    if report.reconciliation:
        add_table(document, RECONCILIATION_COLUMNS, [reconciliation_cells(l) for l in report.reconciliation])
    else:
        document.add_paragraph("Ningún indicador calculado difiere del valor publicado.")
    document.add_heading("A.2 Filas en cuarentena y archivos rechazados", level=2)
    if report.quarantine.empty:
        document.add_paragraph("No hay filas en cuarentena ni archivos rechazados en el año.")
    else:
        rows = [[str(v) for v in row] for row in report.quarantine.itertuples(index=False)]
        add_table(document, QUARANTINE_COLUMNS, rows)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def objective_sentence(objective: Objective) -> str:
    n = len(objective.indicators)
    names = "; ".join(f"{l.codigo}: {l.nombre[0].lower() + l.nombre[1:]}" for l in objective.indicators)
    return f"El objetivo es medido a través de {n} indicador{'es' if n != 1 else ''}: {names}."


def reconciliation_cells(line: IndicatorLine) -> list[str]:
    return [
        line.codigo,
        line.nombre,
        format_number(line.valor, line.unidad),
        format_number(line.valor_reportado, line.unidad),
        format_number(line.avance_pct, "%"),
        format_number(line.avance_reportado_pct, "%"),
    ]


def render_html(report: Report, charts: dict[str, bytes] | None = None) -> str:
    """A self-contained HTML twin (charts inline as base64 PNG); every text is escaped."""
    charts = objective_charts(report) if charts is None else charts
    e = html.escape
    table = html_table
    parts = [
        *html_page_start(report.title, 60, ".pendiente{color:#b00000;font-weight:bold}img{max-width:100%}"),
        f"<h1>{e(report.title)}</h1>",
        f"<p><em>Borrador generado automáticamente el {report.generated_at:%Y-%m-%d %H:%M} UTC a partir de "
        "marts.pncti_indicadores. Revise las cifras y complete las secciones marcadas como pendientes.</em></p>",
    ]
    parts += [f'<p class="aviso"><strong>Advertencia:</strong> {e(w)}</p>' for w in report.warnings]
    parts.append("<h2>1. Políticas nacionales de la lista sectorial</h2>")
    parts.append(
        '<table class="cabecera"><tbody>'
        + "".join(f"<tr><th>{e(label)}</th><td>{e(value)}</td></tr>" for label, value in report.header)
        + "</tbody></table>"
    )
    parts.append("<h2>I. Cumplimiento de los objetivos prioritarios de la política nacional</h2>")
    for objective in report.objectives:
        parts.append(f'<h3 id="{e(objective.codigo)}">{e(objective.codigo)}. {e(objective.titulo)}</h3>')
        if objective.indicators:
            parts.append(f"<p>{e(objective_sentence(objective))}</p>")
            parts.append(table(INDICATOR_COLUMNS, [l.cells for l in objective.indicators]))
        else:
            parts.append("<p>Este objetivo no tiene indicadores a nivel de objetivo en el mart.</p>")
        if objective.codigo in charts:
            parts.append(f'<p><img alt="Gráfico {e(objective.codigo)}" src="{data_uri(charts[objective.codigo])}"></p>')
        parts.append(f'<p class="pendiente">{e(PLACEHOLDER_ANALISIS)}</p>')
    parts.append(
        "<h2>II. Situación de las principales actividades que contribuyen al cumplimiento del objetivo de la política nacional</h2>"
    )
    for objective in report.objectives:
        parts.append(f"<h3>{e(objective.codigo)}. {e(objective.titulo)}</h3>")
        if not objective.services:
            parts.append("<p>Este objetivo no tiene servicios con indicadores en el mart.</p>")
        for servicio, lines in objective.services.items():
            parts.append(f"<h4>{e(servicio)}: {e(SERVICIOS.get(servicio, servicio))}</h4>")
            parts.append(table(INDICATOR_COLUMNS, [l.cells for l in lines]))
    parts.append("<h2>III. Alternativas para mejorar la implementación de la política nacional</h2>")
    parts.append(f'<p class="pendiente">{e(PLACEHOLDER_ALTERNATIVAS)}</p>')
    parts.append("<h2>Anexo. Conciliación con el valor publicado y calidad de los datos</h2>")
    parts.append("<h3>A.1 Indicadores cuyo valor calculado no coincide con el publicado</h3>")
    if report.reconciliation:
        parts.append(table(RECONCILIATION_COLUMNS, [reconciliation_cells(l) for l in report.reconciliation]))
    else:
        parts.append("<p>Ningún indicador calculado difiere del valor publicado.</p>")
    parts.append("<h3>A.2 Filas en cuarentena y archivos rechazados</h3>")
    if report.quarantine.empty:
        parts.append("<p>No hay filas en cuarentena ni archivos rechazados en el año.</p>")
    else:
        parts.append(table(QUARANTINE_COLUMNS, [[str(v) for v in row] for row in report.quarantine.itertuples(index=False)]))
    parts.append("</body></html>")
    return "\n".join(parts)


def render_markdown(report: Report, thumbnail: bytes | None = None) -> str:
    """A Markdown twin for the Dagster UI (optionally with one small chart as a base64 image)."""

    def cell(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    def table(headers: list[str], rows: list[list[str]]) -> list[str]:
        out = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
        out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
        return out + [""]

    md = [f"# {report.title}", ""]
    md += [f"> **Advertencia:** {w}" for w in report.warnings] + ([""] if report.warnings else [])
    md += table(["Campo", "Contenido"], [[label, value] for label, value in report.header])
    if thumbnail:
        md += [f"![Gráfico del primer objetivo]({data_uri(thumbnail)})", ""]
    md += ["## I. Objetivos prioritarios", ""]
    for objective in report.objectives:
        md += [f"### {objective.codigo}. {objective.titulo}", ""]
        md += table(INDICATOR_COLUMNS, [l.cells for l in objective.indicators]) if objective.indicators else ["_(sin indicadores de objetivo)_", ""]
    md += ["## II. Servicios", ""]
    for objective in report.objectives:
        for servicio, lines in objective.services.items():
            md += [f"### {objective.codigo} · {servicio}: {SERVICIOS.get(servicio, servicio)}", ""]
            md += table(INDICATOR_COLUMNS, [l.cells for l in lines])
    md += ["## III. Alternativas de solución", "", f"**{PLACEHOLDER_ALTERNATIVAS}**", ""]
    md += ["## Anexo: conciliación y cuarentena", ""]
    md += table(RECONCILIATION_COLUMNS, [reconciliation_cells(l) for l in report.reconciliation]) if report.reconciliation else [
        "Ningún indicador calculado difiere del valor publicado.", ""]
    md += table(QUARANTINE_COLUMNS, [[str(v) for v in row] for row in report.quarantine.itertuples(index=False)]) if not report.quarantine.empty else [
        "No hay filas en cuarentena ni archivos rechazados.", ""]
    return "\n".join(md)


@dataclass(frozen=True)
class WrittenReport:
    docx: Path
    html: Path
    charts: dict[str, bytes]
    markdown: str
    thumbnail: bytes | None = None  # the small chart in `markdown`


def report_paths(exports_dir: Path, anio: int) -> tuple[Path, Path]:
    """(docx, html) of the year's report."""
    stem = f"reporte_cumplimiento_pncti_{anio}"
    return Path(exports_dir) / f"{stem}.docx", Path(exports_dir) / f"{stem}.html"


def thumbnail_chart(report: Report) -> bytes | None:
    """The UI thumbnail (small PNG): the first objective with a value to show, else the first with a chart."""
    charted = [o for o in report.objectives if o.indicators]
    with_values = [o for o in charted if any(l.valor is not None for l in o.indicators)]
    chosen = (with_values or charted or [None])[0]
    return objective_chart(chosen, report.anio, dpi=45) if chosen else None


def write_report(report: Report, exports_dir: Path) -> WrittenReport:
    """Write reporte_cumplimiento_pncti_<anio>.docx and .html atomically (temp file + os.replace)."""
    charts = objective_charts(report)
    docx_path, html_path = report_paths(exports_dir, report.anio)
    write_bytes_atomic(docx_path, render_docx(report, charts))
    write_bytes_atomic(html_path, render_html(report, charts).encode("utf-8"))
    thumbnail = thumbnail_chart(report)
    return WrittenReport(docx=docx_path, html=html_path, charts=charts, markdown=render_markdown(report, thumbnail), thumbnail=thumbnail)


# --- SQL the asset runs (kept here so tests can run it on their own DuckDB) -------------------------

INDICADORES_SQL = """
SELECT * FROM marts.pncti_indicadores WHERE anio = ? ORDER BY indicador
"""

QUARANTINE_SQL = """
WITH filas AS (
    SELECT origen, count(DISTINCT archivo || '#' || CAST(fila AS VARCHAR)) AS filas, count(*) AS reglas
    FROM quarantine.filas_rechazadas WHERE anio = ? GROUP BY origen
), archivos AS (
    SELECT origen, count(*) AS archivos FROM quarantine.archivos_rechazados WHERE anio = ? GROUP BY origen
)
SELECT coalesce(f.origen, a.origen) AS origen, coalesce(f.filas, 0) AS filas, coalesce(f.reglas, 0) AS reglas,
       coalesce(a.archivos, 0) AS archivos
FROM filas f FULL OUTER JOIN archivos a ON f.origen = a.origen
ORDER BY origen
"""


def read_report_inputs(conn, anio: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(mart rows of the year, quarantine counts per origen) from an open DuckDB connection."""

    def exists(table: str) -> bool:
        schema, name = table.split(".")
        return bool(conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", [schema, name]
        ).fetchone()[0])

    indicadores = conn.execute(INDICADORES_SQL, [anio]).df() if exists("marts.pncti_indicadores") else pd.DataFrame(
        columns=["indicador", "anio", "nombre", "nivel", "objetivo_prioritario", "unidad", "valor", "valor_esperado",
                 "avance_pct", "estado", "valor_reportado", "coincide_reportado"]
    )
    if exists("quarantine.filas_rechazadas") and exists("quarantine.archivos_rechazados"):
        quarantine = conn.execute(QUARANTINE_SQL, [anio, anio]).df()
    else:
        quarantine = pd.DataFrame(columns=["origen", "filas", "reglas", "archivos"])
    return indicadores, quarantine
