"""Readings in over HTTP → Kafka → detector worker → alerts out over HTTP and SSE.

Everything here is real: the embedded broker, the worker's consumer group,
uvicorn on a loopback port, httpx as the client.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import UTC, datetime, timedelta

from schemas import Network
from service.settings import Settings
from tests.helpers import Service, decode, level_reading, running_service, series, sse_events


def _recent(hours: float = 3.0) -> datetime:
    return (datetime.now(UTC) - timedelta(hours=hours)).replace(microsecond=0)


async def test_katulampa_rise_and_fall_gives_three_escalations_and_a_de_escalation(
    settings: Settings, network: Network
) -> None:
    # hourly readings (a plausible Katulampa rise); no dwell, so the fall shows at once
    settings = settings.model_copy(update={"min_dwell_s": 0.0})
    start = _recent(hours=6)
    async with running_service(settings, network) as svc:
        latencies = []
        expected = [(60, None), (90, 3), (160, 2), (210, 1), (120, 3)]
        seen = 0
        for i, (value, level) in enumerate(expected):
            reading = level_reading("katulampa", start + timedelta(hours=i), value)
            posted = time.monotonic()
            response = await svc.gateway.post("/v1/readings", json={"readings": [reading]})
            assert response.status_code == 200, response.text
            assert response.json()["accepted"] == 1
            if level is None:
                continue
            seen += 1
            alerts = await svc.wait_for_alerts(seen, timeout_s=2.0, region_id="kota-bogor",
                                               kind="observed")
            latencies.append(time.monotonic() - posted)
            assert alerts[0]["level"] == level
            assert alerts[0]["value"] == value
        alerts = list(reversed(await svc.wait_for_alerts(4, region_id="kota-bogor",
                                                         kind="observed")))
        assert [a["level"] for a in alerts] == [3, 2, 1, 3]
        assert [a["previous_level"] for a in alerts] == [4, 3, 2, 1]
        assert [a["msg_type"] for a in alerts] == ["alert", "update", "update", "update"]
        for earlier, later in itertools.pairwise(alerts):
            assert later["references"] == [earlier["id"]]
        assert all(a["kind"] == "observed" and a["certainty"] == "observed" for a in alerts)
        assert all(a["station_id"] == "katulampa" and a["basin"] == "ciliwung" for a in alerts)
        assert alerts[2]["headline"]["id"].startswith("Siaga 1 (Awas) di Bendung Katulampa")
        assert "Danger" in alerts[2]["instruction"]["en"]
        assert max(latencies) < 2.0

        one = await svc.client.get(f"/v1/alerts/{alerts[2]['id']}")
        assert one.status_code == 200 and one.json() == alerts[2]
        assert (await svc.client.get("/v1/alerts/no-such-alert")).status_code == 404
        page = await svc.client.get("/v1/alerts", params={
            "limit": 2, "station_id": "katulampa", "kind": "observed"})
        assert [a["level"] for a in page.json()["alerts"]] == [3, 1]
        older = await svc.client.get("/v1/alerts", params={
            "limit": 10_000, "station_id": "katulampa", "kind": "observed",
            "cursor": page.json()["next_cursor"]})
        assert [a["level"] for a in older.json()["alerts"]] == [2, 3]
        assert older.json()["next_cursor"] is None
        assert (await svc.client.get("/v1/alerts", params={"limit": 10_001})).status_code == 422

        # Depok and Jakarta heard: Siaga 3, 2, 1 on its way (the fall to 3 is still the
        # same wave: its Siaga 1 water has not reached them yet)
        predicted = await svc.wait_for_alerts(6, kind="predicted")
        assert sorted((a["region_id"], a["level"]) for a in predicted) == [
            ("dki-jakarta", 1), ("dki-jakarta", 2), ("dki-jakarta", 3),
            ("kota-depok", 1), ("kota-depok", 2), ("kota-depok", 3)]
        status = (await svc.operator.get("/v1/status")).json()
        katulampa = next(s for s in status["stations"] if s["station_id"] == "katulampa")
        assert katulampa["last_value"] == 120.0
        assert katulampa["level"] == 3
        assert datetime.fromisoformat(katulampa["last_observed_at"]) == start + timedelta(
            hours=4
        )
        assert status["counts"]["readings_accepted_here"] == 5
        assert status["counts"]["alerts_emitted"] == 4 + 6
        assert status["broker_reachable"] is True


async def test_return_to_normal_cancels_the_episode(settings: Settings, network: Network) -> None:
    settings = settings.model_copy(update={"min_dwell_s": 0.0})
    readings = series("depok", _recent(), [150, 280, 180], step=timedelta(hours=1))
    async with running_service(settings, network) as svc:
        response = await svc.gateway.post("/v1/readings", json={"readings": readings})
        assert response.status_code == 200
        alerts = list(reversed(await svc.wait_for_alerts(2, station_id="depok")))
        assert [(a["level"], a["msg_type"]) for a in alerts] == [(2, "alert"), (4, "cancel")]
        assert alerts[1]["references"] == [alerts[0]["id"]]
        assert alerts[1]["region_id"] == "kota-depok"


async def test_sse_stream_delivers_alerts_of_its_region_only(
    settings: Settings, network: Network
) -> None:
    start = _recent()
    async with running_service(settings, network) as svc:
        received: list[dict[str, str]] = []

        async def listen() -> None:
            async with svc.client.stream(
                "GET", "/v1/regions/dki-jakarta/alerts/stream"
            ) as response:
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                buffer = ""
                async for chunk in response.aiter_text():
                    buffer += chunk
                    received[:] = sse_events(buffer)
                    if len(received) >= 2:
                        return

        listener = asyncio.create_task(listen())
        await asyncio.sleep(0.3)  # let the stream subscribe before the alerts exist
        readings = [
            level_reading("katulampa", start, 170),  # Kota Bogor: not for this stream
            level_reading("pesanggrahan", start, 160),
            level_reading("pesanggrahan", start + timedelta(hours=1), 260),
        ]
        response = await svc.gateway.post("/v1/readings", json={"readings": readings})
        assert response.status_code == 200
        await asyncio.wait_for(listener, 10)
        alerts = [decode(e) for e in received]
        assert [(a["station_id"], a["level"]) for a in alerts] == [
            ("pesanggrahan", 3), ("pesanggrahan", 2)
        ]
        assert [e["id"] for e in received] == [a["id"] for a in alerts]
        assert all(e["event"] == "alert" for e in received)


async def test_sse_sends_heartbeats_and_resumes_after_last_event_id(
    settings: Settings, network: Network
) -> None:
    readings = series("krukut-hulu", _recent(), [100, 160, 260, 310],
                      step=timedelta(hours=1))
    async with running_service(settings, network) as svc:
        await svc.gateway.post("/v1/readings", json={"readings": readings})
        alerts = list(reversed(await svc.wait_for_alerts(3, station_id="krukut-hulu")))
        text = ""
        async with svc.client.stream(
            "GET", "/v1/regions/dki-jakarta/alerts/stream",
            headers={"Last-Event-ID": alerts[0]["id"]},
        ) as response:
            async for chunk in response.aiter_text():
                text += chunk
                if ": heartbeat" in text:
                    break
        missed = [decode(e)["id"] for e in sse_events(text)]
        assert missed == [alerts[1]["id"], alerts[2]["id"]]


async def test_unknown_region_stream_is_404(settings: Settings, network: Network) -> None:
    async with running_service(settings, network, with_worker=False) as svc:
        response = await svc.client.get("/v1/regions/atlantis/alerts/stream")
        assert response.status_code == 404


async def test_a_silent_gauge_goes_stale_by_the_wall_clock_when_live(
    settings: Settings, network: Network
) -> None:
    settings = settings.model_copy(update={"stale_wall_clock": True, "stale_grace": 2.0})
    async with running_service(settings, network) as svc:
        # Depok at Siaga 1 should report every 5 min; its last word is 20 min old
        reading = level_reading("depok", datetime.now(UTC) - timedelta(minutes=20), 360)
        assert (await svc.gateway.post("/v1/readings", json={"readings": [reading]})
                ).status_code == 200
        alerts = await svc.wait_for_alerts(1, station_id="depok", kind="sensor")
        stale = alerts[0]
        assert (stale["fault"], stale["msg_type"], stale["level"]) == ("stale", "alert", 1)
        # its time is the deadline (last reading + 2 × 5 min), not when it was noticed
        assert datetime.fromisoformat(stale["observed_at"]) == datetime.fromisoformat(
            reading["observed_at"]) + timedelta(minutes=10)
        status = (await svc.operator.get("/v1/status")).json()
        depok = next(s for s in status["stations"] if s["station_id"] == "depok")
        assert (depok["level"], depok["stale"], depok["sensor_fault"]) == (1, True, "stale")
        assert depok["certainty"] == "likely"
        # a fresh reading ends it, and the level was never cleared
        fresh = level_reading("depok", datetime.now(UTC) - timedelta(seconds=5), 358)
        await svc.gateway.post("/v1/readings", json={"readings": [fresh]})
        alerts = await svc.wait_for_alerts(2, station_id="depok", kind="sensor")
        assert alerts[0]["msg_type"] == "cancel" and alerts[0]["references"] == [stale["id"]]
        observed = (await svc.client.get("/v1/alerts", params={"station_id": "depok",
                                                              "kind": "observed"})).json()
        assert [a["level"] for a in observed["alerts"]] == [1]


async def _stream_until(svc: Service, count: int, last_event_id: str | None = None
                        ) -> list[dict[str, str]]:
    """Read the Jakarta stream until `count` alert events came, then hang up."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    text = ""
    async with svc.client.stream("GET", "/v1/regions/dki-jakarta/alerts/stream",
                                 headers=headers) as response:
        async for chunk in response.aiter_text():
            text += chunk
            if len(sse_events(text)) >= count:
                break
    return sse_events(text)[:count]


