"""The script an analyst would write for one year of declarations (the benchmark's baseline).

    .venv/bin/python bench/naive.py LANDING_YEAR_DIR YEAR WAREHOUSE.duckdb

`pandas.read_excel` (default openpyxl engine) or `pandas.read_csv` per file, with the encodings and
separators the contract allows; vectorised checks of the same rules; the latest file per RUC wins;
valid rows to `staging_declaraciones`, bad rows (one per row, reasons joined) to
`cuarentena_declaraciones`, in DuckDB. It does the same work as the pipeline so that the
comparison is fair, without the pipeline's provenance (raw layer, row numbers, Spanish messages
per rule), limits, or Dagster. Prints a JSON line with its counts and per-step seconds.
"""

from __future__ import annotations

import json
import sys
import time
import unicodedata
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

REFERENCE = Path(__file__).resolve().parent.parent / "data" / "reference"
COLUMNS = ["anio", "ruc_entidad", "nombre_entidad", "tipo_entidad", "codigo_intervencion", "titulo", "fuente_cooperante",
           "pais_fuente", "tipo_cooperacion", "area_prioritaria", "ods", "departamento", "moneda", "monto_ejecutado",
           "beneficiarios", "participa_empresa_privada", "fecha_inicio", "fecha_fin"]
REQUIRED = [c for c in COLUMNS if c not in ("pais_fuente", "ods", "beneficiarios")]


