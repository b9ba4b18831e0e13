"""Alert stage: level changes → alerts for the regions that receive them.

For now every gauge alerts its own region (`observed`); propagation to the
regions downstream (`predicted`) is a later stage of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from detectors import LevelChange, build_level_alert
from schemas import Alert, Network


def alerts_for_changes(
    changes: Sequence[LevelChange], network: Network, issued_at: datetime | None
) -> list[Alert]:
    """`issued_at=None` (replaying history): each alert is issued at its evidence's time."""
    stations = network.stations_by_id
    alerts = []
    for change in changes:
        station = stations[change.station_id]
        at = issued_at if issued_at is not None else change.observed_at
        alerts.append(build_level_alert(change, station, station.region_id, at))
    return alerts
