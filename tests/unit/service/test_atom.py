"""The Atom feed of a region's current alerts (service/atom.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from detectors import DetectorEvent, build_alert
from schemas import Alert, Network
from service.atom import current_alerts, region_feed
from service.cap import CapProfile
from tests.cap_xsd import ATOM, cap_links, parse_atom

WIB = timezone(timedelta(hours=7))
T0 = datetime(2025, 3, 3, 1, 0, tzinfo=WIB)
PROFILE = CapProfile(sender="bpbd@siaga.example.id")
KEEP = timedelta(hours=24)


def _alert(network: Network, station: str, kind: str, msg: str, level: int, previous: int,
           hours: float, value: float, **extra: Any) -> Alert:
    at = T0 + timedelta(hours=hours)
    gauge = network.stations_by_id[station]
    return build_alert(
        DetectorEvent(kind, msg, 1, level, previous, at.timestamp(), value,  # type: ignore[arg-type]
                      **extra),
        gauge, network.regions_by_id[gauge.region_id], at + timedelta(minutes=1))


def _episodes(network: Network) -> dict[str, Alert]:
    """Depok: opened, worsened, cleared. Pesanggrahan: open at Siaga 3. A rising warning."""
    return {
        "depok-open": _alert(network, "depok", "observed", "alert", 2, 4, 0, 280),
        "depok-worse": _alert(network, "depok", "observed", "update", 1, 2, 1, 380,
                              ref_discriminator="2", ref_t=T0.timestamp()),
        "depok-clear": _alert(network, "depok", "observed", "cancel", 4, 1, 9, 150,
                              ref_discriminator="1", ref_t=(T0 + timedelta(hours=1)).timestamp()),
        "manggarai-open": _alert(network, "manggarai", "observed", "alert", 3, 4, 2, 760),
        "manggarai-rising": _alert(network, "manggarai", "rising", "alert", 2, 3, 2, 760,
                                   eta_t=(T0 + timedelta(hours=2.5)).timestamp(),
                                   rate_cm_per_h=200.0),
    }


def test_current_alerts_are_the_latest_of_each_episode(network: Network) -> None:
    made = _episodes(network)

    def current(now: datetime) -> list[str]:
        issued = [a for a in made.values() if a.issued_at <= now]  # what the store held
        return [a.id for a in current_alerts(issued, now, KEEP, PROFILE)]

    # newest first; Depok's first alert was superseded by its update
    assert current(T0 + timedelta(hours=3)) == [
        made["manggarai-rising"].id, made["manggarai-open"].id, made["depok-worse"].id]
    # the rising warning's ETA (03:30) + 1 h has passed: it expired
    assert current(T0 + timedelta(hours=5)) == [
        made["manggarai-open"].id, made["depok-worse"].id]
    # the all-clear replaces Depok's episode, so pollers learn it ended
    assert current(T0 + timedelta(hours=10)) == [
        made["depok-clear"].id, made["manggarai-open"].id]
    # a day after the all-clear, only the episode still open remains
    assert current(T0 + timedelta(hours=9, minutes=2) + KEEP) == [made["manggarai-open"].id]


def test_region_feed_links_each_entry_to_its_cap(network: Network) -> None:
    made = _episodes(network)
    entries = [made["manggarai-open"]]
    base = "https://siaga.example.id"
    xml = region_feed(network.regions_by_id["dki-jakarta"], entries, profile=PROFILE,
                      lang="en", now=datetime.now(UTC),
                      feed_url=f"{base}/v1/regions/dki-jakarta/alerts.atom?lang=en",
                      cap_url=lambda i: f"{base}/v1/alerts/{i}.cap",
                      json_url=lambda i: f"{base}/v1/alerts/{i}")
    feed = parse_atom(xml)
    assert feed.get("{http://www.w3.org/XML/1998/namespace}lang") == "en-US"
    assert feed.findtext(ATOM + "title") == "siaga flood warnings: DKI Jakarta"
    assert feed.findtext(ATOM + "updated") == "2025-03-03T03:01:00+07:00"
    assert feed.findtext(f"{ATOM}author/{ATOM}name") == PROFILE.sender_name
    assert cap_links(feed) == [f"{base}/v1/alerts/{made['manggarai-open'].id}.cap"]
    (entry,) = feed.findall(ATOM + "entry")
    assert entry.findtext(ATOM + "title") == made["manggarai-open"].headline.en
    assert entry.findtext(ATOM + "summary") == made["manggarai-open"].instruction.en
    assert entry.findtext(ATOM + "id").startswith("urn:uuid:")
    # the same alert keeps its entry id whatever host serves it
    again = parse_atom(region_feed(
        network.regions_by_id["dki-jakarta"], entries, profile=PROFILE, lang="id",
        now=datetime.now(UTC), feed_url="http://other/x.atom", cap_url=lambda i: i,
        json_url=lambda i: i))
    assert again.findtext(f"{ATOM}entry/{ATOM}id") == entry.findtext(ATOM + "id")
    assert again.findtext(f"{ATOM}entry/{ATOM}title") == made["manggarai-open"].headline.id


def test_an_empty_feed_is_still_a_valid_feed(network: Network) -> None:
    now = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
    feed = parse_atom(region_feed(network.regions_by_id["kab-bogor"], [], profile=PROFILE,
                                  lang="id", now=now, feed_url="http://h/f.atom",
                                  cap_url=str, json_url=str))
    assert feed.findall(ATOM + "entry") == []
    assert feed.findtext(ATOM + "updated") == "2025-03-03T19:00:00+07:00"  # in WIB
