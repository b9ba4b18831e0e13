"""HTTP ingest: judge each reading on its own, write the accepted ones, say which is which.

"Accepted" means durably written to `siaga.readings` (acks=all), keyed by
station so a station's readings stay in order. If the broker does not
acknowledge in time, the caller gets `BrokerUnavailable` naming what was and
was not written: never a silent drop. Re-sending a whole batch is safe, since
the detectors ignore a reading they already have (same station, same time).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from schemas import Network, Reading
from service.errors import BrokerUnavailable
from service.stages.validate import Rejection, validate_item

log = logging.getLogger(__name__)

# The same words for a station that exists elsewhere and one that does not exist:
# a gateway learns nothing about the network beyond its own stations.
NOT_PERMITTED = "station not permitted for this token"
# Kafka record header naming the gateway token that pushed a reading over HTTP;
# the worker checks the station against that gateway's scope again.
GATEWAY_HEADER = "siaga-gateway"


@dataclass(frozen=True, slots=True)
class ItemResult:
    index: int
    status: Literal["accepted", "rejected", "not_written"]
    station_id: str | None = None
    observed_at: datetime | None = None
    reason: str | None = None


def judge(
    items: list[Any],
    network: Network,
    now: datetime,
    max_future_skew: timedelta,
    may_report: Callable[[str], bool] | None = None,
) -> tuple[list[ItemResult], list[tuple[int, Reading]]]:
    """Per-item verdicts for the rejected ones, plus the readings to write.

    `may_report` is the caller's station scope; it is asked before the network
    is consulted, so an out-of-scope station is refused the same way whether
    or not it exists.
    """
    rejected: list[ItemResult] = []
    to_write: list[tuple[int, Reading]] = []
    seen: set[tuple[str, datetime]] = set()
    for index, raw in enumerate(items):
        claimed = raw.get("station_id") if isinstance(raw, dict) else None
        if may_report is not None and isinstance(claimed, str) and not may_report(claimed):
            rejected.append(ItemResult(index, "rejected", station_id=claimed[:64],
                                       reason=NOT_PERMITTED))
            continue
        checked = validate_item(raw, network, now, max_future_skew)
        if isinstance(checked, Rejection):
            station = raw.get("station_id") if isinstance(raw, dict) else None
            rejected.append(ItemResult(
                index, "rejected",
                station_id=station if isinstance(station, str) else None,
                reason=checked.reason,
            ))
            continue
        key = (checked.station_id, checked.observed_at)
        if key in seen:
            rejected.append(ItemResult(
                index, "rejected", checked.station_id, checked.observed_at,
                reason="duplicate of an earlier item in this batch (same station and observed_at)",
            ))
            continue
        seen.add(key)
        to_write.append((index, checked))
    return rejected, to_write


async def write_readings(
    producer: AIOKafkaProducer,
    topic: str,
    readings: list[tuple[int, Reading]],
    timeout_s: float,
    gateway: str | None = None,
) -> list[ItemResult]:
    """Send all, then wait for every ack; raise `BrokerUnavailable` listing what is unwritten.

    `gateway` (a token name) goes into the `siaga-gateway` header of each record.
    """
    headers = [(GATEWAY_HEADER, gateway.encode())] if gateway else None
    futures: list[asyncio.Future[Any]] = []
    try:
        async with asyncio.timeout(timeout_s):
            for _, reading in readings:
                futures.append(await producer.send(
                    topic,
                    reading.model_dump_json().encode(),
                    key=reading.station_id.encode(),
                    headers=headers,
                ))
            await asyncio.gather(*futures, return_exceptions=True)
    except (TimeoutError, KafkaError) as exc:
        log.warning("broker did not acknowledge readings in time: %s", exc)
    results: list[ItemResult] = []
    failed = 0
    for i, (index, reading) in enumerate(readings):
        fut = futures[i] if i < len(futures) else None
        ok = fut is not None and fut.done() and not fut.cancelled() and fut.exception() is None
        if not ok:
            failed += 1
            if fut is not None and not fut.done():
                fut.cancel()
        results.append(ItemResult(
            index, "accepted" if ok else "not_written", reading.station_id, reading.observed_at,
            reason=None if ok else "broker did not acknowledge; send this item again",
        ))
    if failed:
        raise BrokerUnavailable(
            f"{failed} of {len(readings)} readings were not acknowledged by Kafka",
            partial=results,
        )
    return results
