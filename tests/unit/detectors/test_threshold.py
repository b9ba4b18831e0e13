from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from detectors import grade_level, grade_levels

KATULAMPA = (80.0, 150.0, 200.0)
MANGGARAI = (750.0, 850.0, 950.0)


@pytest.mark.parametrize(
    ("value", "at_or_above", "above"),
    [(0, 4, 4), (79.9, 4, 4), (80, 3, 4), (80.1, 3, 3), (149.9, 3, 3), (150, 2, 3),
     (199.99, 2, 2), (200, 1, 2), (200.01, 1, 1), (1000, 1, 1)],
)
def test_katulampa_boundaries(value: float, at_or_above: int, above: int) -> None:
    assert grade_level(value, KATULAMPA, "at_or_above") == at_or_above
    assert grade_level(value, KATULAMPA, "above") == above


def test_a_batch_across_stations_is_graded_in_one_call() -> None:
    values = np.array([90.0, 940.0, 950.0, 210.0])
    bounds = np.array([KATULAMPA, MANGGARAI, MANGGARAI, KATULAMPA])
    assert grade_levels(values, bounds).tolist() == [3, 2, 1, 1]


def test_misuse_raises() -> None:
    with pytest.raises(ValueError, match="shape"):
        grade_levels(np.array([1.0, 2.0]), np.array([KATULAMPA]))
    with pytest.raises(ValueError, match="boundary rule"):
        grade_level(1.0, KATULAMPA, "nearest")  # type: ignore[arg-type]


values = st.floats(min_value=-100, max_value=2000, allow_nan=False)


@given(st.lists(values, min_size=1, max_size=50), st.sampled_from(["at_or_above", "above"]))
def test_vectorised_and_scalar_grading_agree(vals: list[float], rule: str) -> None:
    bounds = np.tile(np.array(KATULAMPA), (len(vals), 1))
    batch = grade_levels(np.array(vals), bounds, rule)  # type: ignore[arg-type]
    assert batch.tolist() == [grade_level(v, KATULAMPA, rule) for v in vals]  # type: ignore[arg-type]


@given(values, values)
def test_a_higher_water_level_is_never_a_quieter_siaga_level(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert grade_level(high, MANGGARAI) <= grade_level(low, MANGGARAI)
