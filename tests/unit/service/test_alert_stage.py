"""The alert stage encodes alerts itself; it must say exactly what `Alert` would."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import DetectorEngine, DetectorEvent, DetectorSettings, StationTable, build_alert
from detectors.events import EventKind
from schemas import Alert, MsgType
from service.network_file import load_network
from service.pipeline import InputRecord, build_pipeline
from service.stages.alert import alerts_for_events
from tests.ciliwung import load_readings

NETWORK = load_network()
TABLE = StationTable.from_network(NETWORK, DetectorSettings())
WIB = timezone(timedelta(hours=7))

_times = st.floats(min_value=946_684_800, max_value=4_102_444_800)  # 2000..2100
_maybe_float = st.none() | st.floats(allow_nan=False, allow_infinity=False, width=32)


@st.composite
def _events(draw: st.DrawFn) -> DetectorEvent:
    kind: EventKind = draw(st.sampled_from(["observed", "rising", "rainfall", "sensor"]))
    msg_type: MsgType = draw(st.sampled_from(["alert", "update", "cancel"]))
    t = draw(_times)
    referenced = draw(st.booleans())
    return DetectorEvent(
        kind, msg_type,
        draw(st.integers(0, len(TABLE) - 1)), draw(st.integers(1, 4)),
        draw(st.none() | st.integers(1, 4)), t, draw(_maybe_float),
        ref_discriminator=draw(st.sampled_from(["1", "2", "spike"])) if referenced else None,
        ref_t=t - draw(st.floats(0, 86_400)) if referenced else None,
        fault=draw(st.none() | st.sampled_from(["stale", "spike", "flatline", "odd"])),
        eta_t=draw(st.none() | st.floats(0, 86_400).map(lambda d: t + d)),
        rate_cm_per_h=draw(_maybe_float),
        rain_window_h=draw(st.sampled_from([1.0, 24.0])) if kind == "rainfall" else None,
        rain_category=draw(st.none() | st.sampled_from(["heavy", "very_heavy", "extreme"])),
        late_confirmed_t=draw(st.none() | st.just(t - 600)),
        glitch=draw(st.booleans()),
    )


def _same_as_the_model(events: list[DetectorEvent], issued_at: datetime | None) -> None:
    issued = alerts_for_events(events, NETWORK, TABLE, issued_at)
    assert len(issued) == len(events)
    for event, alert in zip(events, issued, strict=True):
        station = NETWORK.stations_by_id[TABLE.ids[event.station]]
        region = NETWORK.regions_by_id[station.region_id]
        at = issued_at or datetime.fromtimestamp(event.t, WIB)
        expected = build_alert(event, station, region, at)
        assert alert.model() == expected
        # field for field as Alert serialises itself, in its order; only the spelling
        # of a float's exponent may differ (1e16 vs 1e+16), which JSON reads the same
        decoded = json.loads(alert.json)
        assert decoded == json.loads(expected.model_dump_json())
        assert list(decoded) == list(Alert.model_fields)
        assert (alert.id, alert.region_id, alert.basin) == (
            expected.id, expected.region_id, expected.basin)


@settings(max_examples=300, deadline=None)
@given(st.lists(_events(), min_size=1, max_size=5), st.booleans())
def test_encoded_alerts_are_the_alerts_the_model_makes(events: list[DetectorEvent],
                                                        live: bool) -> None:
    _same_as_the_model(events, datetime(2026, 1, 1, tzinfo=UTC) if live else None)


def test_every_alert_of_the_march_2025_flood_encodes_as_the_model(ciliwung_csv: Path) -> None:
    readings = load_readings(ciliwung_csv, datetime(2025, 2, 25, tzinfo=WIB),
                             datetime(2025, 3, 10, tzinfo=WIB))
    engine = DetectorEngine(TABLE)
    pipeline = build_pipeline(NETWORK)
    records = [InputRecord(json.dumps(r).encode()) for r in readings]
    decoded = pipeline.decoder.decode([r.value or b"" for r in records], None)
    verdict = engine.process(decoded.stations, decoded.t, decoded.values, decoded.interval_s)
    # the flood's levels up to Siaga 1 and back, and the gauges' faults
    assert {e.kind for e in verdict.events} == {"observed", "sensor"}
    assert {e.level for e in verdict.events if e.kind == "observed"} == {1, 2, 3, 4}
    _same_as_the_model(verdict.events, None)
