"""One webhook subscriber: its queue, its single in-flight delivery, its cursor.

In: alerts offered by the dispatcher's consumer (partition, offset, alert), in topic
order per partition, and requeued dead letters. Out: signed POSTs, one at a time, in
the order offered; after each 2xx (or dead letter) the cursor is written durably
(`Hub.save_progress`) before the next alert goes, so a crash re-sends at most the one
alert that was in flight when it happened.

- Offer (synchronous, never blocks the consumer): records before `enqueued_to[p]`
  were handled already (only remembered for deduplication); a record whose alert id
  was handled already is skipped (the topic may carry an id twice after a worker
  crash); alerts that do not match, or are silenced, only move `enqueued_to`.
- Bounded: when `SIAGA_WEBHOOK_QUEUE_MAX` alerts are queued, the subscriber stops
  taking offers ("spilled") and, once its queue is empty, reads its backlog from
  `siaga.alerts` with a consumer of its own, from `enqueued_to`, until it has caught
  up with the dispatcher's consumer; then it takes offers again. The topic is the
  durable backlog; memory stays bounded however long an endpoint is down.
- Retries: timeouts, connection errors, 5xx, 408, 429 are retried with full-jitter
  exponential backoff (or `Retry-After` on 429/503), behind a circuit breaker, until
  `SIAGA_WEBHOOK_GIVE_UP_S` after the alert was published (or requeued); then, or at
  once for any other 4xx or a refused address, the alert is dead-lettered and the
  subscriber moves on.

Deliberately not here: reading the topic live, subscriptions coming and going,
status publishing (`dispatcher`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from schemas import Alert
from schemas.delivery import DeadLetter, DeliveryProgress, SubscriberStatus
from schemas.subscription import Subscription, WebhookChannel
from service import kafka
from service.delivery.backoff import full_jitter
from service.delivery.breaker import CircuitBreaker
from service.delivery.errors import DeliveryError
from service.delivery.sender import Sender
from service.delivery.signing import delivery_headers
from service.delivery.url_safety import IPNetwork, default_port
from service.delivery_rules import matches
from service.registries import Registries
from service.settings import Settings

log = logging.getLogger(__name__)


class Hub(Protocol):
    """What a subscriber needs from the dispatcher."""

    settings: Settings
    registries: Registries
    allow_nets: tuple[IPNetwork, ...]

    def positions(self) -> dict[int, int]:
        """The next offset the dispatcher's consumer will offer, per partition."""

    def highwater(self, partition: int) -> int | None: ...

    async def save_progress(self, progress: DeliveryProgress) -> None: ...

    async def put_dead_letter(self, key: str, record: DeadLetter | None) -> None: ...


@dataclass(slots=True)
class Item:
    partition: int | None  # None: a requeued dead letter (not in topic order)
    offset: int
    alert: Alert
    body: bytes
    published_s: float  # unix seconds: when the alert was published, or requeued


def parse_alert(value: bytes | None) -> Alert | None:
    if value is None:
        return None
    try:
        return Alert.model_validate_json(value)
    except ValidationError:
        return None


