"""Crashes, rebalances and replays lose nothing and double nothing.

A scripted two-day flood over every gauge of the bundled network goes into two
independent sets of topics. One worker grades set A without interruption: the
reference. Set B is graded while things go wrong (a worker process killed with
SIGKILL over and over, a second worker joining and the first leaving, a replay
from scratch). At the end the set of alert ids and every station's level must
equal the reference.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from aiokafka import AIOKafkaProducer

from detectors.state import STATE_DTYPE
from schemas import Network
from service import checkpoint, kafka
from service.broker import EmbeddedBroker
from service.settings import Settings
from service.worker import DetectorWorker
from tests.conftest import make_settings
from tests.helpers import read_topic, running_service

START = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=5)
STEP = timedelta(minutes=10)
STEPS = 240  # 40 hours


def flood(network: Network) -> list[dict[str, Any]]:
    """Every gauge every 10 min: a flood wave with its own peak time and height, a
    few sentinels and a glitch, in time order (as one partition would carry them)."""
    rng = random.Random(7)
    readings: list[dict[str, Any]] = []
    shape = {}
    for station in network.stations:
        shape[station.id] = (rng.uniform(8, 30), rng.uniform(3, 8), rng.uniform(0.6, 1.3))
    for step in range(STEPS):
        at = (START + step * STEP).isoformat()
        hour = step / 6
        for station in network.stations:
            peak_h, width_h, height = shape[station.id]
            pulse = math.exp(-((hour - peak_h) / width_h) ** 2)
            if station.kind == "rainfall":
                value = round(12 * pulse * height, 1)
                readings.append({"station_id": station.id, "observed_at": at,
                                 "kind": "rainfall", "value": value, "unit": "mm",
                                 "interval_s": 600})
                continue
            bounds = station.bounds
            if bounds is None:
                raise ValueError(f"{station.id} has no bounds")
            low = bounds.siaga3_cm * 0.7
            value = low + (bounds.siaga1_cm + 20 - low) * pulse * height
            value = round(value + rng.uniform(-2, 2), 1)
            if rng.random() < 0.003:
                value = -9999.0
            readings.append({"station_id": station.id, "observed_at": at,
                             "kind": "water_level", "value": value, "unit": "cm"})
    return readings


async def produce(settings: Settings, readings: list[dict[str, Any]],
                  per_second: float | None = None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap(), acks="all",
                                enable_idempotence=False, linger_ms=5)
    await producer.start()
    try:
        for i, reading in enumerate(readings):
            await producer.send(settings.readings_topic, json.dumps(reading).encode(),
                                key=reading["station_id"].encode())
            if per_second and i % 50 == 49:
                await asyncio.sleep(50 / per_second)
        await producer.flush()
    finally:
        await producer.stop()


async def outcome(settings: Settings) -> tuple[set[str], dict[str, int]]:
    """(alert ids on the alerts topic, each station's level in its last checkpoint)."""
    alerts = await read_topic(settings, settings.alerts_topic, 1, timeout_s=10)
    ids = {json.loads(r.value)["id"] for r in alerts}
    print(f"{settings.topic_prefix}: {len(alerts)} alert records, {len(ids)} distinct ids")
    states = await checkpoint.read_changelog(settings)
    levels = {sid: int(np.frombuffer(c.state, dtype=STATE_DTYPE)["level"][0])
              for sid, c in states.items()}
    return ids, levels


async def reference(broker: EmbeddedBroker, network: Network,
                    readings: list[dict[str, Any]]) -> tuple[set[str], dict[str, int]]:
    settings = make_settings(broker.bootstrap)
    await kafka.ensure_topics(settings)
    await produce(settings, readings)
    async with DetectorWorker(settings, network) as worker:
        await worker.run(burst=True)
    return await outcome(settings)


async def caught_up(settings: Settings, expected: int, timeout_s: float = 120.0) -> None:
    """Wait until the group has committed every reading."""
    client = kafka.consumer(settings, group_id=settings.worker_group)
    await client.start()
    try:
        tps = await kafka.partitions_of(client, settings.readings_topic)
        deadline = asyncio.get_running_loop().time() + timeout_s
        while asyncio.get_running_loop().time() < deadline:
            total = 0
            for tp in tps:
                total += (await client.committed(tp)) or 0
            if total >= expected:
                return
            await asyncio.sleep(0.5)
        raise TimeoutError(f"the group committed {total} of {expected} readings")
    finally:
        await client.stop()


def worker_process(settings: Settings) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIAGA_")}
    env.update({
        "SIAGA_KAFKA_BOOTSTRAP": settings.bootstrap(),
        "SIAGA_KAFKA_IDEMPOTENCE": "false",
        "SIAGA_TOPIC_PREFIX": settings.topic_prefix,
        "SIAGA_WORKER_GROUP": settings.worker_group,
        "SIAGA_KAFKA_SESSION_TIMEOUT_MS": "6000",
        "SIAGA_KAFKA_HEARTBEAT_INTERVAL_MS": "500",
        "SIAGA_STALE_WALL_CLOCK": "false",
        "SIAGA_CHECKPOINT_INTERVAL_S": "0.3",
        "SIAGA_LOG_LEVEL": "WARNING",
    })
    return subprocess.Popen([sys.executable, "-m", "service.cli", "worker"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def test_sigkill_five_times_gives_the_same_alerts_and_levels(
    broker: EmbeddedBroker, network: Network
) -> None:
    readings = flood(network)
    expected_ids, expected_levels = await reference(broker, network, readings)
    assert len(readings) >= 4_000 and len(expected_ids) >= 100

    settings = make_settings(broker.bootstrap)
    await kafka.ensure_topics(settings)
    # fed slower than the kills come, so they land mid-stream
    feeding = asyncio.create_task(produce(settings, readings, per_second=150))
    rng = random.Random(3)
    kills = 0
    try:
        while kills < 5:
            process = worker_process(settings)
            # let it join (about half the 6 s session timeout on this broker), work a while
            await asyncio.sleep(rng.uniform(3.5, 7.0))
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            kills += 1
        assert not feeding.done(), "the kills must land while readings are still coming"
        await feeding
        process = worker_process(settings)
        await caught_up(settings, len(readings))
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    ids, levels = await outcome(settings)
    assert kills == 5
    assert ids == expected_ids
    assert levels == expected_levels


async def test_a_second_worker_joins_and_the_first_leaves(
    broker: EmbeddedBroker, network: Network
) -> None:
    readings = flood(network)
    expected_ids, expected_levels = await reference(broker, network, readings)
    settings = make_settings(broker.bootstrap)
    await kafka.ensure_topics(settings)
    half = len(readings) // 2
    await produce(settings, readings[:half])
    first = DetectorWorker(settings, network)
    await first.start()
    first_run = asyncio.create_task(first.run())
    await caught_up(settings, half)
    second = DetectorWorker(settings, network)
    await second.start()
    second_run = asyncio.create_task(second.run())
    await produce(settings, readings[half:], per_second=2_000)
    await first.stop()  # leaves: its partitions move to the second, state via the log
    await first_run
    await caught_up(settings, len(readings))
    await second.stop()
    await second_run
    assert second.stats.restored_states > 0
    ids, levels = await outcome(settings)
    assert ids == expected_ids
    assert levels == expected_levels


async def test_a_replay_from_scratch_gives_the_same_ids_and_nobody_sees_them_twice(
    broker: EmbeddedBroker, network: Network
) -> None:
    readings = flood(network)[:2_000]
    settings = make_settings(broker.bootstrap)
    await kafka.ensure_topics(settings)
    await produce(settings, readings)
    # the worker's replay; the router's own restart has its own test (test_propagation.py)
    async with running_service(settings, network, with_router=False) as svc:
        assert svc.worker is not None
        await caught_up(settings, len(readings))
        first = (await svc.client.get("/v1/alerts", params={"limit": 10_000})).json()
        assert first["count"] > 20
        # the operator resets: a new group from offset 0, grading from scratch
        replay = settings.model_copy(update={"worker_group": settings.worker_group + "-replay",
                                             "restore_state": False})
        async with DetectorWorker(replay, network) as worker:
            await worker.run(burst=True)
        records = await read_topic(settings, settings.alerts_topic, 2 * first["count"])
        assert len(records) == 2 * first["count"]  # every alert issued twice…
        for _ in range(100):
            again = (await svc.client.get("/v1/alerts", params={"limit": 10_000})).json()
            status = (await svc.operator.get("/v1/status")).json()
            if status["counts"]["alert_duplicates_dropped"] == first["count"]:
                break
            await asyncio.sleep(0.1)
        # …with the same ids, so readers see each alert once
        assert {a["id"] for a in again["alerts"]} == {a["id"] for a in first["alerts"]}
        assert again["count"] == first["count"]
        assert status["counts"]["alert_duplicates_dropped"] == first["count"]


async def test_status_shows_lag_committed_offsets_rate_and_checkpoint_age(
    broker: EmbeddedBroker, network: Network
) -> None:
    readings = flood(network)[:3_000]
    settings = make_settings(broker.bootstrap)
    await kafka.ensure_topics(settings)
    async with running_service(settings, network, with_worker=False) as svc:
        await produce(settings, readings)
        # no worker yet: everything is lag, nothing committed
        for _ in range(100):
            workers = (await svc.operator.get("/v1/status")).json()["workers"]
            if sum(p["high_watermark"] for p in workers["partitions"]) == len(readings):
                break
            await asyncio.sleep(0.1)
        assert workers["total_lag"] == len(readings)
        assert all(p["committed"] is None for p in workers["partitions"])
        async with DetectorWorker(settings, network) as worker:
            await worker.run(burst=True)
        for _ in range(100):
            workers = (await svc.operator.get("/v1/status")).json()["workers"]
            if workers["total_lag"] == 0 and workers["seconds_since_checkpoint"] is not None:
                break
            await asyncio.sleep(0.1)
        assert workers["group"] == settings.worker_group
        assert workers["total_lag"] == 0
        assert sum(p["committed"] for p in workers["partitions"]) == len(readings)
        assert 0 <= workers["seconds_since_checkpoint"] < 30
        assert workers["readings_per_s"] is not None and workers["readings_per_s"] >= 0


async def test_duplicates_and_late_readings_across_batches_change_nothing(
    broker: EmbeddedBroker, network: Network
) -> None:
    readings = flood(network)
    expected_ids, expected_levels = await reference(broker, network, readings)
    rng = random.Random(5)
    noisy: list[dict[str, Any]] = []
    held: list[tuple[int, dict[str, Any]]] = []  # (due index, reading) sent again later
    for i, reading in enumerate(readings):
        noisy.append(reading)
        if rng.random() < 0.05:  # a gateway re-sends: a duplicate, batches later
            held.append((i + rng.randint(50, 3_000), reading))
        if rng.random() < 0.03:  # a late reading: an hour old, another value
            late = dict(reading, value=reading["value"] * 1.5 + 100)
            late["observed_at"] = (datetime.fromisoformat(reading["observed_at"])
                                   - timedelta(minutes=55)).isoformat()
            held.append((i + rng.randint(1, 200), late))
        noisy.extend(r for due, r in held if due == i)
    noisy.extend(r for due, r in held if due >= len(readings))
    settings = make_settings(broker.bootstrap, worker_batch_max=700)
    await kafka.ensure_topics(settings)
    await produce(settings, noisy)
    async with DetectorWorker(settings, network) as worker:
        await worker.run(burst=True)
    assert worker.stats.readings == len(noisy) > len(readings) + 300
    ids, levels = await outcome(settings)
    assert ids == expected_ids
    assert levels == expected_levels


async def test_a_backlog_is_taken_a_share_of_every_partition_per_batch(
        broker: EmbeddedBroker, network: Network) -> None:
    # a batch drawn from one partition at a time would hold its third of the gauges
    # many times over, and the engine would go through it in many narrow rounds
    readings = flood(network)
    settings = make_settings(broker.bootstrap, worker_batch_max=600)
    await kafka.ensure_topics(settings)
    await produce(settings, readings)
    shares: list[dict[int, int]] = []
    async with DetectorWorker(settings, network) as worker:
        process = worker.pipeline.process

        def counted(records: Any, now: datetime | None, decoded: Any = None) -> Any:
            share: dict[int, int] = {}
            for r in records:
                share[r.partition] = share.get(r.partition, 0) + 1
            shares.append(share)
            return process(records, now, decoded)

        worker.pipeline.process = counted  # type: ignore[method-assign]
        await worker.run(burst=True)
    assert worker.stats.readings == len(readings)
    assert sum(sum(s.values()) for s in shares) == len(readings)
    assert all(count <= 200 for s in shares for count in s.values())
    # while every partition still has a backlog, every batch takes its share of each
    totals: dict[int, int] = {}
    for s in shares:
        for partition, count in s.items():
            totals[partition] = totals.get(partition, 0) + count
    assert len(totals) == settings.readings_partitions
    backlog_batches = min(totals.values()) // 200 - 1
    assert backlog_batches >= 3
    assert all(s == {p: 200 for p in totals} for s in shares[:backlog_batches])
