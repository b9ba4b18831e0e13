"""The whole detector pipeline, assembled in one place so a reader sees where an alert goes.

    record bytes ─▶ decode+validate ─▶ scope ─▶ detect (quality → hysteresis → trend → rainfall)
                         │                 │            └─▶ staleness by event time
                         ▼                 ▼
                   dead letters     suspect readings (kept, never graded) + events ─▶ alerts
                                                                                       │
    (router, `service.routing`; its own role over `siaga.station-events`)              ▼
        predicted alerts for the regions downstream, their updates and cancels, reminders

`Pipeline.process` is pure given its inputs (records, `now`): no Kafka, no
clock of its own. The worker feeds it batches from Kafka; tests feed it lists
(`run_pipeline(readings) -> alerts`). The detector state is updated in place;
`rollback(result)` undoes a batch whose outputs could not be written, so it
can be processed again from the same state.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any, Protocol

import numpy as np

from detectors import BatchVerdict, DetectorEngine, DetectorSettings, StationTable
from schemas import Alert, Network, Reading
from service import kafka
from service.auth import TokenRegistry
from service.routing import Router, RouterSettings
from service.stages.alert import IssuedAlert, alerts_for_events
from service.stages.decode import BatchDecoder, DecodedBatch
from service.stages.detect import Suspect, detect
from service.stages.scope import Headers, out_of_scope

_VALUE, _HEADERS = attrgetter("value"), attrgetter("headers")


class RecordLike(Protocol):
    """A record from `siaga.readings`: an `InputRecord`, or aiokafka's `ConsumerRecord`
    as it comes (a copy of each would cost as much as grading it)."""

    @property
    def value(self) -> bytes | None: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def headers(self) -> Headers: ...


@dataclass(frozen=True, slots=True)
class InputRecord:
    """One record from `siaga.readings` (or a test), with where it came from."""

    value: bytes | None
    key: bytes | None = None
    topic: str = ""
    partition: int = -1
    offset: int = -1
    headers: Headers = ()


@dataclass(frozen=True, slots=True)
class DeadLetter:
    record: RecordLike
    reason: str


@dataclass(frozen=True, slots=True)
class RestoredLevel:
    """A station's level as the alerts already issued say it is."""

    level: int
    observed_at: datetime
    value: float


@dataclass(slots=True)
class BatchResult:
    accepted: int = 0  # readings graded (suspect ones included)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    suspect: list[Suspect] = field(default_factory=list)
    alerts: list[IssuedAlert] = field(default_factory=list)
    verdicts: list[BatchVerdict] = field(default_factory=list)


