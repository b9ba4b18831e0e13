"""Rebuild per-station levels from what was already issued on `siaga.alerts`.

A station's level is the level of the last `observed` (or, for a rain
gauge, `rainfall`) alert for its own region, so a worker that starts (or
takes over partitions) grades on from where the alerts left off instead of
starting every gauge at Normal and re-alerting. Reading to the end uses the
high watermark (see `service.kafka`).
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

from schemas import Alert, Network
from service import kafka
from service.pipeline import RestoredLevel
from service.settings import Settings

log = logging.getLogger(__name__)


async def levels_from_alerts(settings: Settings, network: Network) -> dict[str, RestoredLevel]:
    levels: dict[str, RestoredLevel] = {}
    await kafka.read_to_end(settings, settings.alerts_topic,
                            lambda record: _apply(record.value, network, levels))
    log.info("restored levels of %d stations from %s", len(levels), settings.alerts_topic)
    return levels


def _apply(value: bytes | None, network: Network, levels: dict[str, RestoredLevel]) -> None:
    if value is None:
        return
    try:
        alert = Alert.model_validate_json(value)
    except ValidationError:
        log.warning("skipping an unreadable record on the alerts topic")
        return
    station = network.station(alert.station_id)
    if (alert.kind not in ("observed", "rainfall") or station is None
            or alert.region_id != station.region_id):
        return
    current = levels.get(alert.station_id)
    if current and current.observed_at >= alert.observed_at:
        return
    levels[alert.station_id] = RestoredLevel(
        level=alert.level, observed_at=alert.observed_at, value=alert.value or 0.0
    )
