"""Data quality: sentinels, range, zeros, spikes, flatlines, duplicates, late readings."""

from __future__ import annotations

import numpy as np

from detectors import QUALITY
from detectors.quality import SENTINELS, basic_faults
from schemas import Network
from tests.unit.detectors.engine_harness import at_minutes, engine_for, feed, levels


def names(quality: list[int]) -> list[str]:
    return [QUALITY[q] for q in quality]


def test_basic_faults_of_a_batch() -> None:
    values = np.array([480.0, 1627.0, -9999.0, 50.0, 900.0, 0.0])
    codes = basic_faults(values, np.full(6, 0.0), np.full(6, 900.0),
                         np.array([True] * 5 + [False]))
    assert names(codes.tolist()) == [
        "ok", "out_of_range", "sentinel", "ok", "ok", "zero"]


def test_each_sentinel_is_one_and_only_with_its_own_sign() -> None:
    # -999 is a sentinel, +999 a reading (here within range); ±9999 are both sentinels
    values = np.array([-9999.0, 9999.0, -999.0, 999.0, -998.0])
    codes = basic_faults(values, np.full(5, -20_000.0), np.full(5, 20_000.0), None)
    assert names(codes.tolist()) == ["sentinel", "sentinel", "sentinel", "ok", "ok"]
    assert set(SENTINELS) == {-9999.0, 9999.0, -999.0}


def test_karet_reading_1700_for_hours_is_a_fault_however_long(network: Network) -> None:
    engine = engine_for(network, stale_grace=10.0)  # hourly readings; staleness aside
    values = [480, 1627, 1700, 1750, 1828, 1800, 500, 560]
    events, quality = feed(engine, "karet", [60 * i for i in range(len(values))], values)
    assert names(quality) == ["ok"] + ["out_of_range"] * 5 + ["ok", "ok"]
    sensor = [(e.msg_type, e.fault, at_minutes(e)) for e in events if e.kind == "sensor"]
    assert sensor == [("alert", "out_of_range", 60), ("cancel", "out_of_range", 360)]
    # the only level change is the real one: 560 cm is Siaga 2 at Karet (550)
    assert levels(events) == [(4, 3), (3, 2)]


def test_sentinels_and_impossible_zeros(network: Network) -> None:
    engine = engine_for(network)
    _, quality = feed(engine, "manggarai", [0, 60, 120, 180], [700, -9999, 0, 9999])
    assert names(quality) == ["ok", "sentinel", "out_of_range", "sentinel"]
    engine = engine_for(network)
    _, quality = feed(engine, "karet", [0, 60], [480, 0])
    assert names(quality) == ["ok", "out_of_range"]
    engine = engine_for(network)  # Katulampa can truly run dry: zero is allowed there
    _, quality = feed(engine, "katulampa", [0, 60], [10, 0])
    assert names(quality) == ["ok", "ok"]


def test_a_spike_then_back_on_course_is_a_glitch(network: Network) -> None:
    engine = engine_for(network)
    # Manggarai's real 4 Mar 2025 00:00 row: 705 → 795 → 700
    events, quality = feed(engine, "manggarai", [0, 60, 120], [705, 795, 700])
    assert names(quality) == ["ok", "spike", "ok"]
    assert levels(events) == []
    cancel = [e for e in events if e.kind == "sensor" and e.msg_type == "cancel"]
    assert len(cancel) == 1 and cancel[0].glitch


def test_a_confirmed_spike_raises_the_level_one_reading_late(network: Network) -> None:
    engine = engine_for(network)
    events, quality = feed(engine, "manggarai", [0, 60, 120], [705, 795, 800])
    assert names(quality) == ["ok", "spike", "spike_confirmed"]
    observed = [e for e in events if e.kind == "observed"]
    assert [(e.level, at_minutes(e), e.value) for e in observed] == [(3, 60, 795)]
    assert observed[0].late_confirmed_t is not None
    assert (observed[0].late_confirmed_t - observed[0].t) == 3600


def test_suspect_readings_never_change_the_level(network: Network) -> None:
    engine = engine_for(network)
    feed(engine, "depok", [0], [360])
    events, quality = feed(engine, "depok", [60, 120, 180, 240],
                           [-9999, 0.0 - 1, 9999, 800])
    assert all(q != 0 for q in quality)
    assert levels(events) == []


def test_a_stuck_value_becomes_a_flatline_fault(network: Network) -> None:
    engine = engine_for(network, flatline_s=6 * 3600.0)
    minutes = [60 * i for i in range(10)]
    events, quality = feed(engine, "pulo-gadung", minutes, [560] * 9 + [565])
    # a run counts from its first reading; more than 6 h of one value is a fault
    assert names(quality) == ["ok"] * 7 + ["flatline", "flatline", "ok"]
    assert [(e.msg_type, e.fault) for e in events if e.kind == "sensor"] == [
        ("alert", "flatline"), ("cancel", "flatline")]


def test_duplicates_and_late_readings_are_history_only(network: Network) -> None:
    engine = engine_for(network)
    events, quality = feed(engine, "depok", [60, 60, 0, 120], [360, 100, 100, 365])
    assert names(quality) == ["ok", "duplicate", "late", "ok"]
    assert levels(events) == [(4, 1)]
