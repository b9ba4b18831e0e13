"""What the API serves, kept from `siaga.alerts`: queries, lookups and live fan-out.

The store is rebuilt from the topic on every start, so a restarted API still
answers for alerts issued before the restart. Alerts are deduplicated by id:
a worker that reprocesses a batch after a crash re-emits the same ids, and
nobody reading from here sees them twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from schemas import Alert

log = logging.getLogger(__name__)

SUBSCRIBER_QUEUE_MAX = 1_000


@dataclass(frozen=True, slots=True)
class Stored:
    seq: int  # position in arrival order; the pagination cursor and SSE resume point
    alert: Alert


class SubscriberGone(Exception):
    """A live subscriber fell too far behind and was dropped; it resumes by Last-Event-ID."""


class Subscription:
    def __init__(self, region_id: str | None) -> None:
        self.region_id = region_id
        self.queue: asyncio.Queue[Stored | None] = asyncio.Queue(SUBSCRIBER_QUEUE_MAX)

    async def next(self) -> Stored:
        item = await self.queue.get()
        if item is None:
            raise SubscriberGone
        return item


class AlertStore:
    def __init__(self, max_items: int = 500_000) -> None:
        self.max_items = max_items
        self._items: list[Stored] = []
        self._by_id: dict[str, Stored] = {}
        self._next_seq = 0
        self._subscribers: set[Subscription] = set()
        self.duplicates_dropped = 0
        self._latest_observed: dict[str, Alert] = {}
        self._latest_sensor: dict[str, Alert] = {}
        # set by the app: alerts kept and listed but not streamed live (silenced)
        self.withhold: Callable[[Alert], bool] | None = None

    def __len__(self) -> int:
        return len(self._items)

    def add(self, alert: Alert) -> bool:
        """Keep an alert; False if its id is already here."""
        if alert.id in self._by_id:
            self.duplicates_dropped += 1
            return False
        stored = Stored(self._next_seq, alert)
        self._next_seq += 1
        self._items.append(stored)
        self._by_id[alert.id] = stored
        if alert.kind in ("observed", "sensor"):
            latest = self._latest_observed if alert.kind == "observed" else self._latest_sensor
            known = latest.get(alert.station_id)
            if known is None or known.observed_at <= alert.observed_at:
                latest[alert.station_id] = alert
        if len(self._items) > self.max_items:
            # trim in chunks so trimming stays O(1) amortised
            cut = len(self._items) - self.max_items + self.max_items // 10
            for old in self._items[:cut]:
                del self._by_id[old.alert.id]
            del self._items[:cut]
        if self.withhold is not None and self.withhold(alert):
            return True
        for sub in list(self._subscribers):
            if sub.region_id is None or sub.region_id == alert.region_id:
                self._offer(sub, stored)
        return True

    def get(self, alert_id: str) -> Alert | None:
        stored = self._by_id.get(alert_id)
        return stored.alert if stored else None

    def query(
        self,
        *,
        region_id: str | None = None,
        station_id: str | None = None,
        kind: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        before_seq: int | None = None,
        where: Callable[[Alert], bool] | None = None,
    ) -> tuple[list[Alert], int | None]:
        """Most recent first; returns the page and the cursor of the next page (or None)."""
        page: list[Alert] = []
        next_cursor: int | None = None
        page_last_seq = -1
        for stored in reversed(self._items):
            if before_seq is not None and stored.seq >= before_seq:
                continue
            a = stored.alert
            if since is not None and a.issued_at < since:
                # issue order ≈ arrival order, but partitions interleave: keep scanning
                continue
            if region_id and a.region_id != region_id:
                continue
            if station_id and a.station_id != station_id:
                continue
            if kind and a.kind != kind:
                continue
            if where is not None and not where(a):
                continue
            if len(page) == limit:
                next_cursor = page_last_seq
                break
            page.append(a)
            page_last_seq = stored.seq
        return page, next_cursor

    def subscribe(self, region_id: str | None, last_event_id: str | None) -> tuple[
        Subscription, list[Stored]
    ]:
        """A live subscription plus what the client missed after `last_event_id`.

        Registering before collecting the backlog means no alert can fall in the
        gap; the caller skips live items whose seq the backlog already covered.
        """
        sub = Subscription(region_id)
        self._subscribers.add(sub)
        backlog: list[Stored] = []
        if last_event_id:
            start = self._by_id.get(last_event_id)
            if start is not None:
                backlog = [
                    s for s in self._items
                    if s.seq > start.seq
                    and (region_id is None or s.alert.region_id == region_id)
                    and not (self.withhold is not None and self.withhold(s.alert))
                ]
        return sub, backlog

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def latest_observed(self) -> dict[str, Alert]:
        """The newest `observed` alert per station (by event time)."""
        return dict(self._latest_observed)

    def open_faults(self) -> dict[str, str]:
        """Stations whose latest sensor alert has not been cancelled: the fault."""
        return {
            station: alert.fault or "unknown"
            for station, alert in self._latest_sensor.items()
            if alert.msg_type != "cancel"
        }

    def _offer(self, sub: Subscription, stored: Stored) -> None:
        try:
            sub.queue.put_nowait(stored)
        except asyncio.QueueFull:
            # drop the slow client rather than buffer without bound; it resumes by id
            log.warning("dropping a live subscriber of %s that fell behind", sub.region_id)
            self._subscribers.discard(sub)
            while not sub.queue.empty():
                sub.queue.get_nowait()
            sub.queue.put_nowait(None)
