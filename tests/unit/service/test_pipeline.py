"""The pipeline without a broker: `run_pipeline(readings) -> alerts`."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from schemas import Network
from service.pipeline import InputRecord, build_pipeline, run_pipeline
from tests.ciliwung import WIB, load_readings
from tests.helpers import level_reading, series

T0 = datetime(2025, 3, 2, 20, 0, tzinfo=WIB)


def test_katulampa_60_90_160_210_120(network: Network) -> None:
    alerts = run_pipeline(series("katulampa", T0, [60, 90, 160, 210, 120]), network)
    assert [(a.previous_level, a.level) for a in alerts] == [(4, 3), (3, 2), (2, 1), (1, 3)]
    assert [a.value for a in alerts] == [90, 160, 210, 120]
    assert all(a.region_id == "kota-bogor" for a in alerts)
    # replay: alerts are issued at their evidence's event time
    assert all(a.issued_at == a.observed_at for a in alerts)


def test_exactly_150_cm_at_katulampa_follows_the_boundary_rule(network: Network) -> None:
    readings = series("katulampa", T0, [149.9, 150.0])
    at_or_above = run_pipeline(readings, network, boundary_rule="at_or_above")
    above = run_pipeline(readings, network, boundary_rule="above")
    assert [a.level for a in at_or_above] == [3, 2]
    assert [a.level for a in above] == [3]


def test_the_same_readings_always_give_the_same_alert_ids(network: Network) -> None:
    readings = series("manggarai", T0, [700, 760, 860, 960, 700])
    first = run_pipeline(readings, network)
    second = run_pipeline(readings, network)
    assert [a.id for a in first] == [a.id for a in second]
    assert len({a.id for a in first}) == 4


def test_late_and_duplicate_readings_never_move_a_level(network: Network) -> None:
    readings = [
        level_reading("depok", T0, 360),
        level_reading("depok", T0 - timedelta(hours=1), 100),  # late: history only
        level_reading("depok", T0, 100),                        # duplicate time
        level_reading("depok", T0 + timedelta(hours=1), 280),
    ]
    alerts = run_pipeline(readings, network)
    assert [(a.previous_level, a.level) for a in alerts] == [(4, 1), (1, 2)]


def test_suspect_values_are_kept_but_never_graded(network: Network) -> None:
    readings = series("karet", T0, [400, 1700, -9999, 460])
    pipeline = build_pipeline(network)
    records = [InputRecord(value=json.dumps(r).encode()) for r in readings]
    result = pipeline.process(records, now=None)
    assert [a.level for a in result.alerts] == [3]
    assert result.alerts[0].value == 460
    assert [s.reason for s in result.suspect] == [
        "1700 above the gauge's range (max 900)", "sentinel value -9999"
    ]
    assert len(result.readings) == 4 and not result.dead_letters


def test_state_is_adopted_only_when_asked(network: Network) -> None:
    pipeline = build_pipeline(network)
    record = InputRecord(value=b'{"station_id": "depok", "observed_at": '
                               b'"2025-03-03T01:00:00+07:00", "kind": "water_level", '
                               b'"value": 380, "unit": "cm"}')
    first = pipeline.process([record], now=None)
    again = pipeline.process([record], now=None)
    assert [a.id for a in first.alerts] == [a.id for a in again.alerts]  # not adopted yet
    pipeline.adopt(first)
    assert pipeline.process([record], now=None).alerts == []


def test_march_2025_flood_from_the_real_record(network: Network, ciliwung_csv: Path) -> None:
    readings = load_readings(ciliwung_csv, datetime(2025, 3, 2, tzinfo=WIB),
                             datetime(2025, 3, 5, tzinfo=WIB))
    alerts = run_pipeline(readings, network)
    by_station: dict[str, list[tuple[str, int]]] = {}
    for a in alerts:
        by_station.setdefault(a.station_id, []).append(
            (a.observed_at.strftime("%d %H:%M"), a.level))
    # Katulampa: 80 cm at 20:00 is exactly the Siaga 3 bound; 160 at 21:00 is Siaga 2
    assert by_station["katulampa"][:2] == [("02 20:00", 3), ("02 21:00", 2)]
    depok = by_station["depok"]
    assert ("03 01:00", 1) in depok          # 380 cm, first wave
    assert ("04 01:00", 1) in depok          # 350 cm, second wave
    assert depok[:3] == [("02 22:00", 3), ("03 00:00", 2), ("03 01:00", 1)]
    assert by_station["manggarai"][0] == ("03 07:00", 3)  # 750 cm
    siaga1_depok = next(a for a in alerts if a.station_id == "depok" and a.level == 1)
    assert siaga1_depok.value == 380 and siaga1_depok.region_id == "kota-depok"


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
