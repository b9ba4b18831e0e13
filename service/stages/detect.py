"""Detect stage: canonical readings → arrays → the detector engine → events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from detectors import FAULTS, QUALITY, BatchVerdict, DetectorEngine, StationTable
from schemas import Reading


@dataclass(frozen=True, slots=True)
class Suspect:
    reading: Reading
    reason: str


def detect(readings: Sequence[Reading], table: StationTable, engine: DetectorEngine
           ) -> tuple[BatchVerdict, list[Suspect]]:
    n = len(readings)
    stations = np.fromiter((table.index[r.station_id] for r in readings), np.int64, n)
    t = np.fromiter((r.observed_at.timestamp() for r in readings), np.float64, n)
    values = np.fromiter((r.value for r in readings), np.float64, n)
    interval = np.fromiter((r.interval_s or 0 for r in readings), np.float64, n)
    verdict = engine.process(stations, t, values, interval)
    suspect = [
        Suspect(readings[i], QUALITY[int(verdict.quality[i])])
        for i in np.flatnonzero(np.isin(verdict.quality, list(FAULTS))).tolist()
    ]
    return verdict, suspect
