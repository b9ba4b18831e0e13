"""The engine's shortcuts give the same bits as the plain computations they replace."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import grade_levels
from detectors.rainfall import DAILY, HOURLY, _spread_all, category, levels, spread
from detectors.state import RAIN_COARSE_S, RAIN_COARSE_SLOTS, RAIN_FINE_S, RAIN_FINE_SLOTS
from detectors.threshold import grade_columns

T0 = 1_740_000_000.0
readings = st.lists(
    st.tuples(st.floats(min_value=1.0, max_value=40_000.0),  # gap after the previous reading
              st.sampled_from([0.0, 1.0, 300.0, 600.0, 3600.0, 7_000.0, 86_400.0, 5e5]),
              st.floats(min_value=0.0, max_value=200.0)),
    min_size=1, max_size=30)


@settings(max_examples=150, deadline=None)
@given(readings, st.sampled_from([(RAIN_FINE_SLOTS, RAIN_FINE_S),
                                  (RAIN_COARSE_SLOTS, RAIN_COARSE_S)]))
def test_spread_over_the_touched_buckets_equals_spreading_over_all(
        items: list[tuple[float, float, float]], ring: tuple[int, float]) -> None:
    slots, bucket_s = ring
    ids = np.full((1, slots), -1, dtype=np.int32)
    amounts = np.zeros((1, slots), dtype=np.float32)
    t = T0
    for gap, interval, value in items:
        t += gap
        end, start, total = np.array([t]), np.array([t - interval]), np.array([value])
        new_ids, new_amounts, newest = spread(ids, amounts, start, end, total, bucket_s)
        rate = total / np.maximum(end - start, 1e-9)
        all_ids, all_amounts, _ = _spread_all(ids, amounts, start, end, rate,
                                              newest, bucket_s)
        assert new_ids.tobytes() == all_ids.tobytes()
        assert new_amounts.tobytes() == all_amounts.tobytes()
        ids, amounts = new_ids, new_amounts


@given(st.lists(st.one_of(st.floats(min_value=0.0, max_value=300.0),
                          st.sampled_from([0.5, 1.0, 5.0, 10.0, 20.0, 50.0, 100.0, 150.0])),
                max_size=20))
def test_vectorised_rain_levels_follow_the_scalar_categories(totals: list[float]) -> None:
    for table in (HOURLY, DAILY):
        assert levels(np.array(totals), table).tolist() == [category(x, table)[1]
                                                             for x in totals]


@given(st.lists(st.floats(min_value=-10.0, max_value=1200.0), min_size=1, max_size=20),
       st.sampled_from(["at_or_above", "above"]))
def test_grading_by_bound_columns_equals_grade_levels(values: list[float], rule: str) -> None:
    v = np.round(np.array(values), 0)  # whole cm hit the bounds exactly now and then
    bounds = np.tile([80.0, 150.0, 200.0], (len(v), 1))
    assert (grade_columns(v, np.ascontiguousarray(bounds.T), rule).tolist()  # type: ignore[arg-type]
            == grade_levels(v, bounds, rule).tolist())  # type: ignore[arg-type]
