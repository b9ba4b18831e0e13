"""Synthetic flood scenarios for the gateway simulator: pure functions, no I/O.

In: scenario names, a seed, the station network and the simulated start time.
Out: readings as JSON-ready dicts (the Reading contract, `observed_at` in WIB
with its +07:00 offset), sorted by time then station. The same arguments give
byte-identical readings (numpy's PCG64 seeded per scenario).

Scenarios:
- `ciliwung-wave`: a flood wave from Katulampa down the river links (Depok,
  Manggarai, Karet). Each gauge follows a gamma-shaped hydrograph; its peak
  comes after the upstream one by a travel time drawn inside the link's
  `travel_min_h`..`travel_max_h`, lower in its level band and broader.
- `flash-flood`: PS Krukut Hulu rising to Siaga 1 in about two hours (at the
  gauge's plausible rate) and receding over hours.
- `storm`: the rain gauges upstream (10-minute totals, `interval_s` = 600)
  under a storm that reaches BMKG "very heavy" (> 20 mm/h) in the hills.
- `faults`: base flow at four DKI gauges with one sensor fault each: a spike,
  a flatline, a gap and −9999 sentinels.
- `demo`: all of the above at once.

Plausibility: every water-level step stays under 80% of the station's
`max_rate_cm_per_h` (the network's, else the service default of 150 cm/h),
except the deliberate spike, so the quality detectors see a real river.
Not here: sending (service/gateway.py), pacing, the clock.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import numpy.typing as npt

from schemas import Network, SiagaBounds, Station

WIB = timezone(timedelta(hours=7))
F64 = npt.NDArray[np.float64]
Reading = dict[str, Any]
# the service's default when a station has no max_rate_cm_per_h of its own (settings)
DEFAULT_MAX_RATE_CM_PER_H = 150.0
RATE_MARGIN = 0.8
STEP = timedelta(minutes=5)  # every 5 min: punctual even at Siaga 1
RAIN_STEP = timedelta(minutes=10)
SENTINEL = -9999.0


class ScenarioError(ValueError):
    """An unknown scenario, or a network lacking a station the scenario needs."""


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    duration: timedelta


def _hours(t: timedelta) -> float:
    return t.total_seconds() / 3600.0


def max_rate(station: Station) -> float:
    return station.max_rate_cm_per_h or DEFAULT_MAX_RATE_CM_PER_H


def level_value(bounds: SiagaBounds, level: int, frac: float) -> float:
    """A value `frac` of the way into `level`'s band (Siaga 1: above siaga1 by frac of
    the Siaga 2 band's width)."""
    b3, b2, b1 = bounds.as_tuple()
    lower, width = {3: (b3, b2 - b3), 2: (b2, b1 - b2), 1: (b1, b1 - b2)}[level]
    return lower + frac * width


def base_flow(station: Station) -> float:
    """Dry-season level: below Siaga 3 by 60% of the Siaga 3 band (Katulampa ~38 cm,
    Manggarai ~690 cm), never below what the instrument can show."""
    if station.bounds is None:
        raise ScenarioError(f"{station.id!r} is not a river gauge")
    b3, b2, _ = station.bounds.as_tuple()
    return max(b3 - 0.6 * (b2 - b3), station.valid_range.min + 5.0)


def gamma_shape(t_h: F64, start_h: float, peak_h: float, k: float) -> F64:
    """0 before `start_h`, 1 at `peak_h`, a gamma-like recession after: the classic
    unit-hydrograph shape, skewed towards a fast rise and a slow fall."""
    tp = peak_h - start_h
    x = np.clip((t_h - start_h) / tp, 0.0, None)
    out: F64 = np.power(x, k) * np.exp(k * (1.0 - x))
    return out


def plausible(values: F64, step_h: float, rate_cm_per_h: float) -> F64:
    """Whole centimetres, each step at most RATE_MARGIN × the plausible rate."""
    limit = math.floor(RATE_MARGIN * rate_cm_per_h * step_h)
    out = np.rint(values)
    for i in range(1, len(out)):
        out[i] = out[i - 1] + float(np.clip(out[i] - out[i - 1], -limit, limit))
    return out


def _times(start: datetime, duration: timedelta, step: timedelta) -> list[datetime]:
    return [start + i * step for i in range(int(duration / step) + 1)]


def _level(station: Station, at: datetime, value: float) -> Reading:
    return {"station_id": station.id, "observed_at": at.astimezone(WIB).isoformat(),
            "kind": "water_level", "value": float(value), "unit": "cm"}


