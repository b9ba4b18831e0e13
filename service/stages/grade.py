"""Grade stage: usable water levels → Siaga levels → per-station level changes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from detectors import BoundaryRule, LevelChange, StationLevel, grade_levels, track_levels
from schemas import Network, Reading


def grade_and_track(
    readings: Sequence[Reading],
    network: Network,
    rule: BoundaryRule,
    state: Mapping[str, StationLevel],
) -> tuple[list[LevelChange], dict[str, StationLevel]]:
    if not readings:
        return [], {}
    stations = network.stations_by_id
    n = len(readings)
    values = np.fromiter((r.value for r in readings), dtype=np.float64, count=n)
    bounds = np.empty((n, 3), dtype=np.float64)
    for i, r in enumerate(readings):
        station_bounds = stations[r.station_id].bounds
        if station_bounds is None:
            raise ValueError(f"station {r.station_id!r} has no bounds to grade by")
        bounds[i] = station_bounds.as_tuple()
    levels = grade_levels(values, bounds, rule)
    return track_levels(
        [r.station_id for r in readings],
        [r.observed_at for r in readings],
        levels.tolist(),
        values.tolist(),
        state,
    )