class Pipeline:
    def __init__(
        self,
        network: Network,
        settings: DetectorSettings | None = None,
        max_future_skew: timedelta = timedelta(minutes=5),
        registry: TokenRegistry | None = None,
    ) -> None:
        self.network = network
        self.table = StationTable.from_network(network, settings or DetectorSettings())
        self.engine = DetectorEngine(self.table)
        self.decoder = BatchDecoder(network, self.table, max_future_skew)
        self.registry = registry

    def decode(self, records: Sequence[RecordLike], now: datetime | None) -> DecodedBatch:
        """The decode stage alone (`process` runs it unless given its result)."""
        return self.decoder.decode(list(map(_VALUE, records)), now)

    def process(self, records: Sequence[RecordLike], now: datetime | None,
                decoded: DecodedBatch | None = None) -> BatchResult:
        """Run one batch. `now` is the wall clock when live; `None` replays history, where
        alerts are issued at their evidence's event time and no reading is "in the future".
        `decoded`: what `decode` made of these records, if it already ran."""
        result = BatchResult()
        if decoded is None:
            decoded = self.decode(records, now)
        # a direct Kafka writer names no gateway: then there is no scope to check
        if self.registry is not None and any(map(_HEADERS, records)):
            decoded = out_of_scope(decoded, list(map(_HEADERS, records)), self.table.ids,
                                   self.registry)
        result.dead_letters = [DeadLetter(records[i], reason)
                               for i, reason in sorted(decoded.rejected)]
        result.accepted = len(decoded)
        if len(decoded):
            # staleness by event time is judged inside, per group (Kafka partition)
            verdict, result.suspect = detect(decoded, self.table.ids, self.engine)
            result.verdicts.append(verdict)
        events = [e for v in result.verdicts for e in v.events]
        result.alerts = alerts_for_events(events, self.network, self.table, issued_at=now)
        return result

    def tick(self, now: datetime, partitions: Iterable[int] | None = None) -> BatchResult:
        """Staleness by the wall clock, for a worker that is caught up and idle; only
        the stations of `partitions` (the ones this worker owns), default all."""
        among = None
        if partitions is not None:
            among = np.isin(self.engine.groups, np.fromiter(partitions, np.int64))
        verdict = self.engine.check_stale(now.timestamp(), among)
        return BatchResult(
            alerts=alerts_for_events(verdict.events, self.network, self.table, issued_at=now),
            verdicts=[verdict],
        )

    def changed_stations(self, result: BatchResult) -> set[int]:
        """Indexes of the stations whose state this (not yet adopted) batch changed."""
        return {int(i) for v in result.verdicts for rows, _ in v.undo for i in rows.tolist()}

    def station_partitions(self, partitions: int) -> None:
        """Group stations by the Kafka partition their key hashes to (murmur2, as every
        Kafka client's default partitioner does), for staleness by event time."""
        every = range(partitions)
        groups = np.array([kafka.partition_for_key(s.encode(), every, every)
                           for s in self.table.ids], dtype=np.int64)
        self.engine.set_groups(groups)

    def adopt(self, result: BatchResult) -> None:
        """The batch's outputs are written: its state changes stand."""
        result.verdicts.clear()

    def rollback(self, result: BatchResult) -> None:
        """The batch's outputs were not written: undo its state changes."""
        for verdict in reversed(result.verdicts):
            self.engine.rollback(verdict)
        result.verdicts.clear()

    def restore(self, levels: Mapping[str, RestoredLevel]) -> None:
        """Take over the levels the issued alerts show, e.g. after a restart."""
        state = self.engine.state
        for station_id, restored in levels.items():
            i = self.table.index.get(station_id)
            if i is None:
                continue
            t = restored.observed_at.timestamp()
            state["level"][i] = restored.level
            state["level_t"][i] = t
            state["level_value"][i] = restored.value
            if not state["last_t"][i] >= t:
                state["last_t"][i] = t
                state["valid_t"][i] = t
                state["valid_v"][i] = restored.value


def build_pipeline(
    network: Network,
    settings: DetectorSettings | None = None,
    max_future_skew: timedelta = timedelta(minutes=5),
    registry: TokenRegistry | None = None,
) -> Pipeline:
    """`registry`: check the gateway each record names (the worker); tests may leave it out."""
    return Pipeline(network, settings, max_future_skew, registry)


def run_pipeline(
    readings: Iterable[Reading | dict[str, Any] | bytes],
    network: Network,
    *,
    settings: DetectorSettings | None = None,
    router: RouterSettings | None = None,
    route: bool = True,
    now: datetime | None = None,
    batch_size: int = 1_000,
) -> list[Alert]:
    """Run readings through a fresh pipeline in batches, then the router (as the worker
    and the router role do over Kafka); no broker needed. `route=False`: the
    detector stage alone, each gauge alerting its own region."""
    pipeline = build_pipeline(network, settings)
    routing = Router(network, router) if route else None
    records = [InputRecord(value=_as_bytes(item)) for item in readings]
    alerts: list[Alert] = []
    for start in range(0, len(records), batch_size):
        result = pipeline.process(records[start : start + batch_size], now=now)
        pipeline.adopt(result)
        issued = [a.model() for a in result.alerts]
        alerts.extend(issued)
        if routing is not None:
            alerts.extend(routing.process(issued, now))
    if routing is not None:
        alerts.extend(routing.flush(now))
    return alerts


def _as_bytes(item: Reading | dict[str, Any] | bytes) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, Reading):
        return item.model_dump_json().encode()
    return json.dumps(item).encode()
