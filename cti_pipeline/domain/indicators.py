"""The PNCTI indicator engine (shared contract pncti_indicadores.md).

The catalog (`reference/pncti_indicadores.csv`) says which indicators exist, their unit and their
source; `FORMULAS` holds one small function per indicator code that turns the staged rows of that
source (one year) into a `Measure`. Adding an indicator = a catalog row + a `@formula`. Everything
around it — ND rules, rounding, expected values, progress, reconciliation with a published report —
is shared and lives in `compute_indicators`. Pure functions: DataFrames in, DataFrames out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import pandas as pd

from cti_pipeline.contracts.reference import IndicatorCatalogs
from cti_pipeline.contracts.tables import PNCTI_INDICADORES
from cti_pipeline.contracts.text import normalize_name

DISPONIBLE = "DISPONIBLE"
ND = "ND"


@dataclass(frozen=True)
class Measure:
    """What a formula returns; `valor` unrounded, None when the denominator is 0."""

    valor: float | None
    numerador: float | None = None
    denominador: float | None = None
    beneficiarios_en_blanco: int | None = None
    nota: str | None = None


@dataclass(frozen=True)
class FormulaContext:
    anio: int
    paises_alc: frozenset[str]


@dataclass(frozen=True)
class Coverage:
    """How much of the registry the year's declarations cover, shown beside the declaration-based indicators."""

    cobertura_pct: float | None  # entities that filed ÷ entities that must file; None without a registry
    preliminar: bool  # until the year's closing date (reference/plazos_declaracion.csv) has passed


def nd(reason: str) -> Measure:
    return Measure(None, nota=f"ND: {reason}")


Formula = Callable[[pd.DataFrame, FormulaContext], Measure]


@dataclass(frozen=True)
class RegisteredFormula:
    compute: Formula
    reads: tuple[str, ...]  # the staging columns it reads: only those are loaded


FORMULAS: dict[str, RegisteredFormula] = {}


def formula(code: str, reads: tuple[str, ...]) -> Callable[[Formula], Formula]:
    """Register the formula of one indicator code and the staging columns it reads (only those are
    loaded: a million declaration rows in full would take gigabytes in pandas)."""

    def register(function: Formula) -> Formula:
        if code in FORMULAS:
            raise ValueError(f"indicator {code} already has a formula")
        FORMULAS[code] = RegisteredFormula(function, reads)
        return function

    return register


def percentage(numerator: float, denominator: float) -> Measure:
    if not denominator:
        return Measure(None, float(numerator), float(denominator), nota="ND: denominador 0")
    return Measure(100.0 * numerator / denominator, float(numerator), float(denominator))


def money_share(rows: pd.DataFrame, selected: pd.Series, ctx: FormulaContext) -> Measure:
    """Percentage of the year's amounts in USD that `selected` rows hold. ND when some staged amount has no
    `monto_usd` (the year has no rate in reference/tipo_cambio.csv): counting it as 0 would publish a wrong share."""
    amount = pd.to_numeric(rows["monto_usd"], errors="coerce")
    unconverted = int(amount.isna().sum())
    if unconverted:
        return Measure(
            None,
            nota=f"ND: {unconverted} de {len(amount)} intervenciones sin monto_usd: falta el tipo de cambio de "
            f"{ctx.anio} en reference/tipo_cambio.csv",
        )
    return percentage(amount[selected].sum(), amount.sum())


def _yes(series: pd.Series) -> pd.Series:
    return series.astype("str").str.upper().eq("SI").fillna(False).astype(bool)


# --- the formulas (one per indicator) -------------------------------------------------------------


@formula("IOP.01.01", reads=('monto_usd', 'es_prioritaria'))
def montos_en_areas_prioritarias(rows: pd.DataFrame, ctx: FormulaContext) -> Measure:
    return money_share(rows, _yes(rows["es_prioritaria"]), ctx)


@formula("IOP.01.02", reads=('monto_usd', 'ods'))
def montos_alineados_ods(rows: pd.DataFrame, ctx: FormulaContext) -> Measure:
    return money_share(rows, rows["ods"].notna(), ctx)


@formula("IOP.01.03", reads=('beneficiarios',))
def personas_beneficiarias(rows: pd.DataFrame, ctx: FormulaContext) -> Measure:
    beneficiarios = pd.to_numeric(rows["beneficiarios"], errors="coerce")
    blanks = int(beneficiarios.isna().sum())
    return Measure(
        float(beneficiarios.fillna(0).sum()),
        beneficiarios_en_blanco=blanks,
        nota=f"{blanks} intervención sin beneficiarios declarados (contada como 0)" if blanks == 1
        else f"{blanks} intervenciones sin beneficiarios declarados (contadas como 0)",
    )


