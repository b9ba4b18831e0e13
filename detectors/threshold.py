"""Grade water levels into Siaga 4..1 by a station's lower bounds.

Official reports round boundaries differently (is exactly 150 cm at Katulampa
Siaga 2 or still Siaga 3?), so the rule is a parameter, not a constant:
`at_or_above` (the DESIGN.md default: 150 cm is Siaga 2) or `above`
(150 cm is still Siaga 3).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

BoundaryRule = Literal["at_or_above", "above"]
F64 = npt.NDArray[np.float64]
I8 = npt.NDArray[np.int8]


def grade_levels(
    values_cm: npt.NDArray[np.float64],
    bounds_cm: npt.NDArray[np.float64],
    rule: BoundaryRule = "at_or_above",
) -> npt.NDArray[np.int8]:
    """Siaga level of each value; `bounds_cm` has one row (siaga3, siaga2, siaga1) per value.

    One vectorised comparison for a whole batch of readings across stations.
    """
    values = np.asarray(values_cm, dtype=np.float64)
    bounds = np.asarray(bounds_cm, dtype=np.float64)
    if bounds.ndim != 2 or bounds.shape != (values.shape[0], 3):
        raise ValueError(
            f"bounds_cm must have shape ({values.shape[0]}, 3), got {bounds.shape}"
        )
    column = values[:, np.newaxis]
    if rule == "at_or_above":
        crossed = column >= bounds
    elif rule == "above":
        crossed = column > bounds
    else:
        raise ValueError(f"unknown boundary rule {rule!r}")
    levels: npt.NDArray[np.int8] = (4 - crossed.sum(axis=1)).astype(np.int8)
    return levels


def grade_level(
    value_cm: float, bounds_cm: tuple[float, float, float], rule: BoundaryRule = "at_or_above"
) -> int:
    """Siaga level of one value; the scalar twin of `grade_levels`."""
    if rule == "at_or_above":
        return 4 - sum(value_cm >= b for b in bounds_cm)
    if rule == "above":
        return 4 - sum(value_cm > b for b in bounds_cm)
    raise ValueError(f"unknown boundary rule {rule!r}")


def hysteresis_step(
    level: npt.NDArray[np.int8],
    dwell_t: npt.NDArray[np.float64],
    dwell_level: npt.NDArray[np.int8],
    t: npt.NDArray[np.float64],
    values_cm: npt.NDArray[np.float64],
    bounds_cm: npt.NDArray[np.float64],
    deadband_cm: npt.NDArray[np.float64],
    min_dwell_s: npt.NDArray[np.float64],
    rule: BoundaryRule,
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float64], npt.NDArray[np.int8]]:
    """One valid reading per station: (new level, new dwell start, new dwell level).

    Raise at once when a reading reaches a bound. Drop only after the level has
    stayed below (bound − deadband) for `min_dwell_s`, to the most severe level
    any reading of that dwell supported: Manggarai flapping 950 → 940 → 950 cm
    stays one Siaga 1, and a single low reading clears nothing.
    """
    raw = grade_levels(values_cm, bounds_cm, rule)
    supported = grade_levels(values_cm + deadband_cm, bounds_cm, rule)
    new_level, new_dwell_t, new_dwell_level = hysteresis_graded(
        level, dwell_t, dwell_level, t, raw, supported, min_dwell_s)
    if new_dwell_t is None or new_dwell_level is None:
        return (new_level, np.full(len(level), np.nan),
                np.full(len(level), 4, dtype=np.int8))
    return new_level, new_dwell_t, new_dwell_level


def grade_columns(values_cm: F64, bounds_t: F64, rule: BoundaryRule) -> I8:
    """`grade_levels` with the bounds as three rows (siaga3, siaga2, siaga1) of columns:
    comparing whole rows and adding them is cheaper than summing three-wide rows."""
    if rule == "at_or_above":
        crossed = np.greater_equal(values_cm, bounds_t)
    elif rule == "above":
        crossed = np.greater(values_cm, bounds_t)
    else:
        raise ValueError(f"unknown boundary rule {rule!r}")
    levels: I8 = 4 - crossed.view(np.int8).sum(axis=0, dtype=np.int8)
    return levels


def hysteresis_graded(level: I8, dwell_t: F64, dwell_level: I8, t: F64, raw: I8,
                      supported: I8, min_dwell_s: F64 | float
                      ) -> tuple[I8, F64 | None, I8 | None]:
    """`hysteresis_step` from the grades of the value (`raw`) and of value + deadband
    (`supported`). The new dwell start and level come back as None when every row
    resets them (NaN, 4): no station is dwelling below its level, the usual case."""
    raise_ = raw < level
    below = supported > level
    below &= ~raise_
    if not np.count_nonzero(below):
        return np.where(raise_, raw, level), None, None
    starting = below & np.isnan(dwell_t)
    dwell_t = np.where(starting, t, dwell_t)
    dwell_level = np.where(
        starting, supported, np.where(below, np.minimum(dwell_level, supported), dwell_level)
    ).astype(np.int8)
    drop = below & (t - dwell_t >= min_dwell_s)
    new_level = np.where(raise_, raw, np.where(drop, dwell_level, level)).astype(np.int8)
    reset = ~below | drop
    return (
        new_level,
        np.where(reset, np.nan, dwell_t),
        np.where(reset, np.int8(4), dwell_level).astype(np.int8),
    )
