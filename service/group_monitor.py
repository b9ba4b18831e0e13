"""The detector workers' progress as Kafka records it: committed offsets, lag, rate.

Read by the API from the consumer group itself (no worker has to be in the
same process): a consumer that carries the workers' group id but never joins
it asks the group coordinator for the committed offsets every few seconds.
Lag is the readings topic's high watermark (from the API's own fetches) minus
the committed offset.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import suppress

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from service import kafka
from service.background import Background
from service.settings import Settings

log = logging.getLogger(__name__)


class GroupMonitor:
    def __init__(self, settings: Settings, interval_s: float = 2.0) -> None:
        self.settings = settings
        self.interval_s = interval_s
        self.committed: dict[int, int] = {}
        self.rate_per_s: float | None = None
        self.sampled_at: float | None = None  # monotonic
        self._samples: list[tuple[float, int]] = []
        self._loop = Background("siaga-group-monitor", self._run)

    async def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    def lag(self, highwater: dict[int, int]) -> dict[int, int]:
        """Records not yet committed per partition; a partition the group has never
        committed is lag from its start (workers begin at the earliest offset)."""
        return {p: high - self.committed.get(p, 0) for p, high in sorted(highwater.items())}

    async def _run(self) -> None:
        while True:
            # never subscribes: committed() asks the coordinator, it does not join
            client = kafka.consumer(self.settings, group_id=self.settings.worker_group,
                                    enable_auto_commit=False)
            try:
                await client.start()
                tps = await kafka.partitions_of(client, self.settings.readings_topic)
                while True:
                    await self._sample(client, tps)
                    await asyncio.sleep(self.interval_s)
            except (KafkaError, OSError) as exc:
                log.warning("cannot read the workers' committed offsets (%s)", exc)
            finally:
                with suppress(KafkaError, OSError):
                    await client.stop()
            await asyncio.sleep(self.interval_s)

    async def _sample(self, client: AIOKafkaConsumer, tps: list[TopicPartition]
                      ) -> None:
        committed = {}
        for tp in tps:
            offset = await client.committed(tp)
            if offset is not None:
                committed[tp.partition] = offset
        now = time.monotonic()
        self.committed = committed
        self.sampled_at = now
        self._samples = [*self._samples[-14:], (now, sum(committed.values()))]
        first_t, first_total = self._samples[0]
        if now > first_t:
            self.rate_per_s = (self._samples[-1][1] - first_total) / (now - first_t)
