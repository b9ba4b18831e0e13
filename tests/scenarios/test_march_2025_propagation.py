"""Scenario, by event time: the 2-4 March 2025 Ciliwung flood from the real record.

Katulampa's rise on the evening of 2 March must reach DKI Jakarta and Kota
Depok as `predicted` alerts with ETAs; Depok's rise must move Jakarta's ETA to
Depok's evidence; the end of the event must cancel; and Jakarta must have
heard of the water hours before Manggarai's own gauge showed it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from schemas import Alert, Network
from service.pipeline import run_pipeline
from tests.ciliwung import WIB, load_readings

H = timedelta(hours=1)


@pytest.fixture(scope="module")
def alerts(network: Network, ciliwung_csv: Path) -> list[Alert]:
    readings = load_readings(ciliwung_csv, datetime(2025, 3, 2, tzinfo=WIB),
                             datetime(2025, 3, 6, tzinfo=WIB))
    return run_pipeline(readings, network)


def chain(alerts: list[Alert], region_id: str, station_id: str) -> list[Alert]:
    return [a for a in alerts if a.kind == "predicted" and a.region_id == region_id
            and a.station_id == station_id and a.reminder == 0]


def at(day: int, hour: int) -> datetime:
    return datetime(2025, 3, day, hour, tzinfo=WIB)


def test_katulampa_warns_jakarta_and_depok_with_etas(alerts: list[Alert]) -> None:
    jakarta = chain(alerts, "dki-jakarta", "manggarai")[0]
    depok = chain(alerts, "kota-depok", "depok")[0]
    for first in (jakarta, depok):
        assert (first.msg_type, first.upstream_station_id, first.level) == (
            "alert", "katulampa", 3)
        assert first.observed_at == at(2, 20)  # Katulampa 80 cm: exactly the Siaga 3 bound
    assert (depok.eta_from, depok.eta_to) == (at(2, 23), at(3, 0))
    assert (jakarta.eta_from, jakarta.eta_to) == (at(3, 5), at(3, 7))
    assert jakarta.expected_level == 3


def test_depoks_rise_updates_jakartas_eta(alerts: list[Alert]) -> None:
    first_wave = [a for a in chain(alerts, "dki-jakarta", "manggarai") if a.issued_at < at(3, 13)]
    sources = [(a.issued_at, a.msg_type, a.upstream_station_id, a.level) for a in first_wave]
    assert sources == [
        (at(2, 20), "alert", "katulampa", 3),
        (at(2, 21), "update", "katulampa", 2),
        (at(3, 0), "update", "depok", 2),  # Depok at Siaga 2: its evidence is nearer
        (at(3, 1), "update", "depok", 1),  # Depok 380 cm: Siaga 1
        (at(3, 12), "cancel", "depok", 4),  # Depok normal again: the wave has passed
    ]
    for before, after in pairwise(first_wave):
        assert after.references == [before.id]
    from_depok = first_wave[2]
    assert (from_depok.eta_from, from_depok.eta_to) == (at(3, 6), at(3, 7))


def test_the_end_of_the_event_cancels_every_prediction(alerts: list[Alert]) -> None:
    for region, station in [("dki-jakarta", "manggarai"), ("kota-depok", "depok"),
                            ("dki-jakarta", "karet")]:
        assert chain(alerts, region, station)[-1].msg_type == "cancel", station
    last = chain(alerts, "dki-jakarta", "manggarai")[-1]
    assert "reached level 2" in last.headline.en  # Manggarai reached 850 cm on 4 March


def test_jakarta_heard_eleven_hours_before_manggarai_showed_it(alerts: list[Alert]) -> None:
    first_prediction = chain(alerts, "dki-jakarta", "manggarai")[0]
    manggarai_siaga_3 = next(a for a in alerts if a.kind == "observed"
                             and a.station_id == "manggarai" and a.level == 3
                             and a.observed_at > at(2, 20))
    assert manggarai_siaga_3.observed_at == at(3, 7)  # 750 cm
    lead = manggarai_siaga_3.observed_at - first_prediction.issued_at
    assert lead == 11 * H
    # and the ETA window it was given held the arrival
    assert first_prediction.eta_from is not None and first_prediction.eta_to is not None
    assert first_prediction.eta_from <= manggarai_siaga_3.observed_at <= first_prediction.eta_to


def test_replaying_in_any_batch_size_gives_the_same_alerts(
        network: Network, ciliwung_csv: Path, alerts: list[Alert]) -> None:
    readings = load_readings(ciliwung_csv, datetime(2025, 3, 2, tzinfo=WIB),
                             datetime(2025, 3, 6, tzinfo=WIB))
    one_by_one = run_pipeline(readings, network, batch_size=1)
    # the same alerts, word for word; only how worker and router outputs interleave differs
    assert sorted(a.model_dump_json() for a in one_by_one) == sorted(
        a.model_dump_json() for a in alerts)
    assert len({a.id for a in alerts}) == len(alerts)
