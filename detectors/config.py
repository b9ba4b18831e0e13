"""Per-station detector parameters as numpy arrays, built once from the network.

Every detector reads its thresholds from here by station index, so a batch of
readings across thousands of stations is judged with array operations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from detectors.threshold import BoundaryRule
from schemas import Network, Station

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class DetectorSettings:
    """Service-wide defaults; a station's own value in the network file wins."""

    boundary_rule: BoundaryRule = "at_or_above"
    deadband_cm: float = 10.0
    min_dwell_s: float = 3600.0
    max_rate_cm_per_h: float = 150.0
    flatline_s: float = 48 * 3600.0
    flatline_tolerance_cm: float = 0.5
    trend_window_s: float = 3600.0
    trend_min_points: int = 3
    rising_horizon_s: float = 3600.0
    rising_min_rate_cm_per_h: float = 10.0
    # silent for more than grace × the level's interval = stale; 2 = a report missed
    # and the next one due (DKI's floodgates publish hourly, which Siaga 3 then allows)
    stale_grace: float = 2.0
    rain_min_dwell_s: float = 3600.0

    def __post_init__(self) -> None:
        if self.trend_min_points < 2:
            raise ValueError("trend_min_points must be at least 2 for a slope")
        if self.stale_grace < 1.0:
            raise ValueError("stale_grace below 1 would call a punctual gauge stale")


@dataclass(frozen=True)
class StationTable:
    """Static per-station arrays; row i is `ids[i]`."""

    ids: list[str]
    index: dict[str, int]
    is_rain: npt.NDArray[np.bool_]
    bounds: F64  # (n, 3): Siaga 3, 2, 1 lower bounds in cm; NaN for rain gauges
    range_min: F64
    range_max: F64
    zero_possible: npt.NDArray[np.bool_]
    deadband: F64
    min_dwell_s: F64
    max_rate_per_s: F64
    flatline_s: F64
    normal_interval_s: F64
    settings: DetectorSettings = field(default_factory=DetectorSettings)

    @classmethod
    def from_network(cls, network: Network, settings: DetectorSettings) -> StationTable:
        stations = network.stations

        def column(get: object) -> F64:
            return np.array([get(s) for s in stations], dtype=np.float64)  # type: ignore[operator]

        def or_default(value: float | None, default: float) -> float:
            return default if value is None else float(value)

        return cls(
            ids=[s.id for s in stations],
            index={s.id: i for i, s in enumerate(stations)},
            is_rain=np.array([s.kind == "rainfall" for s in stations], dtype=np.bool_),
            bounds=np.array([_bounds(s) for s in stations], dtype=np.float64).reshape(-1, 3),
            range_min=column(lambda s: s.valid_range.min),
            range_max=column(lambda s: s.valid_range.max),
            zero_possible=np.array([s.zero_possible for s in stations], dtype=np.bool_),
            deadband=column(lambda s: or_default(s.deadband_cm, settings.deadband_cm)),
            min_dwell_s=column(lambda s: or_default(s.min_dwell_s, settings.min_dwell_s)),
            max_rate_per_s=column(
                lambda s: or_default(s.max_rate_cm_per_h, settings.max_rate_cm_per_h) / 3600.0
            ),
            flatline_s=column(lambda s: or_default(s.flatline_s, settings.flatline_s)),
            normal_interval_s=column(lambda s: s.reporting_interval_s),
            settings=settings,
        )

    def __len__(self) -> int:
        return len(self.ids)


def _bounds(station: Station) -> tuple[float, float, float]:
    if station.bounds is None:
        return (np.nan, np.nan, np.nan)
    return station.bounds.as_tuple()
