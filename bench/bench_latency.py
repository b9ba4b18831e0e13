"""Latency on the embedded broker, each figure beside its baseline from the same run.

    python bench/bench_latency.py [--rate 500] [--seconds 10]

1. raw one hop: a plain aiokafka producer → consumer, same client settings as siaga;
2. reading → alert: readings produced to `siaga.readings`, graded by a real
   DetectorWorker, alert consumed from `siaga.alerts` (two hops, unavoidable);
3. HTTP ingest: `POST /v1/readings` with one reading until "accepted" (acks=all),
   beside a raw `send_and_wait` with acks=all.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
import uvicorn
from aiokafka.admin import NewTopic

from service import kafka
from service.api import create_app
from service.auth import config_line
from service.broker import EmbeddedBroker, free_port
from service.network_file import load_network
from service.runner import _EmbeddedServer
from service.settings import Settings
from service.worker import DetectorWorker

# a throwaway gateway token for the benchmark's own API instance
BENCH_TOKEN = "siaga_bench-gateway-" + secrets.token_hex(16)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def tail(settings: Settings, topic: str, sink: list[tuple[float, bytes]],
               ready: asyncio.Event) -> None:
    client = kafka.consumer(settings, group_id=None)
    await client.start()
    try:
        tps = await kafka.partitions_of(client, topic)
        client.assign(tps)
        await client.seek_to_end(*tps)
        ready.set()
        while True:
            batch = await client.getmany(timeout_ms=100)
            now = time.perf_counter()
            for records in batch.values():
                sink.extend((now, r.value or b"") for r in records)
    finally:
        await client.stop()


async def paced(rate: float, seconds: float, send: Callable[[int], Awaitable[None]]) -> None:
    interval = 1.0 / rate
    start = time.perf_counter()
    i = 0
    while time.perf_counter() - start < seconds:
        await send(i)
        i += 1
        delay = start + i * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)


def numbered(i: int) -> tuple[bytes | None, bytes]:
    """A record that is only its sequence number (no key)."""
    return None, str(i).encode()


async def one_hop(settings: Settings, rate: float, seconds: float,
                  record: Callable[[int], tuple[bytes | None, bytes]] = numbered) -> list[float]:
    """Produce→consume latencies of `rate` records/s for `seconds`; `record(i)` gives the
    i-th record's key and value (values must differ: they identify the record)."""
    topic = settings.topic("bench-raw")
    # as many partitions as the readings: the embedded broker slows with the batches
    # each partition holds, so the baseline must spread its batches alike
    admin = kafka.admin_client(settings)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic, settings.readings_partitions, settings.replication_factor)])
    finally:
        await admin.close()
    producer = kafka.producer(settings)
    await producer.start()
    await producer.send_and_wait(topic, b"warm-up")
    received: list[tuple[float, bytes]] = []
    ready = asyncio.Event()
    task = asyncio.create_task(tail(settings, topic, received, ready))
    await ready.wait()
    sent: dict[bytes, float] = {}

    async def send(i: int) -> None:
        key, value = record(i)
        sent[value] = time.perf_counter()
        await producer.send(topic, value, key=key)

    await paced(rate, seconds, send)
    await producer.flush()
    await asyncio.sleep(1.0)
    task.cancel()
    await producer.stop()
    return [at - sent[v] for at, v in received if v in sent]


