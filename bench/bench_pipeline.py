"""Detector pipeline throughput, as a ratio against decoding alone, measured in the same run.

    python bench/bench_pipeline.py [--readings 200000] [--batch 1000]

Readings are real-shaped: every water-level gauge of the bundled network on a
slow random walk that crosses its Siaga bounds now and then. The baseline is
what no pipeline can avoid: `json.loads` + pydantic validation of each record.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import UTC, datetime, timedelta

from schemas import ReadingIn
from service.network_file import load_network
from service.pipeline import InputRecord, build_pipeline


def make_records(n: int, seed: int = 7) -> list[InputRecord]:
    network = load_network()
    rng = random.Random(seed)
    gauges = [s for s in network.stations if s.bounds is not None]
    level = {s.id: (s.bounds.siaga3_cm if s.bounds else 0.0) * 0.8 for s in gauges}
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    records = []
    for i in range(n):
        station = gauges[i % len(gauges)]
        bounds = station.bounds
        if bounds is None:
            continue
        span = bounds.siaga1_cm - bounds.siaga3_cm
        level[station.id] = max(0.0, level[station.id] + rng.gauss(0, span / 20))
        at = t0 + timedelta(minutes=5 * (i // len(gauges)))
        body = {"station_id": station.id, "observed_at": at.isoformat(),
                "kind": "water_level", "value": round(level[station.id], 1), "unit": "cm"}
        records.append(InputRecord(value=json.dumps(body).encode(), key=station.id.encode()))
    return records


def bench(readings: int, batch: int) -> dict[str, float]:
    records = make_records(readings)
    batches = [records[i:i + batch] for i in range(0, len(records), batch)]

    start = time.perf_counter()
    for chunk in batches:
        for record in chunk:
            ReadingIn.model_validate_json(record.value or b"")
    decode_s = time.perf_counter() - start

    pipeline = build_pipeline(load_network())
    alerts = 0
    start = time.perf_counter()
    for chunk in batches:
        result = pipeline.process(chunk, now=None)
        pipeline.adopt(result)
        alerts += len(result.alerts)
    pipeline_s = time.perf_counter() - start
    return {
        "readings": len(records),
        "alerts": alerts,
        "decode_only_per_s": len(records) / decode_s,
        "pipeline_per_s": len(records) / pipeline_s,
        "ratio": decode_s / pipeline_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1_000)
    args = parser.parse_args()
    r = bench(args.readings, args.batch)
    print(f"pipeline, {r['readings']:,.0f} readings in batches of {args.batch}, "
          f"{r['alerts']:,.0f} alerts")
    print(f"  decode+validate only (baseline): {r['decode_only_per_s']:>10,.0f} readings/s")
    print(f"  whole pipeline:                  {r['pipeline_per_s']:>10,.0f} readings/s")
    print(f"  pipeline / baseline:             {r['ratio']:>10.2f}")


if __name__ == "__main__":
    main()
