"""Webhook fan-out: many subscribers on loopback, all healthy vs some down.

    python -m bench.bench_fanout [--subscribers 100] [--alerts 10000] [--rate 10] [--down 10]

One receiver process (`bench.webhook_receiver`, a path per subscriber) and one
`siaga dispatcher` process on the embedded broker. Every subscriber takes every
alert (all addressed to one region, so one partition: strictly ordered). Alerts are
produced at `--rate` per second; latency is produced → received (same clock).

Run 1: all subscribers healthy (the baseline). Run 2, on fresh topics: `--down`
subscribers are down, half refusing connections (a port nobody listens on), half
answering 503. The figure that matters: the healthy subscribers' p99 in run 2
against the same subscribers' p99 in run 1 (target: within 20%). Each run first
sends `--warmup` alerts and waits until they are delivered (connections opened, the
down subscribers' circuits open): the steady state is measured, not the start.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from schemas import Alert
from schemas.subscription import Subscription, WebhookChannel
from service import kafka
from service.broker import EmbeddedBroker, free_port
from service.settings import Settings

REGION = "dki-jakarta"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def alert(i: int) -> Alert:
    now = datetime.now(UTC)
    return Alert.model_validate({
        "id": f"bench-{i:06d}", "msg_type": "alert", "station_id": "manggarai",
        "station_name": "PA Manggarai", "basin": "ciliwung", "region_id": REGION, "level": 2,
        "level_name": "Siaga", "previous_level": 3, "kind": "observed", "observed_at": now,
        "issued_at": now, "value": 860.0, "certainty": "observed",
        "headline": {"id": f"Siaga 2 di PA Manggarai ({i})", "en": f"Level 2 at Manggarai ({i})"},
        "instruction": {"id": "Bersiap mengungsi", "en": "Prepare to evacuate"},
    })


def process_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIAGA_")}
    env.update({
        "SIAGA_KAFKA_BOOTSTRAP": settings.bootstrap(), "SIAGA_KAFKA_IDEMPOTENCE": "false",
        "SIAGA_TOPIC_PREFIX": settings.topic_prefix, "SIAGA_KAFKA_FETCH_MAX_WAIT_MS": "10",
        "SIAGA_WEBHOOK_ALLOW_NETS": "127.0.0.0/8", "SIAGA_WEBHOOK_STATUS_INTERVAL_S": "1",
        "SIAGA_LOG_LEVEL": "WARNING",
    })
    return env


def spawn(args: list[str], env: dict[str, str] | None) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", *args], env=env, stdout=subprocess.PIPE)


async def statuses(settings: Settings) -> dict[str, dict[str, object]]:
    found: dict[str, dict[str, object]] = {}

    def keep(record: object) -> None:
        key, value = getattr(record, "key", None), getattr(record, "value", None)
        if key is not None and value is not None:
            found[key.decode()] = json.loads(value)

    await kafka.read_to_end(settings, settings.topic("delivery-status"), keep)
    return found


async def one_run(broker: EmbeddedBroker, subscribers: int, n_alerts: int, rate: float,
                  down: int, warmup: int, compare_from: int) -> dict[str, object]:
    settings = Settings(kafka_bootstrap=broker.bootstrap, kafka_idempotence=False,
                        topic_prefix=f"bench{uuid.uuid4().hex[:6]}")
    await kafka.ensure_topics(settings)
    port, refused = free_port(), free_port()
    out = Path(tempfile.mkdtemp()) / "received.json"
    receiver = spawn(["bench.webhook_receiver", str(port), str(out)], None)
    if receiver.stdout is not None:
        receiver.stdout.readline()  # "ready"
    now = datetime.now(UTC)
    urls = {}
    for s in range(subscribers):
        if s < down // 2:
            urls[f"sub-{s:03d}"] = f"http://127.0.0.1:{refused}/s/{s}"
        elif s < down:
            urls[f"sub-{s:03d}"] = f"http://127.0.0.1:{port}/down/{s}"
        else:
            urls[f"sub-{s:03d}"] = f"http://127.0.0.1:{port}/s/{s}"
    producer = kafka.producer(settings)
    await producer.start()
    for sub_id, url in urls.items():
        sub = Subscription(id=sub_id, region_id=REGION, channel=WebhookChannel(
            type="webhook", url=url, secret="bench-secret-0123456789"),
            created_at=now, updated_at=now, created_by="bench")
        await producer.send(settings.topic("subscriptions"), sub.model_dump_json().encode(),
                            key=sub_id.encode())
    await producer.flush()
    dispatcher = spawn(["service.cli", "dispatcher"], process_env(settings))
    healthy = [s for s in urls if int(s[4:]) >= down]
    try:
        for _ in range(240):
            if len(await statuses(settings)) >= subscribers:  # it has seen them all
                break
            await asyncio.sleep(0.5)
        produced: dict[str, float] = {}

        async def paced(first_index: int, count: int) -> None:
            start = time.perf_counter()
            for k in range(count):
                a = alert(first_index + k)
                produced[a.id] = time.time()
                await producer.send(settings.alerts_topic, a.model_dump_json().encode(),
                                    key=REGION.encode())
                delay = start + (k + 1) / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            await producer.flush()
            deadline = time.monotonic() + 900
            while time.monotonic() < deadline:
                got = await statuses(settings)
                done = sum(int(str(got[s]["delivered"])) for s in healthy if s in got)
                if done >= len(healthy) * (first_index + count):
                    return
                await asyncio.sleep(0.5)

        # warm-up, not measured: connections opened, the down ones' circuits open
        await paced(0, warmup)
        first = time.time()
        await paced(warmup, n_alerts)
        states = await statuses(settings)
    finally:
        dispatcher.send_signal(signal.SIGTERM)
        dispatcher.wait(30)
        receiver.send_signal(signal.SIGTERM)
        receiver.wait(30)
        await producer.stop()
    log: list[tuple[str, str, float]] = json.loads(out.read_text())
    by_sub: dict[str, list[str]] = {}
    for path, alert_id, _at in log:
        by_sub.setdefault(path, []).append(alert_id)
    in_order = all(ids == sorted(ids) and len(ids) == len(set(ids)) == warmup + n_alerts
                   for ids in by_sub.values())
    measured = [(path, alert_id, at) for path, alert_id, at in log
                if int(alert_id.rsplit("-", 1)[1]) >= warmup]
    latencies = [at - produced[alert_id] for _path, alert_id, at in measured]
    # the subscribers that are healthy in both runs: the same set compared
    same = [at - produced[alert_id] for path, alert_id, at in measured
            if int(path.rsplit("/", 1)[1]) >= compare_from]
    last = max(at for _p, _a, at in measured)
    return {
        "deliveries": len(measured), "healthy_subscribers": len(healthy), "down": down,
        "deliveries_per_s": len(measured) / (last - first),
        "p50_ms": pct(latencies, 0.50), "p99_ms": pct(latencies, 0.99),
        "p99_same_subscribers_ms": pct(same, 0.99),
        "max_ms": max(latencies) * 1000, "all_in_order_once": in_order,
        "down_circuits": sorted({str(states[s]["circuit"]) for s in urls if s not in healthy}),
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--alerts", type=int, default=10_000)
    # 10/s to 100 subscribers is 1,000 deliveries/s: below the one dispatcher's ceiling
    # on this machine (~1,400/s), so latency is delivery, not a growing queue
    parser.add_argument("--rate", type=float, default=10.0, help="alerts per second")
    parser.add_argument("--down", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=50,
                        help="alerts sent and delivered first, not measured")
    args = parser.parse_args()
    with EmbeddedBroker() as broker:
        base = await one_run(broker, args.subscribers, args.alerts, args.rate, 0,
                             args.warmup, args.down)
        print("all healthy:", json.dumps(base), flush=True)
        hurt = await one_run(broker, args.subscribers, args.alerts, args.rate, args.down,
                             args.warmup, args.down)
        print(f"{args.down} down:", json.dumps(hurt), flush=True)
    ratio = float(str(hurt["p99_ms"])) / float(str(base["p99_same_subscribers_ms"]))
    print(f"\n{args.subscribers} subscribers, {args.alerts} alerts at {args.rate:g}/s "
          f"({args.subscribers * args.alerts} deliveries when all are healthy)")
    print("| | deliveries/s | p50 | p99 | p99 of subscribers "
          f"{args.down}..{args.subscribers - 1} |")
    print("|---|---|---|---|---|")
    for name, run in (("all healthy (baseline)", base),
                      (f"{args.down} down: the {hurt['healthy_subscribers']} healthy ones", hurt)):
        print(f"| {name} | {float(str(run['deliveries_per_s'])):,.0f} | "
              f"{float(str(run['p50_ms'])):.1f} ms | {float(str(run['p99_ms'])):.1f} ms | "
              f"{float(str(run['p99_same_subscribers_ms'])):.1f} ms |")
    print(f"p99 ratio, the same healthy subscribers (down run / healthy run): {ratio:.2f} "
          "(target ≤ 1.20)")


if __name__ == "__main__":
    asyncio.run(main())
