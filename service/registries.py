"""Subscriptions, silences and acknowledgements, each a view of its compacted topic.

In: the settings, the network and (for writing) a producer. Out: the three
registries, kept by `CompactedView` (last value per key, rebuilt from the topic
on start, followed live), plus the questions every role asks of them: is this
alert silenced, which subscriptions does it match, who acknowledged it.
`ready` turns true once all three have read their topic to the end and every
region's default subscription has been written if its key was never seen, so
a PATCHed or deleted default stays as it was left, across restarts and
replicas. Two replicas writing the same default at once is harmless: the same
content twice.

Deliberately not here: HTTP, authorization, delivery (webhooks, reminders).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from schemas import Alert, Network
from schemas.ack import Ack
from schemas.silence import SilencePublic
from schemas.subscription import Subscription
from service.background import Background
from service.compacted import CompactedView
from service.delivery_rules import default_subscriptions, matches, silencing
from service.errors import BrokerUnavailable
from service.settings import Settings

log = logging.getLogger(__name__)


class Registries:
    def __init__(self, settings: Settings, network: Network,
                 producer: Callable[[], AIOKafkaProducer]) -> None:
        """`producer` hands out a connected producer or raises `BrokerUnavailable`."""
        self.settings = settings
        self.network = network
        self._producer = producer
        self.subscriptions = CompactedView(settings, settings.topic("subscriptions"),
                                           Subscription)
        self.silences = CompactedView(settings, settings.topic("silences"), SilencePublic)
        self.acks = CompactedView(settings, settings.topic("acks"), Ack)
        self._views = (self.subscriptions, self.silences, self.acks)
        self.defaults_written = asyncio.Event()
        self._seeding = Background("siaga-default-subscriptions", self._seed_defaults)

    async def start(self) -> None:
        for view in self._views:
            await view.start()
        self._seeding.start()

    async def stop(self) -> None:
        await self._seeding.stop()
        for view in self._views:
            await view.stop()

    @property
    def ready(self) -> bool:
        """Every registry has read its topic to the end, and the defaults are in place."""
        return self.defaults_written.is_set() and all(
            v.loaded.is_set() and v.connected for v in self._views)

    def producer(self) -> AIOKafkaProducer:
        return self._producer()

    async def _seed_defaults(self) -> None:
        await self.subscriptions.loaded.wait()
        backoff = 0.5
        while True:
            try:
                producer = self._producer()
                for default in default_subscriptions(self.network, datetime.now(UTC)):
                    # a key seen before (even as a tombstone) was left so on purpose
                    if not self.subscriptions.ever_seen(default.id):
                        await self.subscriptions.put(producer, default.id, default)
                        log.info("wrote default subscription %s", default.id)
                self.defaults_written.set()
                return
            except (BrokerUnavailable, KafkaError, OSError, TimeoutError) as exc:
                log.warning("default subscriptions not written yet (%s); retrying in %.1f s",
                            exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 15.0)

    # -- questions ------------------------------------------------------------
    def silenced_by(self, alert: Alert) -> SilencePublic | None:
        return silencing(self.silences.values(), alert)

    def withheld(self, alert: Alert) -> bool:
        """Recorded but not delivered (live streams, pull feeds): a silence covers it."""
        return self.silenced_by(alert) is not None

    def matching(self, alert: Alert) -> list[Subscription]:
        """The subscriptions `alert` goes to (none while it is silenced)."""
        if self.withheld(alert):
            return []
        return [s for s in self.subscriptions.values() if matches(s, alert, self.network)]

    def ack_of(self, alert_id: str) -> Ack | None:
        return self.acks.get(alert_id)

    def active_silences(self, now: datetime) -> list[SilencePublic]:
        return sorted((s for s in self.silences.values() if s.covers(now)),
                      key=lambda s: s.until)

    def subscriptions_per_region(self) -> dict[str, int]:
        counts = {r.id: 0 for r in self.network.regions}
        for sub in self.subscriptions.values():
            counts[sub.region_id] = counts.get(sub.region_id, 0) + 1
        return counts
