"""Kafka plumbing shared by ingest, the worker and the API's views.

Only what the Kafka protocol guarantees is used, so the same code runs on the
embedded Tansu broker and on Apache Kafka. Where Tansu differs (DESIGN.md §7):
`end_offsets()` counts batches there, so "read to the end" uses the fetch
response's high watermark instead; compaction is not performed, so compacted
topics are read last-value-wins.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from functools import lru_cache
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context
from aiokafka.partitioner import murmur2

from service.settings import Settings

log = logging.getLogger(__name__)

KEEP_TOMBSTONES_MS = 100 * 365 * 24 * 3600 * 1000  # a century: Kafka has no "forever" here


def _security(settings: Settings) -> dict[str, Any]:
    """SASL/TLS options for every client, only when configured (the embedded broker has none)."""
    options: dict[str, Any] = dict(settings.kafka_security())
    if str(options.get("security_protocol", "")).endswith("SSL"):
        options["ssl_context"] = create_ssl_context()
    return options


@lru_cache(maxsize=65_536)
def _key_hash(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF


def partition_for_key(key: bytes | None, all_partitions: Sequence[int],
                      available: Sequence[int]) -> int:
    """Kafka's default partitioner (murmur2 of the key, as the Java client and aiokafka
    compute it), with the hash remembered: keys are station, region and basin ids,
    a few thousand at most, and the pure-Python murmur2 was 40% of a send."""
    if key is None:
        return random.choice(available or all_partitions)  # spreading load, not a secret
    return all_partitions[_key_hash(key) % len(all_partitions)]


def producer(settings: Settings, **overrides: Any) -> AIOKafkaProducer:
    """A producer that waits for all in-sync replicas: "accepted" means durably written."""
    config: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap(),
        "acks": "all",
        "enable_idempotence": settings.idempotence(),
        "linger_ms": settings.kafka_linger_ms,
        "request_timeout_ms": settings.kafka_request_timeout_ms,
        # zstd: alert JSON to a tenth of its size at 2 µs an alert; lz4 took 4.8 µs for
        # a seventh, gzip 12 µs (measured on the worker's own alerts)
        "compression_type": "zstd",
        # aiokafka holds one open batch per partition and, once it is full, makes the
        # next send wait for it to go out: with the default 16 KiB (ten alerts) a burst
        # of alerts waited on a round trip every ten; 256 KiB of JSON is ~25 KiB in zstd
        "max_batch_size": 256 * 1024,
        "partitioner": partition_for_key,
        "client_id": "siaga",
        **_security(settings),
    }
    config.update(overrides)
    return AIOKafkaProducer(**config)


OutRecord = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]  # key, value, headers


# below this many records for a topic, `send_batched` lets the producer linger instead
LINGER_BELOW = 256


async def send_batched(producer: AIOKafkaProducer, topic: str, records: Sequence[OutRecord]
                       ) -> list[asyncio.Future[Any]]:
    """Produce records in order per partition, batched by volume.

    Many records (a backlog): as whole batches, one per partition (more when one
    fills up). Per record this costs a fifth of `send()` (no future, no metadata
    wait, no partitioner call of its own), and a closed batch goes out at once.
    A few records (live traffic): through `send()`, so they linger and share a
    batch with the next few: a broker pays per stored batch (the embedded one
    more with every batch a partition holds, DESIGN.md §7). The two paths keep
    order, since aiokafka sends a partition's batches one after another.
    Partitions are chosen as `send()` chooses them. Each future acknowledges one
    record or one batch.
    """
    if len(records) < LINGER_BELOW:
        return [await producer.send(topic, value, key=key, headers=headers)
                for key, value, headers in records]
    partitions = sorted(await producer.partitions_for(topic))
    by_partition: dict[int, list[OutRecord]] = {}
    for record in records:
        p = partition_for_key(record[0], partitions, partitions)
        by_partition.setdefault(p, []).append(record)
    futures: list[asyncio.Future[Any]] = []
    for p, items in by_partition.items():
        batch = producer.create_batch()
        for key, value, headers in items:
            if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                futures.append(await _submit(producer, batch, topic, p))
                batch = producer.create_batch()
                batch.append(key=key, value=value, timestamp=None, headers=headers)  # first fits
        futures.append(await _submit(producer, batch, topic, p))
        await asyncio.sleep(0)  # a partition at a time: a big write must not stall the loop
    return futures


async def _submit(producer: AIOKafkaProducer, batch: Any, topic: str, partition: int
                  ) -> asyncio.Future[Any]:
    batch.close()  # closed: sent without lingering
    future: asyncio.Future[Any] = await producer.send_batch(batch, topic, partition=partition)
    return future


def consumer(settings: Settings, *topics: str, **overrides: Any) -> AIOKafkaConsumer:
    config: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap(),
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "fetch_max_wait_ms": settings.kafka_fetch_max_wait_ms,
        "session_timeout_ms": settings.kafka_session_timeout_ms,
        "heartbeat_interval_ms": settings.kafka_heartbeat_interval_ms,
        "request_timeout_ms": max(settings.kafka_request_timeout_ms, 40_000),
        "client_id": "siaga",
        **_security(settings),
    }
    config.update(overrides)
    return AIOKafkaConsumer(*topics, **config)


def admin_client(settings: Settings) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap(),
        request_timeout_ms=settings.kafka_request_timeout_ms,
        client_id="siaga",
        **_security(settings),
    )


async def ensure_topics(settings: Settings) -> None:
    """Create siaga's topics if they are missing; existing ones are left alone."""
    rf = settings.replication_factor
    wanted = [
        NewTopic(settings.readings_topic, settings.readings_partitions, rf),
        NewTopic(settings.dlq_topic, settings.readings_partitions, rf),
        NewTopic(settings.station_events_topic, settings.readings_partitions, rf),
        NewTopic(settings.alerts_topic, settings.alerts_partitions, rf),
        NewTopic(settings.state_topic, settings.readings_partitions, rf,
                 topic_configs={"cleanup.policy": "compact"}),
        # one partition each: a small registry read whole by every process, in order
        NewTopic(settings.topic("subscriptions"), 1, rf,
                 topic_configs={"cleanup.policy": "compact",
                                # a deleted default subscription is a tombstone that
                                # must outlive compaction, else it comes back on start
                                "delete.retention.ms": str(KEEP_TOMBSTONES_MS)}),
        NewTopic(settings.topic("silences"), 1, rf,
                 topic_configs={"cleanup.policy": "compact"}),
        NewTopic(settings.topic("acks"), 1, rf,
                 topic_configs={"cleanup.policy": "compact"}),
        # webhook delivery (service/delivery): dead letters, cursors, status
        *(NewTopic(settings.topic(name), 1, rf, topic_configs={"cleanup.policy": "compact"})
          for name in ("deliveries", "delivery-progress", "delivery-status")),
    ]
    admin = admin_client(settings)
    # aiokafka's timeouts are per request: bound the whole call (connect, list, create)
    async with asyncio.timeout(settings.kafka_request_timeout_ms / 1000 * 3):
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [t for t in wanted if t.name not in existing]
            if missing:
                try:
                    await admin.create_topics(missing)
                except TopicAlreadyExistsError:
                    pass  # another replica created them first
                log.info("created topics %s", ", ".join(t.name for t in missing))
        finally:
            await admin.close()