def _station(network: Network, station_id: str) -> Station:
    station = network.station(station_id)
    if station is None:
        raise ScenarioError(f"the network has no station {station_id!r} for this scenario")
    return station


def downstream_chain(network: Network, first: str) -> list[tuple[Station, float, float]]:
    """(station, travel_min_h, travel_max_h from its upstream) along the river links,
    following the first link out of each gauge."""
    out = [(_station(network, first), 0.0, 0.0)]
    seen = {first}
    while True:
        link = next((lk for lk in network.links if lk.upstream == out[-1][0].id), None)
        if link is None or link.downstream in seen:
            return out
        seen.add(link.downstream)
        out.append((_station(network, link.downstream), link.travel_min_h, link.travel_max_h))


# Where each gauge of the wave peaks: Siaga 1 in the hills, attenuating to Siaga 3.
_WAVE_TARGETS = ((1, 0.5), (1, 0.4), (2, 0.4), (3, 0.5))


def ciliwung_wave(network: Network, start: datetime, duration: timedelta,
                  rng: np.random.Generator) -> list[Reading]:
    times = _times(start, duration, STEP)
    t_h = np.array([_hours(t - start) for t in times])
    step_h = _hours(STEP)
    out: list[Reading] = []
    peak_h, tp_h = 5.0 + rng.uniform(-0.5, 0.5), 3.0
    for i, (station, lo, hi) in enumerate(downstream_chain(network, "katulampa")):
        if i:
            # the middle half of the link's range: noise at the crest cannot then move
            # the observed lag outside what the network says
            travel = rng.uniform(lo + 0.25 * (hi - lo), hi - 0.25 * (hi - lo))
            peak_h += travel
            tp_h += 0.25 * travel  # the wave flattens as it travels
        level, frac = _WAVE_TARGETS[min(i, len(_WAVE_TARGETS) - 1)]
        bounds = station.bounds
        if bounds is None:
            continue
        base = base_flow(station)
        crest = level_value(bounds, level, frac * rng.uniform(0.9, 1.1))
        rate = max_rate(station)
        # a gamma rise of k=4 is steepest at ~1.85 × (crest − base) / tp per hour
        tp = max(tp_h, 1.1 * 1.85 * (crest - base) / (RATE_MARGIN * rate))
        shape = gamma_shape(t_h, peak_h - tp, peak_h, 4.0)
        values = base + (crest - base) * shape + rng.normal(0.0, 0.7, len(t_h))
        values = plausible(values, step_h, rate)
        out.extend(_level(station, at, v) for at, v in zip(times, values, strict=True))
    return out


def flash_flood(network: Network, start: datetime, duration: timedelta,
                rng: np.random.Generator) -> list[Reading]:
    station = _station(network, "krukut-hulu")
    if station.bounds is None:
        raise ScenarioError("krukut-hulu is not a river gauge")
    times = _times(start, duration, STEP)
    t_h = np.array([_hours(t - start) for t in times])
    onset, rise_h, fall_h = 3.0 + rng.uniform(0, 1), 2.0, 2.5
    base = base_flow(station)
    crest = level_value(station.bounds, 1, rng.uniform(0.2, 0.4))
    x = np.clip((t_h - onset) / rise_h, 0.0, 1.0)
    rising = x * x * (3 - 2 * x)  # smoothstep: a sudden but continuous rise
    falling = np.exp(-np.clip(t_h - onset - rise_h, 0.0, None) / fall_h)
    shape = np.where(t_h <= onset + rise_h, rising, falling)
    values = base + (crest - base) * shape + rng.normal(0.0, 0.7, len(t_h))
    values = plausible(values, _hours(STEP), max_rate(station))
    return [_level(station, at, v) for at, v in zip(times, values, strict=True)]


# (gauge, peak intensity mm/h, hours after start of the peak)
_STORM = (("arg-gunung-mas", 38.0, 2.0), ("arg-citeko", 30.0, 2.3), ("arg-depok", 15.0, 2.8))


