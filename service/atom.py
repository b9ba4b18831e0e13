"""A region's current alerts as an Atom 1.0 feed (RFC 4287) of CAP messages.

In: the region, its alerts (any order), the wall clock, links to build.
Out: the feed as UTF-8 XML. Each entry is the latest message of one episode
(alert → updates → cancel, chained by `references`) and links to that message's
CAP XML (`rel="alternate" type="application/cap+xml"`), as CAP aggregators read
feeds: they follow the link and let `references` retire the earlier messages.

Which episodes are current: the open ones, whatever their age (missing data never
clears an alert); a closed one while its Cancel is younger than `keep_cancels`, so a
poller sees the all-clear instead of an alert that silently vanished; a `predicted`
or `rising` message until its CAP `expires`. Pure: no I/O; the caller passes `now`.
It does not page: a region has a handful of open episodes, not thousands.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone

from schemas import Alert, Region
from service.cap import CAP_MEDIA_TYPE, CapProfile, Lang, clean_text, expires_at, serialize

ATOM_NS = "http://www.w3.org/2005/Atom"
ATOM_MEDIA_TYPE = "application/atom+xml"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_TITLE = {"id": "Peringatan banjir siaga: {}", "en": "siaga flood warnings: {}"}


def current_alerts(alerts: Iterable[Alert], now: datetime, keep_cancels: timedelta,
                   profile: CapProfile) -> list[Alert]:
    """The latest message of each episode still worth showing, newest first."""
    alerts = list(alerts)
    superseded = {ref for a in alerts for ref in a.references}
    current = []
    for alert in alerts:
        if alert.id in superseded:
            continue
        if alert.msg_type == "cancel" and alert.issued_at + keep_cancels < now:
            continue
        expires = expires_at(alert, profile)
        if expires is not None and expires < now:
            continue
        current.append(alert)
    current.sort(key=lambda a: (a.issued_at, a.id), reverse=True)
    return current


def region_feed(
    region: Region,
    entries: list[Alert],
    *,
    profile: CapProfile,
    lang: Lang,
    now: datetime,
    feed_url: str,
    cap_url: Callable[[str], str],
    json_url: Callable[[str], str],
) -> bytes:
    """The Atom feed of `entries` (already chosen, e.g. by `current_alerts`)."""
    zone = timezone(timedelta(minutes=round(region.utc_offset_h * 60)))  # as in the CAP
    feed = ET.Element("feed", {"xmlns": ATOM_NS, _XML_LANG: "id-ID" if lang == "id" else "en-US"})
    _sub(feed, "id", _urn(f"{profile.sender},feed,{region.id}"))
    _sub(feed, "title", _TITLE[lang].format(region.name))
    # with nothing in it the feed last changed when its last entry dropped out: now
    latest = max((a.issued_at for a in entries), default=now)
    _sub(feed, "updated", _rfc3339(latest, zone))
    ET.SubElement(feed, "link", {"rel": "self", "type": ATOM_MEDIA_TYPE,
                                     "href": clean_text(feed_url)})
    author = _sub(feed, "author")
    _sub(author, "name", profile.sender_name)
    _sub(feed, "generator", "siaga")
    for alert in entries:
        entry = _sub(feed, "entry")
        # stable across hosts and restarts: the CAP identity (sender, identifier)
        _sub(entry, "id", _urn(f"{profile.sender},{alert.id}"))
        _sub(entry, "title", alert.headline.id if lang == "id" else alert.headline.en)
        _sub(entry, "updated", _rfc3339(alert.issued_at, zone))
        _sub(entry, "published", _rfc3339(alert.issued_at, zone))
        ET.SubElement(entry, "link", {"rel": "alternate", "type": CAP_MEDIA_TYPE,
                                          "href": clean_text(cap_url(alert.id))})
        ET.SubElement(entry, "link", {"rel": "related", "type": "application/json",
                                          "href": clean_text(json_url(alert.id))})
        ET.SubElement(entry, "category", {"term": alert.kind})
        summary = alert.instruction.id if lang == "id" else alert.instruction.en
        _sub(entry, "summary", summary)
    return serialize(feed)


def _urn(name: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"


def _rfc3339(at: datetime, zone: timezone) -> str:
    return at.astimezone(zone).replace(microsecond=0).isoformat()


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    child = ET.SubElement(parent, tag)
    if text is not None:
        child.text = clean_text(text)
    return child
