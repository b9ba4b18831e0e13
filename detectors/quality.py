"""Quality checks on water levels, vectorised over one reading per station.

A reading that fails is *suspect*: it is kept (history matters) but never
raises or clears a Siaga level on its own. Faults seen on the real DKI gauges:
−9999 sentinels, zeros from dead sensors, values far outside what the gauge
can show (Karet read 1,627–1,828 cm for hours while the river stood near
500 cm), one-reading spikes, and sensors stuck on one value.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from detectors.events import FAULT_CODES

SENTINELS = (-9999.0, 9999.0, -999.0)
# a sentinel sent with either sign is found by one comparison of magnitudes; derived
# here, so a sentinel added above is checked without touching `basic_faults`
_SENTINEL_MAGNITUDES = tuple(sorted({abs(s) for s in SENTINELS if -s in SENTINELS}))
_SENTINELS_ONE_SIGN = tuple(s for s in SENTINELS if -s not in SENTINELS)

F64 = npt.NDArray[np.float64]
I8 = npt.NDArray[np.int8]
B = npt.NDArray[np.bool_]


def basic_faults(values: F64, range_min: F64, range_max: F64, zero_possible: B | None) -> I8:
    """Fault code per reading for sentinel, out-of-range and impossible-zero values.

    `zero_possible` None: a zero is possible at every gauge (rain).
    """
    # written from the weakest fault up, so the strongest one a reading has is left
    code = np.zeros(len(values), dtype=np.int8)
    if zero_possible is not None:
        code[(values == 0.0) & ~zero_possible] = FAULT_CODES["zero"]
    out_of_range = values < range_min
    out_of_range |= values > range_max
    code[out_of_range] = FAULT_CODES["out_of_range"]
    sentinel = np.zeros(len(values), dtype=np.bool_)
    if _SENTINEL_MAGNITUDES:
        magnitude = np.abs(values)
        for m in _SENTINEL_MAGNITUDES:
            sentinel |= magnitude == m
    for one in _SENTINELS_ONE_SIGN:
        sentinel |= values == one
    code[sentinel] = FAULT_CODES["sentinel"]
    return code


def resolve_pending_spike(t: F64, values: F64, old_v: F64, pending_t: F64, pending_v: F64,
                          max_rate_per_s: F64, judged: B) -> tuple[B, B]:
    """(glitch, confirmed) for stations with a spike awaiting this reading.

    The next clean reading decides. Nearer the course before the jump: the
    jump was a glitch. Nearer the jump and a plausible step from it: the jump
    was real and is graded now, late by one reading. Neither (another wild
    jump): the first one is dropped as a glitch and this one judged on its own.
    """
    has_pending = judged & ~np.isnan(pending_v)
    back_on_old_course = np.abs(values - old_v) <= np.abs(values - pending_v)
    with np.errstate(divide="ignore", invalid="ignore"):
        step_from_jump = np.abs(values - pending_v) / (t - pending_t)
    confirmed = has_pending & ~back_on_old_course & (step_from_jump <= max_rate_per_s)
    return has_pending & ~confirmed, confirmed


def is_spike(t: F64, values: F64, old_t: F64, old_v: F64, max_rate_per_s: F64) -> B:
    """A jump from the last valid reading faster than the station's plausible rate."""
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.abs(values - old_v) / (t - old_t)
    # no last valid reading (NaN time): the rate is NaN, and NaN compares False
    spike: B = rate > max_rate_per_s
    return spike


def flatline_step(
    t: F64, values: F64, flat_t: F64, flat_v: F64, tolerance: float, period_s: F64
) -> tuple[B, F64, F64]:
    """(stuck, new run start, new run value): stuck once one value held longer than period."""
    same = np.abs(values - flat_v) <= tolerance  # NaN (no run yet) compares False
    new_t = np.where(same, flat_t, t)
    new_v = np.where(same, flat_v, values)
    return same & (t - flat_t > period_s), new_t, new_v
