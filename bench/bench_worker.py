"""End-to-end worker throughput and latency on the embedded broker, beside raw ceilings.

    python -m bench.bench_worker [--stations 1000] [--readings 500000] [--rate 2000]
                                 [--seconds 30] [--rounds 3]

Each part runs `--rounds` times, each round on a fresh broker with its own baseline,
and reports every round's ratio and their median.

1. Throughput: `--readings` pre-loaded readings of `--stations` synthetic stations
   (every station every 5 min). One DetectorWorker grades them all; measured from
   its first fetch to its last commit. Baseline in the same run: a plain aiokafka
   consumer reading and discarding the same topic (the broker's raw ceiling). Each
   runs in a process of its own, as in production, so each peak RSS is its own.
2. Latency, on a second, fresh broker: readings produced at `--rate`/s for
   `--seconds`, each a level change, graded by a `siaga worker` process (as in
   production, on the other core);
   p50/p99 from a reading's produce to its alert's arrival on the alerts topic,
   beside one raw produce→consume hop of the same readings (same JSON, keyed by
   station) at the same rate with the same client settings
   (producer `linger_ms` = `SIAGA_WORKER_LINGER_MS` for the worker, the paced gateway
   and the hop; consumer `fetch_max_wait_ms` = 10 for all three consumers).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.bench_detectors import synthetic_network, synthetic_readings
from bench.bench_latency import one_hop, pct, tail
from detectors import DetectorSettings, StationTable
from schemas import Network
from service import kafka
from service.broker import EmbeddedBroker
from service.runner import settle_collector
from service.settings import Settings
from service.worker import DetectorWorker


async def preload(settings: Settings, network: Network, n: int) -> None:
    table = StationTable.from_network(network, DetectorSettings())
    stations, t, values, interval = synthetic_readings(table, n)
    # events in the past: a year ago onward, whole hours apart from the synthetic times
    # (rain buckets then fall alike in every run: the same alerts each time)
    shift = (datetime.now(UTC).timestamp() - 400 * 86_400 - float(t[0])) // 3600 * 3600
    producer = kafka.producer(settings, linger_ms=20, max_batch_size=256 * 1024)
    await producer.start()
    try:
        for s, at, v, iv in zip(stations.tolist(), t.tolist(), values.tolist(),
                                interval.tolist(), strict=True):
            station = network.stations[s]
            body: dict[str, object] = {
                "station_id": station.id,
                "observed_at": datetime.fromtimestamp(at + shift, UTC).isoformat(),
                "kind": station.kind, "value": round(v, 1),
                "unit": "mm" if station.kind == "rainfall" else "cm"}
            if station.kind == "rainfall":
                body["interval_s"] = int(iv) or 300
            await producer.send(settings.readings_topic, json.dumps(body).encode(),
                                key=station.id.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def raw_ceiling(settings: Settings, n: int) -> float:
    client = kafka.consumer(settings, group_id=None, max_poll_records=5_000)
    await client.start()
    try:
        tps = await kafka.partitions_of(client, settings.readings_topic)
        client.assign(tps)
        await client.seek_to_beginning(*tps)
        seen = 0
        start = None
        while seen < n:
            batch = await client.getmany(timeout_ms=500, max_records=5_000)
            if start is None and batch:
                start = time.perf_counter()
            seen += sum(len(r) for r in batch.values())
        return seen / (time.perf_counter() - (start or time.perf_counter()))
    finally:
        await client.stop()


async def worker_throughput(settings: Settings, network: Network, n: int
                            ) -> tuple[float, int]:
    worker = DetectorWorker(settings, network)
    await worker.start()
    settle_collector()  # as `siaga worker` does once started
    try:
        # timing from the first fetch that brings records, as for the ceiling
        consumer = worker._consumer
        if consumer is None:
            raise RuntimeError("worker not started")
        original = consumer.getmany
        first: list[float] = []

        async def timed(*partitions: object, **options: object) -> object:
            batch = await original(*partitions, **options)
            if not first and batch:
                first.append(time.perf_counter())
            return batch

        consumer.getmany = timed
        await worker.run(burst=True)
        end = time.perf_counter()
        readings = worker.stats.readings
        return readings / (end - first[0]), worker.stats.alerts
    finally:
        await worker.stop()


def worker_process(settings: Settings, network: Network) -> subprocess.Popen[bytes]:
    """`siaga worker` in its own process, as in production (and on its own core)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIAGA_")}
    network_file = Path(tempfile.mkdtemp()) / "network.json"
    network_file.write_text(network.model_dump_json(exclude_none=True))
    env["SIAGA_NETWORK"] = str(network_file)
    for name, value in settings.model_dump(exclude_none=True).items():
        if isinstance(value, (str, int, float, bool)):
            env[f"SIAGA_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else (
                str(value))
    env["SIAGA_LOG_LEVEL"] = "WARNING"
    return subprocess.Popen([sys.executable, "-m", "service.cli", "worker"], env=env,
                            stdout=subprocess.DEVNULL)


