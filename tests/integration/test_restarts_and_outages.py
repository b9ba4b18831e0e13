"""What survives a restart, and what a gateway hears while Kafka is away."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from schemas import Network
from service.broker import EmbeddedBroker
from service.settings import Settings
from tests.conftest import make_settings
from tests.helpers import running_service, series

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
