"""Katulampa rises → Kota Depok and DKI Jakarta hear of it, over the real broker.

The worker publishes Katulampa's own alerts; the router role reads them from
`siaga.station-events` and publishes the predictions downstream. A router
that restarts rebuilds its state from the events, so its next message still
continues the same chain.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas import Network
from service.settings import Settings
from tests.helpers import level_reading, read_topic, running_service

H = timedelta(hours=1)


def _start() -> datetime:
    return (datetime.now(UTC) - timedelta(hours=8)).replace(minute=0, second=0, microsecond=0)


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.timeout(120)
async def test_katulampa_rise_reaches_depok_and_jakarta_then_a_restarted_router_cancels(
        settings: Settings, network: Network) -> None:
    settings = settings.model_copy(update={"min_dwell_s": 0.0})
    start = _start()
    rise = [level_reading("katulampa", start + i * H, v) for i, v in enumerate([60, 90, 160])]
    async with running_service(settings, network) as svc:
        posted = time.monotonic()
        response = await svc.gateway.post("/v1/readings", json={"readings": rise})
        assert response.status_code == 200, response.text
        jakarta = await svc.wait_for_alerts(2, region_id="dki-jakarta", kind="predicted")
        latency_s = time.monotonic() - posted
        depok = await svc.wait_for_alerts(2, region_id="kota-depok", kind="predicted")
    first, update = reversed(jakarta)
    assert (first["msg_type"], first["level"], first["station_id"]) == ("alert", 3, "manggarai")
    assert (update["msg_type"], update["level"], update["references"]) == (
        "update", 2, [first["id"]])
    siaga_2_at = start + 2 * H
    assert _when(update["observed_at"]) == siaga_2_at
    assert _when(update["eta_from"]) == siaga_2_at + 9 * H
    assert _when(update["eta_to"]) == siaga_2_at + 11 * H
    assert (update["upstream_station_id"], update["expected_level"], update["certainty"]) == (
        "katulampa", 3, "likely")
    assert [a["station_id"] for a in depok] == ["depok", "depok"]
    assert _when(depok[0]["eta_from"]) == siaga_2_at + 3 * H
    assert depok[0]["expected_level"] == 1  # Katulampa Siaga 2 has brought Depok Siaga 1
    assert latency_s < 5.0

    # a new service (worker and router) on the same topics and groups: Katulampa recedes
    fall = [level_reading("katulampa", start + (3 + i) * H, v) for i, v in enumerate([100, 60])]
    async with running_service(settings, network) as svc:
        response = await svc.gateway.post("/v1/readings", json={"readings": fall})
        assert response.status_code == 200, response.text
        jakarta = await svc.wait_for_alerts(3, region_id="dki-jakarta", kind="predicted")
    cancel = jakarta[0]
    assert (cancel["msg_type"], cancel["level"], cancel["references"]) == (
        "cancel", 4, [update["id"]])
    assert "without a rise at PA Manggarai" in cancel["headline"]["en"]
    # the restarted router rebuilt its state silently: nothing of the first run re-sent
    records = await read_topic(settings, settings.alerts_topic, expected=1)
    predicted: list[dict[str, Any]] = [
        alert for alert in (json.loads(r.value) for r in records)
        if alert["kind"] == "predicted"]
    assert len(predicted) == len({a["id"] for a in predicted}) == 6


@pytest.mark.timeout(90)
async def test_an_ack_over_http_stops_the_router_resending_a_siaga_2(
        settings: Settings, network: Network) -> None:
    # live: re-sends by the wall clock, every 1.5 s while unacknowledged (for the test)
    settings = settings.model_copy(update={"ack_resend_s": 1.5, "ack_resend_max": 100})
    start = _start()
    readings = [level_reading("depok", start + i * H, v) for i, v in enumerate([150, 300])]
    async with running_service(settings, network) as svc:
        assert (await svc.gateway.post("/v1/readings", json={"readings": readings})
                ).status_code == 200
        reminders = await svc.wait_for_alerts(2, timeout_s=20, region_id="kota-depok",
                                               station_id="depok", kind="observed")
        original = next(a for a in reminders if a["reminder"] == 0)
        resent = [a for a in reminders if a["reminder"] > 0]
        assert resent and resent[0]["references"] == [original["id"]]
        assert resent[0]["id"] == original["id"] + "-r1"
        assert "not yet acknowledged" in resent[0]["note"]["en"]
        ack = await svc.operator.post(f"/v1/alerts/{original['id']}/ack")
        assert ack.status_code == 202, ack.text
        await asyncio.sleep(2.0)  # the router reads siaga.acks on its next poll (200 ms)
        before = await svc.wait_for_alerts(1, region_id="kota-depok", kind="observed")
        await asyncio.sleep(5.0)  # three re-send intervals
        after = await svc.wait_for_alerts(1, region_id="kota-depok", kind="observed")
    assert len(after) == len(before)  # nothing re-sent once acknowledged
