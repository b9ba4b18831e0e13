"""CAP 1.2 output (service/cap.py), validated against the official OASIS XSD.

Alerts come from the real alert builder (`detectors.build_alert`) where one exists
for the kind; `predicted` alerts, whose stage is being built elsewhere, are made
as `Alert(...)` following the contract in the issue.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from detectors import DetectorEvent, alert_id, build_alert
from schemas import LEVEL_NAMES, Alert, LocalizedText, Network, Region, Station
from schemas.network import Location
from service.cap import CapProfile, cap_time, clean_text, to_cap
from service.settings import Settings
from tests.cap_xsd import CAP, cap_problems, info, parameters, parse_cap

WIB = timezone(timedelta(hours=7))
T0 = datetime(2025, 3, 3, 1, 0, tzinfo=WIB)
ISSUED = datetime(2025, 3, 3, 0, 5, tzinfo=UTC)  # 07:05 WIB
PROFILE = CapProfile(sender="bpbd@siaga.example.id")


def _nothing(_: str) -> Alert | None:
    return None


def _event(kind: str, msg: str, level: int, previous: int, at: datetime, value: float,
           **extra: Any) -> DetectorEvent:
    return DetectorEvent(kind, msg, 1, level, previous, at.timestamp(), value,  # type: ignore[arg-type]
                         **extra)


def _observed(network: Network, level: int, previous: int, at: datetime, value: float,
              msg: str = "alert", issued: datetime = ISSUED, **extra: Any) -> Alert:
    return build_alert(_event("observed", msg, level, previous, at, value, **extra),
                       network.stations_by_id["depok"], network.regions_by_id["kota-depok"],
                       issued)


def _cap(network: Network, alert: Alert, lookup: Any = _nothing,
         web: str | None = None) -> Any:
    return parse_cap(to_cap(alert, network.regions_by_id.get(alert.region_id),
                            network.stations_by_id.get(alert.station_id), PROFILE, lookup,
                            web=web))


def _predicted(network: Network, level: int = 1) -> Alert:
    """Katulampa's wave expected at Manggarai (DKI Jakarta) 9–13 h later."""
    observed = datetime(2025, 3, 3, 22, 0, tzinfo=WIB)
    return Alert(
        id=alert_id("manggarai", "dki-jakarta", "predicted", level, observed),
        msg_type="alert", station_id="manggarai", station_name="PA Manggarai",
        basin="ciliwung", river="Ciliwung", region_id="dki-jakarta", level=level,
        level_name=LEVEL_NAMES[level], previous_level=4, kind="predicted",
        observed_at=observed, issued_at=observed + timedelta(minutes=1), value=None,
        unit=None, certainty="likely", eta_from=observed + timedelta(hours=9),
        eta_to=observed + timedelta(hours=13),
        headline=LocalizedText(id="Banjir kiriman dari Katulampa menuju PA Manggarai",
                               en="Flood wave from Katulampa heading for PA Manggarai"),
        instruction=LocalizedText(id="Siapkan evakuasi.", en="Prepare to evacuate."),
    )


def test_an_alert_is_valid_cap_with_both_languages(network: Network) -> None:
    alert = _observed(network, 2, 4, T0, 280.0)
    doc = _cap(network, alert, web="https://siaga.example.id/v1/alerts/" + alert.id)
    assert doc.tag == CAP + "alert"
    assert doc.findtext(CAP + "identifier") == alert.id
    assert doc.findtext(CAP + "sender") == "bpbd@siaga.example.id"
    assert doc.findtext(CAP + "sent") == "2025-03-03T07:05:00+07:00"  # issued, in WIB
    assert (doc.findtext(CAP + "status"), doc.findtext(CAP + "msgType"),
            doc.findtext(CAP + "scope")) == ("Actual", "Alert", "Public")
    assert doc.find(CAP + "references") is None
    indonesian, english = info(doc, "id-ID"), info(doc, "en-US")
    assert [i.findtext(CAP + "language") for i in doc.iter(CAP + "info")] == ["id-ID", "en-US"]
    assert indonesian.findtext(CAP + "headline") == alert.headline.id
    assert indonesian.findtext(CAP + "headline").startswith("Siaga 2 (Siaga) di Pos Depok")
    assert english.findtext(CAP + "headline") == alert.headline.en
    assert english.findtext(CAP + "instruction") == alert.instruction.en
    assert indonesian.findtext(CAP + "event") == "Peringatan banjir"
    for block in (indonesian, english):
        assert block.findtext(CAP + "category") == "Met"
        assert (block.findtext(CAP + "urgency"), block.findtext(CAP + "severity"),
                block.findtext(CAP + "certainty"), block.findtext(CAP + "responseType")) == (
            "Immediate", "Severe", "Observed", "Prepare")
        assert block.find(CAP + "onset") is None and block.find(CAP + "expires") is None
        assert block.findtext(CAP + "web") == "https://siaga.example.id/v1/alerts/" + alert.id
        params = parameters(block)
        assert params["SIAGA_LEVEL"] == "2" and params["STATION_ID"] == "depok"
        assert params["WATER_LEVEL_CM"] == "280"
        assert params["OBSERVED_AT"] == "2025-03-03T01:00:00+07:00"
        area = block.find(CAP + "area")
        assert area.findtext(CAP + "areaDesc") == "Kota Depok"
        location = network.stations_by_id["depok"].location
        assert location is not None
        assert area.findtext(CAP + "circle") == f"{location.lat},{location.lon} 0"
        assert area.findtext(f"{CAP}geocode/{CAP}valueName") == "BPS"
        assert area.findtext(f"{CAP}geocode/{CAP}value") == "32.76"
    assert "280 cm pada 2025-03-03 01:00 WIB" in indonesian.findtext(CAP + "description")


