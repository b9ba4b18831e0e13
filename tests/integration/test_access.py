"""Who may call what: every route × {no token, wrong token, wrong scope, right scope}.

Table-driven against one real service per module (uvicorn + the embedded
broker + a worker, so the alert routes have a real alert to serve). The
path-scoped subscriber dependency is exercised on a small route added for the
test; the subscription, silence and acknowledgement routes check the region of
the record they touch.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import APIRouter, FastAPI, HTTPException

from schemas import Network
from service.api.runtime import RuntimeDep
from service.api.security import SubscriberDep
from service.auth import mint_token
from service.broker import EmbeddedBroker
from service.ingest import NOT_PERMITTED
from service.settings import Settings
from tests.conftest import make_settings
from tests.helpers import TOKENS, Service, level_reading, read_topic, running_service, series

pytestmark = pytest.mark.asyncio(loop_scope="module")

PROBE = "/v1/regions/{region}/subscriber-probe"


def _add_subscriber_probe(app: FastAPI) -> None:
    router = APIRouter()

    @router.get("/v1/regions/{region_id}/subscriber-probe")
    async def probe(region_id: str, identity: SubscriberDep, rt: RuntimeDep) -> dict[str, str]:
        if region_id not in rt.network.regions_by_id:
            raise HTTPException(404, "no such region")
        return {"region": region_id, "by": identity.name}

    app.include_router(router)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def alert_id(svc: Service) -> str:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    posted = await svc.gateway.post("/v1/readings", json={
        "readings": series("katulampa", start, [60, 90])})
    assert posted.status_code == 200
    # Kota Bogor's own alert: the router also sends predictions to the regions downstream
    alerts = await svc.wait_for_alerts(1, timeout_s=20, region_id="kota-bogor")
    return str(alerts[0]["id"])


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def svc(broker: EmbeddedBroker, network: Network) -> AsyncIterator[Service]:
    async with running_service(make_settings(broker.bootstrap), network,
                               customize=_add_subscriber_probe) as service:
        yield service


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def private_svc(broker: EmbeddedBroker, network: Network) -> AsyncIterator[Service]:
    settings = make_settings(broker.bootstrap, public_alerts=False)
    async with running_service(settings, network, with_worker=False) as service:
        yield service


def _headers(who: str) -> dict[str, str]:
    if who == "none":
        return {}
    if who == "wrong":
        return {"Authorization": f"Bearer {mint_token()}"}
    if who == "not-bearer":
        return {"Authorization": f"Basic {TOKENS['ops']}"}
    return {"Authorization": f"Bearer {TOKENS[who]}"}


def _reading() -> dict[str, Any]:
    return level_reading("katulampa", datetime.now(UTC) - timedelta(minutes=30), 50)


READINGS = "/v1/readings"
STREAM = "/v1/regions/kota-bogor/alerts/stream"
ONE_ALERT = "/v1/alerts/{alert}"
ACK = "/v1/alerts/{alert}/ack"
SUBS = "/v1/subscriptions"
BOGOR_SUB = "/v1/subscriptions/default-kota-bogor"
SILENCES = "/v1/silences"
DEAD = "/v1/deliveries/dead"

# (method, path, caller, expected status). Callers: "none", "wrong" (a well-formed
# token nobody configured), "not-bearer" (a valid token sent as Basic), or a token name.
ACCESS_TABLE: list[tuple[str, str, str, int]] = [
    # gateways push readings; nobody else does
    ("POST", READINGS, "none", 401),
    ("POST", READINGS, "wrong", 401),
    ("POST", READINGS, "not-bearer", 401),
    ("POST", READINGS, "ops", 403),
    ("POST", READINGS, "jakarta-sub", 403),
    ("POST", READINGS, "bogor-gw", 200),
    ("POST", READINGS, "all-gw", 200),
    # status is for operators
    ("GET", "/v1/status", "none", 401),
    ("GET", "/v1/status", "wrong", 401),
    ("GET", "/v1/status", "all-gw", 403),
    ("GET", "/v1/status", "bogor-sub", 403),
    ("GET", "/v1/status", "ops", 200),
    # any valid token may ask who it is (there is no wrong scope)
    ("GET", "/v1/whoami", "none", 401),
    ("GET", "/v1/whoami", "wrong", 401),
    ("GET", "/v1/whoami", "ops", 200),
    ("GET", "/v1/whoami", "bogor-gw", 200),
    ("GET", "/v1/whoami", "jakarta-sub", 200),
    # warnings are public (no wrong scope); a token presented is still checked
    ("GET", "/v1/alerts", "none", 200),
    ("GET", "/v1/alerts", "wrong", 401),
    ("GET", "/v1/alerts", "jakarta-sub", 200),
    ("GET", ONE_ALERT, "none", 200),
    ("GET", ONE_ALERT, "wrong", 401),
    ("GET", ONE_ALERT, "bogor-gw", 200),
    ("GET", STREAM, "none", 200),
    ("GET", STREAM, "wrong", 401),
    ("GET", STREAM, "bogor-sub", 200),
    # a region's subscriber (or an operator) acts for that region only
    ("GET", PROBE.format(region="kota-bogor"), "none", 401),
    ("GET", PROBE.format(region="kota-bogor"), "wrong", 401),
    ("GET", PROBE.format(region="kota-bogor"), "jakarta-sub", 403),
    ("GET", PROBE.format(region="kota-bogor"), "bogor-gw", 403),
    ("GET", PROBE.format(region="kota-bogor"), "bogor-sub", 200),
    ("GET", PROBE.format(region="kota-bogor"), "ops", 200),
    # not its region: the same 403 whether the region exists or not
    ("GET", PROBE.format(region="atlantis"), "jakarta-sub", 403),
    ("GET", PROBE.format(region="atlantis"), "ops", 404),
    # subscriptions: a region's subscriber (or an operator), never a gateway
    ("GET", SUBS, "none", 401),
    ("GET", SUBS, "wrong", 401),
    ("GET", SUBS, "all-gw", 403),
    ("GET", SUBS, "jakarta-sub", 200),
    ("GET", SUBS, "ops", 200),
    ("POST", SUBS, "none", 401),
    ("POST", SUBS, "bogor-gw", 403),
    ("POST", SUBS, "jakarta-sub", 422),  # past the checks: no body
    ("GET", BOGOR_SUB, "none", 401),
    ("GET", BOGOR_SUB, "wrong", 401),
    ("GET", BOGOR_SUB, "bogor-gw", 403),
    ("GET", BOGOR_SUB, "jakarta-sub", 403),
    ("GET", BOGOR_SUB, "bogor-sub", 200),
    ("GET", BOGOR_SUB, "ops", 200),
    ("GET", BOGOR_SUB + "/alerts", "jakarta-sub", 403),
    ("GET", BOGOR_SUB + "/alerts", "bogor-sub", 200),
    ("PATCH", BOGOR_SUB, "none", 401),
    ("PATCH", BOGOR_SUB, "jakarta-sub", 403),
    ("DELETE", BOGOR_SUB, "none", 401),
    ("DELETE", BOGOR_SUB, "jakarta-sub", 403),
    ("DELETE", BOGOR_SUB, "all-gw", 403),
    # silences: operators change them; any valid token reads them
    ("POST", SILENCES, "none", 401),
    ("POST", SILENCES, "wrong", 401),
    ("POST", SILENCES, "bogor-sub", 403),
    ("POST", SILENCES, "all-gw", 403),
    ("POST", SILENCES, "ops", 422),  # past the checks: no body
    ("DELETE", SILENCES + "/sil-0", "jakarta-sub", 403),
    ("DELETE", SILENCES + "/sil-0", "ops", 404),
    ("GET", SILENCES, "none", 401),
    ("GET", SILENCES, "bogor-gw", 200),
    # acks: the alert's receiving region (Kota Bogor here) or an operator
    ("POST", ACK, "none", 401),
    ("POST", ACK, "wrong", 401),
    ("POST", ACK, "jakarta-sub", 403),
    ("POST", ACK, "bogor-gw", 403),
    ("POST", ACK, "bogor-sub", 202),
    ("POST", ACK, "ops", 200),  # acknowledged already: the earlier ack
    # webhook dead letters: operators only
    ("GET", DEAD, "none", 401),
    ("GET", DEAD, "wrong", 401),
    ("GET", DEAD, "bogor-sub", 403),
    ("GET", DEAD, "all-gw", 403),
    ("GET", DEAD, "ops", 200),
    ("POST", DEAD + "/default-kota-bogor/x/requeue", "none", 401),
    ("POST", DEAD + "/default-kota-bogor/x/requeue", "bogor-sub", 403),
    ("POST", DEAD + "/default-kota-bogor/x/requeue", "ops", 404),  # no such dead letter
    ("POST", DEAD + "/default-kota-bogor/requeue", "jakarta-sub", 403),
    ("POST", DEAD + "/default-kota-bogor/requeue", "ops", 202),  # none to requeue: count 0
    # probes stay open, whatever is presented
    ("GET", "/healthz", "none", 200),
    ("GET", "/healthz", "wrong", 200),
    ("GET", "/readyz", "none", 200),
]

PRIVATE_ALERTS_TABLE: list[tuple[str, str, str, int]] = [
    (method, path, who, expected)
    for method, path in (("GET", "/v1/alerts"), ("GET", "/v1/alerts/none-such"),
                         ("GET", STREAM))
    for who, expected in (("none", 401), ("wrong", 401), ("bogor-gw", 0), ("jakarta-sub", 0),
                          ("ops", 0))
]


async def _call(client: httpx.AsyncClient, method: str, path: str, who: str
                ) -> httpx.Response:
    headers = _headers(who)
    if path == STREAM:
        # the stream never ends: the status line and headers are all this test needs
        async with client.stream("GET", path, headers=headers) as response:
            if response.status_code != 200:
                await response.aread()
            return response
    body = {"readings": [_reading()]} if path == READINGS else None
    return await client.request(method, path, headers=headers, json=body)


def _check_challenge(response: httpx.Response) -> None:
    if response.status_code == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    if response.status_code == 403:
        assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    if response.status_code in (401, 403):
        assert TOKENS["ops"] not in response.text


@pytest.mark.parametrize(("method", "path", "who", "expected"), ACCESS_TABLE,
                         ids=[f"{m} {p} as {w} -> {e}" for m, p, w, e in ACCESS_TABLE])
async def test_access(svc: Service, alert_id: str, method: str, path: str, who: str,
                      expected: int) -> None:
    response = await _call(svc.client, method, path.format(alert=alert_id), who)
    assert response.status_code == expected, response.text if expected != 200 else ""
    _check_challenge(response)


@pytest.mark.parametrize(("method", "path", "who", "expected"), PRIVATE_ALERTS_TABLE,
                         ids=[f"{m} {p} as {w}" for m, p, w, _ in PRIVATE_ALERTS_TABLE])
async def test_access_with_public_alerts_off(private_svc: Service, method: str, path: str,
                                             who: str, expected: int) -> None:
    """`SIAGA_PUBLIC_ALERTS=false`: any valid token reads (0 = whatever the route says)."""
    response = await _call(private_svc.client, method, path, who)
    if expected:
        assert response.status_code == expected
        _check_challenge(response)
    else:
        assert response.status_code in (200, 404)  # 404: no such alert, after auth


async def test_whoami_tells_each_token_its_kind_and_scope(svc: Service, network: Network
                                                         ) -> None:
    async def ask(who: str) -> dict[str, Any]:
        data: dict[str, Any] = (await svc.client.get("/v1/whoami", headers=_headers(who))).json()
        return data

    kota_bogor = sorted(s.id for s in network.stations if s.region_id == "kota-bogor")
    assert await ask("bogor-gw") == {"name": "bogor-gw", "kind": "gateway",
                                     "stations": kota_bogor, "region": None}
    assert (await ask("all-gw"))["stations"] == "*"
    assert await ask("jakarta-sub") == {"name": "jakarta-sub", "kind": "subscriber",
                                        "stations": None, "region": "dki-jakarta"}
    assert (await ask("ops"))["kind"] == "operator"


async def test_a_bogor_gateway_cannot_push_jakarta_gauges(settings: Settings,
                                                          network: Network) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    batch = [
        level_reading("katulampa", start, 60),
        level_reading("manggarai", start, 960),                           # Jakarta's
        level_reading("katulampa", start + timedelta(minutes=10), 90),
        level_reading("atlantis", start, 1),                              # nobody's
        level_reading("manggarai", start + timedelta(minutes=10), 990),
    ]
    async with running_service(settings, network) as svc:
        response = await svc.client.post("/v1/readings", json={"readings": batch},
                                         headers=_headers("bogor-gw"))
        assert response.status_code == 207
        body = response.json()
        assert (body["accepted"], body["rejected"]) == (2, 3)
        verdicts = {v["index"]: v for v in body["items"]}
        assert [verdicts[i]["status"] for i in range(5)] == [
            "accepted", "rejected", "accepted", "rejected", "rejected"]
        # a station elsewhere and one that does not exist are refused in the same words
        assert {verdicts[i]["reason"] for i in (1, 3, 4)} == {NOT_PERMITTED}

        alerts = await svc.wait_for_alerts(1, station_id="katulampa", kind="observed")
        assert [a["level"] for a in alerts] == [3]
        records = await read_topic(settings, settings.readings_topic, 2)
        assert sorted(json.loads(r.value)["station_id"] for r in records) == ["katulampa"] * 2
        # the HTTP ingest names the gateway, so the worker can check its scope again
        assert all(dict(r.headers)["siaga-gateway"] == b"bogor-gw" for r in records)
        listed = (await svc.client.get("/v1/alerts", params={"station_id": "manggarai",
                                                                  "kind": "observed"})).json()
        assert listed["alerts"] == []

        # an every-station gateway hears the precise reason for a station that does not exist
        response = await svc.gateway.post("/v1/readings", json={"readings": [batch[3]]})
        assert "unknown station 'atlantis'" in response.json()["items"][0]["reason"]
