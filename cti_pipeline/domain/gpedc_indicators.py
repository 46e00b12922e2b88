"""The 2023–2026 framework's indicators (`marts.gpedc_indicadores`), computed from the catalog.

`reference/gpedc_indicadores.csv` says which indicators exist, their level (`PAIS`: one national value;
`SOCIO`: one per development partner of the roster plus `TOTAL`), their method and the items they read.
`METHODS` holds one small function per method of the contract's vocabulary, in the style of the PNCTI
formula registry (`domain/indicators.py`): changing an indicator's method or items is a catalog edit.

Every method returns a `Measure` for one partner or, with `socio=None`, for `TOTAL`; the engine turns it
into `valor` = 100 × numerador ÷ denominador rounded half up to 2 decimals (`PROMEDIO_COMPONENTES` gives
its mean directly), NULL with a `nota` when a value cannot be computed. Only reference-year data counts
(`IndicatorData.build`): `flujos` and `socios` rows of `anio_referencia`, interventions approved in that
year with `monto_usd` at or above the threshold. An unanswered value never counts as 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from cti_pipeline.contracts.gpedc import GOBIERNO, NINGUNO, RESPUESTAS, STRUCTURED_SHEETS, TOTAL, GpedcCatalogs, Indicator, item_key
from cti_pipeline.contracts.tables import GPEDC_INDICADORES
from cti_pipeline.domain.gpedc_marts import RoundData, in_reference_year
from cti_pipeline.domain.indicators import round_half_up

YES, NO = "SI", "NO"


@dataclass(frozen=True)
class Measure:
    """What a method returns: the sums behind a value, or why there is none."""

    numerador: float | None = None
    denominador: float | None = None
    nota: str | None = None
    valor: float | None = None  # set only by methods whose value is not 100 × numerador ÷ denominador

    @property
    def value(self) -> float | None:
        if self.valor is not None:
            return round_half_up(self.valor, 2)
        if self.numerador is None or not self.denominador:
            return None
        return round_half_up(100.0 * self.numerador / self.denominador, 2)


@dataclass
class IndicatorData:
    """What the methods read: every reference-year answer as one long frame, and the partners of the roster.

    `answers`: one row per answer to an item — `clave` (the item id as compared), `fila` (the staged row it
    comes from: one intervention, one flow, one partner row, one answer), `respondente`, `tipo_respondente`,
    `socio` (whom the answer is about: the respondent, or for a `socios` row its `codigo_socio`), `texto`
    (canonical answer) and `numero` (it as a number, when it is one).
    """

    anio: int
    catalogs: GpedcCatalogs
    partners: tuple[str, ...]
    answers: pd.DataFrame
    computed: dict[tuple[str, str], Measure] = field(default_factory=dict)  # (indicador, socio or TOTAL) → Measure

    @classmethod
    def build(cls, data: RoundData, catalogs: GpedcCatalogs) -> IndicatorData:
        roster = data.roster_of(catalogs)
        anio = catalogs.anio_referencia
        frames = []
        respuestas = data.sheet(RESPUESTAS)
        if not respuestas.empty:
            given = respuestas[respuestas["respuesta"].notna()]
            frames.append(pd.DataFrame({
                "clave": item_key(given["codigo_pregunta"].astype("str")), "fila": "respuestas:" + given.index.astype("str"),
                "respondente": given["codigo_respondente"], "socio": given["codigo_respondente"], "texto": given["respuesta"],
            }))
        for sheet in STRUCTURED_SHEETS:
            rows = in_reference_year(sheet, data.sheet(sheet), anio)
            if sheet == "intervenciones" and not rows.empty:
                rows = rows[pd.to_numeric(rows["monto_usd"]) >= catalogs.umbral_intervencion_usd]
            for item in catalogs.items_of_sheet(sheet):
                if rows.empty or item.columna not in rows:
                    continue
                given = rows[rows[item.columna].notna()]
                frames.append(pd.DataFrame({
                    "clave": item.clave, "fila": f"{sheet}:" + given.index.astype("str"), "respondente": given["codigo_respondente"],
                    "socio": given["codigo_socio"] if sheet == "socios" else given["codigo_respondente"],
                    "texto": given[item.columna].map(_text),
                }))
        columns = ["clave", "fila", "respondente", "socio", "texto"]
        answers = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({c: pd.Series(dtype="str") for c in columns})
        answers = answers.astype({c: "str" for c in columns})
        answers["tipo_respondente"] = answers["respondente"].map(roster.kind_of).astype("str")
        answers["numero"] = pd.to_numeric(answers["texto"], errors="coerce")
        return cls(anio, catalogs, roster.partners, answers)

    def of(self, claves: list[str], socio: str | None) -> pd.DataFrame:
        """Answers to these items about one partner (None: about any partner of the roster)."""
        rows = self.answers[self.answers["clave"].isin(claves)]
        return rows[rows["socio"] == socio] if socio is not None else rows[rows["socio"].isin(self.partners)]

    def amount(self, clave: str, socio: str) -> float | None:
        """A partner's amount for an item (summed over its rows in scope); None when nothing gives it a value."""
        values = self.of([clave], socio)["numero"].dropna()
        return float(values.sum()) if not values.empty else None