@pytest.mark.parametrize(("level", "severity", "response"), [
    (3, "Moderate", "Monitor"), (2, "Severe", "Prepare"), (1, "Extreme", "Evacuate")])
def test_siaga_levels_map_to_cap_severity(network: Network, level: int, severity: str,
                                          response: str) -> None:
    bounds = {3: 210.0, 2: 280.0, 1: 360.0}
    doc = _cap(network, _observed(network, level, 4, T0, bounds[level]))
    for block in doc.iter(CAP + "info"):
        assert block.findtext(CAP + "severity") == severity
        assert block.findtext(CAP + "responseType") == response


def test_an_update_references_its_predecessor_with_the_predecessors_sent(
        network: Network) -> None:
    opened = _observed(network, 2, 4, T0, 280.0)
    worse = _observed(network, 1, 2, T0 + timedelta(hours=1), 380.0, msg="update",
                      issued=ISSUED + timedelta(hours=1), ref_discriminator="2",
                      ref_t=T0.timestamp())
    assert worse.references == [opened.id]
    doc = _cap(network, worse, {opened.id: opened}.get)
    assert doc.findtext(CAP + "msgType") == "Update"
    assert doc.findtext(CAP + "references") == (
        f"bpbd@siaga.example.id,{opened.id},2025-03-03T07:05:00+07:00")
    assert doc.findtext(CAP + "sent") == "2025-03-03T08:05:00+07:00"
    for block in doc.iter(CAP + "info"):
        assert block.findtext(CAP + "severity") == "Extreme"


def test_an_unknown_predecessor_keeps_its_reference_with_the_time_in_its_id(
        network: Network) -> None:
    opened = _observed(network, 2, 4, T0, 280.0)
    worse = _observed(network, 1, 2, T0 + timedelta(hours=1), 380.0, msg="update",
                      ref_discriminator="2", ref_t=T0.timestamp())
    doc = _cap(network, worse)  # the store no longer holds `opened`
    # its evidence time (01:00 WIB) stands in for its sent
    assert doc.findtext(CAP + "references") == (
        f"bpbd@siaga.example.id,{opened.id},2025-03-03T01:00:00+07:00")
    foreign = worse.model_copy(update={"references": ["made-up-id"]})
    assert _cap(network, foreign).find(CAP + "references") is None


def test_a_cancel_is_an_all_clear(network: Network) -> None:
    worse = _observed(network, 1, 2, T0, 380.0, msg="update", ref_discriminator="2",
                      ref_t=T0.timestamp() - 3600)
    clear = _observed(network, 4, 1, T0 + timedelta(hours=9), 150.0, msg="cancel",
                      issued=ISSUED + timedelta(hours=9), ref_discriminator="1",
                      ref_t=T0.timestamp())
    doc = _cap(network, clear, {worse.id: worse}.get)
    assert doc.findtext(CAP + "msgType") == "Cancel"
    assert doc.findtext(CAP + "references") == (
        f"bpbd@siaga.example.id,{worse.id},2025-03-03T07:05:00+07:00")
    english = info(doc, "en-US")
    assert english.findtext(CAP + "headline") == "Pos Depok back to Normal (level 4): 150 cm"
    for block in doc.iter(CAP + "info"):
        assert (block.findtext(CAP + "responseType"), block.findtext(CAP + "urgency"),
                block.findtext(CAP + "severity")) == ("AllClear", "Past", "Minor")


