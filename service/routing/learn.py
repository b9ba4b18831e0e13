"""Learn a river link's expected levels from a gauge record.

In: hourly levels (cm) of an upstream and a downstream gauge on one time axis,
their Siaga bounds, and the link's travel time. Out: for each upstream level
3..1, the level the downstream gauge is expected to reach: the most severe
level it reached within the travel window after at least `share` of the past
escalations to that level. A warning rule, not a forecast: it errs towards
the severe side, and says nothing where the record has no such escalation.
"""

from __future__ import annotations

from collections.abc import Sequence

from detectors import grade_level
from schemas import SiagaBounds


def _grade(value_cm: float | None, bounds: SiagaBounds) -> int:
    """The detectors' own grading rule; a gap in the record counts as Normal."""
    if value_cm is None:
        return 4
    return grade_level(value_cm, (bounds.siaga3_cm, bounds.siaga2_cm, bounds.siaga1_cm))


def learn_expected_levels(upstream_cm: Sequence[float | None], up_bounds: SiagaBounds,
                          downstream_cm: Sequence[float | None], down_bounds: SiagaBounds,
                          travel_min_h: float, travel_max_h: float, *, step_h: float = 1.0,
                          slack_h: float = 2.0, share: float = 1 / 3) -> dict[int, int]:
    if len(upstream_cm) != len(downstream_cm):
        raise ValueError("the two gauges' records must share one time axis")
    lo = max(0, round((travel_min_h - step_h) / step_h))
    hi = round((travel_max_h + slack_h) / step_h)
    outcomes: dict[int, list[int]] = {1: [], 2: [], 3: []}
    previous = 4
    for i, value in enumerate(upstream_cm):
        level = _grade(value, up_bounds)
        if level < previous:  # an escalation: where did the water take the next gauge?
            window = downstream_cm[i + lo : i + hi + 1]
            outcomes[level].append(min((_grade(v, down_bounds) for v in window), default=4))
        previous = level
    expected: dict[int, int] = {}
    for level, seen in outcomes.items():
        if not seen:
            continue
        for candidate in (1, 2, 3, 4):  # the most severe level reached often enough
            if sum(1 for s in seen if s <= candidate) >= share * len(seen):
                expected[level] = candidate
                break
    return expected