def _text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def keys(indicator: Indicator) -> list[str]:
    return [item_key(pd.Series([p], dtype="str")).iloc[0] for p in indicator.preguntas]


Method = Callable[[Indicator, IndicatorData, str | None], Measure]
METHODS: dict[str, Method] = {}


def method(name: str) -> Callable[[Method], Method]:
    """Register the function of one method of the contract's vocabulary."""

    def register(function: Method) -> Method:
        if name in METHODS:
            raise ValueError(f"method {name} already registered")
        METHODS[name] = function
        return function

    return register


def pooled(indicator: Indicator, data: IndicatorData, per_partner: Callable[[str], Measure], needs: str) -> Measure:
    """TOTAL of a method computed per partner: Σ numerators ÷ Σ denominators of the partners that have one."""
    measures = [per_partner(socio) for socio in data.partners]
    counted = [m for m in measures if m.numerador is not None and m.denominador is not None]
    if not counted:
        return Measure(nota=f"Ningún socio tiene {needs} de {data.anio}.")
    numerator, denominator = sum(m.numerador for m in counted), sum(m.denominador for m in counted)
    return Measure(numerator, denominator, None if denominator else "Denominador 0: la suma de los socios es 0.")


def ratio(numerator: float, denominator: float, zero: str) -> Measure:
    return Measure(float(numerator), float(denominator), None if denominator else f"Denominador 0: {zero}")


# --- the methods (one function each) --------------------------------------------------------------


@method("PROYECTOS_ALINEADOS")
def proyectos_alineados(indicator: Indicator, data: IndicatorData, socio: str | None) -> Measure:
    """Interventions in scope whose objectives come from some country framework (the item is not NINGUNO)."""
    given = data.of(keys(indicator), socio)
    return ratio((given["texto"] != NINGUNO).sum(), len(given),
                 f"ninguna intervención de {data.anio} en el alcance con {', '.join(indicator.preguntas)} respondido.")


@method("PARTE_DEL_TOTAL")
def parte_del_total(indicator: Indicator, data: IndicatorData, socio: str | None) -> Measure:
    """Σ part ÷ Σ total over the rows in scope that give both (one intervention each)."""
    part, total = keys(indicator)[:2]
    given = data.of([part, total], socio)
    both = given.pivot_table(index="fila", columns="clave", values="numero", aggfunc="sum")
    both = both.dropna(subset=[c for c in (part, total) if c in both]) if {part, total} <= set(both.columns) else both.iloc[0:0]
    numerator = float(both[part].sum()) if not both.empty else 0.0
    denominator = float(both[total].sum()) if not both.empty else 0.0
    return ratio(numerator, denominator, f"ninguna intervención de {data.anio} en el alcance con {indicator.preguntas[0]} y "
                                         f"{indicator.preguntas[1]} respondidos (o su total es 0).")