async def follow_forever(settings: Settings, follow: Callable[[AIOKafkaConsumer], Awaitable[None]],
                         what: str, disconnected: Callable[[], None]) -> None:
    """Run `follow` on a fresh group-less consumer, and again, with backoff, each time the
    broker is lost; `disconnected` is told every time. Returns only when cancelled."""
    backoff = 0.5
    while True:
        client = consumer(settings, group_id=None, max_poll_records=5_000)
        try:
            await client.start()
            await follow(client)
        except (KafkaError, OSError) as exc:
            log.warning("%s lost the broker (%s); retrying in %.1f s", what, exc, backoff)
        finally:
            disconnected()
            with suppress(KafkaError, OSError):
                await client.stop()
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, 15.0)


async def partitions_of(client: AIOKafkaConsumer, topic: str, timeout_s: float = 10.0) -> list[
    TopicPartition
]:
    """All partitions of a topic, waiting for metadata to name them."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        parts = client.partitions_for_topic(topic)
        if parts:
            return [TopicPartition(topic, p) for p in sorted(parts)]
        if asyncio.get_running_loop().time() > deadline:
            raise KafkaError(f"no partitions known for topic {topic}")
        # aiokafka has no public call to refresh metadata for topics not subscribed
        await client._client.force_metadata_update()
        await asyncio.sleep(0.1)


async def caught_up(client: AIOKafkaConsumer, tps: Sequence[TopicPartition]) -> bool:
    """True once every partition's position has reached the fetched high watermark.

    Tansu's `end_offsets()` is wrong after batched produces; the high
    watermark from a fetch response is right on both brokers.
    """
    for tp in tps:
        high = client.highwater(tp)
        if high is None:
            return False
        if await client.position(tp) < high:
            return False
    return True


async def read_to_end(settings: Settings, topic: str,
                      handle: Callable[[ConsumerRecord[bytes, bytes]], None],
                      timeout_s: float = 120.0) -> None:
    """Feed every record of `topic`, from the start to the high watermark, to `handle`.

    Bounded in time: a broker that vanishes mid-read raises a (retriable) KafkaError
    instead of waiting forever.
    """
    client = consumer(settings, group_id=None, max_poll_records=5_000)
    try:
        async with asyncio.timeout(timeout_s):
            # inside the try: a start that cannot reach the broker must still close it
            await client.start()
            tps = await partitions_of(client, topic)
            client.assign(tps)
            await client.seek_to_beginning(*tps)
            while True:
                batch = await client.getmany(timeout_ms=200, max_records=5_000)
                for records in batch.values():
                    for record in records:
                        handle(record)
                if not batch and await caught_up(client, tps):
                    return
    except TimeoutError as exc:
        raise KafkaError(f"could not read {topic} to its end in {timeout_s:g} s") from exc
    finally:
        await client.stop()
