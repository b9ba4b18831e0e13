"""A `siaga dispatcher` process killed with SIGKILL mid-backlog, again and again:
the receiver still gets every alert, in order, and each id again at most once per
kill (the one in flight when it died; its idempotency key lets the receiver drop it).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest

from schemas import Network
from service.settings import Settings
from tests.helpers import running_service
from tests.receiver import Receiver, receiver
from tests.webhook_alerts import make_alert, produce_alerts, webhook_status, webhook_subscription

ALERTS = 150
KILLS = 4


def dispatcher_process(settings: Settings) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIAGA_")}
    env.update({
        "SIAGA_KAFKA_BOOTSTRAP": settings.bootstrap(),
        "SIAGA_KAFKA_IDEMPOTENCE": "false",
        "SIAGA_TOPIC_PREFIX": settings.topic_prefix,
        "SIAGA_KAFKA_FETCH_MAX_WAIT_MS": "20",
        "SIAGA_WEBHOOK_ALLOW_NETS": "127.0.0.0/8",
        "SIAGA_WEBHOOK_STATUS_INTERVAL_S": "0.3",
        # small queues: the backlog is read from the topic, through the kills too
        "SIAGA_WEBHOOK_QUEUE_MAX": "20",
        "SIAGA_LOG_LEVEL": "WARNING",
    })
    return subprocess.Popen([sys.executable, "-m", "service.cli", "dispatcher"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def grows_by(rx: Receiver, path: str, count: int, timeout_s: float = 30.0) -> None:
    target = len(rx.at(path)) + count
    deadline = time.monotonic() + timeout_s
    while len(rx.at(path)) < target:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path}: {len(rx.at(path))} deliveries, wanted {target}")
        await asyncio.sleep(0.01)


@pytest.mark.timeout(180)
async def test_sigkill_mid_backlog_neither_skips_nor_repeats_more_than_one_per_kill(
        settings: Settings, network: Network) -> None:
    alerts = [make_alert(i) for i in range(ALERTS)]
    async with receiver() as rx, running_service(settings, network, with_worker=False,
                                                 with_dispatcher=False) as svc:
        rx.answer("/hook", 200, delay_s=0.01)
        sub_id, secret = await webhook_subscription(svc, rx.url("/hook"))
        process = dispatcher_process(settings)
        try:
            await webhook_status(svc, sub_id)  # it has seen the subscription: "from now"
            await produce_alerts(settings, [*alerts[:70], *alerts[60:70], *alerts[70:]])
            for _ in range(KILLS):
                await grows_by(rx, "/hook", 15)
                process.send_signal(signal.SIGKILL)
                process.wait(10)
                process = dispatcher_process(settings)
            await rx.wait_for("/hook", ALERTS, timeout_s=60)
            await webhook_status(svc, sub_id, backlog=0)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(10)

    got = rx.ids("/hook")
    first_seen = list(dict.fromkeys(got))
    redelivered = len(got) - len(first_seen)
    print(f"{len(got)} deliveries of {ALERTS} alerts over {KILLS} SIGKILLs: "
          f"{redelivered} redelivered")
    assert first_seen == [a.id for a in alerts]  # none skipped, in order
    assert redelivered <= KILLS  # at most the one in flight per kill
    assert all(r.signed_by(secret) for r in rx.at("/hook"))
    # a redelivery comes straight after a restart, right where the cursor stood
    for i, alert_id in enumerate(got):
        if alert_id in got[:i]:
            assert got[i - 1] == alert_id