@method("PROMEDIO_COMPONENTES")
def promedio_componentes(indicator: Indicator, data: IndicatorData, socio: str | None) -> Measure:
    """The mean of the components' values that are not NULL (for TOTAL: of their TOTAL values)."""
    values = [data.computed[(code, socio or TOTAL)].value for code in indicator.preguntas if (code, socio or TOTAL) in data.computed]
    present = [v for v in values if v is not None]
    if not present:
        return Measure(nota=f"Ninguno de los componentes ({', '.join(indicator.preguntas)}) tiene valor.")
    return Measure(float(sum(present)), float(len(present)), valor=sum(present) / len(present))


def two_amounts(indicator: Indicator, data: IndicatorData, socio: str | None,
                combine: Callable[[float, float], tuple[float, float]]) -> Measure:
    """A method over two amounts of each partner (`preguntas` = first;second); TOTAL pools the partners that have both."""
    first, second = keys(indicator)[:2]
    needs = f"{indicator.preguntas[0]} y {indicator.preguntas[1]}"

    def of_partner(code: str) -> Measure:
        a, b = data.amount(first, code), data.amount(second, code)
        if a is None or b is None:
            missing = " ni ".join(p for p, v in zip(indicator.preguntas[:2], (a, b), strict=True) if v is None)
            return Measure(nota=f"Sin {missing} de {data.anio} para este socio: no entra en el TOTAL.")
        numerator, denominator = combine(a, b)
        return ratio(numerator, denominator, f"{needs} dan un denominador 0.")

    return of_partner(socio) if socio is not None else pooled(indicator, data, of_partner, needs)


@method("DESEMBOLSADO_SOBRE_PROGRAMADO")
def desembolsado_sobre_programado(indicator: Indicator, data: IndicatorData, socio: str | None) -> Measure:
    """min(disbursed, scheduled) ÷ scheduled."""
    return two_amounts(indicator, data, socio, lambda d, s: (min(d, s), s))


@method("SOBREDESEMBOLSO")
def sobredesembolso(indicator: Indicator, data: IndicatorData, socio: str | None) -> Measure:
    """max(disbursed − scheduled, 0) ÷ disbursed."""
    return two_amounts(indicator, data, socio, lambda d, s: (max(d - s, 0.0), d))


@method("MIN_SOBRE_MAX")
def min_sobre_max(indicator: Indicator, data: IndicatorData, socio: str | None) -> Measure:
    """min(a, b) ÷ max(a, b) (cooperation in the national budget against the scheduled flows)."""
    return two_amounts(indicator, data, socio, lambda a, b: (min(a, b), max(a, b)))


@method("PROMEDIO_SOBRE_BASE")
def promedio_sobre_base(indicator: Indicator, data: IndicatorData, socio: str | None) -> Measure:
    """(mean of the amounts, a blank counted as 0) ÷ base (`preguntas` = the amounts, then the base)."""
    claves = keys(indicator)
    amounts, base = claves[:-1], claves[-1]

    def of_partner(code: str) -> Measure:
        values = [data.amount(clave, code) for clave in amounts]
        if all(v is None for v in values):
            return Measure(nota=f"Sin {', '.join(indicator.preguntas[:-1])} de {data.anio} para este socio.")
        total = data.amount(base, code)
        if total is None:
            return Measure(nota=f"Sin {indicator.preguntas[-1]} de {data.anio} para este socio: no entra en el TOTAL.")
        mean = sum(v or 0.0 for v in values) / len(values)
        return ratio(mean, total, f"{indicator.preguntas[-1]} es 0.")

    if socio is not None:
        return of_partner(socio)
    counted = [m for m in (of_partner(code) for code in data.partners) if m.value is not None]
    if not counted:
        return Measure(nota=f"Ningún socio tiene un valor de {indicator.indicador} en {data.anio}.")
    return Measure(sum(m.numerador for m in counted), sum(m.denominador for m in counted))


