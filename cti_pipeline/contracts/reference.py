"""Reference catalogs: shipped in data/reference/, replaceable whole from $CTI_DATA_DIR/reference/."""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cti_pipeline.contracts.text import normalize_yes_no
from cti_pipeline.settings import SHIPPED_REFERENCE_DIR

log = logging.getLogger(__name__)

# catalog → the columns an override must have (key and value columns); descriptive ones may be missing.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "areas_prioritarias": ("codigo", "es_prioritaria"),
    "departamentos": ("codigo",),
    "paises_alc": ("iso3",),
    "paises_iso3": ("iso3",),
    "tipo_cambio": ("anio", "pen_por_usd"),
    "pncti_indicadores": ("codigo", "nivel", "objetivo_prioritario", "unidad", "fuente"),
    "logros_esperados": ("indicador", "anio", "valor_esperado"),
    "reportado": ("indicador", "anio", "valor_reportado", "avance_reportado_pct"),
    "hoja_de_ruta": ("fase", "inicio", "fin"),
    "hoja_de_ruta_actividades": ("fase", "actividad"),
    "gpedc_secciones": ("seccion", "grupo"),
    "plazos_declaracion": ("anio", "fecha_limite", "fecha_cierre"),
    "gpedc_parametros": ("clave", "valor"),
    "gpedc_preguntas": ("codigo_pregunta", "seccion", "hoja", "tipo_respuesta"),
    "gpedc_indicadores": ("indicador", "dimension", "nivel", "metodo", "preguntas"),
}


class ReferenceError(ValueError):
    """A reference catalog (shipped or overridden) is missing or lacks a key column."""


def catalog_path(name: str, override_dir: Path | None) -> Path | None:
    """The override in $CTI_DATA_DIR/reference/ when present, else the shipped file (None if neither)."""
    file_name = f"{name}.csv"
    if override_dir is not None and (override_dir / file_name).is_file():
        return override_dir / file_name
    shipped = SHIPPED_REFERENCE_DIR / file_name
    return shipped if shipped.is_file() else None


def load_catalog(name: str, override_dir: Path | None = None, *, required: bool = True) -> pd.DataFrame:
    """Read a catalog as text columns (trimmed), checking the key/value columns are present."""
    path = catalog_path(name, override_dir)
    kind = "reportado" if name.startswith("reportado_") else name
    needed = REQUIRED_COLUMNS.get(kind, ())
    if path is None:
        if required:
            raise ReferenceError(f"reference catalog {name}.csv not found")
        return pd.DataFrame({column: pd.Series(dtype="str") for column in needed})
    frame = pd.read_csv(path, dtype="str", keep_default_na=False, encoding="utf-8-sig")
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ReferenceError(f"reference catalog {path} lacks the column(s) {', '.join(missing)}")
    for column in frame.columns:
        frame[column] = frame[column].str.strip()
    return frame


def priority_flags(areas: pd.DataFrame) -> pd.Series:
    """`es_prioritaria` as SI/NO, spelled as input files may spell it (`Sí`, `s`, `1`, `No`…); any other
    value stops the run: read as NO, it would silently drop the area from IOP.01.01."""
    flags = normalize_yes_no(areas["es_prioritaria"])
    bad = areas.loc[~flags.isin(("SI", "NO")), ["codigo", "es_prioritaria"]]
    if not bad.empty:
        found = ", ".join(f"{r.codigo}={r.es_prioritaria!r}" for r in bad.itertuples())
        raise ReferenceError(f"reference catalog areas_prioritarias: es_prioritaria must be SI or NO, found {found}")
    return flags


@dataclass(frozen=True, eq=False)  # hashed by identity, so models built from it can be cached
class DeclarationCatalogs:
    """What validating and enriching the Declaración Anual needs."""

    areas: pd.DataFrame  # codigo, nombre, es_prioritaria
    departamentos: pd.DataFrame  # codigo, nombre
    iso3: frozenset[str]
    pen_por_usd: dict[int, float]

    @classmethod
    def load(cls, override_dir: Path | None) -> DeclarationCatalogs:
        areas = load_catalog("areas_prioritarias", override_dir)
        areas = areas.assign(codigo=areas["codigo"].str.upper(), es_prioritaria=priority_flags(areas))
        if "nombre" not in areas:
            areas["nombre"] = pd.NA
        departamentos = load_catalog("departamentos", override_dir)
        departamentos = departamentos.assign(codigo=departamentos["codigo"].str.zfill(2))
        if "nombre" not in departamentos:
            departamentos["nombre"] = pd.NA
        return cls(areas=areas, departamentos=departamentos, iso3=load_iso3(override_dir), pen_por_usd=exchange_rates(override_dir))


RATE = re.compile(r"[0-9]+(\.[0-9]+)?")


