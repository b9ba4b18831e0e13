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
