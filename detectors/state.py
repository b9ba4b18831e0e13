"""Per-station detector state: one numpy record per station, small and restorable.

A structured array holds every station's state side by side, so the engine
updates a whole batch of stations with array operations, and one station's
state is `table[i].tobytes()`: a fixed-size record the stream layer can
checkpoint and restore. Times are epoch seconds (float64); NaN means "none".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]
I32 = npt.NDArray[np.int32]
I8 = npt.NDArray[np.int8]

# 3 h of 5-minute readings (36) plus room for jitter
TREND_SLOTS = 40
# rainfall: 5-minute buckets for the last 3 h, hourly buckets for the last 24 h,
# each with one more for the partly covered oldest bucket
RAIN_FINE_SLOTS = 37
RAIN_FINE_S = 300.0
RAIN_COARSE_SLOTS = 25
RAIN_COARSE_S = 3600.0

STATE_DTYPE = np.dtype([
    # newest observed_at taken in order (valid or not): older readings are history
    ("last_t", np.float64),
    # the graded level and the event time that set it
    ("level", np.int8),
    ("level_t", np.float64),
    ("level_value", np.float32),
    # hysteresis: below (bound − deadband) since, and the most severe level supported
    ("dwell_t", np.float64),
    ("dwell_level", np.int8),
    # last valid reading: the "old course" a spike is judged against
    ("valid_t", np.float64),
    ("valid_v", np.float32),
    # a spike awaiting the next reading
    ("pending_t", np.float64),
    ("pending_v", np.float32),
    # flatline: the value and since when it has not moved
    ("flat_t", np.float64),
    ("flat_v", np.float32),
    # open sensor episode: fault code (0 = none) and when it began
    ("fault", np.int8),
    ("fault_t", np.float64),
    # open rising episode: target level (0 = none) and its evidence time
    ("rising_level", np.int8),
    ("rising_t", np.float64),
    # trend ring buffer
    ("ring_pos", np.int16),
    ("ring_t", np.float64, (TREND_SLOTS,)),
    ("ring_v", np.float32, (TREND_SLOTS,)),
    # rainfall buckets: amount (mm) and the absolute bucket number each slot holds
    ("fine_mm", np.float32, (RAIN_FINE_SLOTS,)),
    ("fine_id", np.int32, (RAIN_FINE_SLOTS,)),
    ("coarse_mm", np.float32, (RAIN_COARSE_SLOTS,)),
    ("coarse_id", np.int32, (RAIN_COARSE_SLOTS,)),
])

StateArray = npt.NDArray[np.void]


def new_state(n: int) -> StateArray:
    state = np.zeros(n, dtype=STATE_DTYPE)
    for name in ("last_t", "level_t", "dwell_t", "valid_t", "pending_t", "flat_t", "fault_t",
                 "rising_t"):
        state[name] = np.nan
    for name in ("valid_v", "pending_v", "flat_v", "level_value"):
        state[name] = np.nan
    state["level"] = 4
    state["dwell_level"] = 4
    state["ring_t"] = np.nan
    state["fine_id"] = -1
    state["coarse_id"] = -1
    return state


def state_bytes_per_station() -> int:
    return STATE_DTYPE.itemsize


def export_station(state: StateArray, index: int) -> bytes:
    """One station's state as bytes, for a checkpoint."""
    return state[index : index + 1].tobytes()


def import_station(state: StateArray, index: int, blob: bytes) -> None:
    """Restore one station from `export_station` bytes; refuses bytes of another layout."""
    if len(blob) != STATE_DTYPE.itemsize:
        raise ValueError(
            f"state record of {len(blob)} bytes does not match the layout "
            f"({STATE_DTYPE.itemsize} bytes)"
        )
    state[index] = np.frombuffer(blob, dtype=STATE_DTYPE)[0]


@dataclass(frozen=True, slots=True)
class FieldViews:
    """Each field of one state array as its own view: looking a field up by name costs
    more than the arithmetic on a small round of stations, so the engine does it once."""

    state: StateArray
    last_t: F64
    level: I8
    level_t: F64
    level_value: F32
    dwell_t: F64
    dwell_level: I8
    valid_t: F64
    valid_v: F32
    pending_t: F64
    pending_v: F32
    flat_t: F64
    flat_v: F32
    fault: I8
    fault_t: F64
    rising_level: I8
    rising_t: F64
    ring_pos: npt.NDArray[np.int16]
    ring_t: F64
    ring_v: F32
    fine_mm: F32
    fine_id: I32
    coarse_mm: F32
    coarse_id: I32

    @classmethod
    def of(cls, state: StateArray) -> FieldViews:
        names = STATE_DTYPE.names or ()
        return cls(state, *(state[name] for name in names))

    def take(self, rows: npt.NDArray[np.int64]) -> StateArray:
        """`state[rows]`, copied as rows of raw bytes: numpy copies structured records
        field by field, several times slower for these 1 kB records."""
        state = self.state
        if not state.flags.c_contiguous:
            return state[rows]
        raw = state.view(np.uint8).reshape(len(state), state.dtype.itemsize)
        records: StateArray = raw[rows].view(state.dtype).reshape(len(rows))
        return records
