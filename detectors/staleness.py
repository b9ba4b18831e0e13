"""When a silent gauge counts as stale.

DKI Jakarta's official reporting interval shrinks as the level rises: 60 min
at Siaga 4, 30 at Siaga 3, 15 at Siaga 2, 5 at Siaga 1. A station's own
`reporting_interval_s` is its Siaga 4 interval; the others scale with it.
"""

from __future__ import annotations

from datetime import datetime

_FRACTION_OF_NORMAL_INTERVAL = {4: 1.0, 3: 0.5, 2: 0.25, 1: 1.0 / 12.0}


def expected_interval_s(normal_interval_s: int, level: int) -> float:
    if level not in _FRACTION_OF_NORMAL_INTERVAL:
        raise ValueError(f"Siaga level must be 1..4, got {level}")
    return normal_interval_s * _FRACTION_OF_NORMAL_INTERVAL[level]


def is_stale(
    last_observed_at: datetime | None, reference: datetime, normal_interval_s: int, level: int
) -> bool:
    """True when nothing was observed within the expected interval before `reference`."""
    if last_observed_at is None:
        return True
    silent_s = (reference - last_observed_at).total_seconds()
    return silent_s > expected_interval_s(normal_interval_s, level)
