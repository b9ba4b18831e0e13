"""The detector worker: `siaga.readings` in; dead letters, alerts and state out.

Each alert goes to `siaga.alerts` (the gauge's own region hears at once) and,
keyed by basin, to `siaga.station-events` for the router
(`service.router_worker`), which adds what needs more than one gauge.

One consumer in the group `SIAGA_WORKER_GROUP`; partitions are keyed by
station, so a station's readings stay in order on one worker. Per batch:
fetch → pipeline → hand alerts and dead letters to the producer (batched,
not awaited one batch at a time) → adopt the new state. At most every
`SIAGA_CHECKPOINT_INTERVAL_S` (and before partitions are given up, and at
stop) the worker waits for every output to be acknowledged, then writes the
states the batches changed to the compacted `siaga.state`, and only once
those are acknowledged commits the input offsets.

A crash anywhere means the input since the last commit is read again, on the
state of the last checkpoint; alert ids are derived from content, so the same
ids come out again and the API (and every subscriber) keeps each id once. A
failed write is handled the same way without a restart: the worker restores
the last checkpoint and reads on from the last commit.
Transactions would make the three writes atomic on Apache Kafka, but the
embedded broker has none, and deterministic ids make them unnecessary.

`run(burst=True)` returns once the worker has caught up with the topic, which
makes integration tests deterministic (arq's burst mode).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import chain
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

from detectors import export_station, import_station
from detectors.state import new_state
from schemas import Network
from service import checkpoint, kafka
from service.auth import TokenRegistry
from service.dead_letters import dead_letter_record
from service.pipeline import BatchResult, Pipeline, build_pipeline
from service.restore import levels_from_alerts
from service.settings import Settings
from service.stages.decode import DecodedBatch

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0
# outputs awaiting acks before the worker stops to checkpoint: bounds memory when the
# broker is slow (backpressure), alongside the producer's own bounded buffer
MAX_INFLIGHT = 50_000

_Fetched = tuple[list[Any], DecodedBatch]  # a partition's records, decoded


@dataclass(slots=True)
class WorkerStats:
    readings: int = 0
    dead_lettered: int = 0
    suspect: int = 0
    alerts: int = 0
    batches: int = 0
    errors: int = 0
    restored_states: int = 0
    last_checkpoint_monotonic: float | None = None
    started_monotonic: float = field(default_factory=time.monotonic)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, revoked: Callable[[], Awaitable[None]],
                 assigned: Callable[[], Awaitable[None]]) -> None:
        self._revoked = revoked
        self._assigned = assigned

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self._revoked()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self._assigned()


class DetectorWorker:
    """`start()`/`stop()` or `async with DetectorWorker(...) as worker: await worker.run()`."""

    def __init__(
        self,
        settings: Settings,
        network: Network,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        registry: TokenRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.network = network
        self.clock = clock
        self.registry = registry or TokenRegistry.from_sources(
            settings.tokens, settings.tokens_file, network
        )
        self.pipeline: Pipeline = build_pipeline(
            network, settings.detector_settings(), timedelta(seconds=settings.max_future_skew_s),
            self.registry,
        )
        self.stats = WorkerStats()
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        # the changelog has a producer of its own: a checkpoint's burst of state records
        # must not queue in front of the next batch's alerts (p99 latency)
        self._state_producer: AIOKafkaProducer | None = None
        self._stopping = asyncio.Event()
        self._running: asyncio.Task[None] | None = None
        # processing and rebalancing never interleave (aiokafka's own advice)
        self._lock = asyncio.Lock()
        self._pending: dict[TopicPartition, int] = {}  # processed, not yet committed
        self._dirty: set[int] = set()  # stations changed since the last checkpoint
        self._inflight: list[asyncio.Future[Any]] = []  # outputs not yet acknowledged
        self._checkpointing: asyncio.Task[None] | None = None
        self._failed_checkpoint: KafkaError | None = None
        self._healthy = True
        self._needs_restore = False  # never grade on a half-restored state

    @property
    def ready(self) -> bool:
        """Assigned partitions and no broker trouble in the last batch."""
        return self._healthy and self._consumer is not None and bool(
            self._consumer.assignment())

    async def start(self) -> None:
        if self._consumer is not None:
            return
        self._producer = kafka.producer(self.settings, linger_ms=self.settings.worker_linger_ms)
        await self._producer.start()
        self._state_producer = kafka.producer(self.settings,
                                              linger_ms=self.settings.worker_linger_ms)
        await self._state_producer.start()
        self._consumer = kafka.consumer(
            self.settings, group_id=self.settings.worker_group,
            max_poll_records=self.settings.worker_batch_max,
        )
        self._consumer.subscribe(
            [self.settings.readings_topic], listener=_Rebalance(self._revoked, self._assigned)
        )
        await self._consumer.start()

    async def stop(self) -> None:
        """Finish the batch in hand, checkpoint, commit, leave the group. Safe twice."""
        self._stopping.set()
        if self._running is not None and self._running is not asyncio.current_task():
            await asyncio.gather(self._running, return_exceptions=True)
        if self._consumer is not None and self._producer is not None:
            try:
                async with self._lock:
                    await self._checkpoint()
            except KafkaError as exc:
                log.warning("final checkpoint failed (%s); the next owner re-reads", exc)
        consumer, self._consumer = self._consumer, None
        producers = (self._producer, self._state_producer)
        self._producer = self._state_producer = None
        if consumer is not None:
            await consumer.stop()
        for producer in producers:
            if producer is not None:
                await producer.stop()

    async def __aenter__(self) -> DetectorWorker:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def run(self, *, burst: bool = False) -> None:
        """Process batches until `stop()`; with `burst`, until caught up with the topic."""
        if self._consumer is None:
            raise RuntimeError("DetectorWorker.run() before start()")
        self._running = asyncio.current_task()
        backoff = 0.5
        try:
            while not self._stopping.is_set():
                try:
                    done = await self._step(burst)
                except KafkaError as exc:
                    self.stats.errors += 1
                    self._healthy = False
                    log.warning("batch failed (%s); retrying in %.1f s", exc, backoff)
                    await asyncio.sleep(backoff)
                    try:
                        async with self._lock:
                            await self._recover()
                    except KafkaError as again:
                        log.warning("recovery failed too (%s); trying again", again)
                    backoff = min(backoff * 2, MAX_BACKOFF_S)
                    continue
                self._healthy = True
                backoff = 0.5
                if done:
                    return
        finally:
            self._running = None

    async def _step(self, burst: bool) -> bool:
        consumer = self._consumer
        if consumer is None:
            return True
        self._raise_failed_checkpoint()
        if self._needs_restore:
            async with self._lock:
                await self._restore()
        batch = await self._fetch(consumer)
        async with self._lock:
            if not batch:
                assigned = list(consumer.assignment())
                idle = bool(assigned) and await kafka.caught_up(consumer, assigned)
                if idle:
                    await self._caught_up(assigned)
                elif self._checkpoint_due():
                    await self._checkpoint()
                return burst and idle
            # all partitions at once: the engine's rounds then span every station fetched
            parts = [batch[tp] for tp in sorted(batch, key=lambda t: t.partition)]
            records = list(chain.from_iterable(recs for recs, _ in parts))
            decoded = DecodedBatch.joined([(part, len(recs)) for recs, part in parts])
            result = self.pipeline.process(records, now=self.clock(), decoded=decoded)
            await self._publish_and_adopt(result)
            for tp, (recs, _) in batch.items():
                self._pending[tp] = recs[-1].offset + 1
            self._count(result)
            if burst:
                assigned = list(consumer.assignment())
                if await kafka.caught_up(consumer, assigned):
                    await self._caught_up(assigned)  # done: no need to wait for an empty fetch
                    return True
            if len(self._inflight) > MAX_INFLIGHT:
                await self._checkpoint()  # backpressure: wait for the broker to catch up
            elif self._checkpoint_due():
                await self._checkpoint(wait=False)
            return False

    async def _fetch(self, consumer: AIOKafkaConsumer) -> dict[TopicPartition, _Fetched]:
        """Up to `worker_batch_max` records, shared out over the assigned partitions,
        each partition's records with what the decode stage made of them.

        A fetch drains one partition first, so a batch of a backlog would hold one
        partition's few stations many times over, and the engine would go through it
        in many small rounds; taking a share of each partition keeps rounds wide.
        Each share is decoded as soon as it is fetched, while its records are still in
        the CPU's cache: a backlog went 1.07× faster than decoding the whole batch later.
        """
        assigned = sorted(consumer.assignment(), key=lambda tp: tp.partition)
        share = max(1, self.settings.worker_batch_max // max(1, len(assigned)))
        batch: dict[TopicPartition, _Fetched] = {}

        def decode(fetched: dict[TopicPartition, list[Any]]) -> None:
            now = self.clock()
            for tp, records in fetched.items():
                batch[tp] = (records, self.pipeline.decode(records, now))

        decode(await consumer.getmany(timeout_ms=200, max_records=share))
        # fewer than a share: that was everything fetched so far (live traffic)
        if sum(len(records) for records, _ in batch.values()) >= share:
            for tp in assigned:
                if tp not in batch:
                    decode(await consumer.getmany(tp, timeout_ms=0, max_records=share))
        return batch

    async def _caught_up(self, assigned: list[TopicPartition]) -> None:
        if self.settings.stale_wall_clock:
            await self._tick(assigned)
        await self._checkpoint()

    async def _tick(self, assigned: list[TopicPartition]) -> None:
        """Caught up: judge this worker's silent gauges by the wall clock."""
        result = self.pipeline.tick(self.clock(), [tp.partition for tp in assigned])
        if result.alerts:
            await self._publish_and_adopt(result)
            self.stats.alerts += len(result.alerts)

    async def _publish_and_adopt(self, result: BatchResult) -> None:
        """Hand the outputs to the producer and go on; acks are awaited at the checkpoint."""
        self._dirty |= self.pipeline.changed_stations(result)
        self.pipeline.adopt(result)
        self._inflight.extend(await self._publish(result))

    def _checkpoint_due(self) -> bool:
        last = self.stats.last_checkpoint_monotonic or self.stats.started_monotonic
        return time.monotonic() - last >= self.settings.checkpoint_interval_s

    async def _checkpoint(self, *, wait: bool = True) -> None:
        """Outputs acknowledged → changed states to the changelog, acknowledged → commit.

        The snapshot (states, offsets, outputs in flight) is taken at once; the
        writing runs beside the processing unless `wait`. One at a time, in order.
        """
        running = self._checkpointing
        if running is not None and not running.done():
            if not wait:
                return
            await running
        self._raise_failed_checkpoint()
        consumer = self._consumer
        if consumer is None or self._producer is None or not (self._pending or self._dirty):
            return
        groups = self.pipeline.engine.groups
        topic = self.settings.readings_topic
        states = []
        for index in sorted(self._dirty):
            partition = int(groups[index])
            offset = self._pending.get(TopicPartition(topic, partition), -1)
            states.append(checkpoint.Checkpoint(
                self.pipeline.table.ids[index], export_station(self.pipeline.engine.state, index),
                partition, offset))
        mine = consumer.assignment()
        offsets = {tp: OffsetAndMetadata(o, "") for tp, o in self._pending.items() if tp in mine}
        inflight, self._inflight = self._inflight, []
        self._pending.clear()
        self._dirty.clear()
        task = asyncio.create_task(self._write_checkpoint(inflight, states, offsets))
        self._checkpointing = task
        if wait:
            await task
            self._raise_failed_checkpoint()

    async def _write_checkpoint(self, inflight: list[asyncio.Future[Any]],
                                states: list[checkpoint.Checkpoint],
                                offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        consumer, producer = self._consumer, self._state_producer
        try:
            if consumer is None or producer is None:
                raise KafkaError("worker stopped during a checkpoint")
            if inflight:
                await asyncio.gather(*inflight)  # a failed output raises: nothing committed
            records: list[kafka.OutRecord] = []
            for c in states:
                value, headers = checkpoint.encode(c)
                records.append((c.station_id.encode(), value, headers))
            # a thousand states go as a few whole batches (a fifth of send()'s time per
            # record); send_batched yields between partitions, so batches go on meanwhile
            futures = await kafka.send_batched(producer, self.settings.state_topic, records)
            if futures:
                await asyncio.gather(*futures)
            if offsets:
                await consumer.commit(offsets)
        except KafkaError as exc:
            self._failed_checkpoint = exc
            return
        self.stats.last_checkpoint_monotonic = time.monotonic()

    def _raise_failed_checkpoint(self) -> None:
        failed, self._failed_checkpoint = self._failed_checkpoint, None
        if failed is not None:
            raise failed

    async def _revoked(self) -> None:
        """Before partitions go to another worker: hand over the state through the log."""
        async with self._lock:
            try:
                await self._checkpoint()
            except KafkaError as exc:
                # the new owner re-reads from the last commit: same ids, nothing lost
                log.warning("checkpoint before rebalance failed (%s)", exc)
                self._forget_uncommitted()

    async def _assigned(self) -> None:
        """Before the first record of new partitions: restore every station's state."""
        async with self._lock:
            consumer = self._consumer
            if consumer is not None:
                parts = consumer.partitions_for_topic(self.settings.readings_topic)
                self.pipeline.station_partitions(len(parts) if parts else 1)
            try:
                await self._restore()
            except KafkaError as exc:
                # _step retries it before it grades anything
                log.warning("restoring state failed (%s); will retry", exc)

    async def _restore(self) -> None:
        self._needs_restore = True
        engine = self.pipeline.engine
        engine.state[:] = new_state(len(engine.table))
        if not self.settings.restore_state:
            self._needs_restore = False
            return  # a replay from scratch: grade everything anew
        changelog = await checkpoint.read_changelog(self.settings)
        if not changelog and await self._input_committed():
            # a deployment older than the changelog: the issued alerts are all there is.
            # Never beside a changelog: alerts of batches not yet committed are ahead of
            # the input about to be re-read, and would make it look late.
            self.pipeline.restore(await levels_from_alerts(self.settings, self.network))
        restored = 0
        for station_id, saved in changelog.items():
            index = self.pipeline.table.index.get(station_id)
            if index is not None:
                import_station(engine.state, index, saved.state)
                restored += 1
        self.stats.restored_states = restored
        self._needs_restore = False
        log.info("restored the state of %d stations from %s", restored,
                 self.settings.state_topic)

    async def _input_committed(self) -> bool:
        consumer = self._consumer
        if consumer is None:
            return False
        for tp in consumer.assignment():
            if await consumer.committed(tp):
                return True
        return False

    def _forget_uncommitted(self) -> None:
        for future in self._inflight:
            future.cancel()
        self._inflight.clear()
        self._pending.clear()
        self._dirty.clear()
        self._failed_checkpoint = None

    async def _recover(self) -> None:
        """After a failed write: back to the last checkpoint and the last commit, as a
        restarted worker would be; reading on re-emits the same ids."""
        running = self._checkpointing
        if running is not None:
            await asyncio.gather(running, return_exceptions=True)
        self._forget_uncommitted()
        await self._restore()
        await self._rewind()

    async def _publish(self, result: BatchResult) -> list[asyncio.Future[Any]]:
        producer = self._producer
        if producer is None:
            raise RuntimeError("worker stopped")
        dead_letters: list[kafka.OutRecord] = []
        for dead in result.dead_letters:
            rec = dead.record
            value, key, headers = dead_letter_record(dead, self.settings.dlq_max_value_bytes)
            dead_letters.append((key, value, headers))
            log.info("dead-lettered %s/%s/%s: %s", rec.topic, rec.partition, rec.offset,
                     dead.reason)
        alerts: list[kafka.OutRecord] = []
        events: list[kafka.OutRecord] = []
        for alert in result.alerts:
            alerts.append((alert.region_id.encode(), alert.json, []))
            # the router's input: a basin's events stay in order on one partition
            events.append((alert.basin.encode(), alert.json, []))
        if alerts and log.isEnabledFor(logging.DEBUG):
            log.debug("%d alerts: %s", len(alerts), ", ".join(a.id for a in result.alerts))
        return [
            *await kafka.send_batched(producer, self.settings.dlq_topic, dead_letters),
            *await kafka.send_batched(producer, self.settings.alerts_topic, alerts),
            *await kafka.send_batched(producer, self.settings.station_events_topic, events),
        ]

    async def _rewind(self) -> None:
        """Back to the last committed offsets, to read on from there."""
        consumer = self._consumer
        if consumer is None:
            return
        for tp in consumer.assignment():
            try:
                committed = await consumer.committed(tp)
            except KafkaError:
                return  # the next successful fetch after a rejoin resets positions anyway
            if committed is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, committed)

    def _count(self, result: BatchResult) -> None:
        self.stats.readings += result.accepted
        self.stats.dead_lettered += len(result.dead_letters)
        self.stats.suspect += len(result.suspect)
        self.stats.alerts += len(result.alerts)
        self.stats.batches += 1
