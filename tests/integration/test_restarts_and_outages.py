"""What survives a restart, and what a gateway hears while Kafka is away."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas import Network
from service import kafka
from service.broker import EmbeddedBroker, free_port
from service.pipeline import run_pipeline
from service.settings import Settings
from tests.conftest import make_settings
from tests.helpers import read_topic, running_service, series
from tests.proxy import CuttableProxy

HOUR = timedelta(hours=1)


def _start() -> datetime:
    return (datetime.now(UTC) - timedelta(hours=12)).replace(microsecond=0)


async def test_a_restarted_api_still_answers_for_earlier_alerts(
    settings: Settings, network: Network
) -> None:
    readings = series("pesanggrahan", _start(), [100, 160, 260, 360], step=HOUR)
    async with running_service(settings, network) as svc:
        await svc.gateway.post("/v1/readings", json={"readings": readings})
        before = await svc.wait_for_alerts(3, station_id="pesanggrahan")
    async with running_service(settings, network, with_worker=False) as svc:
        after = (await svc.client.get("/v1/alerts", params={"station_id": "pesanggrahan"})
                 ).json()["alerts"]
        assert after == before
        one = await svc.client.get(f"/v1/alerts/{before[0]['id']}")
        assert one.json() == before[0]
        status = (await svc.operator.get("/v1/status")).json()
        row = next(s for s in status["stations"] if s["station_id"] == "pesanggrahan")
        assert (row["level"], row["last_value"]) == (1, 360.0)


async def test_a_restarted_worker_grades_on_from_the_issued_alerts(
    settings: Settings, network: Network
) -> None:
    start = _start()
    first = series("angke-hulu", start, [100, 160, 260], step=HOUR)
    second = series("angke-hulu", start + 3 * HOUR, [270, 310, 200, 195], step=HOUR)
    async with running_service(settings, network) as svc:
        await svc.gateway.post("/v1/readings", json={"readings": first})
        await svc.wait_for_alerts(2, station_id="angke-hulu")
    async with running_service(settings, network) as svc:
        await svc.gateway.post("/v1/readings", json={"readings": second})
        alerts = list(reversed(await svc.wait_for_alerts(4, station_id="angke-hulu")))
        # 270 stays Siaga 2 (no repeat alert), 310 → Siaga 1, 200 then 195 an hour
        # later → Siaga 3 (the restored level keeps its hysteresis)
        assert [(a["previous_level"], a["level"]) for a in alerts] == [
            (4, 3), (3, 2), (2, 1), (1, 3)
        ]
        assert alerts[2]["references"] == [alerts[1]["id"]]
        # the same readings again (a gateway retrying) add nothing
        await svc.gateway.post("/v1/readings", json={"readings": first + second})
        await svc.gateway.post("/v1/readings", json={"readings": series(
            "angke-hulu", start + 7 * HOUR, [205])})
        assert svc.worker is not None
        for _ in range(200):
            if svc.worker.stats.readings == 12:
                break
            await asyncio.sleep(0.05)
        assert svc.worker.stats.readings == 12
        again = await svc.client.get("/v1/alerts", params={"station_id": "angke-hulu"})
        assert len(again.json()["alerts"]) == 4


async def test_a_deployment_without_a_changelog_grades_on_from_its_alerts(
    settings: Settings, network: Network
) -> None:
    """An older deployment left committed input and alerts but no `siaga.state`: the
    worker takes the levels the alerts show instead of starting every gauge at Normal."""
    first = series("angke-hulu", _start(), [100, 160, 260], step=HOUR)
    await kafka.ensure_topics(settings)
    producer = kafka.producer(settings)
    await producer.start()
    try:
        for reading in first:
            await producer.send_and_wait(settings.readings_topic, json.dumps(reading).encode(),
                                         key=b"angke-hulu")
        for alert in run_pipeline(first, network, route=False):
            await producer.send_and_wait(settings.alerts_topic, alert.model_dump_json().encode(),
                                         key=alert.region_id.encode())
    finally:
        await producer.stop()
    group = kafka.consumer(settings, group_id=settings.worker_group)
    await group.start()
    try:
        tps = await kafka.partitions_of(group, settings.readings_topic)
        group.assign(tps)
        await group.seek_to_end(*tps)
        await group.commit({tp: await group.position(tp) for tp in tps})
    finally:
        await group.stop()
    second = series("angke-hulu", _start() + 3 * HOUR, [270, 310], step=HOUR)
    async with running_service(settings, network) as svc:
        await svc.gateway.post("/v1/readings", json={"readings": second})
        alerts = list(reversed(await svc.wait_for_alerts(3, station_id="angke-hulu")))
    # 270 stays Siaga 2 as the alerts left it (no new alert); 310 raises it to Siaga 1
    assert [(a["previous_level"], a["level"]) for a in alerts] == [(4, 3), (3, 2), (2, 1)]
    assert alerts[2]["references"] == [alerts[1]["id"]]


async def test_broker_unreachable_gives_503_with_retry_after_and_nothing_is_claimed(
    network: Network,
) -> None:
    own = EmbeddedBroker()
    own.start()
    try:
        settings = make_settings(own.bootstrap, ingest_timeout_s=2.0,
                                 kafka_request_timeout_ms=1_500)
        async with running_service(settings, network, with_worker=False) as svc:
            ok = await svc.gateway.post("/v1/readings", json={
                "readings": series("sunter-hulu", _start(), [100])})
            assert ok.status_code == 200
            own.kill()
            response = await svc.gateway.post("/v1/readings", json={
                "readings": series("sunter-hulu", _start() + timedelta(hours=1), [150, 210])})
            assert response.status_code == 503
            assert response.headers["Retry-After"] == str(settings.retry_after_s)
            body = response.json()
            assert body["accepted"] == 0 and body["not_written"] == 2
            assert all("again" in item["reason"] for item in body["items"])
            ready = await svc.client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["broker_reachable"] is False
            assert (await svc.client.get("/healthz")).status_code == 200
    finally:
        own.stop()


async def test_a_broker_outage_is_ridden_out_without_losing_or_doubling_alerts(
    network: Network,
) -> None:
    """Every client reaches the broker through a proxy that the test cuts for longer than
    the session timeout, so the worker loses its group and must rejoin and restore."""
    broker_port = free_port()
    proxy = CuttableProxy(broker_port)
    await proxy.start()
    own = EmbeddedBroker(port=broker_port, advertised_port=proxy.port)
    own.start()
    try:
        settings = make_settings(own.bootstrap, checkpoint_interval_s=0.2,
                                 kafka_request_timeout_ms=3_000, ingest_timeout_s=2.0)
        start = _start()
        before = series("cipinang-hulu", start, [100, 160, 210, 260], step=HOUR)
        after = series("cipinang-hulu", start + 4 * HOUR, [300, 240, 180, 120, 110], step=HOUR)
        async with running_service(settings, network) as svc:
            assert (await svc.gateway.post("/v1/readings", json={"readings": before})
                    ).status_code == 200
            await svc.wait_for_alerts(3, station_id="cipinang-hulu")
            proxy.cut()
            refused = await svc.gateway.post("/v1/readings", json={"readings": after})
            assert refused.status_code == 503 and "Retry-After" in refused.headers
            ready = await svc.client.get("/readyz")
            assert ready.status_code == 503
            await asyncio.sleep(8)  # past the 6 s session timeout: the group forgets it
            proxy.restore()
            for _ in range(100):
                posted = await svc.gateway.post("/v1/readings", json={"readings": after})
                if posted.status_code == 200:
                    break
                await asyncio.sleep(0.3)
            assert posted.status_code == 200
            await svc.wait_ready(timeout_s=60)
            expected = _expected(network, before + after)
            got = await svc.wait_for_alerts(len(expected), timeout_s=40,
                                            station_id="cipinang-hulu")
            assert sorted(a["id"] for a in got) == sorted(expected)
        records = await read_topic(settings, settings.alerts_topic, len(expected))
        ids = [json.loads(r.value)["id"] for r in records]
        # nothing lost; re-reading after the outage may write an id twice, readers keep one
        assert set(ids) == set(expected)
    finally:
        own.stop()
        await proxy.stop()


def _expected(network: Network, readings: list[dict[str, Any]]) -> list[str]:
    settings = make_settings("unused:0")
    return [a.id for a in run_pipeline(readings, network, route=False,
                                       settings=settings.detector_settings())]
