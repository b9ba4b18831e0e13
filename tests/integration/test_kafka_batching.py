"""`kafka.send_batched` against the real broker: every record lands once, in order per
partition, where the default partitioner puts its key, by either path."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import ConsumerRecord
from aiokafka.partitioner import DefaultPartitioner

from service import kafka
from service.settings import Settings


def _records(count: int) -> list[kafka.OutRecord]:
    keys = [b"katulampa", b"depok", b"manggarai", b"karet", None]
    out: list[kafka.OutRecord] = []
    for i in range(count):
        headers = [("seq", str(i).encode())] if i % 3 == 0 else []
        out.append((keys[i % len(keys)], f"record {i}".encode(), headers))
    return out


@pytest.mark.parametrize("count", [5, kafka.LINGER_BELOW + 1, 4_000])
async def test_every_record_lands_once_in_order_where_its_key_belongs(
        settings: Settings, count: int) -> None:
    await kafka.ensure_topics(settings)
    topic = settings.alerts_topic
    producer = kafka.producer(settings)
    await producer.start()
    try:
        records = _records(count)
        futures = await kafka.send_batched(producer, topic, records)
        await asyncio.gather(*futures)  # every record or batch acknowledged
        # the big batches go in whole batches: far fewer acknowledgements than records
        assert (len(futures) == count) == (count < kafka.LINGER_BELOW)
    finally:
        await producer.stop()

    seen: dict[int, list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]] = {}

    def keep(r: ConsumerRecord[bytes, bytes]) -> None:
        seen.setdefault(r.partition, []).append(
            (r.key, r.value, [(k, bytes(v)) for k, v in r.headers]))

    await kafka.read_to_end(settings, topic, keep, timeout_s=30)
    assert sum(map(len, seen.values())) == count

    partitions = list(range(settings.alerts_partitions))
    for key, value, headers in records:
        if key is None:
            continue
        expected = DefaultPartitioner()(key, partitions, partitions)
        assert (key, value, headers) in seen[expected]
    for got in seen.values():
        # in the order sent, within each partition
        numbers = [int(value.split()[1]) for _, value, _ in got]
        assert numbers == sorted(numbers)
    assert sorted(int(v.split()[1]) for got in seen.values() for _, v, _ in got) == list(
        range(count))
