"""The operator's view of every gauge: last reading, level, staleness, counters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from detectors import expected_interval_s, is_stale
from schemas import Network, Reading
from service.alert_store import AlertStore


@dataclass(slots=True)
class LastReading:
    observed_at: datetime
    value: float
    unit: str


class StationBoard:
    """Fed by the readings topic; levels come from the alerts the workers issued."""

    def __init__(self, network: Network) -> None:
        self.network = network
        self._last: dict[str, LastReading] = {}
        self.readings_seen = 0

    def observe(self, reading: Reading) -> None:
        self.readings_seen += 1
        last = self._last.get(reading.station_id)
        if last is None or reading.observed_at > last.observed_at:
            self._last[reading.station_id] = LastReading(
                reading.observed_at, reading.value, reading.unit
            )

    def last(self, station_id: str) -> LastReading | None:
        return self._last.get(station_id)

    def snapshot(self, alerts: AlertStore, now: datetime) -> list[dict[str, object]]:
        levels = alerts.latest_observed()
        faults = alerts.open_faults()
        rows: list[dict[str, object]] = []
        for station in self.network.stations:
            last = self._last.get(station.id)
            alert = levels.get(station.id)
            level: int | None = None
            if station.kind == "water_level" and last is not None:
                level = alert.level if alert is not None else 4
            interval_level = level or 4
            rows.append(
                {
                    "station_id": station.id,
                    "name": station.name,
                    "kind": station.kind,
                    "region_id": station.region_id,
                    "basin": station.basin,
                    "last_observed_at": last.observed_at if last else None,
                    "last_value": last.value if last else None,
                    "unit": last.unit if last else None,
                    "level": level,
                    "level_since": alert.observed_at if alert else None,
                    # a suspect or silent gauge: its level stands, but less surely
                    "sensor_fault": faults.get(station.id),
                    "certainty": "likely" if station.id in faults else "observed",
                    "expected_interval_s": expected_interval_s(
                        station.reporting_interval_s, interval_level
                    ),
                    "stale": is_stale(
                        last.observed_at if last else None,
                        now,
                        station.reporting_interval_s,
                        interval_level,
                    ),
                }
            )
        return rows
