"""Scoring on hand-made cases: hits, a miss, false alarms, a late escalation, lead time."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas import Network
from service.cli import main
from service.scoring import drop_spikes, graded, score

WIB_T0 = datetime.fromisoformat("2025-03-02T20:00:00+07:00")
H = timedelta(hours=1)


def _alert(station: str, region: str, kind: str, level: int, at: datetime,
           msg_type: str = "alert", issued: datetime | None = None,
           **extra: Any) -> dict[str, Any]:
    return {"id": f"{station}-{kind}-{level}-{at:%H%M}", "msg_type": msg_type,
            "station_id": station, "region_id": region, "kind": kind, "level": level,
            "observed_at": at.isoformat(), "issued_at": (issued or at).isoformat(), **extra}


def _refs(network: Network, values: dict[str, list[float]]) -> dict[str, list[tuple[datetime,
                                                                                      int]]]:
    out = {}
    for station_id, vals in values.items():
        bounds = network.stations_by_id[station_id].bounds
        assert bounds is not None
        out[station_id] = graded([(WIB_T0 + i * H, v) for i, v in enumerate(vals)],
                                 bounds.as_tuple())
    return out


REFERENCE: dict[str, list[float]] = {
    # Katulampa (80/150/200): Siaga 3 at +1 h, Siaga 2 at +2 h, Siaga 1 at +3 h
    "katulampa": [50, 90, 160, 210, 120, 60],
    # Depok (200/270/350) reaches Siaga 3 at +4 h
    "depok": [150, 150, 150, 150, 210, 220],
    "manggarai": [700, 700, 700, 700, 700, 700],  # never leaves Normal
}
ALERTS = [
    _alert("katulampa", "kota-bogor", "observed", 3, WIB_T0 + H),
    # the Siaga 2 escalation comes 30 min after the gauge crossed 150 cm
    _alert("katulampa", "kota-bogor", "observed", 2, WIB_T0 + 2.5 * H, "update"),
    # no Siaga 1 alert: a miss
    _alert("katulampa", "kota-bogor", "observed", 4, WIB_T0 + 5 * H, "cancel"),
    # Katulampa's evidence at +1 h predicts Siaga 3 at Depok 3–4 h later
    _alert("depok", "kota-depok", "predicted", 3, WIB_T0 + H, certainty="likely",
           upstream_station_id="katulampa", eta_from=(WIB_T0 + 4 * H).isoformat(),
           eta_to=(WIB_T0 + 5 * H).isoformat()),
    # graded by a wall-clock worker replaying history: issued a year later
    _alert("depok", "kota-depok", "observed", 3, WIB_T0 + 4 * H,
           issued=WIB_T0 + timedelta(days=365)),
    _alert("manggarai", "dki-jakarta", "observed", 3, WIB_T0 + 2 * H),  # false alarm
]


def test_hits_miss_false_alarm_delay_and_lead_time(network: Network) -> None:
    report = score(_refs(network, REFERENCE), ALERTS, network)
    by = {s.station_id: s for s in report.stations}
    kat = by["katulampa"]
    assert [(e.level, e.crossing - WIB_T0, e.hit, e.delay_min) for e in kat.escalations] == [
        (3, H, True, 0.0), (2, 2 * H, True, 30.0), (1, 3 * H, False, None)]
    assert (kat.hits, kat.misses, kat.false_alarms) == (2, 1, 0)
    assert (kat.mean_delay_min, kat.worst_delay_min) == (15.0, 30.0)
    depok = by["depok"]
    [esc] = depok.escalations
    assert (esc.level, esc.hit, esc.delay_min, esc.lead_min) == (3, True, 0.0, 180.0)
    assert esc.predicted_at == WIB_T0 + H
    assert (by["manggarai"].hits, by["manggarai"].misses, by["manggarai"].false_alarms) == (
        0, 0, 1)
    [false] = report.false_alarms
    assert (false.station_id, false.kind, false.level, false.at) == (
        "manggarai", "observed", 3, WIB_T0 + 2 * H)
    assert (report.hits, report.misses) == (3, 1)
    assert (report.mean_delay_min, report.worst_delay_min, report.mean_lead_min) == (
        10.0, 30.0, 180.0)
    assert {r.region_id: r.by_kind for r in report.regions} == {
        "dki-jakarta": {"observed": 1}, "kota-bogor": {"observed": 3},
        "kota-depok": {"observed": 1, "predicted": 1}}
    assert report.event_timed_alerts == 1 and "observed_at" in report.notes[0]


def test_a_late_prediction_has_negative_lead_and_a_level_never_left_is_held(
    network: Network,
) -> None:
    refs = _refs(network, {"depok": [150, 210, 150, 150, 150, 220]})
    alerts = [
        _alert("depok", "kota-depok", "observed", 3, WIB_T0 + H),
        _alert("depok", "kota-depok", "predicted", 3, WIB_T0 + 5.5 * H),
    ]
    report = score(refs, alerts, network, tolerance=timedelta(hours=2))
    first, second = report.stations[0].escalations
    assert (first.hit, first.held, first.delay_min, first.lead_min) == (True, False, 0.0, None)
    # the service never left Siaga 3: a hit without a delay of its own
    assert (second.hit, second.held, second.delay_min) == (True, True, None)
    assert second.lead_min == -30.0


def test_a_one_reading_jump_faster_than_the_gauge_moves_is_left_out() -> None:
    t = [WIB_T0 + i * H for i in range(4)]
    kept, dropped = drop_spikes(list(zip(t, [705.0, 795.0, 700.0, 710.0], strict=True)), 60.0)
    assert dropped == [(t[1], 795.0)] and [v for _, v in kept] == [705.0, 700.0, 710.0]
    kept, dropped = drop_spikes(list(zip(t, [170.0, 280.0, 350.0, 390.0], strict=True)), 200.0)
    assert dropped == []


@pytest.mark.timeout(120)
def test_score_command_with_an_alerts_file_writes_json_and_a_png(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "event.csv"
    rows = [f"{(WIB_T0 + i * H):%Y-%m-%d %H:%M:%S},{k},{d},{m}" for i, (k, d, m) in enumerate(
        zip(REFERENCE["katulampa"], REFERENCE["depok"], REFERENCE["manggarai"], strict=True))]
    csv.write_text("Tanggal,Katulampa (air),Depok (air),Manggarai (air)\n"
                   + "\n".join(rows) + "\n")
    alerts = tmp_path / "alerts.json"
    alerts.write_text(json.dumps({"alerts": ALERTS[::-1]}))
    out = tmp_path / "score.json"
    code = main(["score", str(csv), "--alerts", str(alerts), "--json", str(out),
                 "--plot", str(tmp_path / "plots")])
    assert code == 0
    table = capsys.readouterr().out
    assert "katulampa        2  2025-03-02 22:00  2025-03-02 22:30  hit      +30 min" in table
    assert "overall" in table and "false alarm: observed Siaga 3 at manggarai" in table
    data = json.loads(out.read_text())
    assert (data["hits"], data["misses"], data["worst_delay_min"]) == (3, 1, 30.0)
    png = tmp_path / "plots" / "katulampa.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
