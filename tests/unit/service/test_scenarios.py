"""The simulator's scenarios: deterministic, physically plausible, and graded as intended."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta

import pytest

from detectors import DetectorSettings
from schemas import Network
from service.pipeline import run_pipeline
from service.scenarios import (
    DEFAULT_MAX_RATE_CM_PER_H,
    WIB,
    ScenarioError,
    generate,
)
from service.tools_cli import simulated_start

START = datetime(2025, 3, 2, 0, 0, tzinfo=WIB)


def _by_station(readings: list[dict[str, object]]) -> dict[str, list[tuple[datetime, float]]]:
    out: dict[str, list[tuple[datetime, float]]] = {}
    for r in readings:
        out.setdefault(str(r["station_id"]), []).append(
            (datetime.fromisoformat(str(r["observed_at"])), float(str(r["value"]))))
    return out


def _crest_time(series: list[tuple[datetime, float]]) -> datetime:
    """Middle of the readings within 2 cm of the maximum: whole-cm noise at a flat crest
    makes the single highest reading a poor estimate of when the peak passed."""
    top = max(v for _, v in series)
    near = [t for t, v in series if v >= top - 2.0]
    return near[0] + (near[-1] - near[0]) / 2


def test_same_seed_gives_byte_identical_readings_and_another_seed_does_not(
    network: Network,
) -> None:
    one = json.dumps(generate(["demo"], seed=7, network=network, start=START))
    two = json.dumps(generate(["demo"], seed=7, network=network, start=START))
    other = json.dumps(generate(["demo"], seed=8, network=network, start=START))
    assert one == two
    assert one != other
    # adding a scenario leaves another's readings alone (one random stream each)
    alone = generate(["flash-flood"], seed=7, network=network, start=START)
    mixed = generate(["flash-flood", "storm"], seed=7, network=network, start=START)
    assert [r for r in mixed if r["station_id"] == "krukut-hulu"] == alone


@pytest.mark.parametrize("seed", range(12))
def test_the_wave_travels_down_the_ciliwung_as_the_network_says(
    network: Network, seed: int
) -> None:
    series = _by_station(generate(["ciliwung-wave"], seed=seed, network=network,
                                  start=START))
    assert set(series) == {"katulampa", "depok", "manggarai", "karet"}
    crest = {s: _crest_time(v) for s, v in series.items()}
    for link in network.links:
        if link.upstream in crest and link.downstream in crest:
            lag_h = (crest[link.downstream] - crest[link.upstream]) / timedelta(hours=1)
            assert link.travel_min_h <= lag_h <= link.travel_max_h, (link, lag_h)
    peak = {s: max(v for _, v in pts) for s, pts in series.items()}
    # Siaga 1 at Katulampa (≥ 200 cm) and Depok (≥ 350), attenuated to Siaga 2 at
    # Manggarai (850–950) and Siaga 3 at Karet (450–550)
    assert peak["katulampa"] >= 200 and peak["depok"] >= 350
    assert 850 <= peak["manggarai"] < 950 and 450 <= peak["karet"] < 550
    # the hydrograph broadens downstream: time above Siaga 3 grows
    above = {s: sum(v >= network.stations_by_id[s].bounds.siaga3_cm  # type: ignore[union-attr]
                    for _, v in pts) for s, pts in series.items()}
    assert above["katulampa"] < above["depok"] < above["manggarai"]


@pytest.mark.parametrize("seed", range(5))
def test_no_step_exceeds_the_stations_plausible_rate_and_values_stay_in_range(
    network: Network, seed: int
) -> None:
    readings = generate(["ciliwung-wave", "flash-flood", "storm"], seed=seed,
                        network=network, start=START)
    for station_id, pts in _by_station(readings).items():
        station = network.stations_by_id[station_id]
        assert all(station.valid_range.min <= v <= station.valid_range.max for _, v in pts)
        if station.kind == "rainfall":
            continue
        rate = station.max_rate_cm_per_h or DEFAULT_MAX_RATE_CM_PER_H
        for (t0, v0), (t1, v1) in itertools.pairwise(pts):
            assert t1 - t0 == timedelta(minutes=5)  # punctual even at Siaga 1
            assert abs(v1 - v0) / ((t1 - t0) / timedelta(hours=1)) <= 0.8 * rate
    assert all(str(r["observed_at"]).endswith("+07:00") for r in readings)


def test_the_detectors_grade_the_scenarios_as_intended_without_quality_faults(
    network: Network,
) -> None:
    alerts = run_pipeline(generate(["ciliwung-wave", "flash-flood", "storm"], seed=3,
                                   network=network, start=START), network)
    worst: dict[str, int] = {}
    for a in alerts:
        if a.kind in ("observed", "rainfall"):
            worst[a.station_id] = min(worst.get(a.station_id, 4), a.level)
    assert worst == {"katulampa": 1, "depok": 1, "manggarai": 2, "karet": 3,
                     "krukut-hulu": 1, "arg-gunung-mas": 2, "arg-citeko": 2, "arg-depok": 3}
    assert [a for a in alerts if a.kind == "sensor"] == []
    rain = [a for a in alerts if a.kind == "rainfall" and a.level == 2]
    assert {a.rain_category for a in rain} == {"very_heavy"}  # > 20 mm in an hour


def test_fault_scenario_raises_each_sensor_fault(network: Network) -> None:
    readings = generate(["faults"], seed=1, network=network, start=START)
    # flatline: flagged once one value held longer than the station's period; 6 h here
    alerts = run_pipeline(readings, network, settings=DetectorSettings(flatline_s=6 * 3600.0))
    faults = {(a.station_id, a.fault) for a in alerts if a.kind == "sensor"
              and a.msg_type == "alert"}
    assert faults == {("pesanggrahan", "spike"), ("angke-hulu", "flatline"),
                      ("sunter-hulu", "stale"), ("cipinang-hulu", "sentinel")}
    sentinel = [r for r in readings if r["value"] == -9999.0]
    assert {r["station_id"] for r in sentinel} == {"cipinang-hulu"} and len(sentinel) == 6
    gap = [datetime.fromisoformat(str(r["observed_at"])) for r in readings
           if r["station_id"] == "sunter-hulu"]
    assert max(b - a for a, b in itertools.pairwise(gap)) == timedelta(hours=3,
                                                                              minutes=5)


def test_live_start_puts_every_reading_in_the_past_and_the_last_at_now() -> None:
    now = datetime(2025, 3, 2, 12, 0, 30, tzinfo=WIB)
    day = timedelta(hours=24)
    start = simulated_start(now, day, 600.0)
    # the reading at offset d leaves at now + d/600; its time is start + d
    for d in (timedelta(0), timedelta(hours=5), day):
        assert start + d <= now + d / 600
    assert now + day / 600 - (start + day) < timedelta(minutes=1)
    assert simulated_start(now, day, 0.0) == datetime(2025, 3, 1, 12, 0, tzinfo=WIB)


def test_unknown_scenario_and_naive_start_are_refused(network: Network) -> None:
    with pytest.raises(ScenarioError, match="unknown scenario 'tsunami'"):
        generate(["tsunami"], seed=1, network=network, start=START)
    with pytest.raises(ScenarioError, match="zone offset"):
        generate(["storm"], seed=1, network=network, start=datetime(2025, 3, 2))  # noqa: DTZ001
