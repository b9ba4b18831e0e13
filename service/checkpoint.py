"""Detector state in the compacted changelog `siaga.state`, keyed by station.

Each record is one station's state (the fixed-size numpy record of
`detectors.state`) with the input position it reflects. A worker writes the
states a batch changed after the batch's alerts are acknowledged and before it
commits the offsets; on start and on every partition assignment it reads the
changelog to the end (last value wins: the embedded broker does not compact)
and restores every station from it before it processes a record.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import ConsumerRecord

from detectors.state import STATE_DTYPE
from service import kafka
from service.settings import Settings

log = logging.getLogger(__name__)

# a checkpoint written by another state layout must never be loaded into this one
LAYOUT = hashlib.sha256(repr(STATE_DTYPE.descr).encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    station_id: str
    state: bytes
    partition: int
    offset: int  # the next offset to read on `partition` when this state was taken


def encode(checkpoint: Checkpoint) -> tuple[bytes, list[tuple[str, bytes]]]:
    """(value, headers): the raw state record, described by headers (cheap to write
    every second for every changed station)."""
    return checkpoint.state, [
        ("siaga-layout", LAYOUT.encode()),
        ("siaga-station", checkpoint.station_id.encode()),
        ("siaga-input", f"{checkpoint.partition}/{checkpoint.offset}".encode()),
    ]


def decode(value: bytes | None, headers: Sequence[tuple[str, bytes]]) -> Checkpoint | None:
    """A checkpoint, or None for a tombstone, another layout or an unreadable record."""
    meta = dict(headers)
    if value is None or meta.get("siaga-layout") != LAYOUT.encode():
        return None
    if len(value) != STATE_DTYPE.itemsize:
        return None
    try:
        partition, offset = meta["siaga-input"].decode().split("/")
        return Checkpoint(meta["siaga-station"].decode(), value, int(partition), int(offset))
    except (KeyError, ValueError, UnicodeDecodeError):
        return None


async def read_changelog(settings: Settings) -> dict[str, Checkpoint]:
    """The newest checkpoint of every station, read to the high watermark."""
    latest: dict[str, Checkpoint] = {}
    skipped = 0

    def keep(record: ConsumerRecord[bytes, bytes]) -> None:
        nonlocal skipped
        checkpoint = decode(record.value, record.headers)
        if checkpoint is None:
            skipped += 1
        else:
            latest[checkpoint.station_id] = checkpoint

    await kafka.read_to_end(settings, settings.state_topic, keep)
    if skipped:
        log.warning("skipped %d unreadable or foreign-layout checkpoints", skipped)
    return latest
