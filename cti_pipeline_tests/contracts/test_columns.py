"""Preparation and typing of contract columns: the memory-saving paths give the same values."""

import pandas as pd

from cti_pipeline.contracts.columns import per_unique, typed_frame
from cti_pipeline.contracts.declaracion import DECLARACION
from cti_pipeline.contracts.schema import is_valid_ruc
from cti_pipeline.contracts.text import normalize_code
from cti_pipeline_tests.factories import declaracion_row, valid_ruc


def test_per_unique_shares_a_column_that_is_already_canonical_and_converts_one_that_is_not():
    clean = pd.Series(["ENIEX", "ONGD", None] * 1000, dtype="str")
    assert per_unique(normalize_code, clean) is clean

    messy = pd.Series([" eniex", "Ongd ", ""] * 1000, dtype="str")
    converted = per_unique(normalize_code, messy)
    assert converted is not messy
    pd.testing.assert_series_equal(converted, normalize_code(messy), check_names=False)
    assert converted.iloc[0] == "ENIEX" and converted.iloc[1] == "ONGD" and pd.isna(converted.iloc[2])


def test_ruc_check_per_distinct_value_gives_the_whole_column_answer():
    """The model checks RUCs once per distinct value (a year has a few hundred entities)."""
    valid = [valid_ruc(f"20{n:08}") for n in range(300)]
    wrong_check_digit = valid[0][:10] + str((int(valid[0][10]) + 1) % 10)
    malformed = ["2010004721", "30100047218", "20A00047218", wrong_check_digit]
    rucs = valid + malformed + [None]
    series = pd.Series([rucs[(n * 7) % len(rucs)] for n in range(6000)], dtype="str", index=range(10, 6010))

    shared = per_unique(is_valid_ruc, series)

    pd.testing.assert_series_equal(shared, is_valid_ruc(series), check_names=False)
    assert shared[series.isin(valid)].all() and not shared[series.isin(malformed) | series.isna()].any()


def test_typed_frame_of_selected_rows_equals_typing_the_selection_and_can_release_the_prepared_columns():
    rows = [declaracion_row(codigo_intervencion=f"X-{n}", monto_ejecutado=f"{n}.5", ods=str(1 + n % 17)) for n in range(8)]
    prepared = pd.DataFrame(rows).astype("str")
    selected = pd.Index([1, 4, 6])
    expected = typed_frame(DECLARACION, prepared.loc[selected])

    pd.testing.assert_frame_equal(typed_frame(DECLARACION, prepared, selected), expected)
    consumed = prepared.copy()
    pd.testing.assert_frame_equal(typed_frame(DECLARACION, consumed, selected, release_prepared=True), expected)
    assert [c for c in consumed.columns if c in DECLARACION.names] == []
