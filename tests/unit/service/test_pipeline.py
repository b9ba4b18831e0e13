"""The pipeline without a broker: `run_pipeline(readings) -> alerts`."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from detectors import DetectorSettings
from schemas import Alert, Network
from service.pipeline import InputRecord, build_pipeline, run_pipeline
from tests.ciliwung import WIB, load_readings
from tests.helpers import level_reading, series

T0 = datetime(2025, 3, 2, 20, 0, tzinfo=WIB)
HOURLY = timedelta(hours=1)


def observed(alerts: list[Alert]) -> list[Alert]:
    """Level alerts only: hourly data at Siaga 2 and 1 also makes stale `sensor` alerts,
    and the router reminders (tests/unit/service/routing covers those)."""
    return [a for a in alerts if a.kind == "observed" and a.reminder == 0]


def test_katulampa_60_90_160_210_120_without_a_dwell(network: Network) -> None:
    alerts = observed(run_pipeline(series("katulampa", T0, [60, 90, 160, 210, 120],
                                          step=HOURLY),
                                   network, settings=DetectorSettings(min_dwell_s=0)))
    assert [(a.previous_level, a.level) for a in alerts] == [(4, 3), (3, 2), (2, 1), (1, 3)]
    assert [a.value for a in alerts] == [90, 160, 210, 120]
    assert all(a.region_id == "kota-bogor" and a.kind == "observed" for a in alerts)
    # replay: alerts are issued at their evidence's event time, shown in WIB
    assert all(a.issued_at == a.observed_at for a in alerts)
    assert alerts[0].observed_at.isoformat() == "2025-03-02T21:00:00+07:00"


def test_with_the_default_dwell_the_fall_waits_an_hour(network: Network) -> None:
    values = [60, 90, 160, 210, 120, 118]
    alerts = observed(run_pipeline(series("katulampa", T0, values, step=HOURLY), network))
    assert [(a.previous_level, a.level, a.value) for a in alerts] == [
        (4, 3, 90), (3, 2, 160), (2, 1, 210), (1, 3, 118)]


def test_exactly_150_cm_at_katulampa_follows_the_boundary_rule(network: Network) -> None:
    readings = series("katulampa", T0, [149.9, 150.0], step=HOURLY)
    at_or_above = run_pipeline(readings, network, route=False)
    above = run_pipeline(readings, network, route=False,
                         settings=DetectorSettings(boundary_rule="above"))
    assert [a.level for a in at_or_above] == [3, 2]
    assert [a.level for a in above] == [3]


def test_the_same_readings_always_give_the_same_alert_ids(network: Network) -> None:
    readings = series("manggarai", T0, [700, 740, 780, 800, 760, 700, 690], step=HOURLY)
    first = run_pipeline(readings, network)
    second = run_pipeline(readings, network, batch_size=1)
    assert [a.id for a in first] == [a.id for a in second]
    assert len({a.id for a in first}) == len(first) >= 2


def test_late_and_duplicate_readings_never_move_a_level(network: Network) -> None:
    readings = [
        level_reading("depok", T0, 360),
        level_reading("depok", T0 - HOURLY, 100),  # late: history only
        level_reading("depok", T0, 100),           # duplicate time
        level_reading("depok", T0 + HOURLY, 380),
    ]
    alerts = observed(run_pipeline(readings, network))
    assert [(a.previous_level, a.level) for a in alerts] == [(4, 1)]


def test_karet_faults_are_kept_reported_and_never_graded(network: Network) -> None:
    readings = series("karet", T0, [400, 1700, -9999, 460], step=HOURLY)
    pipeline = build_pipeline(network)
    records = [InputRecord(value=json.dumps(r).encode()) for r in readings]
    result = pipeline.process(records, now=None)
    alerts = [a.model() for a in result.alerts]
    observed = [a for a in alerts if a.kind == "observed"]
    assert [(a.level, a.value) for a in observed] == [(3, 460)]
    assert [s.reason for s in result.suspect] == ["out_of_range", "sentinel"]
    sensor = [(a.msg_type, a.fault) for a in alerts if a.kind == "sensor"]
    assert sensor == [("alert", "out_of_range"), ("update", "sentinel"),
                      ("cancel", "sentinel")]
    assert result.accepted == 4 and not result.dead_letters


def test_a_rolled_back_batch_is_processed_again_from_the_same_state(network: Network) -> None:
    pipeline = build_pipeline(network)
    record = InputRecord(value=json.dumps(level_reading("depok", T0, 380)).encode())
    first = pipeline.process([record], now=None)
    pipeline.rollback(first)
    again = pipeline.process([record], now=None)
    assert [a.id for a in first.alerts] == [a.id for a in again.alerts] != []
    pipeline.adopt(again)
    assert pipeline.process([record], now=None).alerts == []


def test_march_2025_flood_from_the_real_record(network: Network, ciliwung_csv: Path) -> None:
    readings = load_readings(ciliwung_csv, datetime(2025, 3, 2, tzinfo=WIB),
                             datetime(2025, 3, 5, tzinfo=WIB))
    alerts = run_pipeline(readings, network)
    observed = [(a.observed_at.strftime("%d %H:%M"), a.station_id, a.level, a.value)
                for a in alerts if a.kind == "observed"]
    # Depok Siaga 1 in both waves, Manggarai Siaga 3 as the first wave arrives
    assert ("03 01:00", "depok", 1, 380) in observed
    assert ("04 01:00", "depok", 1, 350) in observed
    assert ("03 07:00", "manggarai", 3, 750) in observed
    # Katulampa: 80 cm at 20:00 is exactly the Siaga 3 bound; 160 cm at 21:00 is Siaga 2
    assert observed[:2] == [("02 20:00", "katulampa", 3, 80), ("02 21:00", "katulampa", 2, 160)]
    # 4 March 00:00: all three gauges jump off course and come back an hour later.
    # It raises no level anywhere: Manggarai's 795 is a spike (> 60 cm/h) and is
    # declared a glitch when 700 comes back; Katulampa's and Depok's drops clear nothing.
    glitch_row = [a for a in alerts if a.observed_at.strftime("%d %H:%M") == "04 00:00"
                  and a.fault != "stale"]
    assert [(a.station_id, a.kind, a.msg_type, a.fault) for a in glitch_row] == [
        ("manggarai", "sensor", "alert", "spike")]
    # (hourly data at Siaga 2 and 1 is also stale by the official 15/5-min intervals)
    cleared = [a for a in alerts if a.kind == "sensor" and a.msg_type == "cancel"
               and a.fault == "spike"]
    assert [(a.observed_at.strftime("%d %H:%M"), a.station_id) for a in cleared] == [
        ("04 01:00", "manggarai")]
    assert "glitch" in cleared[0].headline.en
    assert cleared[0].references == [glitch_row[0].id]
    depok_siaga1 = next(a for a in alerts if a.station_id == "depok" and a.level == 1)
    assert depok_siaga1.region_id == "kota-depok" and depok_siaga1.msg_type == "update"


def test_garbage_records_become_dead_letters_with_reasons(network: Network) -> None:
    pipeline = build_pipeline(network)
    records = [
        InputRecord(value=b"{", key=b"k", topic="r", partition=1, offset=7),
        InputRecord(value=None),
        InputRecord(value=b'{"station_id": "katulampa"}'),
    ]
    result = pipeline.process(records, now=None)
    assert [d.record.offset for d in result.dead_letters] == [7, -1, -1]
    assert result.dead_letters[0].reason.startswith("not JSON")
    assert "null value" in result.dead_letters[1].reason
    assert "observed_at: Field required" in result.dead_letters[2].reason
