"""Trend and `rising` alerts, BMKG rainfall, and stale gauges."""

from __future__ import annotations

import numpy as np
import pytest

from detectors import trend
from detectors.rainfall import DAILY, HOURLY, category
from schemas import Network
from tests.unit.detectors.engine_harness import T0, at_minutes, engine_for, feed, levels


def test_least_squares_slope_over_a_time_window_with_uneven_readings() -> None:
    minutes = np.array([0.0, 2.0, 3.0, 30.0, 58.0, 61.0])
    values = np.array([100.0, 101.0, 103.0, 110.0, 121.0, 122.0])
    now = T0 + 61 * 60
    ring_t = np.full((1, 40), np.nan)
    ring_v = np.zeros((1, 40), dtype=np.float32)
    ring_t[0, :6] = T0 + minutes * 60
    ring_v[0, :6] = values
    slope, count = trend.slope_per_s(ring_t, ring_v, np.array([now]), 3600.0)
    inside = minutes >= 1.0  # the reading at minute 0 is 61 min old: outside the window
    expected = np.polyfit(minutes[inside] * 60, values[inside], 1)[0]
    assert count[0] == 5
    assert slope[0] == pytest.approx(expected)


def test_a_ring_longer_than_a_byte_can_count_is_counted_whole() -> None:
    # 200 readings a minute apart, all within a 4-hour window: the count must not wrap
    minutes = np.arange(200.0)
    ring_t = (T0 + minutes * 60)[np.newaxis, :]
    ring_v = (100.0 + 0.5 * minutes).astype(np.float32)[np.newaxis, :]
    slope, count = trend.slope_per_s(ring_t, ring_v, np.array([T0 + 199 * 60]), 4 * 3600.0)
    assert count[0] == 200
    assert slope[0] == pytest.approx(0.5 / 60)


def test_rising_alert_comes_before_the_crossing_with_its_eta(network: Network) -> None:
    engine = engine_for(network)
    values = [300 + 5 * i for i in range(12)]  # 60 cm/h every 5 min: 350 at minute 50
    events, _ = feed(engine, "depok", [5 * i for i in range(12)], values)
    rising = [e for e in events if e.kind == "rising"]
    observed = [e for e in events if e.kind == "observed"]
    assert [(e.msg_type, e.level, at_minutes(e)) for e in rising] == [("alert", 1, 10)]
    assert rising[0].eta_t is not None
    assert (rising[0].eta_t - T0) / 60 == pytest.approx(50)
    assert rising[0].rate_cm_per_h == pytest.approx(60)
    assert levels(events) == [(4, 2), (2, 1)]
    assert at_minutes(observed[-1]) == 50 and at_minutes(rising[0]) < at_minutes(observed[-1])


def test_a_rise_that_slows_is_cancelled(network: Network) -> None:
    engine = engine_for(network)
    values = [300, 305, 310, 315, 316, 316, 316, 316, 316, 316, 316, 316, 316, 316, 316]
    events, _ = feed(engine, "depok", [5 * i for i in range(len(values))], values)
    assert [(e.msg_type, e.level) for e in events if e.kind == "rising"] == [
        ("alert", 1), ("cancel", 1)]
    assert levels(events) == [(4, 2)]


def test_a_slow_rise_far_from_the_next_bound_is_not_rising(network: Network) -> None:
    engine = engine_for(network)
    events, _ = feed(engine, "depok", [5 * i for i in range(12)],
                     [210 + i for i in range(12)])  # 12 cm/h, 270 is 5 h away
    assert [e for e in events if e.kind == "rising"] == []


def test_bmkg_categories_at_their_edges() -> None:
    assert category(0.9, HOURLY)[0] == "none"
    assert category(1.0, HOURLY)[0] == "light"
    assert category(10.0, HOURLY) == ("heavy", 3)
    assert category(20.0, HOURLY) == ("heavy", 3)
    assert category(20.1, HOURLY) == ("very_heavy", 2)
    assert category(50.0, DAILY) == ("heavy", 3)
    assert category(150.0, DAILY) == ("very_heavy", 2)
    assert category(150.5, DAILY) == ("extreme", 1)


