"""When a silent gauge counts as stale.

DKI Jakarta's official reporting interval shrinks as the level rises: 60 min
at Siaga 4, 30 at Siaga 3, 15 at Siaga 2, 5 at Siaga 1. A station's own
`reporting_interval_s` is its Siaga 4 interval; the others scale with it.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import numpy.typing as npt

_FRACTION_OF_NORMAL_INTERVAL = {4: 1.0, 3: 0.5, 2: 0.25, 1: 1.0 / 12.0}
# the same by level as an index (0 is no level)
_FRACTION_BY_LEVEL = np.array([np.nan, *(_FRACTION_OF_NORMAL_INTERVAL[k] for k in (1, 2, 3, 4))])


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


def stale_deadlines(
    last_t: npt.NDArray[np.float64],
    levels: npt.NDArray[np.int8],
    normal_interval_s: npt.NDArray[np.float64],
    grace: float,
) -> npt.NDArray[np.float64]:
    """Event time at which each gauge becomes stale: its last reading plus grace × interval.

    Deterministic, so a stale alert found late (on replay, or after a restart)
    carries the same time, and the same id, as one found on time.
    """
    fraction = _FRACTION_BY_LEVEL[levels]
    deadline: npt.NDArray[np.float64] = last_t + grace * normal_interval_s * fraction
    return deadline