@method("PROPORCION_SI")
def proporcion_si(indicator: Indicator, data: IndicatorData, socio: str | None) -> Measure:
    """Answers SI ÷ answers SI or NO to the listed items (for PAIS: every government answer)."""
    claves = keys(indicator)
    if socio is None and indicator.nivel == "PAIS":
        given = data.answers[data.answers["clave"].isin(claves) & (data.answers["tipo_respondente"] == GOBIERNO)]
    else:
        given = data.of(claves, socio)
    yes_no = given[given["texto"].isin((YES, NO))]
    return ratio((yes_no["texto"] == YES).sum(), len(yes_no), f"ninguna respuesta SI o NO a {', '.join(indicator.preguntas)}.")


@method("EXTERNO")
def externo(indicator: Indicator, data: IndicatorData, socio: str | None) -> Measure:
    source = f" ({indicator.nota})" if indicator.nota else ""
    return Measure(nota=f"Lo calcula el Equipo Conjunto de Apoyo de la AGCED con fuentes externas{source}.")


@method("SIN_CALCULO")
def sin_calculo(indicator: Indicator, data: IndicatorData, socio: str | None) -> Measure:
    return Measure(nota="Las respuestas se consolidan y exportan; no hay valor de vista previa.")


# --- the engine -----------------------------------------------------------------------------------


def compute_indicators(data: RoundData, catalogs: GpedcCatalogs) -> pd.DataFrame:
    """One row per catalog indicator and partner (every SOCIO_DESARROLLO of the roster, plus TOTAL) for
    `nivel = SOCIO`, one TOTAL row for `nivel = PAIS`. Empty without a roster."""
    inputs = IndicatorData.build(data, catalogs)
    if data.roster.empty:
        return empty_indicators()
    by_code = {indicator.indicador: indicator for indicator in catalogs.indicators}
    visiting: set[str] = set()

    def scopes(indicator: Indicator) -> list[str | None]:
        return [*inputs.partners, None] if indicator.nivel == "SOCIO" else [None]

    def compute(indicator: Indicator) -> None:
        if (indicator.indicador, TOTAL) in inputs.computed:
            return
        if indicator.indicador in visiting:  # a component list that loops back
            for socio in scopes(indicator):
                inputs.computed[(indicator.indicador, socio or TOTAL)] = Measure(nota="Los componentes forman un ciclo en el catálogo.")
            return
        visiting.add(indicator.indicador)
        if indicator.metodo == "PROMEDIO_COMPONENTES":
            for code in indicator.preguntas:
                compute(by_code[code])
        for socio in scopes(indicator):
            inputs.computed[(indicator.indicador, socio or TOTAL)] = METHODS[indicator.metodo](indicator, inputs, socio)
        visiting.discard(indicator.indicador)

    records = []
    for indicator in catalogs.indicators:
        compute(indicator)
        for socio in scopes(indicator):
            measure = inputs.computed[(indicator.indicador, socio or TOTAL)]
            value = measure.value
            records.append({
                "indicador": indicator.indicador, "dimension": indicator.dimension, "nombre": indicator.nombre,
                "codigo_socio": socio or TOTAL, "valor": value, "numerador": measure.numerador, "denominador": measure.denominador,
                "metodo": indicator.metodo, "fuente": indicator.fuente, "verificado": indicator.verificado,
                "nota": measure.nota if value is None else None, "anio_referencia": catalogs.anio_referencia,
            })
    return typed(pd.DataFrame.from_records(records, columns=list(GPEDC_INDICADORES)))


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    numbers = {c: "float64" for c in ("valor", "numerador", "denominador")}
    text = {c: "str" for c in GPEDC_INDICADORES if c not in numbers and c != "anio_referencia"}
    return frame.astype({**numbers, **text, "anio_referencia": "int64"})


def empty_indicators() -> pd.DataFrame:
    return typed(pd.DataFrame(columns=list(GPEDC_INDICADORES)))
