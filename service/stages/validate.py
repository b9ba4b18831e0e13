"""Validate one reading against the contract and the network.

Used by HTTP ingest and by the worker alike: a record is never trusted
because it came through Kafka.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from schemas import Network, Reading, ReadingIn

MAX_RECORD_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why an item was refused, in words a gateway operator can act on."""

    reason: str


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "reading"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def validate_item(
    raw: Any, network: Network, now: datetime | None, max_future_skew: timedelta
) -> Reading | Rejection:
    """A parsed JSON item → a canonical reading, or the reason it is refused."""
    if not isinstance(raw, dict):
        return Rejection(f"a reading must be a JSON object, got {type(raw).__name__}")
    try:
        reading_in = ReadingIn.model_validate(raw)
    except ValidationError as exc:
        return Rejection(describe_validation_error(exc))
    return check_against_network(reading_in, network, now, max_future_skew)


def decode_record(
    value: bytes | None, network: Network, now: datetime | None, max_future_skew: timedelta
) -> Reading | Rejection:
    """Raw bytes from `siaga.readings` → a canonical reading, or the reason it is refused."""
    if value is None:
        return Rejection("empty record (null value)")
    if len(value) > MAX_RECORD_BYTES:
        return Rejection(f"record of {len(value)} bytes exceeds {MAX_RECORD_BYTES}")
    try:
        # pydantic parses and validates in one pass in Rust: 3x json.loads + validate
        reading_in = ReadingIn.model_validate_json(value)
    except ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            return Rejection(f"not JSON: {describe_validation_error(exc)}")
        if not value.lstrip().startswith(b"{"):
            return Rejection("a reading must be a JSON object")
        return Rejection(describe_validation_error(exc))
    return check_against_network(reading_in, network, now, max_future_skew)


def check_against_network(
    reading_in: ReadingIn, network: Network, now: datetime | None, max_future_skew: timedelta
) -> Reading | Rejection:
    station = network.station(reading_in.station_id)
    if station is None:
        return Rejection(f"unknown station {reading_in.station_id!r}")
    if station.kind != reading_in.kind:
        return Rejection(
            f"station {station.id!r} is a {station.kind} gauge, not {reading_in.kind}"
        )
    if now is not None and reading_in.observed_at - now > max_future_skew:
        return Rejection(
            f"observed_at {reading_in.observed_at.isoformat()} is in the future "
            f"(more than {int(max_future_skew.total_seconds())} s ahead); check the gateway clock"
        )
    return reading_in.normalized()
