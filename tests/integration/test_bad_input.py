"""Bad input gets a clear answer and loses nothing: HTTP rejections, 413s and the DLQ."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas import Network
from service import kafka
from service.settings import Settings
from tests.helpers import level_reading, running_service


def _at(minutes_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()


def _item(**overrides: Any) -> dict[str, Any]:
    item = {"station_id": "katulampa", "observed_at": _at(30), "kind": "water_level",
            "value": 70.0, "unit": "cm"}
    item.update(overrides)
    return item


async def test_each_bad_item_is_rejected_with_its_reason_and_the_rest_go_through(
    settings: Settings, network: Network
) -> None:
    items: list[Any] = [
        _item(),                                                    # 0 fine
        _item(station_id="atlantis"),                               # 1 unknown station
        _item(observed_at="2026-01-01T10:00:00"),                   # 2 no zone offset
        _item(unit="mm"),                                           # 3 wrong unit for kind
        _item(kind="rainfall", unit="mm", interval_s=3600),         # 4 wrong kind for station
        _item(value="high"),                                        # 5 not a number
        _item(observed_at=_at(-60)),                                # 6 an hour in the future
        "not an object",                                            # 7
        _item(extra_field=1),                                       # 8 unknown field
        _item(observed_at=_at(20), value=0.95, unit="m"),           # 9 metres → cm
        _item(),                                                    # 10 duplicate of 0
    ]
    items[10]["observed_at"] = items[0]["observed_at"]
    async with running_service(settings, network, with_worker=False) as svc:
        response = await svc.gateway.post("/v1/readings", json={"readings": items})
        assert response.status_code == 207
        body = response.json()
        assert (body["accepted"], body["rejected"]) == (2, 9)
        verdicts = {v["index"]: v for v in body["items"]}
        assert [i for i, v in verdicts.items() if v["status"] == "accepted"] == [0, 9]
        reasons = {i: v["reason"] for i, v in verdicts.items() if v["status"] == "rejected"}
        assert "unknown station 'atlantis'" in reasons[1]
        assert "timezone" in reasons[2]
        assert "unit 'mm' does not fit kind 'water_level'" in reasons[3]
        assert "water_level gauge, not rainfall" in reasons[4]
        assert reasons[5].startswith("value:")
        assert "in the future" in reasons[6]
        assert "JSON object" in reasons[7]
        assert "extra_field" in reasons[8]
        assert "duplicate" in reasons[10]
        status = (await svc.operator.get("/v1/status")).json()
        assert status["counts"]["readings_rejected_here"] == 9

        # the metres reading went to Kafka in cm
        records = await _read_all(settings, settings.readings_topic, 2)
        values = sorted(json.loads(r)["value"] for r in records)
        assert values == [70.0, 95.0]
        assert all(json.loads(r)["unit"] == "cm" for r in records)


async def test_nan_and_infinity_are_rejected_per_item(
    settings: Settings, network: Network
) -> None:
    raw = ('{"readings": [' + json.dumps(_item())[:-1].rsplit('"value"', 1)[0]
           + '"value": NaN, "unit": "cm"}, '
           + json.dumps(_item(observed_at=_at(10)))[:-1].rsplit('"value"', 1)[0]
           + '"value": Infinity, "unit": "cm"}]}')
    async with running_service(settings, network, with_worker=False) as svc:
        response = await svc.gateway.post(
            "/v1/readings", content=raw, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422
        body = response.json()
        assert body["rejected"] == 2 and body["accepted"] == 0
        assert all("finite" in v["reason"] for v in body["items"])


async def test_malformed_bodies_and_oversize_batches_are_4xx(
    broker_bootstrap_settings: Settings, network: Network
) -> None:
    settings = broker_bootstrap_settings
    async with running_service(settings, network, with_worker=False) as svc:
        post = svc.gateway.post
        assert (await post("/v1/readings", content=b"{not json",
                           headers={"content-type": "application/json"})).status_code == 422
        assert (await post("/v1/readings", json={"readings": []})).status_code == 422
        assert (await post("/v1/readings", json={"readings": "x"})).status_code == 422
        assert (await post("/v1/readings", json=[_item()])).status_code == 422
        too_many = {"readings": [_item()] * (settings.max_batch_items + 1)}
        response = await post("/v1/readings", json=too_many)
        assert response.status_code == 413
        assert "split" in response.json()["detail"]
        huge = b'{"readings": [' + b" " * (settings.max_body_bytes + 1) + b"]}"
        response = await post("/v1/readings", content=huge,
                              headers={"content-type": "application/json"})
        assert response.status_code == 413
        # nothing of the refused requests reached Kafka
        status = (await svc.operator.get("/v1/status")).json()
        assert status["counts"]["readings_accepted_here"] == 0


async def test_malformed_kafka_records_go_to_the_dlq_with_reason_and_original_bytes(
    settings: Settings, network: Network
) -> None:
    now = datetime.now(UTC) - timedelta(hours=1)
    good = [level_reading("katulampa", now + timedelta(hours=h), v)
            for h, v in ((-3, 60), (-2, 95), (-1, 205))]
    garbage: list[tuple[bytes, bytes | None, str]] = [
        (b"katulampa", b"\xff\xfe not utf-8", "not JSON"),
        (b"katulampa", b"[1, 2, 3]", "JSON object"),
        (b"katulampa", json.dumps(level_reading("atlantis", now, 1)).encode(),
         "unknown station"),
        (b"katulampa", b'{"station_id": "katulampa", "value": NaN}', "observed_at"),
        (b"katulampa", b"[" * 20_000 + b"]" * 20_000, "not JSON"),
        (b"katulampa", b'{"pad": "' + b"x" * 200_000 + b'"}', "exceeds"),
        (b"katulampa", None, "null value"),
    ]
    async with running_service(settings, network) as svc:
        producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap(),
                                    enable_idempotence=False, acks="all")
        await producer.start()
        try:
            # garbage interleaved with good readings, all on the same station key
            await producer.send_and_wait(settings.readings_topic,
                                         json.dumps(good[0]).encode(), key=b"katulampa")
            for key, value, _ in garbage[:3]:
                await producer.send_and_wait(settings.readings_topic, value, key=key)
            await producer.send_and_wait(settings.readings_topic,
                                         json.dumps(good[1]).encode(), key=b"katulampa")
            for key, value, _ in garbage[3:]:
                await producer.send_and_wait(settings.readings_topic, value, key=key)
            await producer.send_and_wait(settings.readings_topic,
                                         json.dumps(good[2]).encode(), key=b"katulampa")
        finally:
            await producer.stop()

        alerts = list(reversed(await svc.wait_for_alerts(2, station_id="katulampa",
                                                         kind="observed")))
        assert [a["level"] for a in alerts] == [3, 1]

        dead = await _read_all(settings, settings.dlq_topic, len(garbage), full=True)
        assert len(dead) == len(garbage)
        by_value = {r.value: r for r in dead}
        for _, value, reason_part in garbage:
            record = by_value[value]
            headers = dict(record.headers)
            assert reason_part in headers["siaga-reason"].decode(), headers
            assert headers["siaga-source"].decode().startswith(settings.readings_topic + "/")
            assert record.key == b"katulampa"
        status = (await svc.operator.get("/v1/status")).json()
        assert status["counts"]["readings_dead_lettered"] == len(garbage)
        assert svc.worker is not None and svc.worker.stats.dead_lettered == len(garbage)


async def _read_all(settings: Settings, topic: str, expected: int, full: bool = False
                    ) -> list[Any]:
    client: AIOKafkaConsumer = kafka.consumer(settings, group_id=None,
                                              fetch_max_bytes=50 * 1024 * 1024,
                                              max_partition_fetch_bytes=10 * 1024 * 1024)
    await client.start()
    try:
        tps = await kafka.partitions_of(client, topic)
        client.assign(tps)
        await client.seek_to_beginning(*tps)
        out: list[Any] = []
        for _ in range(100):
            batch = await client.getmany(timeout_ms=200)
            for records in batch.values():
                out.extend(r if full else r.value for r in records)
            if len(out) >= expected and await kafka.caught_up(client, tps):
                break
        return out
    finally:
        await client.stop()
