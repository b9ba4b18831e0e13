"""The columnar decode stage gives exactly the verdicts of the reference validator.

The fast path (msgspec) may only ever decline a record, never accept one the
reference path (pydantic, as HTTP ingest uses) refuses, nor read it
differently: the properties below run both over mutated readings and compare
every column and every reason.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import DetectorSettings, StationTable
from service.network_file import load_network
from service.stages.decode import BatchDecoder, DecodedBatch
from service.stages.validate import Rejection, decode_record

NETWORK = load_network()
TABLE = StationTable.from_network(NETWORK, DetectorSettings())
SKEW = timedelta(minutes=5)
NOW = datetime(2025, 3, 2, 14, 0, tzinfo=UTC)

_times = st.one_of(
    # hypothesis takes naive bounds and adds the zone (or none) itself
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1),  # noqa: DTZ001
                 timezones=st.sampled_from([UTC, None])).map(lambda d: d.isoformat()),
    st.sampled_from([
        "2025-03-02T20:00:00+07:00", "2025-03-02T20:00:00Z", "2025-03-02t20:00:00z",
        "2025-03-02 20:00:00+07:00", "2025-03-02T20:00:00+0700", "2025-03-02T20:00+07:00",
        "2025-03-02T20:00:00.123456789+07:00", "2025-03-02T20:00:00.1+07:00",
        "2025-03-02T24:00:00+07:00", "2025-03-02T23:59:60+07:00", "2025-02-30T20:00:00Z",
        "2025-03-02T20:00:00-00:00", "2025-03-02T20:00:00+24:00", "2025-03-02",
        "20250302T200000Z", "1740920400", "", " 2025-03-02T20:00:00Z",
        "2025-03-02T14:04:59+00:00", "2025-03-02T14:05:01+00:00", "2025-03-02T20:00:00+07",
    ]),
    st.integers(0, 2_000_000_000),
)
_numbers = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-10**7, 10**7), st.sampled_from([0, -0.0, 1e6, -1e6, 1e6 + 1, 10**30]),
    st.text(max_size=8), st.sampled_from(["12.5", "1e3", " 7"]), st.booleans(), st.none(),
)
_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "station_id": st.one_of(st.sampled_from(["katulampa", "depok", "arg-citeko", "nowhere",
                                             "Katulampa", "depok\n", "", "d" * 70]),
                            st.integers(), st.none()),
    "observed_at": _times,
    "kind": st.sampled_from(["water_level", "rainfall", "WATER_LEVEL", "", 1]),
    "value": _numbers,
    "unit": st.sampled_from(["cm", "m", "mm", "CM", "km", None]),
    "interval_s": st.one_of(_numbers, st.sampled_from([300, 300.0, 0, -5, 86_400 * 31,
                                                       86_400 * 31 + 1])),
}


def _base(rain: bool) -> dict[str, Any]:
    if rain:
        return {"station_id": "arg-citeko", "observed_at": "2025-03-02T20:00:00+07:00",
                "kind": "rainfall", "value": 4.5, "unit": "mm", "interval_s": 300}
    return {"station_id": "katulampa", "observed_at": "2025-03-02T20:00:00+07:00",
            "kind": "water_level", "value": 1.25, "unit": "m"}


@st.composite
def _records(draw: st.DrawFn) -> bytes | None:
    item = _base(draw(st.booleans()))
    for name in draw(st.lists(st.sampled_from(sorted(_FIELDS)), max_size=3, unique=True)):
        if draw(st.integers(0, 4)) == 0:
            item.pop(name, None)
        else:
            item[name] = draw(_FIELDS[name])
    if draw(st.integers(0, 9)) == 0:
        item["extra"] = 1
    shape = draw(st.integers(0, 19))
    if shape == 0:
        return None
    if shape == 1:
        return draw(st.binary(max_size=40))
    if shape == 2:
        return json.dumps([item]).encode()
    return json.dumps(item, allow_nan=True).encode()


def reference(values: list[bytes | None], now: datetime | None
              ) -> tuple[list[tuple[int, int, float, float, float]], list[tuple[int, str]]]:
    rows, rejected = [], []
    for i, value in enumerate(values):
        checked = decode_record(value, NETWORK, now, SKEW)
        if isinstance(checked, Rejection):
            rejected.append((i, checked.reason))
        else:
            rows.append((i, TABLE.index[checked.station_id], checked.observed_at.timestamp(),
                         checked.value, float(checked.interval_s or 0)))
    return rows, rejected


def columns(batch: DecodedBatch) -> list[tuple[int, int, float, float, float]]:
    return list(zip(batch.positions.tolist(), batch.stations.tolist(), batch.t.tolist(),
                    batch.values.tolist(), batch.interval_s.tolist(), strict=True))


@settings(max_examples=400, deadline=None)
@given(st.lists(_records(), min_size=1, max_size=12), st.booleans())
def test_a_batch_decodes_exactly_as_the_reference_validator(
        values: list[bytes | None], live: bool) -> None:
    now = NOW if live else None
    decoded = BatchDecoder(NETWORK, TABLE, SKEW).decode(values, now)
    rows, rejected = reference(values, now)
    assert columns(decoded) == rows
    assert sorted(decoded.rejected) == rejected


@settings(max_examples=300, deadline=None)
@given(st.lists(_times, min_size=1, max_size=5))
def test_times_are_read_as_pydantic_reads_them(times: list[Any]) -> None:
    values: list[bytes | None] = [
        json.dumps({**_base(False), "observed_at": at}).encode() for at in times]
    decoded = BatchDecoder(NETWORK, TABLE, SKEW).decode(values, None)
    rows, rejected = reference(values, None)
    assert columns(decoded) == rows
    assert sorted(decoded.rejected) == rejected


def test_good_and_bad_records_keep_their_order_and_positions() -> None:
    good = [json.dumps({**_base(False), "value": v}).encode() for v in (0.6, 0.9, 1.6)]
    values: list[bytes | None] = [good[0], b"{", good[1], None, good[2],
                                  json.dumps({**_base(True), "unit": "cm"}).encode()]
    decoded = BatchDecoder(NETWORK, TABLE, SKEW).decode(values, None)
    # metres become centimetres: 0.6 m is 60 cm at Katulampa
    assert decoded.positions.tolist() == [0, 2, 4]
    assert np.allclose(decoded.values, [60.0, 90.0, 160.0])
    assert decoded.stations.tolist() == [TABLE.index["katulampa"]] * 3
    assert decoded.t.tolist() == [datetime(2025, 3, 2, 13, tzinfo=UTC).timestamp()] * 3
    assert [i for i, _ in decoded.rejected] == [1, 3, 5]
    reasons = dict(decoded.rejected)
    assert "not JSON" in reasons[1]
    assert "null value" in reasons[3]
    assert "unit 'cm' does not fit kind 'rainfall'" in reasons[5]


def test_a_reading_from_the_future_is_refused_only_live() -> None:
    ahead = (NOW + timedelta(minutes=6)).isoformat()
    values: list[bytes | None] = [json.dumps({**_base(False), "observed_at": ahead}).encode()]
    live = BatchDecoder(NETWORK, TABLE, SKEW).decode(values, NOW)
    assert len(live) == 0 and "in the future" in live.rejected[0][1]
    assert len(BatchDecoder(NETWORK, TABLE, SKEW).decode(values, None)) == 1


def test_a_number_sent_as_a_string_is_accepted_as_the_api_accepts_it() -> None:
    value = json.dumps({**_base(False), "value": "1.5"}).encode()
    decoded = BatchDecoder(NETWORK, TABLE, SKEW).decode([value], None)
    assert decoded.values.tolist() == [150.0] and not decoded.rejected


def test_a_repeated_key_is_read_as_the_api_reads_it() -> None:
    # the kind chooses the fast path's struct; a second `kind` must not let a reading
    # through as one kind and be graded as the other
    level, rain = _base(False), _base(True)
    head = '{"station_id": "katulampa", "observed_at": "2025-03-02T20:00:00+07:00", '
    values: list[bytes | None] = [
        (head + '"kind": "rainfall", "value": 1.0, "unit": "cm", "kind": "water_level"}').encode(),
        (head + '"kind": "water_level", "value": 1.0, "unit": "mm", "interval_s": 300, '
         '"kind": "rainfall"}').encode(),
        (head[:-2] + ', "station_id": "arg-citeko", "kind": "rainfall", "value": 4.5, '
         '"unit": "mm", "interval_s": 300}').encode(),
        json.dumps({**level, "interval_s": None}).encode(),
        json.dumps({**rain, "interval_s": None}).encode(),
    ]
    decoded = BatchDecoder(NETWORK, TABLE, SKEW).decode(values, None)
    rows, rejected = reference(values, None)
    assert columns(decoded) == rows
    assert sorted(decoded.rejected) == rejected
    # the API takes the last of a repeated key: a water level, a rejected rainfall at
    # a river gauge, a rainfall at Citeko, and a level whose interval is null
    assert [i for i, *_ in rows] == [0, 2, 3]
    assert [i for i, _ in rejected] == [1, 4]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_records(), max_size=6), min_size=1, max_size=4), st.booleans())
def test_batches_decoded_one_after_another_join_into_the_batch_of_all(
        chunks: list[list[bytes | None]], live: bool) -> None:
    # the worker decodes each partition's share as it is fetched, then grades them as one
    now = NOW if live else None
    decoder = BatchDecoder(NETWORK, TABLE, SKEW)
    joined = DecodedBatch.joined([(decoder.decode(chunk, now), len(chunk)) for chunk in chunks])
    whole = [value for chunk in chunks for value in chunk]
    rows, rejected = reference(whole, now)
    assert columns(joined) == rows
    assert sorted(joined.rejected) == rejected
