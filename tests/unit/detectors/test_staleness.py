from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from detectors import expected_interval_s, is_stale


@pytest.mark.parametrize(("level", "minutes"), [(4, 60), (3, 30), (2, 15), (1, 5)])
def test_official_reporting_intervals(level: int, minutes: int) -> None:
    assert expected_interval_s(3600, level) == minutes * 60


def test_staleness_tightens_as_the_level_rises() -> None:
    last = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)
    now = last + timedelta(minutes=20)
    assert not is_stale(last, now, 3600, 4)
    assert not is_stale(last, now, 3600, 3)
    assert is_stale(last, now, 3600, 2)
    assert is_stale(None, now, 3600, 4)
    with pytest.raises(ValueError, match=r"1\.\.4"):
        expected_interval_s(3600, 5)
