from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from detectors import check_quality, expected_interval_s, is_stale


def test_karet_spike_sentinel_and_below_range_are_suspect() -> None:
    values = np.array([480.0, 1627.0, -9999.0, 50.0, 900.0])
    verdict = check_quality(values, np.full(5, 100.0), np.full(5, 900.0))
    assert verdict.ok.tolist() == [True, False, False, False, True]
    assert verdict.reasons == [
        None, "1627 above the gauge's range (max 900)", "sentinel value -9999",
        "50 below the gauge's range (min 100)", None,
    ]


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
