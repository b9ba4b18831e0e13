"""The router role: `siaga.station-events` and `siaga.acks` in, routed alerts out.

One consumer in the group `SIAGA_ROUTER_GROUP`. Station events are keyed by
basin, so every gauge of a river is on one partition and one `Router` (per
partition) sees them in order. Per batch: route → produce to `siaga.alerts`
(keyed by region) → wait for the acks → commit. Idle: the wall-clock tick
sends the reminders that fell due.

State is never checkpointed: on assignment the router reads its partitions
from the start up to the committed offset, without publishing, and so
stands where it stood. That is cheap (station events are changes, not
readings) and exact, because routing is deterministic given its input. A
crash between publish and commit re-publishes the same ids; readers keep
each id once.

Acknowledgements are read from the start of `siaga.acks` by every router
instance (a tiny compacted topic), so a region's ack stops the re-sends
whichever instance owns its basin.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from schemas import Alert, Network
from service import kafka
from service.routing import Router
from service.settings import Settings

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, revoked: Callable[[list[TopicPartition]], Awaitable[None]],
                 assigned: Callable[[list[TopicPartition]], Awaitable[None]]) -> None:
        self._revoked = revoked
        self._assigned = assigned

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self._revoked(list(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self._assigned(list(assigned))


def parse_event(value: bytes | None) -> Alert | None:
    if value is None:
        return None
    try:
        return Alert.model_validate_json(value)
    except ValidationError as exc:
        log.warning("skipping an unreadable station event: %s", exc.errors()[0]["msg"])
        return None


class RouterWorker:
    """`start()`/`stop()` or `async with RouterWorker(...) as router: await router.run()`."""

    def __init__(self, settings: Settings, network: Network, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.settings = settings
        self.network = network
        self.clock = clock
        self.routers: dict[int, Router] = {}
        self.published = 0
        self._acked: set[str] = set()
        self._consumer: AIOKafkaConsumer | None = None
        self._acks: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._stopping = asyncio.Event()
        self._running: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._healthy = True

    @property
    def ready(self) -> bool:
        return self._healthy and self._consumer is not None and bool(
            self._consumer.assignment())

    async def start(self) -> None:
        if self._consumer is not None:
            return
        self._producer = kafka.producer(self.settings, linger_ms=self.settings.worker_linger_ms)
        await self._producer.start()
        self._acks = kafka.consumer(self.settings, group_id=None)
        await self._acks.start()
        tps = await kafka.partitions_of(self._acks, self.settings.acks_topic)
        self._acks.assign(tps)
        await self._acks.seek_to_beginning(*tps)
        self._consumer = kafka.consumer(self.settings, group_id=self.settings.router_group)
        self._consumer.subscribe([self.settings.station_events_topic],
                                 listener=_Rebalance(self._revoked, self._assigned))
        await self._consumer.start()

    async def stop(self) -> None:
        """Finish the batch in hand, leave the group. Safe to call twice."""
        self._stopping.set()
        if self._running is not None and self._running is not asyncio.current_task():
            await asyncio.gather(self._running, return_exceptions=True)
        for client in (self._consumer, self._acks, self._producer):
            if client is not None:
                await client.stop()
        self._consumer = self._acks = None
        self._producer = None

    async def __aenter__(self) -> RouterWorker:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()

    async def run(self, *, burst: bool = False) -> None:
        """Route until `stop()`; with `burst`, until caught up with the topic."""
        if self._consumer is None:
            raise RuntimeError("RouterWorker.run() before start()")
        self._running = asyncio.current_task()
        backoff = 0.5
        try:
            while not self._stopping.is_set():
                try:
                    done = await self._step(burst)
                except KafkaError as exc:
                    self._healthy = False
                    log.warning("routing failed (%s); retrying in %.1f s", exc, backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_S)
                    await self._rewind()
                    continue
                self._healthy, backoff = True, 0.5
                if done:
                    return
        finally:
            self._running = None

    async def _step(self, burst: bool) -> bool:
        consumer = self._consumer
        if consumer is None:
            return True
        await self._read_acks()
        batch = await consumer.getmany(timeout_ms=200, max_records=2_000)
        async with self._lock:
            now = self.clock()
            if not batch:
                out = [a for router in self.routers.values() for a in router.tick(now)]
                await self._publish(out)
                assigned = list(consumer.assignment())
                return burst and bool(assigned) and await kafka.caught_up(consumer, assigned)
            out = []
            for tp in sorted(batch, key=lambda t: t.partition):
                router = self.routers.get(tp.partition)
                if router is None:
                    continue  # revoked meanwhile
                events = [e for e in map(parse_event, (r.value for r in batch[tp])) if e]
                out.extend(router.process(events, now))
            await self._publish(out)
            await consumer.commit({tp: recs[-1].offset + 1 for tp, recs in batch.items()
                                   if tp.partition in self.routers})
            return False

    async def _publish(self, alerts: list[Alert]) -> None:
        producer = self._producer
        if producer is None or not alerts:
            return
        futures = [await producer.send(self.settings.alerts_topic,
                                       a.model_dump_json().encode(),
                                       key=a.region_id.encode()) for a in alerts]
        await asyncio.gather(*futures)
        self.published += len(alerts)
        for alert in alerts:
            log.debug("routed %s %s level %s for %s", alert.id, alert.msg_type, alert.level,
                      alert.region_id)

    async def _read_acks(self) -> None:
        acks = self._acks
        if acks is None:
            return
        batch = await acks.getmany(timeout_ms=0)
        for records in batch.values():
            for record in records:
                if record.key is None or record.value is None:
                    continue
                alert_id = record.key.decode("utf-8", "replace")
                self._acked.add(alert_id)
                for router in self.routers.values():
                    router.acknowledge(alert_id)

    async def _revoked(self, revoked: list[TopicPartition]) -> None:
        async with self._lock:
            for tp in revoked:
                self.routers.pop(tp.partition, None)

    async def _assigned(self, assigned: list[TopicPartition]) -> None:
        async with self._lock:
            consumer = self._consumer
            if consumer is None:
                return
            for tp in assigned:
                committed = await consumer.committed(tp) or 0
                self.routers[tp.partition] = await self._rebuild(tp, committed)

    async def _rebuild(self, tp: TopicPartition, until: int) -> Router:
        """A router fed the partition's events before `until`, its outputs dropped."""
        router = Router(self.network, self.settings.router_settings())
        for alert_id in self._acked:
            router.acknowledge(alert_id)
        if until <= 0:
            return router
        reader = kafka.consumer(self.settings, group_id=None, max_poll_records=5_000)
        try:
            async with asyncio.timeout(self.settings.kafka_request_timeout_ms / 1000 * 12):
                await reader.start()
                await self._replay(reader, tp, until, router)
        except TimeoutError as exc:
            raise KafkaError(f"could not re-read {tp} up to offset {until}") from exc
        finally:
            await reader.stop()
        log.info("router for %s rebuilt from %d events", tp, until)
        return router

    @staticmethod
    async def _replay(reader: AIOKafkaConsumer, tp: TopicPartition, until: int,
                      router: Router) -> None:
        reader.assign([tp])
        await reader.seek_to_beginning(tp)
        position = 0
        while position < until:
            batch = await reader.getmany(tp, timeout_ms=500)
            for record in batch.get(tp, []):
                if record.offset >= until:
                    break
                event = parse_event(record.value)
                if event is not None:
                    # as it was routed then: the event's own issue time is the clock
                    router.process([event], event.issued_at)
            position = await reader.position(tp)

    async def _rewind(self) -> None:
        """After a failed batch: back to the committed offsets, on rebuilt routers."""
        consumer = self._consumer
        if consumer is None:
            return
        try:
            async with self._lock:
                for tp in list(consumer.assignment()):
                    committed = await consumer.committed(tp) or 0
                    self.routers[tp.partition] = await self._rebuild(tp, committed)
                    consumer.seek(tp, committed)
        except KafkaError as exc:
            log.warning("rewind failed too (%s); trying again", exc)
