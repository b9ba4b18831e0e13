"""A last-value-per-key view of one compacted topic, rebuilt on start and followed live.

In: a topic whose records are keyed (UTF-8) with JSON values of one pydantic
model; a `None` value (tombstone) deletes its key. Out: the current value per
key, the set of keys ever seen (tombstoned ones too), `loaded` once the view
has read to the end of the topic, and `put`, which writes a record (acks=all)
and waits until this view has read it back, so a caller reads its own write.

The embedded broker never compacts (DESIGN.md §7), and Kafka compacts lazily,
so every record is applied in order and the last one per key wins. No consumer
group: every process reads the whole topic. A record that does not parse is
logged and skipped (the key keeps its previous value).

Deliberately not here: what the values mean (see `service.registries`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Generic, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import BaseModel, ValidationError

from service import kafka
from service.background import Background
from service.settings import Settings

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


class CompactedView(Generic[M]):
    def __init__(self, settings: Settings, topic: str, model: type[M]) -> None:
        self.settings = settings
        self.topic = topic
        self.model = model
        self.loaded = asyncio.Event()
        self.connected = False
        self.unreadable = 0
        self._values: dict[str, M] = {}
        self._seen: set[str] = set()
        self._positions: dict[TopicPartition, int] = {}
        self._advanced = asyncio.Condition()
        self._listeners: list[Callable[[str, M | None], None]] = []
        self._loop = Background(f"siaga-view-{topic}", self._run)

    # -- reading ------------------------------------------------------------
    def get(self, key: str) -> M | None:
        return self._values.get(key)

    def values(self) -> list[M]:
        return list(self._values.values())

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def ever_seen(self, key: str) -> bool:
        """True if any record (a tombstone too) ever carried this key."""
        return key in self._seen

    def on_change(self, listener: Callable[[str, M | None], None]) -> None:
        """Call `listener(key, value or None)` for every record applied from now on."""
        self._listeners.append(listener)

    # -- writing ------------------------------------------------------------
    async def put(self, producer: AIOKafkaProducer, key: str, value: M | None,
                  timeout_s: float = 10.0) -> None:
        """Write `value` (None: a tombstone) under `key`, then wait until this view has
        applied it. Raises KafkaError if the broker does not acknowledge in time; if
        only the read-back is slow, returns anyway (the record is durably written)."""
        payload = None if value is None else value.model_dump_json().encode()
        async with asyncio.timeout(timeout_s):
            meta = await producer.send_and_wait(self.topic, key=key.encode(), value=payload)
        tp = TopicPartition(self.topic, meta.partition)
        try:
            async with asyncio.timeout(timeout_s), self._advanced:
                await self._advanced.wait_for(lambda: self._positions.get(tp, 0) > meta.offset)
        except TimeoutError:
            log.warning("%s: wrote %s but did not read it back within %.0f s",
                        self.topic, key, timeout_s)

    # -- following ----------------------------------------------------------
    async def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _run(self) -> None:
        await kafka.follow_forever(self.settings, self._follow, f"view of {self.topic}",
                                   self._disconnected)

    def _disconnected(self) -> None:
        self.connected = False

    async def _follow(self, client: AIOKafkaConsumer) -> None:
        tps = await kafka.partitions_of(client, self.topic)
        client.assign(tps)
        for tp in tps:
            if tp in self._positions:
                client.seek(tp, self._positions[tp])
            else:
                await client.seek_to_beginning(tp)
        self.connected = True
        while True:
            batch = await client.getmany(timeout_ms=200)
            for tp, records in batch.items():
                for record in records:
                    self._apply(record.key, record.value)
                self._positions[tp] = records[-1].offset + 1
            if batch:
                async with self._advanced:
                    self._advanced.notify_all()
            elif not self.loaded.is_set() and await kafka.caught_up(client, tps):
                self.loaded.set()
                log.info("%s loaded: %d keys", self.topic, len(self._values))

    def _apply(self, raw_key: bytes | None, raw_value: bytes | None) -> None:
        if raw_key is None:
            self.unreadable += 1
            log.warning("%s: a record without a key; skipped", self.topic)
            return
        key = raw_key.decode("utf-8", errors="replace")
        value: M | None = None
        if raw_value is not None:
            try:
                value = self.model.model_validate_json(raw_value)
            except ValidationError as exc:
                self.unreadable += 1
                log.warning("%s: record %s does not parse (%s); skipped", self.topic, key,
                            exc.error_count())
                return
        self._seen.add(key)
        if value is None:
            self._values.pop(key, None)
        else:
            self._values[key] = value
        for listener in self._listeners:
            listener(key, value)