def test_a_predicted_alert_has_its_onset_at_the_eta(network: Network) -> None:
    alert = _predicted(network).model_copy(update={"upstream_station_id": "katulampa"})
    doc = _cap(network, alert)
    for block in doc.iter(CAP + "info"):
        assert (block.findtext(CAP + "urgency"), block.findtext(CAP + "certainty"),
                block.findtext(CAP + "severity"), block.findtext(CAP + "responseType")) == (
            "Expected", "Likely", "Extreme", "Evacuate")
        assert block.findtext(CAP + "onset") == "2025-03-04T07:00:00+07:00"  # eta_from
        assert block.findtext(CAP + "expires") == "2025-03-04T12:00:00+07:00"  # eta_to + 1 h
        params = parameters(block)
        assert params["ETA_FROM"] == "2025-03-04T07:00:00+07:00"
        assert params["ETA_TO"] == "2025-03-04T11:00:00+07:00"
        assert params["UPSTREAM_STATION_ID"] == "katulampa"
        assert "WATER_LEVEL_CM" not in params
        assert block.findtext(f"{CAP}area/{CAP}areaDesc") == "DKI Jakarta"
    assert info(doc, "id-ID").findtext(CAP + "event") == "Banjir kiriman"
    assert "antara 2025-03-04 07:00 WIB dan 2025-03-04 11:00 WIB" in info(
        doc, "id-ID").findtext(CAP + "description")


def test_a_rising_alert_is_expected_at_its_eta(network: Network) -> None:
    rising = build_alert(_event("rising", "alert", 1, 2, T0, 320.0,
                                eta_t=T0.timestamp() + 1800, rate_cm_per_h=60.0),
                         network.stations_by_id["depok"], network.regions_by_id["kota-depok"],
                         ISSUED)
    doc = _cap(network, rising)
    english = info(doc, "en-US")
    assert english.findtext(CAP + "headline") == rising.headline.en
    assert (english.findtext(CAP + "urgency"), english.findtext(CAP + "certainty"),
            english.findtext(CAP + "severity")) == ("Expected", "Likely", "Extreme")
    assert english.findtext(CAP + "onset") == "2025-03-03T01:30:00+07:00"
    assert parameters(english)["RATE_CM_PER_H"] == "60"


def test_rainfall_and_sensor_alerts(network: Network) -> None:
    region = network.regions_by_id["kota-depok"]
    rain = build_alert(_event("rainfall", "alert", 2, 4, T0, 24.0, rain_window_h=1.0,
                              rain_category="very_heavy"),
                       network.stations_by_id["arg-depok"], region, ISSUED)
    doc = _cap(network, rain)
    indonesian = info(doc, "id-ID")
    assert indonesian.findtext(CAP + "event") == "Hujan sangat lebat"
    assert indonesian.findtext(CAP + "headline") == rain.headline.id
    assert (indonesian.findtext(CAP + "severity"), indonesian.findtext(CAP + "urgency"),
            indonesian.findtext(CAP + "responseType")) == ("Severe", "Immediate", "Prepare")
    assert parameters(indonesian)["RAINFALL_MM"] == "24"
    assert parameters(indonesian)["RAIN_CATEGORY"] == "very_heavy"

    stale = build_alert(_event("sensor", "alert", 1, 1, T0, 360.0, fault="stale"),
                        network.stations_by_id["depok"], region, ISSUED)
    doc = _cap(network, stale)
    english = info(doc, "en-US")
    assert english.findtext(CAP + "headline") == "Sensor fault at Pos Depok: no reports"
    assert [c.text for c in english.iter(CAP + "category")] == ["Met", "Infra"]
    assert (english.findtext(CAP + "event"), english.findtext(CAP + "responseType"),
            english.findtext(CAP + "severity")) == ("Sensor fault", "Assess", "Minor")
    assert parameters(english)["SENSOR_FAULT"] == "stale"


def test_utc_is_written_minus_zero_and_other_offsets_keep_their_minutes() -> None:
    at = datetime(2025, 3, 3, 17, 40, 59, 999_999, tzinfo=UTC)
    assert cap_time(at, timezone(timedelta(0))) == "2025-03-03T17:40:59-00:00"
    assert cap_time(at, timezone(timedelta(hours=5, minutes=45))) == "2025-03-03T23:25:59+05:45"
    assert cap_time(at, timezone(timedelta(hours=-3, minutes=-30))) == (
        "2025-03-03T14:10:59-03:30")


def test_missing_region_and_station_and_hostile_text_still_give_valid_cap(
        network: Network) -> None:
    hostile = 'Banjir <b>&amp; "kiriman"\x00\x1b\ufffe \U0001f30a ]]>'
    alert = _observed(network, 1, 4, T0, 400.0).model_copy(update={
        "region_id": "gone-region", "station_id": "gone-station",
        "headline": LocalizedText(id=hostile, en=hostile)})
    doc = _cap(network, alert)
    block = info(doc, "id-ID")
    assert block.findtext(CAP + "headline") == clean_text(hostile)
    assert block.findtext(CAP + "headline").startswith('Banjir <b>&amp; "kiriman"\ufffd')
    assert block.findtext(f"{CAP}area/{CAP}areaDesc") == "gone-region"
    assert block.find(f"{CAP}area/{CAP}circle") is None