async def reading_to_alert(settings: Settings, rate: float, seconds: float
                           ) -> tuple[list[float], int]:
    network = load_network()
    # gauges without a station-specific spike rate: with the dwell off (settings below)
    # every reading of theirs is a level change, i.e. exactly one observed alert
    gauges = [s for s in network.stations
              if s.bounds is not None and s.max_rate_cm_per_h is None]
    async with DetectorWorker(settings, network) as worker:
        runner = asyncio.create_task(worker.run())
        for _ in range(600):
            if worker.ready:
                break
            await asyncio.sleep(0.05)
        received: list[tuple[float, bytes]] = []
        ready = asyncio.Event()
        task = asyncio.create_task(tail(settings, settings.alerts_topic, received, ready))
        await ready.wait()
        producer = kafka.producer(settings, linger_ms=settings.worker_linger_ms)
        await producer.start()
        sent: dict[tuple[str, str], float] = {}
        t0 = datetime.now(UTC) - timedelta(days=400)
        # warm up until the worker answers (it restores its state after joining):
        # measure the steady state, as bench_worker does
        warm = gauges[0]
        if warm.bounds is not None:
            for k, level_cm in enumerate((warm.bounds.siaga1_cm + 10,
                                          warm.bounds.siaga3_cm - 30)):
                body = {"station_id": warm.id, "kind": "water_level", "unit": "cm",
                        "observed_at": (t0 - timedelta(hours=2 - k)).isoformat(),
                        "value": max(level_cm, warm.valid_range.min)}
                await producer.send_and_wait(settings.readings_topic, json.dumps(body).encode(),
                                             key=warm.id.encode())
            for _ in range(600):
                if len(received) >= 2:
                    break
                await asyncio.sleep(0.05)
        received.clear()

        async def send(i: int) -> None:
            station = gauges[i % len(gauges)]
            bounds = station.bounds
            if bounds is None:
                return
            # alternate quiet and Awas an hour apart per gauge (a plausible rate once
            # the settings drop the dwell), so every reading is a level change: an alert
            value = bounds.siaga1_cm + 10 if (i // len(gauges)) % 2 == 0 else bounds.siaga3_cm - 30
            value = max(value, station.valid_range.min)
            at = t0 + timedelta(hours=i // len(gauges), seconds=i % len(gauges))
            body = {"station_id": station.id, "observed_at": at.isoformat(),
                    "kind": "water_level", "value": value, "unit": "cm"}
            sent[(station.id, at.astimezone(UTC).isoformat())] = time.perf_counter()
            await producer.send(settings.readings_topic, json.dumps(body).encode(),
                                key=station.id.encode())

        await paced(rate, seconds, send)
        await producer.flush()
        await asyncio.sleep(2.0)
        task.cancel()
        await producer.stop()
        await worker.stop()
        await runner
    first: dict[tuple[str, str], float] = {}
    for at, value in received:
        alert = json.loads(value)
        if alert["kind"] != "observed":
            continue
        observed = datetime.fromisoformat(alert["observed_at"]).astimezone(UTC).isoformat()
        key = (alert["station_id"], observed)
        if key in sent and key not in first:
            first[key] = at - sent[key]
    return list(first.values()), len(sent)


async def http_ingest(settings: Settings, n: int) -> tuple[list[float], list[float]]:
    network = load_network()
    port = free_port()
    server = _EmbeddedServer(uvicorn.Config(create_app(settings, network), port=port,
                                            log_level="warning"))
    task = asyncio.create_task(server.serve())
    producer = kafka.producer(settings)
    await producer.start()
    raw: list[float] = []
    posted: list[float] = []
    t0 = datetime.now(UTC) - timedelta(days=1)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                 headers={"Authorization": f"Bearer {BENCH_TOKEN}"}) as client:
        for _ in range(300):
            if (await client.get("/readyz")).status_code == 200:
                break
            await asyncio.sleep(0.1)
        for i in range(n):
            body = {"station_id": "depok", "observed_at": (t0 + timedelta(seconds=i)).isoformat(),
                    "kind": "water_level", "value": 100.0, "unit": "cm"}
            start = time.perf_counter()
            await producer.send_and_wait(settings.topic("bench-raw"), json.dumps(body).encode())
            raw.append(time.perf_counter() - start)
            start = time.perf_counter()
            response = await client.post("/v1/readings", json={"readings": [body]})
            posted.append(time.perf_counter() - start)
            if response.status_code != 200:
                raise RuntimeError(response.text)
    await producer.stop()
    server.should_exit = True
    await task
    return posted, raw


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--posts", type=int, default=300)
    args = parser.parse_args()
    with EmbeddedBroker() as broker:
        settings = Settings(kafka_bootstrap=broker.bootstrap, kafka_idempotence=False,
                            kafka_session_timeout_ms=6000, topic_prefix="bench",
                            min_dwell_s=0, max_rate_cm_per_h=10_000, stale_wall_clock=False,
                            tokens=config_line("bench-gw", "gateway", BENCH_TOKEN,
                                               stations=["*"]),
                            # one gateway posting as fast as it is answered
                            rate_limit_per_s=10_000.0, rate_limit_burst=10_000)
        await kafka.ensure_topics(settings)
        # the worker's client settings for every producer on the reading → alert path
        # and for the baseline hop (as bench_worker); HTTP ingest keeps its own 5 ms
        hop = await one_hop(settings.model_copy(update={"kafka_linger_ms":
                                                        settings.worker_linger_ms}),
                            args.rate, args.seconds)
        e2e, sent = await reading_to_alert(settings, args.rate, args.seconds)
        posted, raw = await http_ingest(settings, args.posts)
    print(f"embedded broker, {args.rate:.0f} msg/s for {args.seconds:.0f} s, "
          f"linger_ms={settings.worker_linger_ms} (HTTP ingest {settings.kafka_linger_ms}), "
          f"fetch_max_wait_ms={settings.kafka_fetch_max_wait_ms}")
    print(f"  raw one hop            p50 {pct(hop, .5):7.1f} ms  p99 {pct(hop, .99):7.1f} ms"
          f"  (n={len(hop)})")
    print(f"  reading -> alert       p50 {pct(e2e, .5):7.1f} ms  p99 {pct(e2e, .99):7.1f} ms"
          f"  (n={len(e2e)} of {sent} readings, each a level change)")
    print(f"  ratio e2e/one-hop      p50 {pct(e2e, .5) / pct(hop, .5):7.2f}     "
          f"p99 {pct(e2e, .99) / pct(hop, .99):7.2f}")
    print(f"  raw send_and_wait      p50 {pct(raw, .5):7.1f} ms  p99 {pct(raw, .99):7.1f} ms")
    print(f"  POST /v1/readings (1)  p50 {pct(posted, .5):7.1f} ms  p99 "
          f"{pct(posted, .99):7.1f} ms  (n={len(posted)}, mean "
          f"{statistics.mean(posted) * 1000:.1f} ms)")


if __name__ == "__main__":
    asyncio.run(main())
