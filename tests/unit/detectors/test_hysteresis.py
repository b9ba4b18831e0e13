"""Threshold grading with hysteresis: raise at once, drop only after deadband and dwell."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import hysteresis_step
from schemas import Network
from tests.unit.detectors.engine_harness import at_minutes, engine_for, feed, levels

MANGGARAI = np.array([[750.0, 850.0, 950.0]])


def _step(level: int, dwell_t: float, value: float, t: float, dwell: float = 3600.0
          ) -> tuple[int, float, int]:
    new, dt, dl = hysteresis_step(
        np.array([level], np.int8), np.array([dwell_t]), np.array([4], np.int8),
        np.array([t]), np.array([value]), MANGGARAI, np.array([10.0]), np.array([dwell]),
        "at_or_above")
    return int(new[0]), float(dt[0]), int(dl[0])


def test_a_raise_is_immediate_and_a_drop_waits() -> None:
    assert _step(4, np.nan, 955, 0)[0] == 1
    level, dwell_t, _ = _step(1, np.nan, 930, 0)  # below 950 − 10: the dwell starts
    assert (level, dwell_t) == (1, 0)
    assert _step(1, 0.0, 930, 1800)[0] == 1  # 30 min: not yet
    assert _step(1, 0.0, 930, 3600)[0] == 2  # the dwell has passed


def test_within_the_deadband_the_dwell_is_reset() -> None:
    assert np.isnan(_step(1, 0.0, 945, 1800)[1])


def test_manggarai_flapping_gives_one_siaga_1(network: Network) -> None:
    engine = engine_for(network)
    # the 2014 pattern: 950 → 940 → 950 within hours, each reading 20 min apart
    values = [900, 950, 940, 950, 940, 945, 950, 942, 948]
    events, _ = feed(engine, "manggarai", [20 * i for i in range(len(values))], values)
    assert levels(events) == [(4, 2), (2, 1)]


def test_a_long_recession_steps_down_after_each_dwell(network: Network) -> None:
    engine = engine_for(network)
    values = [380, 340, 270, 240, 240, 240, 210, 205, 200, 190, 180, 170, 165]
    events, _ = feed(engine, "depok", [60 * i for i in range(len(values))], values)
    observed = [e for e in events if e.kind == "observed"]
    # 380: Siaga 1. 340 is within the 10 cm deadband of 350. 270 starts the dwell;
    # an hour later (240) it drops to Siaga 2, the most severe level the dwell's readings
    # supported (270 + 10 ≥ 270). 240 → Siaga 3 after the next dwell. 190 + 10 still
    # reaches 200, so Normal waits for 180 (10:00) and its dwell (11:00).
    assert [(at_minutes(e), e.previous_level, e.level) for e in observed] == [
        (0, 4, 1), (180, 1, 2), (300, 2, 3), (660, 3, 4)]


def test_the_dwell_is_a_setting(network: Network) -> None:
    engine = engine_for(network, min_dwell_s=0.0)
    events, _ = feed(engine, "katulampa", [0, 60, 120, 180, 240], [60, 90, 160, 210, 120])
    assert levels(events) == [(4, 3), (3, 2), (2, 1), (1, 3)]


# Angke Hulu (150/250/300 cm) has no station overrides, so with spikes and flatlines
# switched off by the settings every reading is graded: a pure test of the hysteresis.
values = st.integers(min_value=0, max_value=500).map(float)
CLEAN = {"max_rate_cm_per_h": 1e9, "flatline_s": 1e12}


@settings(max_examples=200, deadline=None)
@given(st.lists(values, min_size=1, max_size=60),
       st.lists(st.integers(min_value=5, max_value=90), min_size=60, max_size=60))
def test_levels_never_drop_without_the_dwell(series: list[float], gaps: list[int]) -> None:
    from service.network_file import load_network

    engine = engine_for(load_network(), **CLEAN)
    minutes = np.cumsum([0, *gaps[: len(series) - 1]]).tolist()
    events, quality = feed(engine, "angke-hulu", minutes, series)
    assert set(quality) == {0}
    bounds = (150.0, 250.0, 300.0)
    for event in events:
        if event.kind != "observed" or event.level <= (event.previous_level or 4):
            continue
        # a drop: every reading in the hour before it was below the old level's bound − 10
        bound = bounds[3 - (event.previous_level or 4)]
        now = at_minutes(event)
        window = [v for m, v in zip(minutes, series, strict=True) if now - 60 <= m <= now]
        assert all(v < bound - 10 for v in window), (event, window)
        assert any(m <= now - 60 for m in minutes), "dropped before an hour had passed"


@settings(max_examples=200, deadline=None)
@given(st.lists(values, min_size=1, max_size=60))
def test_a_rising_clean_series_never_de_escalates(series: list[float]) -> None:
    from service.network_file import load_network

    engine = engine_for(load_network(), **CLEAN)
    events, _ = feed(engine, "angke-hulu", [15 * i for i in range(len(series))], sorted(series))
    assert all(new < old for old, new in levels(events))
