"""The webhook dispatcher role (`siaga dispatcher`): `siaga.alerts` in, signed POSTs out.

One consumer without a group reads every partition of `siaga.alerts` (alerts are
keyed by region, so a region's alerts are in order on one partition) and offers each
record, synchronously, to every webhook subscriber (`subscriber.Subscriber`); each
subscriber delivers from its own bounded queue in its own task, so a slow or dead
endpoint never holds up the consumer or the other subscribers.

Durable state, all in compacted topics:
- `siaga.delivery-progress` (key = subscription id): each subscriber's cursor, read
  once at start. The consumer starts at the oldest cursor minus
  `SIAGA_WEBHOOK_DEDUPE_LOOKBACK` records (to learn which ids were served already).
  A subscription without a cursor starts at the end of the topic as the dispatcher
  first sees it ("from now"), and that starting point is written at once.
- `siaga.deliveries` (key = `<subscription id>/<alert id>`): dead letters; the API
  marks one `requeued` and the dispatcher, following the topic, sends it again.
- `siaga.delivery-status` (key = subscription id): each subscriber's counters,
  published every `SIAGA_WEBHOOK_STATUS_INTERVAL_S` for `GET /v1/status`.

A single instance: two dispatchers on the same topics would both deliver. To scale
out, give each instance a share of the subscriptions (hash of the id modulo the
number of instances); each keeps its own cursors, so nothing else changes.

Deliberately not here: HTTP, signing, retries (`sender`, `subscriber`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from contextlib import suppress
from types import TracebackType

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from schemas import Network
from schemas.delivery import DeadLetter, DeliveryProgress
from schemas.subscription import Subscription, WebhookChannel
from service import kafka
from service.compacted import CompactedView
from service.delivery.subscriber import Subscriber, parse_alert
from service.delivery.url_safety import parse_nets
from service.errors import BrokerUnavailable
from service.registries import Registries
from service.settings import Settings

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0
FETCH_MAX = 2_000


async def high_watermarks(settings: Settings, tps: list[TopicPartition],
                          timeout_s: float = 30.0) -> dict[int, int]:
    """Each partition's end, from fetch responses (Tansu's `end_offsets()` counts
    batches: DESIGN.md §7). Tiny fetches: only the watermark is wanted."""
    probe = kafka.consumer(settings, group_id=None, max_partition_fetch_bytes=1024,
                           fetch_max_bytes=64 * 1024)
    await probe.start()
    try:
        probe.assign(tps)
        await probe.seek_to_beginning(*tps)
        async with asyncio.timeout(timeout_s):
            while True:
                highs = {tp.partition: probe.highwater(tp) for tp in tps}
                if all(h is not None for h in highs.values()):
                    return {p: int(h or 0) for p, h in highs.items()}
                await probe.getmany(timeout_ms=100, max_records=1)
    except TimeoutError as exc:
        raise KafkaError(f"no high watermark for {tps} in {timeout_s:g} s") from exc
    finally:
        await probe.stop()


def is_webhook(sub: Subscription) -> bool:
    return isinstance(sub.channel, WebhookChannel)


class Dispatcher:
    """`start()`/`stop()` or `async with Dispatcher(...) as d: await d.run()`."""

    def __init__(self, settings: Settings, network: Network) -> None:
        self.settings = settings
        self.network = network
        self.allow_nets = parse_nets(settings.webhook_allow_nets)
        self.registries = Registries(settings, network, self._producer_or_raise)
        self.dead_letters = CompactedView(settings, settings.topic("deliveries"), DeadLetter)
        self.subscribers: dict[str, Subscriber] = {}
        self._positions: dict[int, int] = {}
        self._tps: list[TopicPartition] = []
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._stopping = asyncio.Event()
        self._running: asyncio.Task[None] | None = None
        self._prepared = False
        self._healthy = True
        self._dirty = True
        self._last_status: dict[str, str] = {}
        self._next_status = 0.0
        self.registries.subscriptions.on_change(self._subscription_changed)
        self.dead_letters.on_change(self._dead_letter_changed)

    # -- Hub (what subscribers use) ---------------------------------------------
    def positions(self) -> dict[int, int]:
        return dict(self._positions)

    def highwater(self, partition: int) -> int | None:
        consumer = self._consumer
        if consumer is None:
            return None
        high = consumer.highwater(TopicPartition(self.settings.alerts_topic, partition))
        return None if high is None else int(high)

    async def save_progress(self, progress: DeliveryProgress) -> None:
        producer = self._producer_or_raise()
        async with asyncio.timeout(self.settings.kafka_request_timeout_ms / 1000 * 2):
            await producer.send_and_wait(self.settings.topic("delivery-progress"),
                                         key=progress.subscription_id.encode(),
                                         value=progress.model_dump_json().encode())

    async def put_dead_letter(self, key: str, record: DeadLetter | None) -> None:
        await self.dead_letters.put(self._producer_or_raise(), key, record,
                                    timeout_s=self.settings.kafka_request_timeout_ms / 1000)

    def _producer_or_raise(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise BrokerUnavailable("the dispatcher is not connected")
        return self._producer

    # -- lifecycle ----------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self._prepared and self._healthy and self.registries.ready

    async def start(self) -> None:
        if self._producer is not None:
            return
        self._producer = kafka.producer(self.settings)
        await self._producer.start()
        await self.registries.start()
        await self.dead_letters.start()

    async def stop(self) -> None:
        """Stop delivering (an attempt in flight is abandoned: its alert goes again after
        a restart, with the same idempotency key). Safe to call twice."""
        self._stopping.set()
        if self._running is not None and self._running is not asyncio.current_task():
            await asyncio.gather(self._running, return_exceptions=True)
        for sub in list(self.subscribers.values()):
            await sub.stop()
        self.subscribers.clear()
        consumer, self._consumer = self._consumer, None
        await self._close(consumer)
        await self.dead_letters.stop()
        await self.registries.stop()
        producer, self._producer = self._producer, None
        await self._close(producer)

    async def _close(self, client: AIOKafkaConsumer | AIOKafkaProducer | None) -> None:
        """Stop a client even with the broker gone: a producer holding unsent status
        records would otherwise wait out its delivery timeout (minutes)."""
        if client is None:
            return
        try:
            async with asyncio.timeout(self.settings.kafka_request_timeout_ms / 1000 * 2):
                await client.stop()
        except (KafkaError, OSError, TimeoutError, asyncio.CancelledError) as exc:
            # aiokafka's fetcher re-raises the cancellation of its own fetch task when the
            # broker is gone; only a cancellation of this task itself must go on
            task = asyncio.current_task()
            if isinstance(exc, asyncio.CancelledError) and task is not None and (
                    task.cancelling()):
                raise
            log.warning("dispatcher: %s did not stop cleanly (%r)", type(client).__name__, exc)

    async def __aenter__(self) -> Dispatcher:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()

    # -- the loop -------------------------------------------------------------
    async def run(self, *, burst: bool = False) -> None:
        """Deliver until `stop()`; with `burst`, until caught up and every subscriber idle."""
        if self._producer is None:
            raise RuntimeError("Dispatcher.run() before start()")
        self._running = asyncio.current_task()
        backoff = 0.5
        try:
            while not self._stopping.is_set():
                try:
                    if not self._prepared:
                        await self._prepare()
                        continue
                    done = await self._step(burst)
                except (KafkaError, OSError) as exc:
                    self._healthy = False
                    log.warning("dispatcher lost the broker (%s); retrying in %.1f s",
                                exc, backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_S)
                    continue
                self._healthy, backoff = True, 0.5
                if done:
                    return
        finally:
            self._running = None

    async def _prepare(self) -> None:
        """Registries loaded, cursors read, consumer placed at the oldest one."""
        # defaults_written is set once the subscriptions are loaded
        for loaded in (self.dead_letters.loaded, self.registries.defaults_written,
                       self.registries.silences.loaded, self.registries.acks.loaded):
            while not loaded.is_set():
                if self._stopping.is_set():
                    return  # stop() must not wait for a broker that never answers
                with suppress(TimeoutError):
                    await asyncio.wait_for(loaded.wait(), 0.2)
        progress = await self._read_progress()
        if self._consumer is not None:  # a failed earlier attempt
            stale, self._consumer = self._consumer, None
            with suppress(KafkaError, OSError):
                await stale.stop()
        consumer = kafka.consumer(self.settings, group_id=None, max_poll_records=FETCH_MAX)
        await consumer.start()
        self._consumer = consumer
        self._tps = await kafka.partitions_of(consumer, self.settings.alerts_topic)
        highs = await high_watermarks(self.settings, self._tps)
        for sub in self.registries.subscriptions.values():
            if not is_webhook(sub) or sub.id in self.subscribers:
                continue
            saved = progress.get(sub.id)
            if saved is None:
                self._add(sub, highs, new=True)
            else:
                positions = {p: saved.positions.get(p, 0) for p in highs}
                self._add(sub, positions, delivered=saved.delivered)
        lookback = self.settings.webhook_dedupe_lookback
        consumer.assign(self._tps)
        for tp in self._tps:
            oldest = min([s.enqueued_to[tp.partition] for s in self.subscribers.values()]
                         + [highs[tp.partition]])
            start = max(0, oldest - lookback)
            consumer.seek(tp, start)
            self._positions[tp.partition] = start
        for record in self.dead_letters.values():
            self._dead_letter_changed(DeadLetter.key_of(record.subscription_id,
                                                        record.alert_id), record)
        self._dirty = True
        self._prepared = True
        log.info("dispatcher ready: %d webhook subscriptions, reading %s from %s",
                 len(self.subscribers), self.settings.alerts_topic, self._positions)

    async def _read_progress(self) -> dict[str, DeliveryProgress]:
        found: dict[str, DeliveryProgress] = {}

        def keep(record: object) -> None:
            key, value = getattr(record, "key", None), getattr(record, "value", None)
            if key is None:
                return
            if value is None:
                found.pop(key.decode(), None)
            else:
                found[key.decode()] = DeliveryProgress.model_validate_json(value)

        await kafka.read_to_end(self.settings, self.settings.topic("delivery-progress"), keep)
        return found

    async def _step(self, burst: bool) -> bool:
        consumer = self._consumer
        if consumer is None:
            return True
        if self._dirty:
            await self._sync()
        batch = await consumer.getmany(timeout_ms=200, max_records=FETCH_MAX)
        subscribers = list(self.subscribers.values())
        for tp in sorted(batch, key=lambda t: t.partition):
            for record in batch[tp]:
                alert = parse_alert(record.value)
                published = record.timestamp / 1000 if record.timestamp > 0 else time.time()
                for sub in subscribers:
                    sub.offer(tp.partition, record.offset, alert, record.value or b"",
                              published)
                self._positions[tp.partition] = record.offset + 1
        if time.monotonic() >= self._next_status:
            self._next_status = time.monotonic() + self.settings.webhook_status_interval_s
            await self._publish_status()
        if burst and not batch and await kafka.caught_up(consumer, self._tps):
            return all(s.idle for s in subscribers)
        return False

    # -- subscriptions and dead letters ------------------------------------------
    def _subscription_changed(self, key: str, value: Subscription | None) -> None:
        self._dirty = True

    def _dead_letter_changed(self, key: str, record: DeadLetter | None) -> None:
        if record is None or record.state != "requeued":
            return
        sub = self.subscribers.get(record.subscription_id)
        if sub is not None:
            sub.requeue(record)

    def _add(self, sub: Subscription, positions: dict[int, int], delivered: int = 0,
             new: bool = False) -> None:
        subscriber = Subscriber(self, sub, positions, delivered, new=new)
        self.subscribers[sub.id] = subscriber
        subscriber.start()
        log.info("webhook subscription %s %s", sub.id,
                 "starts from now" if new else f"resumes at {positions}")

    async def _sync(self) -> None:
        self._dirty = False
        current = {s.id: s for s in self.registries.subscriptions.values() if is_webhook(s)}
        for sub_id in [i for i in self.subscribers if i not in current]:
            await self.subscribers.pop(sub_id).stop()
            await self._send_status(sub_id, None)
            log.info("webhook subscription %s removed", sub_id)
        for sub_id, sub in current.items():
            if sub_id in self.subscribers:
                self.subscribers[sub_id].update(sub)
            else:
                # from now: the next record this consumer will offer
                self._add(sub, dict(self._positions), new=True)
                for record in self.dead_letters.values():
                    if record.subscription_id == sub_id:
                        self._dead_letter_changed("", record)

    async def _publish_status(self) -> None:
        dead = Counter(r.subscription_id for r in self.dead_letters.values()
                       if r.state == "dead")
        for sub in list(self.subscribers.values()):
            status = sub.status(dead.get(sub.id, 0))
            same = status.model_dump_json(exclude={"updated_at"})
            if self._last_status.get(sub.id) != same:
                self._last_status[sub.id] = same
                await self._send_status(sub.id, status.model_dump_json().encode())

    async def _send_status(self, sub_id: str, value: bytes | None) -> None:
        if value is None:
            self._last_status.pop(sub_id, None)
        producer = self._producer_or_raise()
        # not awaited one by one: the producer batches them, the consumer goes on
        await producer.send(self.settings.topic("delivery-status"), key=sub_id.encode(),
                            value=value)