class LevelChanges:
    """The paced readings: the gauges in turn, every reading of a gauge a level change
    (above Siaga 1, then below Siaga 3), 10 minutes of event time apart. Called with
    i, the i-th reading as a record (key, value), for the gateway and the baseline hop."""

    def __init__(self, network: Network, t0: datetime) -> None:
        self.t0 = t0
        self.gauges = [(s.id, s.bounds.siaga1_cm + 10, s.bounds.siaga3_cm - 30)
                       for s in network.stations if s.bounds is not None]

    def reading(self, i: int) -> tuple[str, datetime, float]:
        """The i-th reading's station, event time and level in cm."""
        station_id, high_cm, low_cm = self.gauges[i % len(self.gauges)]
        round_ = i // len(self.gauges)
        return (station_id, self.t0 + timedelta(minutes=10 * round_),
                high_cm if round_ % 2 == 0 else low_cm)

    def __call__(self, i: int) -> tuple[bytes, bytes]:
        station_id, at, value = self.reading(i)
        body = {"station_id": station_id, "observed_at": at.isoformat(),
                "kind": "water_level", "value": value, "unit": "cm"}
        return station_id.encode(), json.dumps(body).encode()


async def paced_latency(settings: Settings, network: Network, rate: float, seconds: float
                        ) -> tuple[list[float], int]:
    process = worker_process(settings, network)
    try:
        received: list[tuple[float, bytes]] = []
        ready = asyncio.Event()
        listener = asyncio.create_task(tail(settings, settings.alerts_topic, received, ready))
        await ready.wait()
        # a gateway producing at this rate lingers as the worker does (the same settings
        # as the baseline hop): linger_ms=5 at 2,000 msg/s swamps the embedded broker
        producer = kafka.producer(settings, linger_ms=settings.worker_linger_ms)
        await producer.start()
        t0 = datetime.now(UTC) - timedelta(days=30)
        # warm up until the worker has joined and answers: measure the steady state.
        # The first gauge's level changes, before t0 (300 of them span 50 h)
        warm_up = LevelChanges(network, t0 - timedelta(days=3))
        for k in range(300):
            if received:
                break
            warm_key, warm_value = warm_up(k * len(warm_up.gauges))
            await producer.send_and_wait(settings.readings_topic, warm_value, key=warm_key)
            await asyncio.sleep(0.1)
        received.clear()
        sent: dict[tuple[str, str], float] = {}
        interval = 1.0 / rate
        start = time.perf_counter()
        i = 0
        changes = LevelChanges(network, t0)
        while time.perf_counter() - start < seconds:
            station_id, at, _ = changes.reading(i)
            station_key, value = changes(i)
            sent[(station_id, at.astimezone(UTC).isoformat())] = time.perf_counter()
            await producer.send(settings.readings_topic, value, key=station_key)
            i += 1
            delay = start + i * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        await producer.flush()
        await asyncio.sleep(2.0)
        listener.cancel()
        await producer.stop()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    first: dict[tuple[str, str], float] = {}
    for arrived, raw in received:
        alert = json.loads(raw)
        if alert["kind"] != "observed":
            continue
        key = (alert["station_id"],
               datetime.fromisoformat(alert["observed_at"]).astimezone(UTC).isoformat())
        if key in sent and key not in first:
            first[key] = arrived - sent[key]
    return list(first.values()), len(sent)


def bench_settings(bootstrap: str, **extra: object) -> Settings:
    return Settings.model_validate({
        "kafka_bootstrap": bootstrap, "kafka_idempotence": False,
        "kafka_session_timeout_ms": 6000, "stale_wall_clock": False,
        "kafka_fetch_max_wait_ms": 10, **extra})


async def child(role: str, bootstrap: str, stations: int, readings: int) -> None:
    """One measurement in a process of its own, as a worker runs in production: its
    peak RSS is its own, not the pre-load's. Prints one JSON line."""
    settings = bench_settings(bootstrap, topic_prefix="bench-t")
    if role == "ceiling":
        result: dict[str, float] = {"per_s": await raw_ceiling(settings, readings)}
    else:
        rate, alerts = await worker_throughput(settings, synthetic_network(stations), readings)
        result = {"per_s": rate, "alerts": alerts}
    result["max_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(result), flush=True)


def run_child(role: str, bootstrap: str, args: argparse.Namespace) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.bench_worker", "--child", role, "--bootstrap", bootstrap,
         "--stations", str(args.stations), "--readings", str(args.readings)],
        check=True, capture_output=True, text=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


