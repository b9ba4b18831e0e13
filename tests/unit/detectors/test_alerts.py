from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from detectors import DetectorEvent, alert_fields, alert_id, build_alert
from detectors.alerts import INSTRUCTIONS
from schemas import Alert, Network

WIB = timezone(timedelta(hours=7))
T0 = datetime(2025, 3, 3, 1, 0, tzinfo=WIB).timestamp()
ISSUED = datetime(2025, 3, 3, tzinfo=UTC)


def test_ids_depend_on_content_and_not_on_the_zone_it_was_written_in() -> None:
    at = datetime(2025, 3, 3, 1, 0, tzinfo=WIB)
    assert alert_id("depok", "kota-depok", "observed", 1, at) == alert_id(
        "depok", "kota-depok", "observed", "1", at.astimezone(UTC))
    assert alert_id("depok", "kota-depok", "observed", 1, at) != alert_id(
        "depok", "dki-jakarta", "observed", 1, at)
    assert alert_id("depok", "kota-depok", "observed", 1, at).startswith(
        "depok-20250302T180000Z-observed-1-")


def test_lifecycle_alert_update_cancel_reference_each_other(network: Network) -> None:
    depok = network.stations_by_id["depok"]
    region = network.regions_by_id["kota-depok"]
    opened = build_alert(DetectorEvent("observed", "alert", 1, 2, 4, T0, 280.0),
                         depok, region, ISSUED)
    worse = build_alert(DetectorEvent("observed", "update", 1, 1, 2, T0 + 3600, 380.0,
                                      ref_discriminator="2", ref_t=T0), depok, region, ISSUED)
    clear = build_alert(DetectorEvent("observed", "cancel", 1, 4, 1, T0 + 9 * 3600, 150.0,
                                      ref_discriminator="1", ref_t=T0 + 3600),
                        depok, region, ISSUED)
    assert (opened.msg_type, opened.references) == ("alert", [])
    assert (worse.msg_type, worse.references) == ("update", [opened.id])
    assert (clear.msg_type, clear.references) == ("cancel", [worse.id])
    assert worse.headline.id == "Siaga 1 (Awas) di Pos Depok: 380 cm, naik dari Siaga 2"
    assert worse.headline.en == "Level 1 (Awas) at Pos Depok: 380 cm, up from level 2"
    assert "evakuasi" in worse.instruction.id
    assert clear.headline.en == "Pos Depok back to Normal (level 4): 150 cm"
    assert (clear.level, clear.level_name, clear.previous_level) == (4, "Normal", 1)
    # times are shown in the region's zone (WIB)
    assert worse.observed_at.isoformat() == "2025-03-03T02:00:00+07:00"


def test_rising_rainfall_and_sensor_texts(network: Network) -> None:
    depok = network.stations_by_id["depok"]
    region = network.regions_by_id["kota-depok"]
    rising = build_alert(DetectorEvent("rising", "alert", 1, 1, 2, T0, 320.0,
                                       eta_t=T0 + 1800, rate_cm_per_h=60.0),
                         depok, region, ISSUED)
    assert rising.headline.en == ("Pos Depok rising 60 cm/h: level 1 (Awas) in about 30 min "
                                  "(320 cm)")
    assert rising.eta_to is not None and rising.eta_to.isoformat() == "2025-03-03T01:30:00+07:00"
    assert rising.certainty == "likely"
    gauge = network.stations_by_id["arg-depok"]
    rain = build_alert(DetectorEvent("rainfall", "alert", 3, 2, 4, T0, 24.0,
                                     rain_window_h=1.0, rain_category="very_heavy"),
                       gauge, region, ISSUED)
    assert rain.headline.id == "Hujan sangat lebat di ARG Depok: 24 mm dalam 1 jam"
    assert (rain.unit, rain.rain_category) == ("mm", "very_heavy")
    glitch = build_alert(DetectorEvent("sensor", "cancel", 1, 2, 2, T0, 300.0,
                                       ref_discriminator="spike", ref_t=T0 - 3600,
                                       fault="spike", glitch=True), depok, region, ISSUED)
    assert "glitch" in glitch.headline.en and glitch.fault == "spike"
    assert glitch.references == [alert_id("depok", "kota-depok", "sensor", "spike",
                                          datetime.fromtimestamp(T0 - 3600, UTC))]


def test_every_field_holds_what_its_name_says(network: Network) -> None:
    # `alert_values` gives the fields by position: every one is pinned here to where it
    # comes from, with distinct values, so that two cannot trade places unnoticed (the
    # stage's property test holds the encoding to the model, both made from the values)
    depok = network.stations_by_id["depok"]
    region = network.regions_by_id["kota-depok"]
    event = DetectorEvent("rising", "update", 1, 2, 3, T0, 320.5, ref_discriminator="3",
                          ref_t=T0 - 3600, fault="stale", eta_t=T0 + 1800, rate_cm_per_h=61.0,
                          rain_window_h=24.0, rain_category="heavy")
    at = datetime.fromtimestamp(T0, WIB)
    fields = alert_fields(event, depok, region, ISSUED)
    assert fields == {
        "id": alert_id("depok", "kota-depok", "rising", "2", at),
        "msg_type": "update",
        "references": [alert_id("depok", "kota-depok", "rising", "3",
                                datetime.fromtimestamp(T0 - 3600, WIB))],
        "station_id": "depok",
        "station_name": "Pos Depok",
        "basin": "ciliwung",
        "river": "Ciliwung",
        "region_id": "kota-depok",
        "level": 2,
        "level_name": "Siaga",
        "previous_level": 3,
        "kind": "rising",
        "observed_at": at,
        "issued_at": ISSUED,
        "value": 320.5,
        "unit": "cm",
        "certainty": "likely",
        "eta_from": None,
        "eta_to": datetime.fromtimestamp(T0 + 1800, WIB),
        "headline": {"id": "Pos Depok naik 61 cm/jam: Siaga 2 (Siaga) dalam ±30 menit (320.5 cm)",
                     "en": "Pos Depok rising 61 cm/h: level 2 (Siaga) in about 30 min (320.5 cm)"},
        "instruction": INSTRUCTIONS[2].model_dump(),
        "note": None,
        "rate_cm_per_h": 61.0,
        "rain_window_h": 24.0,
        "rain_category": "heavy",
        "fault": "stale",
        "upstream_station_id": None,
        "upstream_station_name": None,
        "expected_level": None,
        "reminder": 0,
    }
    assert list(fields) == list(Alert.model_fields)