@formula("IOP.02.01", reads=('estado',))
def compromisos_cumplidos(rows: pd.DataFrame, ctx: FormulaContext) -> Measure:
    return percentage((rows["estado"] == "CUMPLIDO").sum(), len(rows))


@formula("IOP.02.02", reads=('monto_usd', 'participa_empresa_privada'))
def participacion_empresa_privada(rows: pd.DataFrame, ctx: FormulaContext) -> Measure:
    return money_share(rows, _yes(rows["participa_empresa_privada"]), ctx)


def _peru_offers(rows: pd.DataFrame) -> pd.Series:
    return rows["rol_peru"].isin(("OFERENTE", "DOBLE"))


@formula("IOP.03.01", reads=('rol_peru', 'pais_socio'))
def css_oferente_alc(rows: pd.DataFrame, ctx: FormulaContext) -> Measure:
    in_alc = rows["pais_socio"].str.upper().isin(ctx.paises_alc)
    return percentage((_peru_offers(rows) & in_alc).sum(), len(rows))


@formula("IOP.03.02", reads=('rol_peru', 'pais_socio'))
def css_oferente_otras_regiones(rows: pd.DataFrame, ctx: FormulaContext) -> Measure:
    in_alc = rows["pais_socio"].str.upper().isin(ctx.paises_alc)
    return percentage((_peru_offers(rows) & ~in_alc).sum(), len(rows))


@formula("IOP.04.01", reads=('liderada_por_peru',))
def iniciativas_lideradas(rows: pd.DataFrame, ctx: FormulaContext) -> Measure:
    return percentage(_yes(rows["liderada_por_peru"]).sum(), len(rows))


