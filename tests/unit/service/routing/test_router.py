"""The router on hand-made alerts: predictions, lifecycle, inhibition, reminders."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from detectors import DetectorEvent, build_alert
from schemas import Alert, MsgType, Network
from service.routing import Router
from tests.ciliwung import WIB

T0 = datetime(2025, 3, 2, 21, 0, tzinfo=WIB)
H = timedelta(hours=1)


class Gauges:
    """Observed alerts as the detector worker issues them, episode by episode."""

    def __init__(self, network: Network) -> None:
        self.network = network
        self.last: dict[str, tuple[int, float]] = {}

    def at(self, station_id: str, level: int, when: datetime, value: float) -> Alert:
        station = self.network.stations_by_id[station_id]
        region = self.network.regions_by_id[station.region_id]
        index = [s.id for s in self.network.stations].index(station_id)
        was = self.last.get(station_id)
        msg: MsgType = "alert" if was is None else ("cancel" if level == 4 else "update")
        event = DetectorEvent(
            "observed", msg, index, level, was[0] if was else 4, when.timestamp(), value,
            ref_discriminator=str(was[0]) if was else None, ref_t=was[1] if was else None)
        self.last[station_id] = (level, when.timestamp())
        if level == 4:
            del self.last[station_id]
        return build_alert(event, station, region, when)


def predicted(alerts: list[Alert], region_id: str) -> list[Alert]:
    return [a for a in alerts if a.kind == "predicted" and a.region_id == region_id
            and a.reminder == 0]


def test_katulampa_siaga_2_warns_depok_and_jakarta_with_etas(network: Network) -> None:
    router, g = Router(network), Gauges(network)
    out = router.process([g.at("katulampa", 2, T0, 160)]) + router.flush()
    (depok,) = predicted(out, "kota-depok")
    (jakarta,) = predicted(out, "dki-jakarta")
    assert (depok.station_id, depok.msg_type, depok.level, depok.certainty) == (
        "depok", "alert", 2, "likely")
    assert (depok.eta_from, depok.eta_to) == (T0 + 3 * H, T0 + 4 * H)
    assert depok.expected_level == 1  # learnt: Katulampa Siaga 2 has brought Depok Siaga 1
    assert (jakarta.station_id, jakarta.eta_from, jakarta.eta_to) == (
        "manggarai", T0 + 9 * H, T0 + 11 * H)
    assert jakarta.upstream_station_id == "katulampa" and jakarta.value == 160
    assert "Bendung Katulampa" in jakarta.headline.id and "PA Manggarai" in jakarta.headline.en
    assert not predicted(out, "kota-bogor")  # Katulampa's own region has its observed alert


def test_depok_rising_updates_jakartas_eta_and_the_recession_cancels(network: Network) -> None:
    router, g = Router(network), Gauges(network)
    out = router.process([g.at("katulampa", 2, T0, 160)])
    out += router.process([g.at("depok", 2, T0 + 3 * H, 300)])
    out += router.process([g.at("katulampa", 4, T0 + 8 * H, 60)])
    out += router.process([g.at("depok", 4, T0 + 12 * H, 150)]) + router.flush()
    first, update, cancel = predicted(out, "dki-jakarta")
    assert (update.msg_type, update.references, update.upstream_station_id) == (
        "update", [first.id], "depok")
    # from Depok's evidence: 6-7 h, not Katulampa's 9-11 h
    assert (update.eta_from, update.eta_to) == (T0 + 9 * H, T0 + 10 * H)
    assert (cancel.msg_type, cancel.references, cancel.level, cancel.previous_level) == (
        "cancel", [update.id], 4, 2)
    assert cancel.observed_at == T0 + 12 * H  # when the last upstream gauge was normal
    assert "without a rise" in cancel.headline.en
    # Depok's own prediction ended when Katulampa receded (Depok itself rose meanwhile)
    *_, depok_end = predicted(out, "kota-depok")
    assert depok_end.msg_type == "cancel" and depok_end.observed_at == T0 + 8 * H
    assert "reached level 2" in depok_end.headline.en


def test_the_same_condition_is_not_said_twice(network: Network) -> None:
    router, g = Router(network), Gauges(network)
    out = router.process([g.at("katulampa", 3, T0, 90)])
    out += router.process([g.at("katulampa", 2, T0 + H, 160)])
    out += router.process([g.at("katulampa", 3, T0 + 2 * H, 120)])  # dropping: peak in force
    out += router.flush()
    assert [a.level for a in predicted(out, "dki-jakarta")] == [3, 2]


def test_an_observed_siaga_1_mutes_predictions_for_its_gauge(network: Network) -> None:
    router, g = Router(network), Gauges(network)
    out = router.process([g.at("manggarai", 1, T0, 960)])
    out += router.process([g.at("depok", 2, T0 + H, 300)])
    out += router.flush()
    assert [a for a in predicted(out, "dki-jakarta") if a.station_id == "manggarai"] == []
    assert router.stats.inhibited == 1
    # Manggarai falls back to Siaga 3: Depok's Siaga 2 water is news again
    out = router.process([g.at("manggarai", 3, T0 + 2 * H, 800)]) + router.flush()
    (news,) = [a for a in predicted(out, "dki-jakarta") if a.station_id == "manggarai"]
    assert (news.level, news.upstream_station_id, news.msg_type) == (2, "depok", "alert")


def test_a_level_that_holds_is_said_again_after_its_repeat_interval(network: Network) -> None:
    router, g = Router(network), Gauges(network)
    [alert] = [g.at("katulampa", 3, T0, 90)]
    router.process([alert])
    router.flush()
    assert router.tick(T0 + 6 * H - timedelta(seconds=1)) == []
    again = router.tick(T0 + 6 * H)
    mine = [a for a in again if a.region_id == "kota-bogor"]
    assert [(a.id, a.msg_type, a.references, a.reminder) for a in mine] == [
        (f"{alert.id}-r1", "update", [alert.id], 1)]
    assert mine[0].note is not None and "Reminder 1" in mine[0].note.en
    # Jakarta's prediction is Siaga 3 too: 6 h (Depok's ETA window closed at 4 h)
    assert sorted(a.region_id for a in again) == ["dki-jakarta", "kota-bogor"]
    assert router.tick(T0 + 7 * H) == []


@pytest.mark.parametrize(("acked", "expected_h"), [
    (False, [0.5, 1.0, 1.5, 4.5]),  # three re-sends while unacknowledged, then every 3 h
    (True, [3.0, 6.0]),
])
def test_an_unacknowledged_siaga_2_is_resent(network: Network, acked: bool,
                                             expected_h: list[float]) -> None:
    router, g = Router(network), Gauges(network)
    alert = g.at("depok", 2, T0, 300)
    router.process([alert])
    router.flush()
    if acked:
        router.acknowledge(alert.id)
    sent: list[float] = []
    for minute in range(1, 7 * 60 + 1):
        for a in router.tick(T0 + timedelta(minutes=minute)):
            if a.region_id == "kota-depok" and a.kind == "observed":
                sent.append(minute / 60)
    assert sent == expected_h


def test_an_ack_of_a_reminder_stops_the_resends(network: Network) -> None:
    router, g = Router(network), Gauges(network)
    router.process([g.at("depok", 1, T0, 400)])
    router.flush()
    (first,) = [a for a in router.tick(T0 + timedelta(minutes=30)) if a.kind == "observed"]
    router.acknowledge(first.id)
    later = [a for m in range(31, 120) for a in router.tick(T0 + timedelta(minutes=m))
             if a.kind == "observed"]
    assert [a.issued_at for a in later] == [T0 + timedelta(minutes=90)]  # Siaga 1: hourly


def test_a_prediction_is_not_repeated_once_its_eta_has_passed(network: Network) -> None:
    router, g = Router(network), Gauges(network)
    router.process([g.at("katulampa", 3, T0, 90)])
    router.flush()
    sent = [(a.region_id, a.issued_at) for m in range(1, 48 * 6)
            for a in router.tick(T0 + m * timedelta(minutes=10)) if a.kind == "predicted"]
    # Depok's window closes at T0 + 4 h: never repeated; Jakarta's at T0 + 11 h: once at 6 h
    assert sent == [("dki-jakarta", T0 + 6 * H)]
    # Katulampa's own Siaga 3 holds: repeated every 6 h for as long as it does
    own = [a.issued_at for m in range(48 * 6, 60 * 6)
           for a in router.tick(T0 + m * timedelta(minutes=10)) if a.kind == "observed"]
    assert own == [T0 + 48 * H, T0 + 54 * H]
