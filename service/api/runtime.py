"""Everything the routes need, built in the lifespan and handed out by dependency."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Annotated, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from fastapi import Depends, Request

from schemas import Network
from schemas.delivery import DeadLetter, SubscriberStatus
from service import kafka
from service.alert_store import AlertStore
from service.api.limits import StreamSlots, TokenBuckets
from service.auth import TokenRegistry
from service.background import Background
from service.compacted import CompactedView
from service.errors import BrokerUnavailable
from service.group_monitor import GroupMonitor
from service.registries import Registries
from service.settings import Settings
from service.station_board import StationBoard
from service.topic_views import TopicViews

log = logging.getLogger(__name__)


class ReadyProbe(Protocol):
    @property
    def ready(self) -> bool: ...


class ProducerLink:
    """A producer that (re)connects in the background; ingest answers 503 until it has one."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._connecting = Background("siaga-producer-link", self._connect)

    async def start(self) -> None:
        self._connecting.start()

    async def _connect(self) -> None:
        backoff = 0.5
        while True:
            try:
                await kafka.ensure_topics(self.settings)
                producer = kafka.producer(self.settings)
                await producer.start()
            except (KafkaError, OSError) as exc:
                log.warning("broker not reachable (%s); retrying in %.1f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 15.0)
                continue
            self._producer = producer
            return

    def get(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise BrokerUnavailable("not connected to Kafka yet")
        return self._producer

    async def reachable(self, timeout_s: float = 2.0) -> bool:
        producer = self._producer
        if producer is None:
            return False
        try:
            async with asyncio.timeout(timeout_s):
                return bool(await producer.client.fetch_all_metadata())
        except (TimeoutError, KafkaError, OSError):
            return False

    async def stop(self) -> None:
        await self._connecting.stop()
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()


@dataclass(slots=True)
class IngestCounters:
    accepted: int = 0
    rejected: int = 0
    not_written: int = 0


@dataclass(slots=True)
class Access:
    """Who may call (the token registry) and how often (rate buckets, stream slots)."""

    registry: TokenRegistry
    token_rate: TokenBuckets
    anonymous_rate: TokenBuckets
    streams: StreamSlots

    @classmethod
    def build(cls, settings: Settings, registry: TokenRegistry) -> Access:
        return cls(
            registry=registry,
            token_rate=TokenBuckets(settings.rate_limit_per_s, settings.rate_limit_burst),
            anonymous_rate=TokenBuckets(settings.anon_rate_limit_per_s,
                                        settings.anon_rate_limit_burst),
            streams=StreamSlots(settings.max_streams_per_client),
        )


@dataclass(slots=True)
class Runtime:
    settings: Settings
    network: Network
    store: AlertStore
    board: StationBoard
    views: TopicViews
    producer: ProducerLink
    group: GroupMonitor
    access: Access
    registries: Registries
    counters: IngestCounters = field(default_factory=IngestCounters)
    extra_probes: dict[str, ReadyProbe] = field(default_factory=dict)
    # webhook delivery, as the dispatcher records it (service/delivery)
    dead_letters: CompactedView[DeadLetter] | None = None
    webhook_status: CompactedView[SubscriberStatus] | None = None


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(_runtime)]
