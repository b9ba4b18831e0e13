"""Quality stage: split water levels into usable and suspect, with reasons."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from detectors import check_quality
from schemas import Network, Reading


@dataclass(frozen=True, slots=True)
class Suspect:
    reading: Reading
    reason: str


def split_by_quality(
    readings: Sequence[Reading], network: Network
) -> tuple[list[Reading], list[Suspect]]:
    """(usable water levels, suspect ones). Rain readings pass through to their own detector."""
    levels = [r for r in readings if r.kind == "water_level"]
    if not levels:
        return [], []
    stations = network.stations_by_id
    values = np.fromiter((r.value for r in levels), dtype=np.float64, count=len(levels))
    lo = np.fromiter(
        (stations[r.station_id].valid_range.min for r in levels), np.float64, len(levels)
    )
    hi = np.fromiter(
        (stations[r.station_id].valid_range.max for r in levels), np.float64, len(levels)
    )
    verdict = check_quality(values, lo, hi)
    usable: list[Reading] = []
    suspect: list[Suspect] = []
    for reading, ok, reason in zip(levels, verdict.ok, verdict.reasons, strict=True):
        if ok:
            usable.append(reading)
        else:
            suspect.append(Suspect(reading, reason or "suspect"))
    return usable, suspect
