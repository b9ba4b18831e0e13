"""The API's read side: tails `siaga.alerts`, `siaga.readings` and the DLQ from the start.

No consumer group: every API replica reads everything and builds the same
views (alert store, station board, counters). If the broker goes away the
tail reconnects with backoff and resumes from the offsets it had reached.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from schemas import Alert, Network, ReadingIn
from service import kafka
from service.alert_store import AlertStore
from service.background import Background
from service.settings import Settings
from service.station_board import StationBoard

log = logging.getLogger(__name__)


class TopicViews:
    def __init__(
        self, settings: Settings, network: Network, store: AlertStore, board: StationBoard
    ) -> None:
        self.settings = settings
        self.network = network
        self.store = store
        self.board = board
        self.dead_lettered = 0
        self.alert_records = 0
        self.reading_records = 0
        self.unreadable = 0
        self.loaded = asyncio.Event()  # set once the views have caught up after start
        self.connected = False
        self._positions: dict[TopicPartition, int] = {}
        # high watermark of each readings partition, from fetch responses (not
        # end_offsets(), which counts batches on the embedded broker)
        self.readings_highwater: dict[int, int] = {}
        self.last_checkpoint_ms: int | None = None  # newest record time on the changelog
        self._loop = Background("siaga-topic-views", self._run)

    async def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _run(self) -> None:
        await kafka.follow_forever(self.settings, self._follow, "topic views", self._disconnected)

    def _disconnected(self) -> None:
        self.connected = False

    async def _follow(self, client: AIOKafkaConsumer) -> None:
        topics = [self.settings.alerts_topic, self.settings.readings_topic,
                  self.settings.dlq_topic, self.settings.state_topic]
        tps: list[TopicPartition] = []
        for topic in topics:
            tps.extend(await kafka.partitions_of(client, topic))
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
                if tp.topic == self.settings.state_topic:
                    newest = max(r.timestamp for r in records)
                    self.last_checkpoint_ms = max(self.last_checkpoint_ms or 0, newest)
                else:
                    for record in records:
                        self._apply(tp.topic, record.value)
                self._positions[tp] = records[-1].offset + 1
            for tp in tps:
                high = client.highwater(tp)
                if tp.topic == self.settings.readings_topic and high is not None:
                    self.readings_highwater[tp.partition] = high
            if not batch and not self.loaded.is_set() and await kafka.caught_up(client, tps):
                self.loaded.set()
                log.info("views loaded: %d alerts, %d readings", len(self.store),
                         self.board.readings_seen)

    def _apply(self, topic: str, value: bytes | None) -> None:
        if topic == self.settings.dlq_topic:
            self.dead_lettered += 1
            return
        if value is None:
            return
        try:
            if topic == self.settings.alerts_topic:
                self.alert_records += 1
                self.store.add(Alert.model_validate_json(value))
            else:
                self.reading_records += 1
                reading = ReadingIn.model_validate_json(value).normalized()
                if self.network.station(reading.station_id) is not None:
                    self.board.observe(reading)
        except ValidationError:
            # raw gateway records that the worker dead-letters; not for the board
            self.unreadable += 1