class Subscriber:
    def __init__(self, hub: Hub, subscription: Subscription, positions: dict[int, int],
                 delivered: int = 0, *, new: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        settings = hub.settings
        self.hub = hub
        self.sub = subscription
        self.enqueued_to = dict(positions)
        self.cursor = dict(positions)
        self.delivered = delivered
        self.spilled = False
        self.queue: deque[Item] = deque()
        self.requeued: deque[Item] = deque()
        self.requeued_ids: set[str] = set()
        self.breaker = CircuitBreaker(settings.webhook_breaker_failures,
                                      settings.webhook_breaker_open_s)
        self.last_success_at: datetime | None = None
        self.last_error: str | None = None
        self.last_error_at: datetime | None = None
        self.inflight: Item | None = None
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._seen_max = max(1_000, settings.webhook_dedupe_lookback)
        self._needs_save = new  # a new subscription's starting point must be durable
        self._wake = asyncio.Event()
        self._clock = clock
        self._reader: AIOKafkaConsumer | None = None
        self._sender: Sender | None = None
        self._sender_url: str | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def id(self) -> str:
        return self.sub.id

    # -- lifecycle ------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"siaga-webhook-{self.id}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self._close_reader()
        if self._sender is not None:
            await self._sender.aclose()
            self._sender = None

    def update(self, subscription: Subscription) -> None:
        self.sub = subscription  # the next attempt uses the new URL, secret and filter

    @property
    def idle(self) -> bool:
        return not (self.queue or self.requeued or self.spilled or self.inflight)

    # -- offers (synchronous: the consumer never waits for a subscriber) ---------
    def _remember(self, alert_id: str) -> None:
        self._seen[alert_id] = None
        if len(self._seen) > self._seen_max:
            self._seen.popitem(last=False)

    def _wanted(self, alert: Alert) -> bool:
        registries = self.hub.registries
        return matches(self.sub, alert, registries.network) and not registries.withheld(alert)

    def offer(self, partition: int, offset: int, alert: Alert | None, body: bytes,
              published_s: float, *, from_backlog: bool = False) -> None:
        if offset < self.enqueued_to.get(partition, 0):
            # served before this process started (or by the backlog reader): remember
            # its id so a second copy later in the topic is not sent again
            if alert is not None and self._wanted(alert):
                self._remember(alert.id)
            return
        if self.spilled and not from_backlog:
            return
        if not from_backlog and len(self.queue) >= self.hub.settings.webhook_queue_max:
            self.spilled = True
            log.info("webhook %s: %d alerts queued; reading its backlog from the topic",
                     self.id, len(self.queue))
            return
        self.enqueued_to[partition] = offset + 1
        if alert is None or alert.id in self._seen or not self._wanted(alert):
            return
        self._remember(alert.id)
        self.queue.append(Item(partition, offset, alert, body, published_s))
        self._wake.set()

    def requeue(self, record: DeadLetter) -> None:
        if record.alert_id in self.requeued_ids:
            return
        self.requeued_ids.add(record.alert_id)
        at = record.requeued_at or datetime.now(UTC)
        self.requeued.append(Item(None, -1, record.alert, record.alert.model_dump_json().encode(),
                                  at.timestamp()))
        self._wake.set()

    # -- the delivery loop ----------------------------------------------------
    async def _run(self) -> None:
        if self._needs_save:
            await self._save()
        while True:
            item = self.requeued.popleft() if self.requeued else (
                self.queue.popleft() if self.queue else None)
            if item is None:
                if self.spilled:
                    await self._read_backlog()
                    continue
                self._wake.clear()
                try:
                    async with asyncio.timeout(self.hub.settings.webhook_status_interval_s):
                        await self._wake.wait()
                except TimeoutError:
                    await self.advance_idle()
                continue
            self.inflight = item
            try:
                await self._deliver(item)
            finally:
                self.inflight = None

    async def _deliver(self, item: Item) -> None:
        settings = self.hub.settings
        deadline = item.published_s + settings.webhook_give_up_s
        attempts = 0
        last_status: int | None = None
        while True:
            remaining = deadline - time.time()
            wait = self.breaker.wait_s(self._clock())
            if wait > 0:
                if remaining <= 0:
                    await self._dead(item, f"gave up after {attempts} attempts: circuit open "
                                     f"(last error: {self.last_error})", last_status, True,
                                     attempts)
                    return
                await asyncio.sleep(min(wait, remaining))
                continue
            attempts += 1
            try:
                await self._post(item, attempts)
            except DeliveryError as exc:
                self.last_error, self.last_error_at = str(exc), datetime.now(UTC)
                last_status = exc.status_code
                if not exc.retriable:
                    if exc.status_code is not None:
                        self.breaker.success()  # it answered: the endpoint is alive
                    await self._dead(item, str(exc), exc.status_code, False, attempts)
                    return
                self.breaker.failure(self._clock())
                remaining = deadline - time.time()
                if remaining <= 0:
                    await self._dead(item, f"gave up after {attempts} attempts over "
                                     f"{settings.webhook_give_up_s:g} s; last error: {exc}",
                                     exc.status_code, True, attempts)
                    return
                if exc.retry_after_s is not None:
                    delay = min(exc.retry_after_s, settings.webhook_retry_after_max_s)
                else:
                    delay = full_jitter(attempts - 1, settings.webhook_backoff_base_s,
                                        settings.webhook_backoff_max_s)
                log.debug("webhook %s: %s for %s; retrying in %.2f s", self.id, exc,
                          item.alert.id, delay)
                # wake at the deadline at the latest: the last attempt is made then
                await asyncio.sleep(min(delay, remaining))
                continue
            self.breaker.success()
            self.delivered += 1
            self.last_success_at = datetime.now(UTC)
            await self._handled(item)
            return

    async def _post(self, item: Item, attempt: int) -> None:
        channel = self.sub.channel
        if not isinstance(channel, WebhookChannel):
            raise DeliveryError("the subscription has no webhook any more", retriable=False)
        if self._sender is None or self._sender_url != channel.url:
            if self._sender is not None:
                await self._sender.aclose()
            self._sender = Sender(self.hub.settings.webhook_timeout_s, self.hub.allow_nets)
            self._sender_url = channel.url
        headers = delivery_headers(secret=channel.secret, alert_id=item.alert.id,
                                   subscription_id=self.id, body=item.body, attempt=attempt,
                                   language=self.sub.language)
        await self._sender.post(channel.url, headers, item.body)

    async def _dead(self, item: Item, reason: str, status: int | None, retriable: bool,
                    attempts: int) -> None:
        log.warning("webhook %s: alert %s dead-lettered: %s", self.id, item.alert.id, reason)
        record = DeadLetter(subscription_id=self.id, alert_id=item.alert.id, reason=reason,
                            status_code=status, retriable=retriable, attempts=attempts,
                            dead_at=datetime.now(UTC), alert=item.alert)
        # the dead letter first: a crash before the cursor moves re-tries, never loses
        await self._retrying(lambda: self.hub.put_dead_letter(
            DeadLetter.key_of(self.id, item.alert.id), record))
        await self._handled(item, delivered=False)

    async def _handled(self, item: Item, *, delivered: bool = True) -> None:
        if item.partition is None:
            self.requeued_ids.discard(item.alert.id)
            if delivered:  # a requeued alert delivered: off the dead-letter list
                await self._retrying(lambda: self.hub.put_dead_letter(
                    DeadLetter.key_of(self.id, item.alert.id), None))
            return
        self.cursor[item.partition] = max(self.cursor.get(item.partition, 0), item.offset + 1)
        await self._save()

    async def _save(self) -> None:
        progress = DeliveryProgress(subscription_id=self.id, positions=dict(self.cursor),
                                    delivered=self.delivered, updated_at=datetime.now(UTC))
        await self._retrying(lambda: self.hub.save_progress(progress))
        self._needs_save = False

    async def advance_idle(self) -> None:
        """Nothing queued or in flight: every record offered so far is served, so the
        cursor may move to `enqueued_to` (a restart then re-reads less)."""
        if self.idle and self.enqueued_to != self.cursor:
            self.cursor = dict(self.enqueued_to)
            await self._save()

    @staticmethod
    async def _retrying(write: Callable[[], Awaitable[None]]) -> None:
        """Kafka writes of this subscriber: retried until done (it waits; others go on)."""
        backoff = 0.5
        while True:
            try:
                await write()
                return
            except (KafkaError, OSError, TimeoutError) as exc:
                log.warning("delivery record not written (%s); retrying in %.1f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 15.0)

    # -- the backlog, read from the topic ---------------------------------------
    async def _read_backlog(self) -> None:
        settings = self.hub.settings
        try:
            reader = self._reader
            if reader is None:
                reader = kafka.consumer(settings, group_id=None,
                                        max_poll_records=settings.webhook_queue_max)
                await reader.start()
                self._reader = reader
                tps = await kafka.partitions_of(reader, settings.alerts_topic)
                reader.assign(tps)
                for tp in tps:
                    reader.seek(tp, self.enqueued_to.get(tp.partition, 0))
            batch = await reader.getmany(timeout_ms=200,
                                         max_records=settings.webhook_queue_max)
            for tp in sorted(batch, key=lambda t: t.partition):
                for record in batch[tp]:
                    published = record.timestamp / 1000 if record.timestamp > 0 else time.time()
                    self.offer(tp.partition, record.offset, parse_alert(record.value),
                               record.value or b"", published, from_backlog=True)
            await self._maybe_rejoin(reader)
        except (KafkaError, OSError) as exc:
            log.warning("webhook %s: backlog read failed (%s); retrying", self.id, exc)
            await self._close_reader()
            await asyncio.sleep(1.0)

    async def _maybe_rejoin(self, reader: AIOKafkaConsumer) -> None:
        live = self.hub.positions()
        for tp in reader.assignment():
            position = await reader.position(tp)
            self.enqueued_to[tp.partition] = max(self.enqueued_to.get(tp.partition, 0), position)
        # no await from here on: the hand-over to the live consumer is atomic
        if all(self.enqueued_to.get(p, 0) >= o for p, o in live.items()):
            self.spilled = False
            log.info("webhook %s: backlog read; back on the live stream", self.id)
            await self._close_reader()

    async def _close_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            try:
                await reader.stop()
            except (KafkaError, OSError) as exc:
                log.debug("backlog reader stop: %s", exc)

    # -- status -----------------------------------------------------------------
    def status(self, dead_letters: int) -> SubscriberStatus:
        backlog = len(self.queue) + len(self.requeued) + (1 if self.inflight else 0)
        if self.spilled:
            for partition, position in self.enqueued_to.items():
                high = self.hub.highwater(partition)
                if high is not None:
                    backlog += max(0, high - position)
        channel = self.sub.channel
        url = channel.url if isinstance(channel, WebhookChannel) else ""
        return SubscriberStatus(
            subscription_id=self.id, region_id=self.sub.region_id,
            url_host=default_port(url)[0] if url else "", delivered=self.delivered,
            backlog=backlog, last_success_at=self.last_success_at,
            last_error=self.last_error, last_error_at=self.last_error_at,
            circuit=self.breaker.state(self._clock()), dead_letters=dead_letters,
            updated_at=datetime.now(UTC))
