from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from detectors import StationLevel, grade_level, track_levels

T0 = datetime(2025, 3, 3, tzinfo=UTC)
BOUNDS = (200.0, 270.0, 350.0)


def _track(values: list[float], state: dict[str, StationLevel] | None = None,
           times: list[datetime] | None = None
           ) -> tuple[list[tuple[int, int]], dict[str, StationLevel]]:
    times = times or [T0 + timedelta(minutes=15 * i) for i in range(len(values))]
    levels = [grade_level(v, BOUNDS) for v in values]
    changes, new = track_levels(["depok"] * len(values), times, levels, values, state or {})
    return [(c.previous.level, c.level) for c in changes], new


def test_changes_only_on_a_level_change() -> None:
    changes, state = _track([100, 210, 220, 300, 360, 360, 100])
    assert changes == [(4, 3), (3, 2), (2, 1), (1, 4)]
    assert state["depok"].level == 4
    assert state["depok"].last_observed_at == T0 + timedelta(minutes=90)


def test_state_passed_in_is_left_untouched() -> None:
    before = {"depok": StationLevel(2, T0, T0)}
    _, after = _track([360], before, [T0 + timedelta(hours=1)])
    assert before["depok"].level == 2 and after["depok"].level == 1


def test_older_readings_are_history() -> None:
    changes, state = _track([360, 100], times=[T0, T0 - timedelta(minutes=5)])
    assert changes == [(4, 1)]
    assert state["depok"].last_observed_at == T0


@given(st.lists(st.floats(min_value=0, max_value=600, allow_nan=False), max_size=40),
       st.integers(min_value=1, max_value=40))
def test_one_batch_or_many_give_the_same_changes(values: list[float], cut: int) -> None:
    whole, whole_state = _track(values)
    times = [T0 + timedelta(minutes=15 * i) for i in range(len(values))]
    first, state = _track(values[:cut], times=times[:cut] or None) if values[:cut] else ([], {})
    rest, final = _track(values[cut:], state, times[cut:]) if values[cut:] else ([], state)
    assert first + rest == whole
    assert final.get("depok") == whole_state.get("depok")


@given(st.lists(st.floats(min_value=0, max_value=600, allow_nan=False), min_size=1,
                max_size=40))
def test_a_rising_series_never_de_escalates(values: list[float]) -> None:
    changes, _ = _track(sorted(values))
    assert all(new < old for old, new in changes)
