"""Silences and acknowledgements end to end: readings in, alerts out, what is delivered.

A silenced gauge's alerts are recorded and listed (marked) but kept off the
region's SSE stream and the subscription pull feed, while another gauge's
sensor alert in the same region still gets through. An ack over HTTP shows on
the alert, clears it from the operator's status, and is on `siaga.acks` in
the format the router reads.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from schemas import Network
from service.settings import Settings
from tests.helpers import bearer, decode, level_reading, read_topic, running_service, sse_events

FEED = "/v1/subscriptions/default-dki-jakarta/alerts"


def _hours_ago(hours: float) -> datetime:
    return (datetime.now(UTC) - timedelta(hours=hours)).replace(microsecond=0)


async def test_a_silence_keeps_a_gauge_off_the_stream_and_feed_but_listed(
    settings: Settings, network: Network
) -> None:
    settings = settings.model_copy(update={"min_dwell_s": 0.0})
    start = _hours_ago(6)
    async with (running_service(settings, network) as svc,
                httpx.AsyncClient(base_url=svc.base_url, timeout=10.0,
                                  headers=bearer("jakarta-sub")) as jakarta):
        body = {"station_id": "manggarai", "duration_min": 60, "reason": "pump maintenance"}
        assert (await svc.client.post("/v1/silences", json=body)).status_code == 401
        assert (await jakarta.post("/v1/silences", json=body)).status_code == 403
        unknown = await svc.operator.post("/v1/silences", json={**body, "station_id": "nile"})
        assert unknown.status_code == 422 and "unknown station 'nile'" in unknown.text
        empty = await svc.operator.post("/v1/silences", json={**body, "reason": " "})
        assert empty.status_code == 422
        created = await svc.operator.post("/v1/silences", json=body)
        assert created.status_code == 201, created.text
        silence = created.json()
        assert (silence["station_id"], silence["by"], silence["ended_at"]) == (
            "manggarai", "ops", None)
        until = datetime.fromisoformat(silence["ends_at"])
        assert until - datetime.fromisoformat(silence["starts_at"]) == timedelta(minutes=60)

        streamed: list[dict[str, Any]] = []

        async def listen() -> None:
            async with svc.client.stream("GET", "/v1/regions/dki-jakarta/alerts/stream"
                                         ) as response:
                text = ""
                async for chunk in response.aiter_text():
                    text += chunk
                    streamed[:] = [decode(e) for e in sse_events(text)]

        listener = asyncio.create_task(listen())
        await asyncio.sleep(0.3)  # subscribed before the alerts exist
        readings = [
            level_reading("manggarai", start, 700),
            level_reading("manggarai", start + timedelta(hours=1), 755),   # Siaga 3: silenced
            level_reading("karet", start, 460),                            # Siaga 3
            level_reading("karet", start + timedelta(hours=1), 1700),      # out of range: sensor
        ]
        assert (await svc.gateway.post("/v1/readings", json={"readings": readings})
                ).status_code == 200
        await svc.wait_for_alerts(1, station_id="karet", kind="sensor")
        silenced = await svc.wait_for_alerts(1, station_id="manggarai", kind="observed")
        await asyncio.sleep(0.5)  # anything the stream would send has been sent

        # listed, and marked
        manggarai = (await svc.client.get("/v1/alerts", params={"station_id": "manggarai"})
                     ).json()["alerts"]
        assert manggarai and all(a["silenced_by"] == silence["id"] for a in manggarai)
        one = (await svc.client.get(f"/v1/alerts/{silenced[0]['id']}")).json()
        assert one["silenced_by"] == silence["id"]
        karet = (await svc.client.get("/v1/alerts", params={"station_id": "karet"})
                 ).json()["alerts"]
        assert {a["kind"] for a in karet} >= {"observed", "sensor"}
        assert all(a["silenced_by"] is None for a in karet)
        # not streamed, not in the feed; the other gauge's alerts are
        assert {a["station_id"] for a in streamed} == {"karet"}
        assert {a["id"] for a in streamed} == {a["id"] for a in karet}
        feed = (await jakarta.get(FEED)).json()["alerts"]
        assert {a["id"] for a in feed} == {a["id"] for a in karet}

        status = (await svc.operator.get("/v1/status")).json()
        assert [(s["station_id"], s["reason"], s["by"], datetime.fromisoformat(s["until"]))
                for s in status["active_silences"]] == [
            ("manggarai", "pump maintenance", "ops", until)]
        listed = (await jakarta.get("/v1/silences")).json()
        assert [s["id"] for s in listed["silences"]] == [silence["id"]]

        # ending it early keeps the record; later alerts flow again
        assert (await jakarta.delete(f"/v1/silences/{silence['id']}")).status_code == 403
        ended = await svc.operator.delete(f"/v1/silences/{silence['id']}")
        assert ended.status_code == 200 and ended.json()["ended_by"] == "ops"
        assert (await svc.operator.get("/v1/silences")).json()["count"] == 0
        history = (await svc.operator.get("/v1/silences", params={"all": "true"})).json()
        assert [s["ended_at"] is not None for s in history["silences"]] == [True]
        assert (await svc.operator.get("/v1/status")).json()["active_silences"] == []
        later = level_reading("manggarai", start + timedelta(hours=2), 805)  # Siaga 3, rising
        await svc.gateway.post("/v1/readings", json={"readings": [
            later, level_reading("manggarai", start + timedelta(hours=3), 860)]})  # Siaga 2
        alerts = await svc.wait_for_alerts(2, station_id="manggarai", kind="observed")
        for _ in range(40):
            if alerts[0]["id"] in {a["id"] for a in streamed}:
                break
            await asyncio.sleep(0.05)
        assert alerts[0]["level"] == 2 and alerts[0]["silenced_by"] is None
        assert alerts[0]["id"] in {a["id"] for a in streamed}
        assert silenced[0]["id"] not in {a["id"] for a in streamed}
        assert alerts[0]["id"] in {a["id"] for a in (await jakarta.get(FEED)).json()["alerts"]}
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)

        records = await read_topic(settings, settings.topic("silences"), 2)
        values = [json.loads(r.value) for r in records]
        assert [r.key for r in records] == [silence["id"].encode()] * 2
        assert [v["ended_at"] is None for v in values] == [True, False]


async def test_an_ack_shows_on_the_alert_clears_status_and_is_on_the_topic(
    settings: Settings, network: Network
) -> None:
    start = _hours_ago(3)
    readings = [level_reading("katulampa", start, 60),
                level_reading("katulampa", start + timedelta(hours=1), 160)]  # Siaga 2
    async with (running_service(settings, network) as svc,
                httpx.AsyncClient(base_url=svc.base_url, timeout=10.0,
                                  headers=bearer("bogor-sub")) as bogor,
                httpx.AsyncClient(base_url=svc.base_url, timeout=10.0,
                                  headers=bearer("jakarta-sub")) as jakarta):
        await svc.gateway.post("/v1/readings", json={"readings": readings})
        alert = (await svc.wait_for_alerts(1, station_id="katulampa", kind="observed"))[0]
        assert (alert["level"], alert["region_id"], alert["acked_at"]) == (2, "kota-bogor", None)
        # the router warned Depok and Jakarta of the same Siaga 2: theirs to acknowledge
        downstream = await svc.wait_for_alerts(2, kind="predicted")
        downstream = [a for a in downstream if a["level"] == 2]
        status = (await svc.operator.get("/v1/status")).json()
        assert sorted(a["alert_id"] for a in status["unacknowledged"]) == sorted(
            [alert["id"], *(a["id"] for a in downstream)])

        url = f"/v1/alerts/{alert['id']}/ack"
        assert (await svc.client.post(url)).status_code == 401
        assert (await jakarta.post(url)).status_code == 403   # not its region
        assert (await svc.gateway.post(url)).status_code == 403
        assert (await bogor.post("/v1/alerts/no-such-alert/ack")).status_code == 404
        acked = await bogor.post(url, json={"note": "BPBD Kota Bogor on it"})
        assert acked.status_code == 202, acked.text
        ack = acked.json()
        assert set(ack) == {"alert_id", "region_id", "acked_at", "by", "note"}
        assert (ack["alert_id"], ack["region_id"], ack["by"], ack["note"]) == (
            alert["id"], "kota-bogor", "bogor-sub", "BPBD Kota Bogor on it")
        acked_at = datetime.fromisoformat(ack["acked_at"])
        assert acked_at.utcoffset() == timedelta(hours=7)  # Kota Bogor's WIB
        assert abs(datetime.now(UTC) - acked_at) < timedelta(seconds=30)
        again = await bogor.post(url)   # idempotent: the first ack stands
        assert again.status_code == 200 and again.json() == ack

        shown = (await svc.client.get(f"/v1/alerts/{alert['id']}")).json()
        assert (shown["acked_by"], datetime.fromisoformat(shown["acked_at"])) == (
            "bogor-sub", acked_at)
        listed = (await svc.client.get("/v1/alerts", params={"station_id": "katulampa"})
                  ).json()["alerts"]
        assert next(a for a in listed if a["id"] == alert["id"])["acked_by"] == "bogor-sub"
        unacked = (await svc.operator.get("/v1/status")).json()["unacknowledged"]
        assert sorted(a["region_id"] for a in unacked) == ["dki-jakarta", "kota-depok"]

        records = await read_topic(settings, settings.topic("acks"), 1)
        assert [r.key for r in records] == [alert["id"].encode()]
        assert json.loads(records[0].value) == ack

        # an operator may ack any region's alert
        await svc.gateway.post("/v1/readings", json={"readings": [
            level_reading("pesanggrahan", start, 260)]})
        jakarta_alert = (await svc.wait_for_alerts(1, station_id="pesanggrahan"))[0]
        response = await svc.operator.post(f"/v1/alerts/{jakarta_alert['id']}/ack")
        assert response.status_code == 202 and response.json()["by"] == "ops"
