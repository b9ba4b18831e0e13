"""Alerts made up for webhook tests, produced straight into `siaga.alerts` (keyed by
region, as the worker and router do), and helpers around a dispatcher under test."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer

from schemas import Alert
from service.settings import Settings
from tests.helpers import Service

START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def make_alert(i: int, region_id: str = "kota-bogor", station_id: str = "katulampa",
               level: int = 2) -> Alert:
    at = START + timedelta(seconds=i)
    return Alert.model_validate({
        "id": f"test-{region_id}-{i:05d}", "msg_type": "alert", "station_id": station_id,
        "station_name": station_id, "basin": "ciliwung", "region_id": region_id,
        "level": level, "level_name": "Siaga", "previous_level": 3, "kind": "observed",
        "observed_at": at, "issued_at": datetime.now(UTC), "value": 160.0,
        "certainty": "observed",
        "headline": {"id": f"Siaga {i}", "en": f"Level {i}"},
        "instruction": {"id": "Waspada", "en": "Be alert"},
    })


async def produce_alerts(settings: Settings, alerts: list[Alert]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap(), acks="all",
                                enable_idempotence=False, linger_ms=5)
    await producer.start()
    try:
        for alert in alerts:
            await producer.send(settings.alerts_topic, alert.model_dump_json().encode(),
                                key=alert.region_id.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def webhook_subscription(svc: Service, url: str, region_id: str = "kota-bogor",
                               **fields: Any) -> tuple[str, str]:
    """(id, secret) of a new webhook subscription to `region_id`'s own alerts."""
    response = await svc.operator.post("/v1/subscriptions", json={
        "region_id": region_id, "min_level": 3, "kinds": ["observed"],
        "channel": {"type": "webhook", "url": url}, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body["id"], body["secret"]


async def webhook_status(svc: Service, sub_id: str, timeout_s: float = 20.0,
                         **expected: Any) -> dict[str, Any]:
    """The subscriber's entry in `GET /v1/status` once it shows `expected`."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    entry: dict[str, Any] = {}
    while True:
        response = await svc.operator.get("/v1/status")
        response.raise_for_status()
        entries = {w["subscription_id"]: w for w in response.json()["webhooks"]}
        entry = entries.get(sub_id, {})
        if entry and all(entry.get(k) == v for k, v in expected.items()):
            return entry
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"webhook status of {sub_id}: {entry}, wanted {expected}")
        await asyncio.sleep(0.1)