async def test_a_reconnecting_stream_client_misses_nothing_and_sees_nothing_twice(
    settings: Settings, network: Network
) -> None:
    hour = timedelta(hours=1)
    start = _recent(hours=10)
    first = series("krukut-hulu", start, [100, 160, 260], step=hour)          # 3, 2
    second = series("krukut-hulu", start + 3 * hour, [310, 320], step=hour)   # 1
    third = series("sunter-hulu", start, [100, 150, 210, 260], step=hour)     # 3, 2, 1
    async with running_service(settings, network) as svc:
        listener = asyncio.create_task(_stream_until(svc, 2))
        await asyncio.sleep(0.3)
        await svc.gateway.post("/v1/readings", json={"readings": first})
        part_one = await asyncio.wait_for(listener, 10)
        # hung up; alerts go on meanwhile
        await svc.gateway.post("/v1/readings", json={"readings": second})
        await svc.wait_for_alerts(3, region_id="dki-jakarta", kind="observed")
        part_two = await asyncio.wait_for(
            _stream_until(svc, 1, last_event_id=part_one[-1]["id"]), 10)
        await svc.gateway.post("/v1/readings", json={"readings": third})
        everything = await svc.wait_for_alerts(6, region_id="dki-jakarta", kind="observed")
    # a restarted API rebuilds from Kafka and still resumes from the same id
    async with running_service(settings, network, with_worker=False) as svc:
        part_three = await asyncio.wait_for(
            _stream_until(svc, 3, last_event_id=part_two[-1]["id"]), 10)
    seen = [e["id"] for e in part_one + part_two + part_three]
    assert seen == [a["id"] for a in reversed(everything)]
    assert len(set(seen)) == len(seen) == 6
