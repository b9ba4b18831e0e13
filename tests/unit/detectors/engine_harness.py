"""Feed hand-made series to a DetectorEngine built on the bundled network."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from detectors import DetectorEngine, DetectorEvent, DetectorSettings, StationTable
from schemas import Network

T0 = 1_740_000_000.0  # 2025-02-19T21:20:00Z, an arbitrary event-time origin
MIN = 60.0
HOUR = 3600.0


def engine_for(network: Network, **settings: Any) -> DetectorEngine:
    base = DetectorSettings()
    return DetectorEngine(StationTable.from_network(network, replace(base, **settings)))


def feed(engine: DetectorEngine, station: str | Sequence[str], minutes: Sequence[float],
         values: Sequence[float], interval_s: float = 0.0, batch: int | None = None
         ) -> tuple[list[DetectorEvent], list[int]]:
    """Readings at T0 + minutes; returns (events, quality codes) over all batches."""
    n = len(values)
    names = [station] * n if isinstance(station, str) else list(station)
    idx = np.array([engine.table.index[s] for s in names], dtype=np.int64)
    t = T0 + np.asarray(minutes, dtype=np.float64) * MIN
    v = np.asarray(values, dtype=np.float64)
    iv = np.full(n, interval_s)
    size = batch or max(n, 1)
    events: list[DetectorEvent] = []
    quality: list[int] = []
    for start in range(0, n, size):
        part = slice(start, start + size)
        verdict = engine.process(idx[part], t[part], v[part], iv[part])
        events.extend(verdict.events)
        quality.extend(int(q) for q in verdict.quality)
    return events, quality


def levels(events: Sequence[DetectorEvent], kind: str = "observed") -> list[tuple[int, int]]:
    """(previous, new) level of each event of a kind."""
    return [(e.previous_level or 0, e.level) for e in events if e.kind == kind]


def at_minutes(event: DetectorEvent) -> float:
    return (event.t - T0) / MIN
