"""Detect stage: decoded columns → the detector engine → quality verdicts and events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from detectors import FAULTS, QUALITY, BatchVerdict, DetectorEngine
from service.stages.decode import DecodedBatch

_FAULT_CODES = np.array(sorted(FAULTS), dtype=np.int8)


@dataclass(frozen=True, slots=True)
class Suspect:
    """A reading kept as history but not graded, and why."""

    station_id: str
    observed_t: float
    reason: str


def detect(batch: DecodedBatch, station_ids: Sequence[str], engine: DetectorEngine
           ) -> tuple[BatchVerdict, list[Suspect]]:
    verdict = engine.process(batch.stations, batch.t, batch.values, batch.interval_s)
    suspect = [
        Suspect(station_ids[int(batch.stations[i])], float(batch.t[i]),
                QUALITY[int(verdict.quality[i])])
        for i in np.flatnonzero(np.isin(verdict.quality, _FAULT_CODES)).tolist()
    ]
    return verdict, suspect
