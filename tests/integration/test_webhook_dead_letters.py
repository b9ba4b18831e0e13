"""Dead letters: refused (410), given up (down past the give-up time), refused
address at delivery time; listed by the API and requeued by an operator. And the
webhook URL check when a subscription is made."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from schemas import Network
from service.delivery.dispatcher import Dispatcher
from service.settings import Settings
from tests.helpers import Service, running_service
from tests.receiver import receiver
from tests.webhook_alerts import (
    make_alert,
    produce_alerts,
    webhook_status,
    webhook_subscription,
)


async def dead_letters(svc: Service, sub_id: str, count: int, timeout_s: float = 20.0,
                       state: str = "dead") -> list[dict[str, Any]]:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        response = await svc.operator.get("/v1/deliveries/dead",
                                          params={"subscription_id": sub_id, "state": state})
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["dead_letters"]
        if len(found) >= count:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"{len(found)} dead letters of {sub_id}, wanted {count}")
        await asyncio.sleep(0.1)


async def test_a_410_is_dead_lettered_at_once_then_requeued_and_delivered(
        settings: Settings, network: Network) -> None:
    async with receiver() as rx, running_service(settings, network, with_worker=False) as svc:
        rx.answer("/gone", 410)
        sub_id, _ = await webhook_subscription(svc, rx.url("/gone"))
        await webhook_status(svc, sub_id)
        await produce_alerts(settings, [make_alert(1), make_alert(2)])
        dead = await dead_letters(svc, sub_id, 2)
        await asyncio.sleep(0.5)  # time enough for a retry, were there one
        assert len(rx.at("/gone", 410)) == 2  # each tried once, not retried
        assert {d["alert_id"] for d in dead} == {make_alert(1).id, make_alert(2).id}
        assert all(d["status_code"] == 410 and d["retriable"] is False and d["attempts"] == 1
                   and "410" in d["reason"] for d in dead)
        await webhook_status(svc, sub_id, dead_letters=2)
        # not an operator: no list, no requeue
        response = await svc.client.get("/v1/deliveries/dead")
        assert response.status_code == 401

        rx.answer("/gone", 200)  # the receiver is fixed
        one = await svc.operator.post(
            f"/v1/deliveries/dead/{sub_id}/{make_alert(2).id}/requeue")
        assert one.status_code == 202, one.text
        assert await rx.wait_for("/gone", 1) == [make_alert(2).id]
        rest = await svc.operator.post(f"/v1/deliveries/dead/{sub_id}/requeue")
        assert rest.status_code == 202 and rest.json()["count"] == 1
        await rx.wait_for("/gone", 2)
        await webhook_status(svc, sub_id, dead_letters=0, delivered=2)
        response = await svc.operator.get("/v1/deliveries/dead",
                                          params={"subscription_id": sub_id})
        assert response.json()["count"] == 0
        missing = await svc.operator.post(f"/v1/deliveries/dead/{sub_id}/no-such/requeue")
        assert missing.status_code == 404


async def test_a_receiver_down_longer_than_the_give_up_time_gets_a_dead_letter(
        settings: Settings, network: Network) -> None:
    settings = settings.model_copy(update={
        "webhook_give_up_s": 1.5, "webhook_backoff_base_s": 0.05,
        "webhook_backoff_max_s": 0.3, "webhook_breaker_open_s": 0.2})
    async with receiver() as rx, running_service(settings, network, with_worker=False) as svc:
        rx.answer("/down", 503)
        sub_id, _ = await webhook_subscription(svc, rx.url("/down"))
        await webhook_status(svc, sub_id)
        await produce_alerts(settings, [make_alert(1)])
        [dead] = await dead_letters(svc, sub_id, 1, timeout_s=10)
        tries = len(rx.at("/down", 503))
        await asyncio.sleep(0.5)
        assert len(rx.at("/down", 503)) == tries  # given up: no more attempts
    assert dead["retriable"] is True and dead["status_code"] == 503
    assert dead["reason"].startswith("gave up after") and "HTTP 503" in dead["reason"]
    assert dead["attempts"] == tries >= 2


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/hook", "http://localhost/hook",
                                 "http://10.1.2.3/hook", "http://[::1]/hook",
                                 "http://169.254.169.254/latest", "http://[fd00::1]/x",
                                 "http://0.0.0.0/x", "http://[::ffff:127.0.0.1]/x"])
async def test_a_webhook_url_inside_our_network_is_refused_with_a_reason(
        settings: Settings, network: Network, url: str) -> None:
    strict = settings.model_copy(update={"webhook_allow_nets": ""})
    async with running_service(strict, network, with_worker=False,
                               with_dispatcher=False) as svc:
        response = await svc.operator.post("/v1/subscriptions", json={
            "region_id": "kota-bogor", "channel": {"type": "webhook", "url": url}})
        assert response.status_code == 422, response.text
        [error] = response.json()["detail"]
        assert error["loc"] == ["body", "channel", "url"]
        assert "refused" in error["msg"] and " address" in error["msg"]
        ok = await svc.operator.post("/v1/subscriptions", json={
            "region_id": "kota-bogor", "channel": {"type": "pull"}})
        assert ok.status_code == 201
        made = ok.json()["id"]
        patched = await svc.operator.patch(f"/v1/subscriptions/{made}", json={
            "channel": {"type": "webhook", "url": url}})
        assert patched.status_code == 422


async def test_a_dispatcher_that_may_not_reach_the_address_dead_letters_with_the_reason(
        settings: Settings, network: Network) -> None:
    # the API allows loopback (as tests do); this dispatcher does not, as in production
    strict = settings.model_copy(update={"webhook_allow_nets": ""})
    async with receiver() as rx, running_service(settings, network, with_worker=False,
                                                 with_dispatcher=False) as svc:
        sub_id, _ = await webhook_subscription(svc, rx.url("/inside"))
        async with Dispatcher(strict, network) as dispatcher:
            task = asyncio.create_task(dispatcher.run())
            for _ in range(400):
                if sub_id in dispatcher.subscribers:
                    break
                await asyncio.sleep(0.05)
            await produce_alerts(settings, [make_alert(1)])
            [dead] = await dead_letters(svc, sub_id, 1)
            await dispatcher.stop()
            await task
    assert dead["retriable"] is False and dead["status_code"] is None
    assert "127.0.0.1 is a loopback address" in dead["reason"]
    assert rx.received == []
