"""The whole detector pipeline, assembled in one place so a reader sees where an alert goes.

    record bytes ─▶ decode+validate ─▶ quality ─▶ grade+track ─▶ alert
                         │                 │
                         ▼                 ▼
                   dead letters        suspect readings (kept, never graded)

`Pipeline.process` is pure given its inputs (records, `now`): no Kafka, no
clock of its own. The worker feeds it batches from Kafka; tests feed it lists
(`run_pipeline(readings) -> alerts`). State changes are returned, not applied,
so the caller adopts them only after the outputs are acknowledged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from detectors import BoundaryRule, StationLevel
from schemas import Alert, Network, Reading
from service.stages.alert import alerts_for_changes
from service.stages.grade import grade_and_track
from service.stages.quality import Suspect, split_by_quality
from service.stages.validate import Rejection, decode_record


@dataclass(frozen=True, slots=True)
class InputRecord:
    """One record from `siaga.readings` (or a test), with where it came from."""

    value: bytes | None
    key: bytes | None = None
    topic: str = ""
    partition: int = -1
    offset: int = -1


@dataclass(frozen=True, slots=True)
class DeadLetter:
    record: InputRecord
    reason: str


@dataclass(slots=True)
class BatchResult:
    readings: list[Reading] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    suspect: list[Suspect] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    state: dict[str, StationLevel] = field(default_factory=dict)


class Pipeline:
    """Holds per-station state between batches; `process` computes, `adopt` commits."""

    def __init__(
        self,
        network: Network,
        boundary_rule: BoundaryRule = "at_or_above",
        max_future_skew: timedelta = timedelta(minutes=5),
    ) -> None:
        self.network = network
        self.boundary_rule: BoundaryRule = boundary_rule
        self.max_future_skew = max_future_skew
        self.state: dict[str, StationLevel] = {}

    def process(self, records: Iterable[InputRecord], now: datetime | None) -> BatchResult:
        """Run one batch. `now` is the wall clock when live; `None` replays history, where
        alerts are issued at their evidence's event time and no reading is "in the future"."""
        result = BatchResult()
        for record in records:
            checked = decode_record(record.value, self.network, now, self.max_future_skew)
            if isinstance(checked, Rejection):
                result.dead_letters.append(DeadLetter(record, checked.reason))
            else:
                result.readings.append(checked)
        usable, result.suspect = split_by_quality(result.readings, self.network)
        changes, result.state = grade_and_track(
            usable, self.network, self.boundary_rule, self.state
        )
        result.alerts = alerts_for_changes(changes, self.network, issued_at=now)
        return result

    def adopt(self, result: BatchResult) -> None:
        """Make the batch's state current; call once its outputs are acknowledged."""
        self.state.update(result.state)

    def restore(self, levels: Mapping[str, StationLevel]) -> None:
        self.state = dict(levels)


def build_pipeline(
    network: Network,
    boundary_rule: BoundaryRule = "at_or_above",
    max_future_skew: timedelta = timedelta(minutes=5),
) -> Pipeline:
    return Pipeline(network, boundary_rule, max_future_skew)


def run_pipeline(
    readings: Iterable[Reading | dict[str, Any] | bytes],
    network: Network,
    *,
    boundary_rule: BoundaryRule = "at_or_above",
    now: datetime | None = None,
) -> list[Alert]:
    """Run readings through a fresh pipeline, one at a time; no broker needed."""
    pipeline = build_pipeline(network, boundary_rule)
    alerts: list[Alert] = []
    for item in readings:
        result = pipeline.process([InputRecord(value=_as_bytes(item))], now=now)
        pipeline.adopt(result)
        alerts.extend(result.alerts)
    return alerts


def _as_bytes(item: Reading | dict[str, Any] | bytes) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, Reading):
        return item.model_dump_json().encode()
    return json.dumps(item).encode()
