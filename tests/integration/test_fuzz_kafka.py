"""Hypothesis-made garbage produced straight into `siaga.readings`, between good readings.

Every garbage record must come out on the dead-letter topic with a reason
(matched by the `siaga-source` header: topic/partition/offset), the worker
must stay up, and the good readings interleaved with the garbage on the same
partition must still be graded into the expected alerts. A 5 MB record is
dead-lettered as a truncated copy carrying its original size and hash.
The counts are printed (run with `-s`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from schemas import Network
from service.settings import Settings
from tests.helpers import level_reading, read_topic, running_service, series

FIVE_MB = 5 * 1024 * 1024
KEY = b"depok"  # garbage and good readings share one key, hence one partition and its order


def _base() -> dict[str, Any]:
    return level_reading("depok", datetime.now(UTC) - timedelta(hours=5), 100.0)


_json_scalars = (st.none() | st.booleans() | st.integers() | st.text(max_size=50)
                 | st.floats(allow_nan=True, allow_infinity=True))
_json_values = st.recursive(
    _json_scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=5),
    max_leaves=30,
)
# Replacements that make a field invalid whatever else the record holds. (Pydantic is lax
# about some types, e.g. "141" is a fine value, so only surely-invalid values are used.)
_bad_field: dict[str, st.SearchStrategy[Any]] = {
    "value": st.sampled_from([float("nan"), float("inf"), float("-inf"), 1e308, -1e308,
                              None, "high", [1.0], {"cm": 1}])
    | st.floats(min_value=1e6, exclude_min=True, allow_infinity=False),
    "observed_at": st.sampled_from(["2025-03-02T21:00:00", "yesterday", None, [], "x"])
    | st.text(max_size=30).map(lambda t: "x" + t),
    "station_id": st.sampled_from(["ATLANTIS", "", None, 7, ["depok"], "depok " * 20])
    | st.text(min_size=1, max_size=20).map(lambda t: "zz-unknown-" + t.encode().hex()),
    "kind": st.sampled_from(["tide", "", None, 1]),
    "unit": st.sampled_from(["mm", "ft", "", None]),
}


@st.composite
def _mutated_reading(draw: st.DrawFn) -> bytes:
    item = _base()
    field = draw(st.sampled_from(sorted(_bad_field)))
    item[field] = draw(_bad_field[field])
    if draw(st.booleans()):
        item[draw(st.text(min_size=1, max_size=10).map(lambda t: "x-" + t))] = draw(_json_values)
    return json.dumps(item, allow_nan=True).encode()


def _not_an_object(value: Any) -> bytes:
    return json.dumps([value] if isinstance(value, dict) else value, allow_nan=True).encode()


_garbage = st.one_of(
    st.binary(max_size=300),                                     # random bytes
    _json_values.map(_not_an_object),                            # JSON but not an object
    st.dictionaries(st.text(max_size=10), _json_values, max_size=6).map(
        lambda d: json.dumps(d, allow_nan=True).encode()),       # an object of anything
    _mutated_reading(),                                          # one field wrong
    st.integers(1, 20_000).map(lambda n: b"[" * n + b"]" * n),   # deeply nested
    st.integers(1, 20_000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.integers(70_000, 200_000).map(                            # over MAX_RECORD_BYTES
        lambda n: json.dumps({**_base(), "station_id": "s" * n}).encode()),
)

# (value, headers, what the reason must mention)
_SPECIALS: list[tuple[bytes | None, list[tuple[str, bytes]], str]] = [
    (None, [], "null value"),
    (b"", [], "not JSON"),
    (b'{"station_id": "depok", "value": NaN}', [], ""),
    (json.dumps({**_base(), "value": 1e308}).encode(), [], "value"),
    (json.dumps({**_base(), "value": float("inf")}).encode(), [], "value"),
    (b"[" * 200_000 + b"]" * 200_000, [], "exceeds"),
    (b'{"pad": "' + b"x" * FIVE_MB + b'"}', [], "exceeds"),
    # a header naming a gateway is checked against that gateway's scope
    (json.dumps(level_reading("manggarai", datetime.now(UTC) - timedelta(hours=5), 1)
                ).encode(), [("siaga-gateway", b"bogor-gw")], "not permitted for gateway"),
    (json.dumps(_base()).encode(), [("siaga-gateway", b"ghost-gw")], "not configured"),
    (json.dumps(_base()).encode(), [("siaga-gateway", b"all-gw"), ("siaga-gateway", b"x")],
     "several"),
]


def _generate(count: int) -> list[bytes]:
    made: list[bytes] = []

    @given(_garbage)
    @hypothesis_settings(max_examples=count, database=None, derandomize=True, deadline=None,
                         phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    def collect(value: bytes) -> None:
        made.append(value)

    collect()
    return made


async def test_garbage_in_the_readings_topic_is_dead_lettered_and_grading_goes_on(
    settings: Settings, network: Network
) -> None:
    garbage: list[tuple[bytes | None, list[tuple[str, bytes]], str]] = [
        (value, [], "") for value in _generate(500)
    ] + _SPECIALS
    # hourly, a plausible rise; no dwell, so the fall to 180 cm clears at once
    good = series("depok", datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6),
                  [150, 210, 280, 360, 180], step=timedelta(hours=1))
    settings = settings.model_copy(update={"min_dwell_s": 0.0})
    async with running_service(settings, network) as svc:
        producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap(), acks="all",
                                    enable_idempotence=False, max_request_size=8 * 1024 * 1024)
        await producer.start()
        sources: dict[str, int] = {}  # "topic/partition/offset" → index into garbage
        try:
            step = len(garbage) // len(good) + 1
            for i, (value, headers, _) in enumerate(garbage):
                if i % step == 0:
                    await producer.send_and_wait(settings.readings_topic,
                                                 json.dumps(good[i // step]).encode(), key=KEY)
                meta = await producer.send_and_wait(settings.readings_topic, value, key=KEY,
                                                    headers=headers)
                sources[f"{meta.topic}/{meta.partition}/{meta.offset}"] = i
        finally:
            await producer.stop()

        alerts = list(reversed(await svc.wait_for_alerts(4, timeout_s=30, station_id="depok",
                                                         kind="observed")))
        assert [(a["level"], a["msg_type"]) for a in alerts] == [
            (3, "alert"), (2, "update"), (1, "update"), (4, "cancel")]
        dead = await read_topic(settings, settings.dlq_topic, len(garbage), timeout_s=30)
        worker = svc.worker
        assert worker is not None and worker.stats.errors == 0
        assert worker.stats.readings == len(good)

    by_source = {dict(r.headers)["siaga-source"].decode(): r for r in dead}
    assert set(by_source) == set(sources), "every garbage record, and only those, dead-lettered"
    reasons: Counter[str] = Counter()
    for source, index in sources.items():
        value, _, expected = garbage[index]
        record = by_source[source]
        out: dict[str, bytes] = dict(record.headers)
        reason = out["siaga-reason"].decode()
        assert reason and expected in reason, (value[:200] if value else value, reason)
        reasons[re.sub(r"\d+", "N", reason.split(":")[0])[:50]] += 1
        if value is not None and len(value) > settings.dlq_max_value_bytes:
            assert out["siaga-truncated"] == b"value"
            assert int(out["siaga-original-bytes"]) == len(value)
            assert out["siaga-original-sha256"].decode() == hashlib.sha256(value).hexdigest()
            assert record.value == value[:settings.dlq_max_value_bytes]
        else:
            assert record.value == value and "siaga-truncated" not in out
    print(f"\nkafka garbage: {len(garbage)} records produced ({len(garbage) - len(_SPECIALS)} "
          f"hypothesis-made, {len(_SPECIALS)} fixed), {len(by_source)} dead-lettered, "
          f"{len(good)} good readings graded, 4 alerts")
    for reason, n in reasons.most_common(12):
        print(f"  {n:4d}  {reason}")
