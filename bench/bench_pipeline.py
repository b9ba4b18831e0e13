"""Whole-pipeline throughput (decode → validate → detect → alerts), no broker.

    python bench/bench_pipeline.py [--stations 1000] [--readings 200000] [--batch 1000]

`--stations 0` uses the bundled network (16 river gauges): with so few
stations each batch of 1,000 holds ~60 readings per station, and the engine
works through them in ~60 small rounds — the worst case for its vectorisation.
The baseline, measured in the same run, is what no pipeline can avoid:
parsing and validating each record (pydantic, in Rust).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime

from bench.bench_detectors import synthetic_network, synthetic_readings
from detectors import DetectorSettings, StationTable
from schemas import Network, ReadingIn
from service.network_file import load_network
from service.pipeline import InputRecord, build_pipeline


def make_records(network: Network, n: int) -> list[InputRecord]:
    table = StationTable.from_network(network, DetectorSettings())
    stations, t, values, interval = synthetic_readings(table, n)
    records = []
    for s, at, v, iv in zip(stations.tolist(), t.tolist(), values.tolist(), interval.tolist(),
                            strict=True):
        station = network.stations[s]
        body: dict[str, object] = {
            "station_id": station.id,
            "observed_at": datetime.fromtimestamp(at, UTC).isoformat(),
            "kind": station.kind, "value": round(v, 1),
            "unit": "mm" if station.kind == "rainfall" else "cm"}
        if station.kind == "rainfall":
            body["interval_s"] = int(iv) or 300
        records.append(InputRecord(value=json.dumps(body).encode(), key=station.id.encode()))
    return records


def bench(network: Network, readings: int, batch: int) -> dict[str, float]:
    records = make_records(network, readings)
    batches = [records[i:i + batch] for i in range(0, len(records), batch)]

    start = time.perf_counter()
    for chunk in batches:
        for record in chunk:
            ReadingIn.model_validate_json(record.value or b"")
    decode_s = time.perf_counter() - start

    pipeline = build_pipeline(network)
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
    parser.add_argument("--stations", type=int, default=1_000)
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1_000)
    args = parser.parse_args()
    network = load_network() if args.stations == 0 else synthetic_network(args.stations)
    r = bench(network, args.readings, args.batch)
    print(f"pipeline, {len(network.stations):,} stations, {r['readings']:,.0f} readings in "
          f"batches of {args.batch}, {r['alerts']:,.0f} alerts")
    print(f"  decode+validate only (baseline): {r['decode_only_per_s']:>10,.0f} readings/s")
    print(f"  whole pipeline:                  {r['pipeline_per_s']:>10,.0f} readings/s")
    print(f"  pipeline / baseline:             {r['ratio']:>10.2f}")


if __name__ == "__main__":
    main()
