"""Text normalisation shared by every contract: header matching, code lists, entity names.

All functions that take a Series are vectorised (pandas string methods), so they scale to a
million rows without a Python loop per cell.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import pandas as pd

_NON_WORD = re.compile(r"[^0-9a-z]+")
# Characters a person cannot see: zero-width space, joiners, word joiner, a byte-order mark inside a cell.
INVISIBLE = "[\u200b\u200c\u200d\u2060\ufeff\u00ad]"

YES_VALUES = {"SI", "S", "1", "YES", "Y", "TRUE", "VERDADERO"}
NO_VALUES = {"NO", "N", "0", "FALSE", "FALSO"}


EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)*")  # also an address without a dot after the @ (usuario@dominio)
EMAIL_MASK = "[correo omitido]"


def mask_emails(value: object) -> object:
    """E-mail addresses typed into free text, replaced by `[correo omitido]` (personal data stays out of
    quarantine, exports and logs); anything else as it is."""
    if isinstance(value, str) and "@" in value:
        return EMAIL.sub(EMAIL_MASK, value)
    return value


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalize_header(name: object) -> str:
    """`Código Intervención ` → `codigo_intervencion`; `Año` → `anio`."""
    text = str(name).strip().lower().replace("ñ", "ni")
    text = strip_accents(text)
    return _NON_WORD.sub("_", text).strip("_")


def blank_to_na(series: pd.Series) -> pd.Series:
    """Trim text and turn empty cells into missing values."""
    trimmed = series.astype("str").str.strip()
    blank = trimmed == ""
    return trimmed.mask(blank) if blank.any() else trimmed


def strip_invisible(series: pd.Series) -> pd.Series:
    """Codes and keys without invisible characters (`ABC\u200b` is `ABC`); blank afterwards → missing."""
    if not series.str.contains(INVISIBLE, regex=True, na=False).any():
        return series
    text = series.str.replace(INVISIBLE, "", regex=True).str.strip()
    return text.mask(text == "")


def normalize_code(series: pd.Series) -> pd.Series:
    """Code-list values match case-insensitively after trimming (and ignoring accents and invisible characters)."""
    text = strip_invisible(blank_to_na(series))
    # `.astype("str")`: mapping an all-missing column (an absent optional column) gives float NaN
    return without_accents(text.str.upper()).str.replace(r"\s+", "_", regex=True)


@functools.cache
def code_of(text: str) -> str:
    """One value as `normalize_code` reads it (for catalogs, which hold a few hundred values)."""
    return normalize_code(pd.Series([text], dtype="str")).iloc[0]


def normalize_yes_no(series: pd.Series) -> pd.Series:
    """`Sí`, `si`, `S`, `1` → `SI`; `No`, `N`, `0` → `NO`; anything else is left for a check to reject."""
    code = normalize_code(series)
    code = code.str.replace(r"\.0$", "", regex=True)  # a 1 or 0 stored as a number cell
    mapped = code.where(~code.isin(YES_VALUES), "SI")
    return mapped.where(~code.isin(NO_VALUES), "NO")


def normalize_name(series: pd.Series) -> pd.Series:
    """Entity names and keys: trim, collapse inner spaces, case-fold, remove accents and invisible characters."""
    text = strip_invisible(blank_to_na(series))
    return without_accents(text.str.casefold()).str.replace(r"\s+", " ", regex=True)


def without_accents(series: pd.Series) -> pd.Series:
    """`strip_accents` of each value, in Python only for the values that are not plain ASCII (a few)."""
    accented = (series.notna() & series.str.isascii().eq(False)).to_numpy()  # missing values stay missing
    if not accented.any():
        return series.astype("str")
    out = series.astype("str").copy()
    out[accented] = [strip_accents(value) for value in series[accented]]
    return out
