"""Alert stage: detector events → alerts for the regions that receive them.

For now every gauge alerts its own region; propagation to the regions
downstream (`predicted`) is a later stage of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from detectors import DetectorEvent, StationTable, build_alert, local_time
from schemas import Alert, Network


def alerts_for_events(events: Iterable[DetectorEvent], network: Network, table: StationTable,
                      issued_at: datetime | None) -> list[Alert]:
    """`issued_at=None` (replaying history): each alert is issued at its evidence's time."""
    stations = network.stations_by_id
    regions = network.regions_by_id
    alerts = []
    for event in events:
        station = stations[table.ids[event.station]]
        region = regions[station.region_id]
        at = issued_at if issued_at is not None else local_time(event.t, region)
        alerts.append(build_alert(event, station, region, at))
    return alerts