def clean_header(name: object) -> str:
    text = unicodedata.normalize("NFKD", str(name).strip().lower().replace("ñ", "ni"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return "_".join("".join(ch if ch.isalnum() else " " for ch in text).split())


def read_file(path: Path) -> pd.DataFrame:
    if path.suffix.lower() == ".xlsx":
        sheets = pd.ExcelFile(path, engine="openpyxl").sheet_names
        sheet = next((s for s in sheets if s.strip().lower() == "intervenciones"), sheets[0])
        frame = pd.read_excel(path, sheet_name=sheet, engine="openpyxl")
    else:
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("cp1252")
        first = text.split("\n", 1)[0]
        sep = ";" if first.count(";") > first.count(",") else ","
        frame = pd.read_csv(pd.io.common.StringIO(text), sep=sep, decimal="," if sep == ";" else ".", dtype={"ruc_entidad": str, "departamento": str})
    frame.columns = [clean_header(c) for c in frame.columns]
    if path.suffix.lower() == ".csv" and "monto_ejecutado" in frame and not pd.api.types.is_numeric_dtype(frame["monto_ejecutado"]):
        # one unreadable amount leaves the column as text: read the others with their decimal mark
        text = frame["monto_ejecutado"].astype("string").str.strip()
        frame["monto_ejecutado"] = pd.to_numeric(text.str.replace(",", ".", regex=False) if sep == ";" else text, errors="coerce")
    for column in ("fecha_inicio", "fecha_fin"):
        if column in frame:
            frame[column] = as_date(frame[column])
    return frame


def as_text(series: pd.Series) -> pd.Series:
    text = series.astype("string").str.strip()
    return text.str.replace(r"\.0$", "", regex=True).replace("", pd.NA)


def as_date(series: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(series):
        return series
    text = series.astype("string")
    iso = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    dmy = pd.to_datetime(text, format="%d/%m/%Y", errors="coerce")
    return iso.fillna(dmy)


def ruc_ok(ruc: pd.Series) -> pd.Series:
    shaped = ruc.str.fullmatch(r"(10|15|16|17|20)\d{9}").fillna(False).astype(bool)
    digits = ruc.where(shaped, "00000000000")
    total = sum(digits.str[i].astype(int) * w for i, w in enumerate((5, 4, 3, 2, 7, 6, 5, 4, 3, 2)))
    check = 11 - total % 11
    check = check.where(check < 10, check - 10)
    return shaped & (digits.str[10].astype(int) == check)


def main(folder: Path, year: int, warehouse: Path) -> dict[str, object]:
    times: dict[str, float] = {}
    started = last = time.perf_counter()
    frames, rejected = [], []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(("~$", ".")) or path.suffix.lower() not in (".xlsx", ".csv"):
            if not path.name.startswith(("~$", ".")):
                rejected.append(path.name)
            continue
        try:
            frame = read_file(path)
        except Exception:  # noqa: BLE001 - the analyst's "skip what does not open"
            rejected.append(path.name)
            continue
        if any(c not in frame.columns for c in REQUIRED):
            rejected.append(path.name)
            continue
        frame = frame.dropna(how="all")
        frame["archivo"] = path.name
        frame["mtime"] = path.stat().st_mtime_ns
        frames.append(frame)
    now = time.perf_counter(); times["read"] = now - last; last = now

    data = pd.concat(frames, ignore_index=True)
    for column in ("ruc_entidad", "departamento", "anio", "ods", "beneficiarios"):
        data[column] = as_text(data[column])
    data["departamento"] = data["departamento"].str.zfill(2)
    for column in ("nombre_entidad", "tipo_entidad", "codigo_intervencion", "titulo", "fuente_cooperante", "pais_fuente",
                   "tipo_cooperacion", "area_prioritaria", "moneda", "participa_empresa_privada"):
        data[column] = data[column].astype("string").str.strip().replace("", pd.NA)
    for column in ("tipo_entidad", "tipo_cooperacion", "area_prioritaria", "moneda", "participa_empresa_privada", "pais_fuente"):
        data[column] = data[column].str.upper()
    data["monto_ejecutado"] = pd.to_numeric(data["monto_ejecutado"], errors="coerce")

    areas = pd.read_csv(REFERENCE / "areas_prioritarias.csv", dtype=str)
    departamentos = pd.read_csv(REFERENCE / "departamentos.csv", dtype=str)
    iso3 = set(pd.read_csv(REFERENCE / "paises_iso3.csv", dtype=str, keep_default_na=False)["iso3"])
    rate = pd.read_csv(REFERENCE / "tipo_cambio.csv").set_index("anio")["pen_por_usd"].get(year)

    latest = data.groupby("ruc_entidad")["mtime"].transform("max")
    superseded = data["mtime"] < latest
    current = data[~superseded].copy()
    files_at_latest = current.groupby("ruc_entidad")["archivo"].transform("nunique")
    ods = pd.to_numeric(current["ods"], errors="coerce")
    beneficiarios = pd.to_numeric(current["beneficiarios"], errors="coerce")
    start, end = current["fecha_inicio"], current["fecha_fin"]
    checks = {
        "obligatorio": current[REQUIRED].isna().any(axis=1),
        "anio": pd.to_numeric(current["anio"], errors="coerce") != year,
        "ruc": ~ruc_ok(current["ruc_entidad"].fillna("")),
        "tipo_entidad": ~current["tipo_entidad"].isin(["ENIEX", "ONGD", "IPREDA", "ENTIDAD_PUBLICA"]),
        "tipo_cooperacion": ~current["tipo_cooperacion"].isin(["BILATERAL", "MULTILATERAL", "PRIVADA"]),
        "moneda": ~current["moneda"].isin(["PEN", "USD"]),
        "pais": current["pais_fuente"].notna() & ~current["pais_fuente"].isin(iso3),
        "area": ~current["area_prioritaria"].isin(areas["codigo"]),
        "departamento": ~current["departamento"].isin(departamentos["codigo"]),
        "ods": ods.notna() & ~ods.between(1, 17),
        "monto": current["monto_ejecutado"].isna() | (current["monto_ejecutado"] < 0),
        "beneficiarios": beneficiarios.notna() & (beneficiarios < 0),
        "si_no": ~current["participa_empresa_privada"].isin(["SI", "NO", "SÍ", "S", "N", "1", "0"]),
        "fechas": start.isna() | end.isna() | (end < start),
        "anio_fechas": (start > pd.Timestamp(year, 12, 31)) | (end < pd.Timestamp(year, 1, 1)),
        "clave": current.duplicated(["archivo", "ruc_entidad", "codigo_intervencion"], keep=False),
        "reenvio": files_at_latest > 1,
    }
    failed = pd.DataFrame(checks).fillna(False).astype(bool)
    bad = failed.any(axis=1)
    names = np.array(list(checks))
    current["motivos"] = pd.Series([", ".join(names[row]) for row in failed[bad].to_numpy()], index=failed.index[bad], dtype="string")
    staged = current[~bad].drop(columns=["motivos", "mtime"])
    staged["monto_usd"] = np.where(staged["moneda"] == "USD", staged["monto_ejecutado"], staged["monto_ejecutado"] / rate)
    quarantined = current[bad].drop(columns=["mtime"]).astype("string")
    now = time.perf_counter(); times["validate"] = now - last; last = now

    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS staging_declaraciones AS SELECT * FROM staged LIMIT 0")
        conn.execute("CREATE TABLE IF NOT EXISTS cuarentena_declaraciones AS SELECT * FROM quarantined LIMIT 0")
        conn.execute("DELETE FROM staging_declaraciones WHERE anio = ?", [str(year)])
        conn.execute("INSERT INTO staging_declaraciones SELECT * FROM staged")
        conn.execute("INSERT INTO cuarentena_declaraciones SELECT * FROM quarantined")
    now = time.perf_counter(); times["write"] = now - last
    return {
        "filas_leidas": len(data),
        "staged": len(staged),
        "superseded": int(superseded.sum()),
        "filas_en_cuarentena": len(quarantined),
        "archivos_rechazados": len(rejected),
        "seconds": round(now - started, 3),
        "steps": {k: round(v, 3) for k, v in times.items()},
    }


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]))))
