"""Webhook delivery over the real broker to real HTTP receivers on loopback.

Alerts are produced straight into `siaga.alerts` (as the worker and router do); an
in-process dispatcher (the one `running_service` starts) POSTs them.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from schemas import Network
from service.settings import Settings
from tests.helpers import running_service
from tests.receiver import receiver
from tests.webhook_alerts import (
    make_alert,
    produce_alerts,
    webhook_status,
    webhook_subscription,
)

QUICK_RETRIES = {"webhook_backoff_base_s": 0.05, "webhook_backoff_max_s": 0.4,
                 "webhook_breaker_failures": 3, "webhook_breaker_open_s": 0.3}


@pytest.mark.timeout(90)
async def test_a_receiver_down_for_a_while_gets_every_alert_in_order_once_and_signed_while_a_healthy_one_is_not_delayed(  # noqa: E501
        settings: Settings, network: Network) -> None:
    settings = settings.model_copy(update=QUICK_RETRIES)
    alerts = [make_alert(i) for i in range(40)]
    async with receiver() as rx, running_service(settings, network, with_worker=False) as svc:
        rx.answer("/down", 503, headers={"Retry-After": "0"})
        down_id, down_secret = await webhook_subscription(svc, rx.url("/down"))
        up_id, up_secret = await webhook_subscription(svc, rx.url("/up"),
                                                      language="en")
        await webhook_status(svc, down_id)
        await webhook_status(svc, up_id)
        produced_at = time.time()
        # the worker re-emits ids after a crash: the topic may carry one twice
        await produce_alerts(settings, [*alerts[:20], alerts[5], *alerts[20:]])
        await rx.wait_for("/up", len(alerts), timeout_s=20)
        healthy_done = max(r.at for r in rx.at("/up"))
        failures_meanwhile = len(rx.at("/down", 503))
        await webhook_status(svc, down_id, circuit="open")
        rx.answer("/down", 200)  # the endpoint recovers
        await rx.wait_for("/down", len(alerts), timeout_s=30)
        down = await webhook_status(svc, down_id, delivered=len(alerts), backlog=0,
                                    circuit="closed")
        up = await webhook_status(svc, up_id, delivered=len(alerts), backlog=0)

    expected = [a.id for a in alerts]
    for path, secret in (("/down", down_secret), ("/up", up_secret)):
        got = rx.at(path)
        assert [r.alert_id for r in got] == expected  # every alert, in order, each once
        assert all(r.signed_by(secret) for r in got)
        assert all(r.headers["idempotency-key"] == r.alert_id for r in got)
    assert not any(r.signed_by(up_secret) for r in rx.at("/down"))
    assert rx.at("/up")[0].headers["content-language"] == "en"
    # the healthy subscriber was served while the other failed, not after it
    assert failures_meanwhile >= 3
    latencies = [r.at - produced_at for r in rx.at("/up")]
    print(f"healthy receiver while the other was down: max latency {max(latencies):.3f} s, "
          f"all done {healthy_done - produced_at:.3f} s after producing")
    assert max(latencies) < 3.0
    assert down["dead_letters"] == 0 and down["last_error"] == "HTTP 503"
    assert up["last_error"] is None and up["circuit"] == "closed"


@pytest.mark.timeout(90)
async def test_a_slow_endpoint_keeps_its_queue_bounded_and_reads_its_backlog_from_the_topic(
        settings: Settings, network: Network) -> None:
    settings = settings.model_copy(update={"webhook_queue_max": 5})
    alerts = [make_alert(i) for i in range(60)]
    async with receiver() as rx, running_service(settings, network, with_worker=False) as svc:
        rx.answer("/slow", 200, delay_s=0.03)
        slow_id, _ = await webhook_subscription(svc, rx.url("/slow"))
        fast_id, _ = await webhook_subscription(svc, rx.url("/fast"))
        await webhook_status(svc, slow_id)
        await webhook_status(svc, fast_id)
        dispatcher = svc.dispatcher
        assert dispatcher is not None
        slow = dispatcher.subscribers[slow_id]
        longest, spilled = 0, False
        await produce_alerts(settings, alerts)
        while len(rx.ids("/slow")) < len(alerts):
            longest = max(longest, len(slow.queue))
            spilled = spilled or slow.spilled
            await asyncio.sleep(0.005)
        fast_done = max(r.at for r in rx.at("/fast"))
        slow_done = max(r.at for r in rx.at("/slow"))
        await webhook_status(svc, slow_id, backlog=0, delivered=len(alerts))
    assert spilled and longest <= 5  # memory bounded: the rest came from the topic
    assert rx.ids("/slow") == rx.ids("/fast") == [a.id for a in alerts]
    assert fast_done < slow_done - 1.0  # the fast one did not wait for the slow one