def exchange_rates(override_dir: Path | None) -> dict[int, float]:
    """PEN per USD per year from reference/tipo_cambio.csv. A year is listed once, a rate is a number above
    0 written with a decimal point (3.757); anything else stops the run naming the file and the row, since a
    wrong rate would change every amount in USD. A blank rate means the year has none yet."""
    rates = load_catalog("tipo_cambio", override_dir)
    where = catalog_path("tipo_cambio", override_dir)
    found: dict[int, tuple[float, int]] = {}
    for position, row in enumerate(rates.itertuples(index=False), start=2):  # row 1 is the header
        if not row.pen_por_usd:
            continue
        if not re.fullmatch(r"[0-9]{4}", row.anio):
            raise ReferenceError(f"{where}, row {position}: anio {row.anio!r} is not a year")
        if not RATE.fullmatch(row.pen_por_usd) or float(row.pen_por_usd) <= 0:
            raise ReferenceError(
                f"{where}, row {position}: pen_por_usd {row.pen_por_usd!r} is not a number above 0 written with a decimal point (e.g. 3.757)"
            )
        anio = int(row.anio)
        if anio in found:
            raise ReferenceError(f"{where}: the year {anio} is listed twice (rows {found[anio][1]} and {position})")
        found[anio] = (float(row.pen_por_usd), position)
    return {anio: rate for anio, (rate, _) in found.items()}


def load_iso3(override_dir: Path | None) -> frozenset[str]:
    """Every real ISO 3166-1 alpha-3 code (the ALC list is a subset and is merged in)."""
    codes = set(load_catalog("paises_iso3", override_dir)["iso3"].str.upper())
    codes |= set(load_catalog("paises_alc", override_dir)["iso3"].str.upper())
    return frozenset(codes)


# --- PNCTI indicators (issue 4) -------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class IndicatorCatalogs:
    """What computing the PNCTI indicators of one year needs: the catalog, expected and reported values."""

    indicadores: pd.DataFrame  # codigo, nivel, objetivo_prioritario, servicio, unidad, fuente, nombre
    logros_esperados: pd.DataFrame  # indicador, anio, valor_esperado (text)
    reportado: pd.DataFrame  # indicador, anio, valor_reportado, avance_reportado_pct (text, as published)
    paises_alc: frozenset[str]

    @classmethod
    def load(cls, override_dir: Path | None, anio: int) -> IndicatorCatalogs:
        indicadores = load_catalog("pncti_indicadores", override_dir)
        for column in ("servicio", "nombre", "vigente_desde"):
            if column not in indicadores:
                indicadores[column] = ""
        for position, since in enumerate(indicadores["vigente_desde"], start=2):
            if since and not re.fullmatch(r"[0-9]{4}", since):
                raise ReferenceError(f"{catalog_path('pncti_indicadores', override_dir)}, row {position}: vigente_desde {since!r} is not a year")
        logros = load_catalog("logros_esperados", override_dir)
        reportado = load_catalog(f"reportado_{anio}", override_dir, required=False)
        if "nota" not in reportado:
            reportado["nota"] = ""
        alc = frozenset(load_catalog("paises_alc", override_dir)["iso3"].str.upper())
        return cls(indicadores=indicadores, logros_esperados=logros, reportado=reportado, paises_alc=alc)


# --- the filing calendar of the Declaración Anual (issue 18) ----------------------------------------


@dataclass(frozen=True)
class FilingDeadline:
    """When year `anio`'s declarations are due, and when APCI closes the year's data (None while open)."""

    anio: int
    fecha_limite: dt.date
    fecha_cierre: dt.date | None

    def preliminary(self, today: dt.date) -> bool:
        """Figures of the year are preliminary until its closing date has passed."""
        return self.fecha_cierre is None or today <= self.fecha_cierre


def filing_deadline(anio: int, override_dir: Path | None) -> FilingDeadline:
    """The year's row of reference/plazos_declaracion.csv; without one, 31 March of the next year and open.
    A row may give only the closing date: a blank `fecha_limite` is the default deadline too."""
    catalog = load_catalog("plazos_declaracion", override_dir, required=False)
    rows = catalog[catalog["anio"].str.strip() == str(anio)]
    if len(rows) > 1:
        raise ReferenceError(f"reference catalog plazos_declaracion: the year {anio} is listed {len(rows)} times")
    if rows.empty:
        return FilingDeadline(anio, dt.date(anio + 1, 3, 31), None)
    row = rows.iloc[0]
    deadline = (_catalog_date("plazos_declaracion", "fecha_limite", row["fecha_limite"]) if row["fecha_limite"].strip()
                else dt.date(anio + 1, 3, 31))
    return FilingDeadline(anio, deadline,
                          _catalog_date("plazos_declaracion", "fecha_cierre", row["fecha_cierre"]) if row["fecha_cierre"] else None)


def _catalog_date(catalog: str, column: str, text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError as error:
        raise ReferenceError(f"reference catalog {catalog}: {column} {text!r} is not a date (AAAA-MM-DD)") from error
