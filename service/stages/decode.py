"""Decode stage, columnar: a batch of raw records → the arrays the detector engine takes.

In: the raw values of a batch from `siaga.readings`, the station table, the
wall clock (`None` in a replay). Out: for each record, either the columns of
an accepted reading (station index, event time in epoch seconds, value in
canonical units, rainfall interval) or the reason it is refused.

Two paths, one verdict. The fast path decodes the whole batch in one call
(msgspec, in C, against two structs mirroring `ReadingIn`, one per kind, told
apart by `kind`) and checks the rest of the contract on arrays. Any record it
does not accept goes through the reference path, `validate.decode_record`
(pydantic, the same code HTTP ingest uses), which alone decides what is refused
and in what words. The fast path is only ever stricter than the reference path,
never more lenient; a property test holds it to that. Deliberately not here:
grading, and the gateway scope (its own stage, on the decoded station).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import repeat
from typing import Annotated, ClassVar, Literal, TypeAlias

import msgspec
import numpy as np
import numpy.typing as npt

from detectors import StationTable
from schemas import Network
from service.stages.validate import MAX_RECORD_BYTES, Rejection, decode_record

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

class _WaterLevel(msgspec.Struct, tag_field="kind", tag="water_level",
                  forbid_unknown_fields=True, gc=False):
    """A water-level `ReadingIn` for the fast path. The kind is the tag of a union, so
    msgspec itself checks that unit and interval fit the kind. `observed_at` stays a
    string: a batch holds few distinct times, each parsed once; the station id is
    checked by lookup."""

    station_id: str
    observed_at: str
    value: Annotated[float, msgspec.Meta(ge=-1e6, le=1e6)]
    unit: Literal["cm", "m"]
    # not a field: an `interval_s` in a water level (even null) is left to the reference
    interval_s: ClassVar[int] = 0


class _Rainfall(msgspec.Struct, tag_field="kind", tag="rainfall",
                forbid_unknown_fields=True, gc=False):
    station_id: str
    observed_at: str
    value: Annotated[float, msgspec.Meta(ge=-1e6, le=1e6)]
    unit: Literal["mm"]
    interval_s: Annotated[int, msgspec.Meta(gt=0, le=86_400 * 31)]


_FastReading: TypeAlias = _WaterLevel | _Rainfall
_ONE = msgspec.json.Decoder(_FastReading)
# RFC 3339 with a zone offset: a subset of what pydantic's AwareDatetime accepts
_AWARE = msgspec.json.Decoder(Annotated[datetime, msgspec.Meta(tz=True)])
# stands in for a record the fast path could not decode: no station has this id
_UNDECODED = _WaterLevel("", "", 0.0, "cm")


@dataclass(slots=True)
class DecodedBatch:
    """Accepted readings as columns, in record order; `positions[k]` is the index in
    the batch of the record behind row k."""

    positions: I64
    stations: I64
    t: F64
    values: F64
    interval_s: F64
    rejected: list[tuple[int, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.positions)

    @staticmethod
    def empty() -> DecodedBatch:
        return DecodedBatch(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0),
                            np.zeros(0), np.zeros(0))

    @staticmethod
    def joined(parts: Sequence[tuple[DecodedBatch, int]]) -> DecodedBatch:
        """Batches of records that follow one another, as the batch of all their records;
        each part comes with the number of records behind it (rejected ones too)."""
        if len(parts) == 1:
            return parts[0][0]
        if not parts:
            return DecodedBatch.empty()
        starts = np.cumsum([0] + [n for _, n in parts[:-1]]).tolist()
        batches = [part for part, _ in parts]
        return DecodedBatch(
            np.concatenate([b.positions + start for b, start in zip(batches, starts,
                                                                    strict=True)]),
            np.concatenate([b.stations for b in batches]),
            np.concatenate([b.t for b in batches]),
            np.concatenate([b.values for b in batches]),
            np.concatenate([b.interval_s for b in batches]),
            [(start + i, reason) for b, start in zip(batches, starts, strict=True)
             for i, reason in b.rejected])

    def take(self, keep: npt.NDArray[np.bool_]) -> DecodedBatch:
        """The rows where `keep` is true (a filter: fewer rows, same columns)."""
        return DecodedBatch(self.positions[keep], self.stations[keep], self.t[keep],
                            self.values[keep], self.interval_s[keep], self.rejected)


class BatchDecoder:
    """Decodes batches for one network; holds nothing between batches."""

    def __init__(self, network: Network, table: StationTable,
                 max_future_skew: timedelta) -> None:
        self.network = network
        self.table = table
        self.max_future_skew = max_future_skew
        self._rain_station = table.is_rain

    def decode(self, values: Sequence[bytes | None], now: datetime | None) -> DecodedBatch:
        n = len(values)
        parsed = self._fast(values)
        if not parsed:
            return DecodedBatch.empty()
        # to columns with lookups done by map() in C: per reading and field, Python
        # code cost more than msgspec's decoding itself
        stations = np.fromiter(map(self.table.index.get, [r.station_id for r in parsed],
                                   repeat(-1)), np.int64, n)
        texts = [r.observed_at for r in parsed]
        epoch = {text: _epoch_s(text) for text in set(texts)}
        t = np.fromiter(map(epoch.__getitem__, texts), np.float64, n)
        value = np.fromiter([r.value for r in parsed], np.float64, n)
        interval = np.fromiter([r.interval_s for r in parsed], np.float64, n)  # 0: a level
        units = [r.unit for r in parsed]
        if "m" in units:
            value[np.array(units) == "m"] *= 100.0

        ok = (stations >= 0) & ~np.isnan(t)
        ok[ok] &= self._rain_station[stations[ok]] == (interval[ok] > 0)
        if now is not None:
            ok &= ~(t - now.timestamp() > self.max_future_skew.total_seconds())
        rejected: list[tuple[int, str]] = []
        for i in np.flatnonzero(~ok).tolist():
            checked = decode_record(values[i], self.network, now, self.max_future_skew)
            if isinstance(checked, Rejection):
                rejected.append((i, checked.reason))
                continue
            # accepted by the reference path only (e.g. a number sent as a string)
            stations[i] = self.table.index[checked.station_id]
            t[i] = checked.observed_at.timestamp()
            value[i] = checked.value
            interval[i] = checked.interval_s or 0
            ok[i] = True
        return DecodedBatch(np.flatnonzero(ok), stations[ok], t[ok], value[ok], interval[ok],
                            rejected)

    @staticmethod
    def _fast(values: Sequence[bytes | None]) -> list[_FastReading]:
        """All records in one pass when every one decodes; else one by one, with
        `_UNDECODED` for each record the fast path cannot take."""
        try:
            if max(map(len, values), default=0) <= MAX_RECORD_BYTES:  # type: ignore[arg-type]
                return list(map(_ONE.decode, values))  # type: ignore[arg-type]
        except (msgspec.DecodeError, TypeError, RecursionError):
            pass  # a bad record (or a null value: TypeError) sends the batch one by one
        out: list[_FastReading] = []
        for v in values:
            try:
                fits = v is not None and len(v) <= MAX_RECORD_BYTES
                out.append(_ONE.decode(v) if fits else _UNDECODED)  # type: ignore[arg-type]
            except (msgspec.DecodeError, RecursionError):
                out.append(_UNDECODED)
        return out


def _epoch_s(text: str) -> float:
    """NaN for a time the fast path does not take (the reference path judges it)."""
    dot = text.find(".")
    if dot >= 0:
        fraction = text[dot + 1:]
        if len(fraction) - len(fraction.lstrip("0123456789")) > 6:
            return float("nan")  # msgspec rounds beyond microseconds where pydantic truncates
    try:
        return _AWARE.decode(msgspec.json.encode(text)).timestamp()
    except (msgspec.DecodeError, ValueError, OverflowError):
        return float("nan")