async def throughput_round(network: Network, args: argparse.Namespace
                           ) -> tuple[dict[str, float], dict[str, float]]:
    """One pre-loaded topic on a fresh broker; the ceiling and the worker read it in turn."""
    with EmbeddedBroker() as broker:
        settings = bench_settings(broker.bootstrap, topic_prefix="bench-t")
        await kafka.ensure_topics(settings)
        await preload(settings, network, args.readings)
        return run_child("ceiling", broker.bootstrap, args), run_child(
            "worker", broker.bootstrap, args)


async def latency_round(network: Network, args: argparse.Namespace
                        ) -> tuple[list[float], list[float], int, Settings]:
    """The baseline hop, then the worker, on a broker of their own: the half million
    pre-loaded readings of a throughput round slow every fetch of the (memory) broker."""
    with EmbeddedBroker() as broker:
        # no dwell and no spike limit: each paced reading is a level change, an alert
        paced = bench_settings(broker.bootstrap, topic_prefix="bench-l", min_dwell_s=0,
                               max_rate_cm_per_h=1e6)
        await kafka.ensure_topics(paced)
        # the same client settings as the worker's producer and consumer
        # the baseline hop carries the paced readings themselves (keyed by station, the
        # same JSON): one hop of this traffic, not of a few bytes a record
        hop = await one_hop(paced.model_copy(update={"kafka_linger_ms": paced.worker_linger_ms}),
                            args.rate, args.seconds,
                            LevelChanges(network, datetime.now(UTC) - timedelta(days=60)))
        e2e, sent = await paced_latency(paced, network, args.rate, args.seconds)
    return hop, e2e, sent, paced


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stations", type=int, default=1_000)
    parser.add_argument("--readings", type=int, default=500_000)
    parser.add_argument("--rate", type=float, default=2_000.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", choices=["ceiling", "worker"], help=argparse.SUPPRESS)
    parser.add_argument("--bootstrap", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        await child(args.child, args.bootstrap, args.stations, args.readings)
        return
    network = synthetic_network(args.stations)
    # each ratio is of two figures of the same round; the median of the rounds is
    # reported because the ceiling alone swings by a fifth from run to run (its
    # process runs with Python's default collector, which a batch of records trips)
    shares: list[float] = []
    print(f"worker on the embedded broker: {args.stations:,} stations, "
          f"{args.readings:,} pre-loaded readings, each measured in a process of its own")
    for k in range(args.rounds):
        ceiling, worker = await throughput_round(network, args)
        share = worker["per_s"] / ceiling["per_s"]
        shares.append(share)
        print(f"  round {k + 1}: raw consume ceiling (read and discard) "
              f"{ceiling['per_s']:>9,.0f} readings/s; worker, first fetch to last commit "
              f"{worker['per_s']:>9,.0f} readings/s = {share:.0%}, "
              f"{worker['alerts']:,.0f} alerts; peak RSS worker "
              f"{worker['max_rss_kib'] / 1024:,.0f} MiB, raw consumer "
              f"{ceiling['max_rss_kib'] / 1024:,.0f} MiB")
    print(f"  worker / ceiling, median of {args.rounds}: {statistics.median(shares):.0%} "
          "(target >= 50%)")

    ratios: list[float] = []
    for k in range(args.rounds):
        hop, e2e, sent, paced = await latency_round(network, args)
        ratio = pct(e2e, .99) / pct(hop, .99)
        ratios.append(ratio)
        if k == 0:
            print(f"paced {args.rate:,.0f} readings/s for {args.seconds:.0f} s, linger_ms="
                  f"{paced.worker_linger_ms}, fetch_max_wait_ms="
                  f"{paced.kafka_fetch_max_wait_ms}, alerts partitions "
                  f"{paced.alerts_partitions}, readings partitions {paced.readings_partitions}")
        print(f"  round {k + 1}: raw one hop p50 {pct(hop, .5):5.1f} ms "
              f"p99 {pct(hop, .99):5.1f} ms; reading -> alert p50 {pct(e2e, .5):5.1f} ms "
              f"p99 {pct(e2e, .99):5.1f} ms "
              f"({len(e2e):,} of {sent:,} readings); p99 ratio {ratio:.2f}")
    print(f"  p99 ratio, median of {args.rounds}: {statistics.median(ratios):.2f} (target <= 2)")


if __name__ == "__main__":
    asyncio.run(main())
