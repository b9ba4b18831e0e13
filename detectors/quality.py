"""First-line quality checks on water levels, vectorised over a batch.

A reading that fails is *suspect*: it is kept (history matters) but must not
raise or clear a Siaga level on its own. The real faults seen on DKI gauges
are −9999 sentinels and values far outside what the gauge can show (Karet read
1,627–1,828 cm for hours while the river stood near 500 cm).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

SENTINELS = (-9999.0, 9999.0, -999.0)


@dataclass(frozen=True, slots=True)
class QualityVerdict:
    """Per reading: `ok[i]` is True for a usable value, else `reasons[i]` says why."""

    ok: npt.NDArray[np.bool_]
    reasons: list[str | None]


def check_quality(
    values: npt.NDArray[np.float64],
    range_min: npt.NDArray[np.float64],
    range_max: npt.NDArray[np.float64],
) -> QualityVerdict:
    """Flag sentinels and values outside each station's physical range."""
    values = np.asarray(values, dtype=np.float64)
    sentinel = np.isin(values, SENTINELS)
    below = values < range_min
    above = values > range_max
    ok = ~(sentinel | below | above)
    reasons: list[str | None] = [None] * len(values)
    for i in np.flatnonzero(~ok):
        if sentinel[i]:
            reasons[i] = f"sentinel value {values[i]:g}"
        elif below[i]:
            reasons[i] = f"{values[i]:g} below the gauge's range (min {range_min[i]:g})"
        else:
            reasons[i] = f"{values[i]:g} above the gauge's range (max {range_max[i]:g})"
    return QualityVerdict(ok=ok, reasons=reasons)