def test_rain_from_any_interval_adds_up(network: Network) -> None:
    engine = engine_for(network)
    i = engine.table.index["arg-gunung-mas"]
    # twelve 5-minute readings of 2 mm: 24 mm in an hour is very heavy rain
    events, _ = feed(engine, "arg-gunung-mas", [5 * k for k in range(1, 13)], [2.0] * 12,
                     interval_s=300)
    assert engine.rain_totals_mm(i) == pytest.approx((24.0, 24.0, 24.0))
    rain = [e for e in events if e.kind == "rainfall"]
    assert [(e.msg_type, e.level, e.rain_category, e.rain_window_h) for e in rain] == [
        ("alert", 3, "heavy", 1.0), ("update", 2, "very_heavy", 1.0)]
    assert at_minutes(rain[0]) == 25  # 10 mm reached with the fifth reading
    # a daily gauge: 160 mm over 24 h is extreme by the day, moderate by the hour
    engine = engine_for(network)
    events, _ = feed(engine, "arg-citeko", [24 * 60], [160.0], interval_s=86_400)
    j = engine.table.index["arg-citeko"]
    one_h, three_h, day = engine.rain_totals_mm(j)
    assert (one_h, three_h) == pytest.approx((160 / 24, 160 / 8), rel=1e-4)
    # hourly buckets: the window's far edge cuts one bucket, taken pro rata (< 1 h of rain)
    assert day == pytest.approx(160.0, abs=160 / 24)
    assert [(e.level, e.rain_category, e.rain_window_h) for e in events] == [
        (1, "extreme", 24.0)]


def test_rain_eases_after_the_dwell(network: Network) -> None:
    engine = engine_for(network)
    minutes = [60, 120, 180, 240]
    events, _ = feed(engine, "arg-depok", minutes, [12.0, 0.0, 0.0, 0.0], interval_s=3600)
    assert [(e.msg_type, e.level, at_minutes(e)) for e in events if e.kind == "rainfall"] == [
        ("alert", 3, 60), ("cancel", 4, 180)]


def test_a_silent_gauge_goes_stale_without_clearing_its_level(network: Network) -> None:
    engine = engine_for(network)
    feed(engine, "depok", [0], [360])  # Siaga 1: reports expected every 5 min
    i = engine.table.index["depok"]
    assert engine.check_stale(T0 + 10 * 60).events == []  # within 2 × 5 min
    verdict = engine.check_stale(T0 + 11 * 60)
    assert [(e.kind, e.msg_type, e.fault, e.level) for e in verdict.events] == [
        ("sensor", "alert", "stale", 1)]
    assert at_minutes(verdict.events[0]) == 10  # deterministic: last reading + 10 min
    assert engine.check_stale(T0 + 20 * 60).events == []  # reported once
    assert int(engine.state["level"][i]) == 1
    events, _ = feed(engine, "depok", [30], [355])
    assert [(e.kind, e.msg_type, e.fault) for e in events] == [("sensor", "cancel", "stale")]


def test_a_normal_gauge_may_be_silent_longer(network: Network) -> None:
    engine = engine_for(network)
    feed(engine, "depok", [0], [100])
    assert engine.check_stale(T0 + 119 * 60).events == []
    assert len(engine.check_stale(T0 + 121 * 60).events) == 1


def test_a_gap_is_one_stale_episode_however_the_stream_is_batched(network: Network) -> None:
    minutes = [0, 5, 10, 45, 50]  # Siaga 1 at Depok: 35 min of silence after minute 10
    values = [360, 361, 362, 363, 364]
    whole, _ = feed(engine_for(network), "depok", minutes, values)
    single, _ = feed(engine_for(network), "depok", minutes, values, batch=1)
    sensor = [(e.msg_type, e.fault, at_minutes(e)) for e in whole if e.kind == "sensor"]
    assert sensor == [("alert", "stale", 20), ("cancel", "stale", 45)]
    assert whole == single


def test_other_groups_do_not_make_a_gauge_stale(network: Network) -> None:
    engine = engine_for(network)
    groups = np.zeros(len(engine.table), dtype=np.int64)
    groups[engine.table.index["depok"]] = 1
    engine.set_groups(groups)
    feed(engine, "depok", [0], [360])
    # Katulampa's partition is hours ahead (a backlog on depok's): no stale for Depok
    events, _ = feed(engine, "katulampa", [300], [60])
    assert [e for e in events if e.kind == "sensor"] == []
    events, _ = feed(engine, "depok", [30], [362])  # its own partition shows the gap
    assert [(e.fault, e.msg_type) for e in events if e.kind == "sensor"] == [
        ("stale", "alert"), ("stale", "cancel")]