def _uocti_cti(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[(rows["programa"] == "CTI") & _yes(rows["es_uocti"])]


def _no_training(programa: str, ctx: FormulaContext) -> Measure:
    return nd(f"ninguna capacitación del programa {programa} registrada en {ctx.anio} (un servicio que no dejó registro)")


@formula("ISS.01.02.01.01", reads=('programa', 'es_uocti', 'participante_id'))
def servidores_uocti_capacitados(rows: pd.DataFrame, ctx: FormulaContext) -> Measure:
    if not (rows["programa"] == "CTI").any():
        return _no_training("CTI", ctx)
    return Measure(float(_uocti_cti(rows)["participante_id"].nunique()))  # CTI trainings with no UOCTI server: 0


@formula("ISS.01.02.01.02", reads=('programa', 'es_uocti', 'participante_id', 'nota'))
def servidores_uocti_buen_nivel(rows: pd.DataFrame, ctx: FormulaContext) -> Measure:
    if not (rows["programa"] == "CTI").any():
        return _no_training("CTI", ctx)
    trained = _uocti_cti(rows)
    best = pd.to_numeric(trained["nota"], errors="coerce").groupby(trained["participante_id"]).max()
    return percentage((best >= 14).sum(), len(best))


def _accesses(rows: pd.DataFrame, seccion: str, ctx: FormulaContext) -> Measure:
    """Σ accesos of one section; a month recorded with 0 accesses is a value, a section with no row is ND."""
    of_section = rows.loc[rows["seccion"] == seccion, "accesos"]
    if of_section.empty:
        return nd(f"ningún registro de accesos_web de la sección {seccion} en {ctx.anio} (un servicio que no dejó registro)")
    return Measure(float(pd.to_numeric(of_section).sum()))


@formula("ISS.01.02.02.01", reads=('seccion', 'accesos'))
def accesos_becas(rows: pd.DataFrame, ctx: FormulaContext) -> Measure:
    return _accesses(rows, "BECAS", ctx)


@formula("ISS.02.01.01.01", reads=('entidad_participante',))
def entidades_en_espacios(rows: pd.DataFrame, ctx: FormulaContext) -> Measure:
    return Measure(float(normalize_name(rows["entidad_participante"]).nunique()))


@formula("ISS.02.01.01.02", reads=('espacio_id',))
def espacios_implementados(rows: pd.DataFrame, ctx: FormulaContext) -> Measure:
    return Measure(float(normalize_name(rows["espacio_id"]).nunique()))


@formula("ISS.02.02.01.01", reads=('seccion', 'accesos'))
def accesos_experiencias_exitosas(rows: pd.DataFrame, ctx: FormulaContext) -> Measure:
    return _accesses(rows, "EXPERIENCIAS_EXITOSAS", ctx)


@formula("ISS.02.03.01.01", reads=('entidad',))
def entidades_asistidas(rows: pd.DataFrame, ctx: FormulaContext) -> Measure:
    return Measure(float(normalize_name(rows["entidad"]).nunique()))


@formula("ISS.02.05.01.01", reads=('seccion', 'accesos'))
def accesos_estadisticas(rows: pd.DataFrame, ctx: FormulaContext) -> Measure:
    return _accesses(rows, "ESTADISTICAS", ctx)


@formula("ISS.03.01.01.01", reads=('programa', 'participante_id'))
def actores_capacitados_css(rows: pd.DataFrame, ctx: FormulaContext) -> Measure:
    trained = rows.loc[rows["programa"] == "CSS", "participante_id"]
    return Measure(float(trained.nunique())) if not trained.empty else _no_training("CSS", ctx)


@formula("ISS.03.05.01.01", reads=('seccion', 'accesos'))
def accesos_triangular(rows: pd.DataFrame, ctx: FormulaContext) -> Measure:
    return _accesses(rows, "TRIANGULAR", ctx)


# --- rounding and comparison with a published value -----------------------------------------------


def round_half_up(value: float | None, decimals: int = 2) -> float | None:
    """Round as a person does (2.345 → 2.35), from the decimal text of the float, not its binary value."""
    if value is None or pd.isna(value):
        return None
    return float(Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def published_number(text: object) -> Decimal | None:
    """A published figure as written (`45.83`, `4,17`, `34`); None when blank."""
    if text is None or (not isinstance(text, str) and pd.isna(text)):
        return None
    cleaned = str(text).strip().replace("%", "").replace(",", ".")
    if not cleaned:
        return None
    try:
        return Decimal(cleaned)
    except InvalidOperation:
        return None


def agrees(computed: float | None, published: object) -> bool | None:
    """The contract's rounding rule: round the computed value to as many decimals as the published one
    was written with, then compare (34 vs 33.80 agrees; 45.83 vs 44.44 does not). None when nothing
    was published; False when something was published and nothing was computed."""
    number = published_number(published)
    if number is None:
        return None
    if computed is None or pd.isna(computed):
        return False
    decimals = max(0, -number.as_tuple().exponent)
    return round_half_up(computed, decimals) == float(number)


def _number(text: object) -> float | None:
    number = published_number(text)
    return None if number is None else float(number)


# --- the engine -----------------------------------------------------------------------------------


def sources_of(catalogs: IndicatorCatalogs) -> list[str]:
    return sorted(set(catalogs.indicadores["fuente"]))


def columns_read(catalogs: IndicatorCatalogs) -> dict[str, list[str]]:
    """Per source of the catalog, the staging columns its indicators' formulas read."""
    columns: dict[str, set[str]] = {source: set() for source in sources_of(catalogs)}
    for item in catalogs.indicadores.itertuples(index=False):
        if item.codigo in FORMULAS:
            columns[item.fuente].update(FORMULAS[item.codigo].reads)
    return {source: sorted(names) for source, names in columns.items()}


COVERED_SOURCE = "declaraciones"  # the indicators of this source carry the registry's coverage


def compute_indicators(
    inputs: Mapping[str, pd.DataFrame], anio: int, catalogs: IndicatorCatalogs, coverage: Coverage | None = None
) -> pd.DataFrame:
    """Every catalog indicator for year `anio`, given the staged rows of that year per source (and, for the
    declaration-based ones, how much of the registry they cover)."""
    ctx = FormulaContext(anio=anio, paises_alc=catalogs.paises_alc)
    expected = _by_indicator(catalogs.logros_esperados, anio)
    reported = _by_indicator(catalogs.reportado, anio)
    records: list[dict[str, object]] = []
    for item in catalogs.indicadores.itertuples(index=False):
        code, source = item.codigo, item.fuente
        rows = inputs.get(source)
        registered = FORMULAS.get(code)
        since = _year(getattr(item, "vigente_desde", None))
        if registered is None:
            measure = nd(f"el indicador no tiene fórmula registrada en {__name__}")
        elif since is not None and anio < since:
            measure = nd(f"el indicador se mide desde {since} (servicio aún no implementado en {anio})")
        elif rows is None or rows.empty:
            measure = nd(f"no hay registros válidos de {source} en {anio}")
        else:
            measure = registered.compute(rows, ctx)
        covered = coverage if coverage is not None and source == COVERED_SOURCE else None
        valor = round_half_up(measure.valor, 2)
        valor_esperado = _number(expected.get(code, {}).get("valor_esperado"))
        avance = round_half_up(100.0 * valor / valor_esperado, 2) if valor is not None and valor_esperado else None
        published = reported.get(code, {})
        valor_ok = agrees(valor, published.get("valor_reportado"))
        avance_ok = agrees(avance, published.get("avance_reportado_pct"))
        comparisons = [c for c in (valor_ok, avance_ok) if c is not None]
        records.append(
            {
                "indicador": code,
                "anio": anio,
                "nombre": item.nombre or None,
                "nivel": item.nivel,
                "objetivo_prioritario": item.objetivo_prioritario,
                "servicio": item.servicio or None,
                "unidad": item.unidad,
                "fuente": source,
                "valor": valor,
                "valor_esperado": valor_esperado,
                "avance_pct": avance,
                "estado": ND if valor is None else DISPONIBLE,
                "valor_reportado": _number(published.get("valor_reportado")),
                "avance_reportado_pct": _number(published.get("avance_reportado_pct")),
                "coincide_reportado": all(comparisons) if comparisons else None,
                "coincide_avance": avance_ok,
                "numerador": measure.numerador,
                "denominador": measure.denominador,
                "beneficiarios_en_blanco": measure.beneficiarios_en_blanco,
                "nota": measure.nota,
                "cobertura_pct": round_half_up(covered.cobertura_pct, 2) if covered else None,
                "preliminar": covered.preliminar if covered else None,
            }
        )
    frame = pd.DataFrame.from_records(records, columns=list(PNCTI_INDICADORES))
    for column in ("coincide_reportado", "coincide_avance", "preliminar"):
        frame[column] = frame[column].astype("boolean")
    frame["beneficiarios_en_blanco"] = frame["beneficiarios_en_blanco"].astype("Int64")
    for column in ("valor", "valor_esperado", "avance_pct", "valor_reportado", "avance_reportado_pct", "numerador", "denominador", "cobertura_pct"):
        frame[column] = pd.to_numeric(frame[column]).astype("float64")
    return frame


def _year(text: object) -> int | None:
    """A catalog year (`2024`); None when blank (no lower bound)."""
    if text is None or (not isinstance(text, str) and pd.isna(text)) or not str(text).strip():
        return None
    return int(str(text).strip())


def _by_indicator(frame: pd.DataFrame, anio: int) -> dict[str, dict[str, object]]:
    if frame.empty:
        return {}
    of_year = frame[frame["anio"].astype("str").str.strip() == str(anio)]
    return {row["indicador"]: row for row in of_year.to_dict("records")}


def disagreements(indicators: pd.DataFrame) -> pd.DataFrame:
    """Indicators whose value or progress differs from the published report (both numbers shown)."""
    flagged = indicators[indicators["coincide_reportado"].eq(False).fillna(False).astype(bool)]
    return flagged[["indicador", "valor", "valor_reportado", "avance_pct", "avance_reportado_pct", "numerador", "denominador"]]


def report_table(indicators: pd.DataFrame) -> pd.DataFrame:
    """The indicator table as a reader of the published compliance report expects it."""

    def shown(value: object, unit: str = "") -> str:
        if value is None or pd.isna(value):
            return "ND"
        text = f"{value:.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
        return f"{text} {unit}".strip()

    table = pd.DataFrame(
        {
            "código": indicators["indicador"],
            "nombre": indicators["nombre"],
            "valor": [shown(v, "%" if u == "%" else "") for v, u in zip(indicators["valor"], indicators["unidad"], strict=True)],
            "logro esperado": [shown(v) if not pd.isna(v) else "—" for v in indicators["valor_esperado"]],
            "avance": [shown(v, "%") if not pd.isna(v) else "—" for v in indicators["avance_pct"]],
            "estado": indicators["estado"],
            "reportado": [shown(v) if not pd.isna(v) else "—" for v in indicators["valor_reportado"]],
            "avance reportado": [shown(v, "%") if not pd.isna(v) else "—" for v in indicators["avance_reportado_pct"]],
            "coincide": indicators["coincide_reportado"].map({True: "sí", False: "NO"}).fillna("—"),
        }
    )
    return table
