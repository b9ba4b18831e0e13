"""Engine-wide properties: batching, determinism, restorable state, rollback, size."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import DetectorEngine, export_station, import_station, state_bytes_per_station
from service.network_file import load_network
from tests.unit.detectors.engine_harness import engine_for, feed

NETWORK = load_network()
GAUGES = ["katulampa", "depok", "manggarai", "karet", "arg-gunung-mas"]

readings = st.lists(
    st.tuples(st.sampled_from(GAUGES), st.integers(min_value=1, max_value=40),
              st.floats(min_value=-50, max_value=1300, allow_nan=False)),
    min_size=1, max_size=80)


def _series(items: list[tuple[str, int, float]]) -> tuple[list[str], list[float], list[float]]:
    """Each gauge on its own clock, merged into one stream in event-time order, as the
    readings of one Kafka partition arrive (the engine's promise assumes that order)."""
    clock: dict[str, float] = {}
    rows = []
    for name, gap, value in items:
        clock[name] = clock.get(name, 0.0) + gap
        rows.append((clock[name], name,
                     round(value, 1) if name != "arg-gunung-mas" else abs(value) / 20))
    rows.sort(key=lambda row: row[0])
    return [r[1] for r in rows], [r[0] for r in rows], [r[2] for r in rows]


@settings(max_examples=150, deadline=None)
@given(readings, st.integers(min_value=1, max_value=80))
def test_one_batch_or_many_give_the_same_events(items: list[tuple[str, int, float]],
                                                batch: int) -> None:
    names, minutes, values = _series(items)
    whole = engine_for(NETWORK)
    pieces = engine_for(NETWORK)
    events_whole, q_whole = feed(whole, names, minutes, values, interval_s=600)
    events_pieces, q_pieces = feed(pieces, names, minutes, values, interval_s=600, batch=batch)

    def key(events: list) -> list:  # type: ignore[type-arg]
        # staleness is judged per batch by design; everything else must match exactly
        return sorted((e.t, e.station, e.kind, e.msg_type, e.level) for e in events)

    assert key(events_whole) == key(events_pieces)
    assert q_whole == q_pieces
    assert whole.state.tobytes() == pieces.state.tobytes()


@settings(max_examples=100, deadline=None)
@given(readings)
def test_the_same_input_always_gives_the_same_events(items: list[tuple[str, int, float]]
                                                     ) -> None:
    names, minutes, values = _series(items)
    first, _ = feed(engine_for(NETWORK), names, minutes, values, interval_s=600)
    second, _ = feed(engine_for(NETWORK), names, minutes, values, interval_s=600)
    assert first == second


@settings(max_examples=100, deadline=None)
@given(readings)
def test_suspect_readings_never_change_a_level(items: list[tuple[str, int, float]]) -> None:
    names, minutes, values = _series(items)
    engine = engine_for(NETWORK)
    for name, minute, value in zip(names, minutes, values, strict=True):
        before = engine.state["level"].copy()
        events, quality = feed(engine, name, [minute], [value], interval_s=600)
        if quality[0] in (1, 2, 3, 4, 5, 7, 8):  # a fault, late or duplicate
            assert np.array_equal(engine.state["level"], before)
            assert [e for e in events if e.kind == "observed"] == []


def test_state_is_small_and_restorable() -> None:
    assert state_bytes_per_station() <= 2048
    engine = engine_for(NETWORK)
    feed(engine, "depok", [0, 60, 120], [250, 300, 360])
    i = engine.table.index["depok"]
    blob = export_station(engine.state, i)
    assert len(blob) == state_bytes_per_station()
    fresh = DetectorEngine(engine.table)
    import_station(fresh.state, i, blob)
    later_a, _ = feed(engine, "depok", [180, 240, 300], [300, 250, 240])
    later_b, _ = feed(fresh, "depok", [180, 240, 300], [300, 250, 240])
    assert later_a == later_b and later_a


def test_rollback_restores_the_state_before_a_batch() -> None:
    engine = engine_for(NETWORK)
    feed(engine, "depok", [0], [250])
    before = engine.state.copy()
    i = engine.table.index["depok"]
    verdict = engine.process(np.array([i]), np.array([engine.state["last_t"][i] + 3600]),
                             np.array([360.0]), np.array([0.0]))
    assert verdict.events
    engine.rollback(verdict)
    assert engine.state.tobytes() == before.tobytes()
