"""Detector engine throughput on one core, and bytes of state per station.

    python bench/bench_detectors.py [--stations 10000] [--readings 1000000] [--batch 1000]

A synthetic network of 10,000 stations (80% river gauges, 20% rain gauges),
every station reporting every 5 minutes on a random walk that crosses its
Siaga bounds now and then; readings arrive in time order, in batches of 1,000,
all detectors on (quality, hysteresis, trend, rainfall, staleness per batch).
Two baselines, measured in the same run on the same batches: a stateless
vectorised threshold grading (`grade_levels`), the least any detector can do,
and the naive design, a Python loop per reading doing threshold grading only.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from detectors import (
    DetectorEngine,
    DetectorSettings,
    StationTable,
    grade_levels,
    state_bytes_per_station,
)
from schemas import Network


def synthetic_network(n: int) -> Network:
    stations = []
    for i in range(n):
        if i % 5 == 4:
            stations.append({"id": f"arg-{i}", "name": f"ARG {i}", "kind": "rainfall",
                             "basin": f"b{i % 50}", "region_id": f"r{i % 20}",
                             "valid_range": {"min": 0, "max": 300},
                             "reporting_interval_s": 3600})
        else:
            base = 100.0 + (i % 7) * 50
            stations.append({"id": f"pos-{i}", "name": f"Pos {i}", "kind": "water_level",
                             "basin": f"b{i % 50}", "region_id": f"r{i % 20}",
                             "bounds": {"siaga3_cm": base, "siaga2_cm": base + 70,
                                        "siaga1_cm": base + 130},
                             "valid_range": {"min": 0, "max": base * 4},
                             "reporting_interval_s": 3600})
    regions = [{"id": f"r{j}", "name": f"Region {j}"} for j in range(20)]
    return Network.model_validate({"regions": regions, "stations": stations})


def synthetic_readings(table: StationTable, total: int, seed: int = 11
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = len(table)
    rounds = -(-total // n)
    stations = np.tile(np.arange(n, dtype=np.int64), rounds)[:total]
    t = (1_740_000_000.0 + np.repeat(np.arange(rounds) * 300.0, n))[:total]
    start = np.where(table.is_rain, 0.0, table.bounds[:, 0] * 0.9)
    steps = rng.normal(0.0, 4.0, size=(rounds, n))
    level = start + np.cumsum(steps, axis=0)
    level = np.clip(level, 1.0, None)
    rain = np.clip(rng.gamma(0.3, 2.0, size=(rounds, n)) - 0.2, 0.0, None)
    values = np.where(table.is_rain, rain, level).reshape(-1)[:total]
    interval = np.where(table.is_rain[stations], 300.0, 0.0)
    return stations, t, values, interval


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stations", type=int, default=10_000)
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1_000)
    args = parser.parse_args()
    table = StationTable.from_network(synthetic_network(args.stations), DetectorSettings())
    stations, t, values, interval = synthetic_readings(table, args.readings)
    batches = [slice(i, i + args.batch) for i in range(0, len(stations), args.batch)]

    start = time.perf_counter()
    for b in batches:
        grade_levels(values[b], table.bounds[stations[b]])
    baseline_s = time.perf_counter() - start

    # the naive design: a Python loop per reading, threshold and level change only
    bounds = table.bounds.tolist()
    current = [4] * len(table)
    start = time.perf_counter()
    for b in batches:
        for s, v in zip(stations[b].tolist(), values[b].tolist(), strict=True):
            b3, b2, b1 = bounds[s]
            level = 4 - (v >= b3) - (v >= b2) - (v >= b1)
            if level != current[s]:
                current[s] = level
    loop_s = time.perf_counter() - start

    engine = DetectorEngine(table)
    kinds: dict[str, int] = {}
    start = time.perf_counter()
    for b in batches:
        verdict = engine.process(stations[b], t[b], values[b], interval[b])
        for event in verdict.events:
            kinds[event.kind] = kinds.get(event.kind, 0) + 1
    engine_s = time.perf_counter() - start

    n = len(stations)
    events = sum(kinds.values())
    print(f"detectors: {args.stations:,} stations, {n:,} readings, batches of {args.batch:,}")
    print(f"  baseline, stateless grade_levels: {n / baseline_s:>12,.0f} readings/s")
    print(f"  naive Python loop, threshold only: {n / loop_s:>11,.0f} readings/s")
    print(f"  engine, all detectors:            {n / engine_s:>12,.0f} readings/s "
          f"({loop_s / engine_s:.2f}× the naive loop, {baseline_s / engine_s:.3f}× "
          f"stateless grading)")
    print(f"  events: {events:,} ({', '.join(f'{k} {v:,}' for k, v in sorted(kinds.items()))})")
    print(f"  state: {state_bytes_per_station():,} bytes per station, "
          f"{engine.state.nbytes / 1e6:.1f} MB for {args.stations:,} stations")


if __name__ == "__main__":
    main()
