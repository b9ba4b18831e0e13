"""Rate of rise by least squares over a time window, and the time to the next level.

Readings arrive unevenly (a gateway catches up, a report is late), so the
window is a span of event time, not a count of readings. Each station keeps a
small ring buffer of (time, value); a batch of stations is fitted at once.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]


def slope_per_s(ring_t: F64, ring_v: npt.NDArray[np.float32], now: F64, window_s: float
                ) -> tuple[F64, npt.NDArray[np.int64]]:
    """Least-squares slope (cm/s) of the samples within `window_s` before `now`, per row.

    Returns NaN where fewer than two distinct times fall in the window.
    """
    offsets = ring_t - now[:, np.newaxis]  # relative times keep float64 precise
    inside = offsets >= -window_s
    inside &= offsets <= 0  # NaN slots compare False
    # summed as bytes: counting a bool array goes through a slower cast to int64 (a
    # byte holds the count of a ring up to 127 slots; the engine's has TREND_SLOTS)
    if inside.shape[1] <= np.iinfo(np.int8).max:
        count = inside.view(np.int8).sum(axis=1, dtype=np.int8).astype(np.int64)
    else:
        count = inside.sum(axis=1, dtype=np.int64)
    safe = np.maximum(count, 1)
    # the sums below must see these full rows, zeros included: numpy sums a row
    # pairwise, so dropping or moving a term would change the rounding. Outside slots
    # are +0.0 from the start and left alone after: copying and subtracting only inside
    # is cheaper than zeroing them again by mask after each step.
    x = np.zeros(offsets.shape)
    np.copyto(x, offsets, where=inside)
    y = np.zeros(offsets.shape)
    np.copyto(y, ring_v, where=inside)
    mean_x = x.sum(axis=1) / safe
    mean_y = y.sum(axis=1) / safe
    np.subtract(x, mean_x[:, np.newaxis], out=x, where=inside)
    np.subtract(y, mean_y[:, np.newaxis], out=y, where=inside)
    covariance = np.multiply(x, y, out=y).sum(axis=1)
    var = np.multiply(x, x, out=x).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(var > 0, covariance / var, np.nan)
    return slope, count


def seconds_to_bound(values: F64, slope: F64, bound: F64) -> F64:
    """Projected seconds until `bound` at the current slope (inf if not approaching)."""
    approaching = slope > 0
    approaching &= bound > values
    # divided only where approaching, so neither 0 nor NaN reaches the division
    eta = np.full(len(values), np.inf)
    np.divide(bound - values, slope, out=eta, where=approaching)
    return eta