def storm(network: Network, start: datetime, duration: timedelta,
          rng: np.random.Generator) -> list[Reading]:
    times = _times(start, duration, RAIN_STEP)
    t_h = np.array([_hours(t - start) for t in times])
    step_h = _hours(RAIN_STEP)
    out: list[Reading] = []
    for station_id, intensity, peak in _STORM:
        station = _station(network, station_id)
        peak_i = intensity * rng.uniform(0.9, 1.1)
        shape = gamma_shape(t_h, peak - 1.0, peak, 3.0)
        mm = peak_i * shape * step_h * rng.lognormal(0.0, 0.2, len(t_h))
        mm = np.round(mm * 5.0) / 5.0  # a tipping bucket counts 0.2 mm
        for at, value in zip(times, mm, strict=True):
            out.append({"station_id": station.id, "observed_at": at.isoformat(),
                        "kind": "rainfall", "value": float(value), "unit": "mm",
                        "interval_s": int(RAIN_STEP.total_seconds())})
    return out


def faults(network: Network, start: datetime, duration: timedelta,
           rng: np.random.Generator) -> list[Reading]:
    """spike: one reading 180 cm above the river at PS Pesanggrahan; flatline: PS Angke
    Hulu stuck on one value from hour 2 on (flagged once it outlasts the station's
    flatline period, 48 h by default); gap: PS Sunter Hulu silent for 3 h from hour 8;
    sentinel: PS Cipinang Hulu sends −9999 for half an hour from hour 5."""
    times = _times(start, duration, STEP)
    t_h = np.array([_hours(t - start) for t in times])
    out: list[Reading] = []
    for station_id in ("pesanggrahan", "angke-hulu", "sunter-hulu", "cipinang-hulu"):
        station = _station(network, station_id)
        base = base_flow(station)
        swell = 15.0 * np.sin(np.pi * np.clip(t_h / 12.0, 0.0, 1.0))  # a gentle daily swell
        values = plausible(base + swell + rng.normal(0.0, 1.0, len(t_h)), _hours(STEP),
                           max_rate(station))
        keep = np.ones(len(t_h), dtype=bool)
        if station_id == "pesanggrahan":
            values[int(np.searchsorted(t_h, 6.0))] += 180.0
        elif station_id == "angke-hulu":
            stuck = t_h >= 2.0
            values[stuck] = values[int(np.searchsorted(t_h, 2.0))]
        elif station_id == "sunter-hulu":
            keep = (t_h < 8.0) | (t_h >= 11.0)
        else:
            values[(t_h >= 5.0) & (t_h < 5.5)] = SENTINEL
        out.extend(_level(station, at, v)
                   for at, v, k in zip(times, values, keep, strict=True) if k)
    return out


Generator = Callable[[Network, datetime, timedelta, np.random.Generator], list[Reading]]
_GENERATORS: dict[str, tuple[Generator, str]] = {
    "ciliwung-wave": (ciliwung_wave, "flood wave Katulampa → Depok → Manggarai → Karet"),
    "flash-flood": (flash_flood, "flash flood at PS Krukut Hulu (Siaga 1 in ~2 h)"),
    "storm": (storm, "storm over the Ciliwung rain gauges (very heavy in the hills)"),
    "faults": (faults, "sensor faults: spike, flatline, gap, -9999"),
}
SCENARIOS: dict[str, Scenario] = {
    name: Scenario(name, text, timedelta(hours=24)) for name, (_, text) in _GENERATORS.items()
}
SCENARIOS["demo"] = Scenario("demo", "all of the above at once", timedelta(hours=24))


def expand(names: list[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        if name not in SCENARIOS:
            raise ScenarioError(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
        for part in (list(_GENERATORS) if name == "demo" else [name]):
            if part not in out:
                out.append(part)
    return out


def duration_of(names: list[str]) -> timedelta:
    return max(SCENARIOS[n].duration for n in expand(names))


def generate(names: list[str], *, seed: int, network: Network, start: datetime,
             duration: timedelta | None = None) -> list[Reading]:
    """The readings of the named scenarios from `start` (aware), sorted by time then
    station; a station in two scenarios keeps the first one's reading at a time."""
    if start.tzinfo is None:
        raise ScenarioError("the start time needs a zone offset")
    start = start.astimezone(WIB)
    span = duration or duration_of(names)
    readings: list[Reading] = []
    seen: set[tuple[str, str]] = set()
    for name in expand(names):
        # one stream per scenario: adding a scenario never changes another's readings
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        for reading in _GENERATORS[name][0](network, start, span, rng):
            key = (reading["station_id"], reading["observed_at"])
            if key not in seen:
                seen.add(key)
                readings.append(reading)
    readings.sort(key=lambda r: (datetime.fromisoformat(r["observed_at"]), r["station_id"]))
    return readings
