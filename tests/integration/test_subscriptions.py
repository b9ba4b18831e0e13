"""Subscriptions over HTTP against the real broker: CRUD, scopes, replicas, restarts.

Two API replicas on the same topics must agree within about a second, and a new
service on the same topics rebuilds the registry (a PATCHed default and a
deleted one included) from `siaga.subscriptions`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from schemas import Network
from service.settings import Settings
from tests.helpers import Service, bearer, read_topic, running_service

SUBS = "/v1/subscriptions"


def as_(svc: Service, who: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=svc.base_url, timeout=10.0, headers=bearer(who))


async def test_crud_with_status_codes_and_scopes(settings: Settings, network: Network) -> None:
    async with (running_service(settings, network, with_worker=False) as svc,
                as_(svc, "jakarta-sub") as jakarta, as_(svc, "bogor-sub") as bogor):
        # every region has its default; a subscriber sees only its own region's
        everything = (await svc.operator.get(SUBS)).json()
        assert {s["id"] for s in everything["subscriptions"]} == {
            f"default-{r.id}" for r in network.regions}
        mine = (await jakarta.get(SUBS)).json()["subscriptions"]
        assert [s["id"] for s in mine] == ["default-dki-jakarta"]
        assert (await svc.client.get(SUBS)).status_code == 401
        assert (await svc.gateway.get(SUBS)).status_code == 403

        body: dict[str, Any] = {"region_id": "dki-jakarta", "stations": ["katulampa"],
                                "min_level": 2, "kinds": ["observed", "predicted"],
                                "language": "en",
                                "channel": {"type": "webhook", "url": "https://bpbd.example/h"}}
        assert (await bogor.post(SUBS, json=body)).status_code == 403
        assert (await svc.gateway.post(SUBS, json=body)).status_code == 403
        assert (await svc.client.post(SUBS, json=body)).status_code == 401
        created = await jakarta.post(SUBS, json=body)
        assert created.status_code == 201, created.text
        sub = created.json()
        secret = sub["secret"]
        assert isinstance(secret, str) and len(secret) >= 32
        assert sub["channel"] == {"type": "webhook", "url": "https://bpbd.example/h",
                                  "has_secret": True}
        assert (sub["created_by"], sub["is_default"]) == ("jakarta-sub", False)
        url = f"{SUBS}/{sub['id']}"
        shown = await jakarta.get(url)
        assert shown.status_code == 200 and secret not in shown.text
        assert shown.json()["stations"] == ["katulampa"]
        assert secret not in (await svc.operator.get(SUBS)).text

        # unknown ids are named; webhooks must be http(s)
        bad = await jakarta.post(SUBS, json={**body, "stations": ["katulampa", "atlantis"]})
        assert bad.status_code == 422 and "unknown station 'atlantis'" in bad.text
        assert bad.json()["detail"][0]["loc"] == ["body", "stations", 1]
        bad = await jakarta.post(SUBS, json={**body, "basins": ["nile"],
                                             "upstream_regions": ["mars"]})
        assert "unknown basin 'nile'" in bad.text and "unknown region 'mars'" in bad.text
        bad = await svc.operator.post(SUBS, json={**body, "region_id": "atlantis"})
        assert bad.status_code == 422 and "unknown region 'atlantis'" in bad.text
        bad = await jakarta.post(SUBS, json={**body, "channel": {"type": "webhook",
                                                                 "url": "ftp://x.example/"}})
        assert bad.status_code == 422
        # a subscriber of another region hears 403 on anything of Jakarta's
        assert (await bogor.get(url)).status_code == 403
        assert (await bogor.patch(url, json={"min_level": 1})).status_code == 403
        assert (await bogor.delete(url)).status_code == 403
        assert (await bogor.get(f"{url}/alerts")).status_code == 403
        assert (await jakarta.get(f"{SUBS}/sub-nothing")).status_code == 404

        patched = await jakarta.patch(url, json={"min_level": 1, "basins": ["ciliwung"],
                                                 "channel": {"type": "webhook",
                                                             "url": "https://bpbd.example/v2"}})
        assert patched.status_code == 200, patched.text
        assert (patched.json()["min_level"], patched.json()["basins"]) == (1, ["ciliwung"])
        assert patched.json()["secret"] is None  # the old secret is kept, not shown
        assert (await jakarta.patch(url, json={"region_id": "kota-bogor"})).status_code == 403
        assert (await jakarta.patch(url, json={"stations": ["atlantis"]})).status_code == 422
        assert (await svc.operator.patch(url, json={"name": "ops was here"})).status_code == 200

        assert (await jakarta.delete(url)).status_code == 204
        assert (await jakarta.get(url)).status_code == 404
        assert (await jakarta.delete(url)).status_code == 404

        # what is on the topic: JSON by id, the secret kept for signing, then a tombstone
        records = [r for r in await read_topic(settings, settings.topic("subscriptions"), 1)
                   if r.key == sub["id"].encode()]
        assert records[-1].value is None
        stored = [json.loads(r.value) for r in records[:-1]]
        assert [s["min_level"] for s in stored] == [2, 1, 1]
        assert {s["channel"]["secret"] for s in stored} == {secret}
        assert stored[-1]["channel"]["url"] == "https://bpbd.example/v2"


async def _wait_until(check: Any, timeout_s: float) -> float:
    start = asyncio.get_running_loop().time()
    while not await check():
        if asyncio.get_running_loop().time() - start > timeout_s:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.05)
    return asyncio.get_running_loop().time() - start


async def test_replicas_agree_within_a_second_and_a_restart_rebuilds_the_registry(
    settings: Settings, network: Network
) -> None:
    async with (running_service(settings, network, with_worker=False) as one,
                running_service(settings, network, with_worker=False) as two):
        # both replicas seeded the defaults at once: harmless, each one is there once
        listed = (await two.operator.get(SUBS)).json()["subscriptions"]
        assert sorted(s["id"] for s in listed) == sorted(
            f"default-{r.id}" for r in network.regions)
        created = await one.operator.post(SUBS, json={"region_id": "kota-tangerang",
                                                      "basins": ["cisadane"]})
        assert created.status_code == 201
        custom = created.json()["id"]

        async def seen_on_two() -> bool:
            return (await two.operator.get(f"{SUBS}/{custom}")).status_code == 200

        assert await _wait_until(seen_on_two, 5.0) < 1.0
        patched = await one.operator.patch(f"{SUBS}/default-kota-depok",
                                           json={"min_level": 2, "kinds": ["observed"]})
        assert patched.status_code == 200
        assert (await two.operator.delete(f"{SUBS}/default-kota-bogor")).status_code == 204

        async def agreed() -> bool:
            depok = (await two.operator.get(f"{SUBS}/default-kota-depok")).json()
            gone = (await one.operator.get(f"{SUBS}/default-kota-bogor")).status_code == 404
            return bool(depok["min_level"] == 2 and gone)

        assert await _wait_until(agreed, 5.0) < 1.0

    # both stopped; a new service on the same topics rebuilds the registry before serving
    async with running_service(settings, network, with_worker=False) as three:
        listed = {s["id"]: s for s in (await three.operator.get(SUBS)).json()["subscriptions"]}
        assert custom in listed and listed[custom]["basins"] == ["cisadane"]
        assert (listed["default-kota-depok"]["min_level"],
                listed["default-kota-depok"]["kinds"]) == (2, ["observed"])
        assert "default-kota-bogor" not in listed  # deleted stays deleted
        assert "default-dki-jakarta" in listed
        status = (await three.operator.get("/v1/status")).json()
        per_region = status["subscriptions_per_region"]
        assert per_region["kota-bogor"] == 0 and per_region["kota-tangerang"] == 2