def test_the_profile_comes_from_settings() -> None:
    profile = CapProfile.from_settings(Settings(cap_sender="bpbd-dki@example.go.id",
                                                cap_status="Exercise",
                                                cap_expires_after_eta_h=2.0))
    assert (profile.sender, profile.status, profile.expires_after_eta) == (
        "bpbd-dki@example.go.id", "Exercise", timedelta(hours=2))
    with pytest.raises(ValueError, match="cap_sender"):
        Settings(cap_sender="two words")


# -- property: whatever a valid Alert says, the CAP for it is valid ---------------------

_OFFSETS = st.sampled_from([-12.0, -3.5, 0.0, 5.75, 7.0, 8.0, 9.0, 14.0])
# hypothesis wants naive bounds; `timezones` makes the drawn values aware
_TIMES = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),  # noqa: DTZ001
                      timezones=st.sampled_from([UTC, WIB, timezone(timedelta(hours=-9))]))
_TEXT = st.text(max_size=80)


@st.composite
def _alerts(draw: st.DrawFn) -> tuple[Alert, Region, Station | None, dict[str, Alert]]:
    kind = draw(st.sampled_from(["observed", "predicted", "rising", "rainfall", "sensor"]))
    msg = draw(st.sampled_from(["alert", "update", "cancel"]))
    level = draw(st.sampled_from([1, 2, 3, 4]))
    observed = draw(_TIMES)
    region = Region(id="r-1", name=draw(st.text(min_size=1, max_size=40)),
                    geocode=draw(st.none() | st.from_regex(r"[0-9]{2}(\.[0-9]{2}){0,3}",
                                                           fullmatch=True)),
                    utc_offset_h=draw(_OFFSETS))
    location = draw(st.none() | st.builds(Location, lat=st.floats(-90, 90),
                                          lon=st.floats(-180, 180)))
    station = Station(id="g-1", name="Gauge", kind="water_level", basin="b",
                      region_id=region.id, valid_range={"min": 0, "max": 2000},
                      bounds={"siaga3_cm": 1, "siaga2_cm": 2, "siaga1_cm": 3},
                      location=location)
    earlier = draw(st.lists(st.integers(1, 4), max_size=2))
    known: dict[str, Alert] = {}
    references = [alert_id("g-1", "r-1", kind, d, observed - timedelta(hours=i + 1))
                  for i, d in enumerate(earlier)]
    eta = draw(st.none() | st.timedeltas(timedelta(0), timedelta(hours=20)))
    alert = Alert(
        id=alert_id("g-1", "r-1", kind, level, observed), msg_type=msg, references=references,
        station_id="g-1", station_name=draw(_TEXT), basin="b", river=draw(st.none() | _TEXT),
        region_id="r-1", level=level, level_name=LEVEL_NAMES[level],
        previous_level=draw(st.none() | st.sampled_from([1, 2, 3, 4])), kind=kind,
        observed_at=observed, issued_at=observed + draw(st.timedeltas(timedelta(0),
                                                                      timedelta(days=2))),
        value=draw(st.none() | st.floats(allow_nan=True, allow_infinity=True)),
        unit=draw(st.sampled_from(["cm", "mm", None])),
        certainty=draw(st.sampled_from(["observed", "likely", "possible"])),
        eta_from=None if eta is None else observed + eta / 2,
        eta_to=None if eta is None else observed + eta,
        headline=LocalizedText(id=draw(_TEXT), en=draw(_TEXT)),
        instruction=LocalizedText(id=draw(_TEXT), en=draw(_TEXT)),
        note=draw(st.none() | st.builds(LocalizedText, id=_TEXT, en=_TEXT)),
        rate_cm_per_h=draw(st.none() | st.floats()), rain_window_h=draw(st.none() | st.floats()),
        rain_category=draw(st.none() | _TEXT), fault=draw(st.none() | _TEXT),
    )
    for ref in references[: draw(st.integers(0, len(references)))]:
        known[ref] = alert.model_copy(update={"id": ref})
    return alert, region, draw(st.none() | st.just(station)), known


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_alerts())
def test_any_valid_alert_gives_valid_cap(
        case: tuple[Alert, Region, Station | None, dict[str, Alert]]) -> None:
    alert, region, station, known = case
    xml = to_cap(alert, region, station, PROFILE, known.get)
    assert cap_problems(xml) == []
    doc = parse_cap(xml)
    assert len(doc.findtext(CAP + "references", "").split()) == len(alert.references)
    # what people read survives the trip (XML turns a lone CR into a newline)
    headline = info(doc, "en-US").findtext(CAP + "headline") or ""
    assert headline == clean_text(alert.headline.en).replace("\r\n", "\n").replace("\r", "\n")
