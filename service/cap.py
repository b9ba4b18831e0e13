"""An `Alert` as an OASIS Common Alerting Protocol 1.2 message (DESIGN.md §4).

In: one alert, the receiving region and the gauge from the network (either may
be missing when the network changed since the alert was issued), a lookup of
earlier alerts by id (for `references`) and a `CapProfile` (sender, status, …).
Out: the CAP XML as UTF-8 bytes, elements in the order the OASIS XSD demands,
with one `info` block in Indonesian (id-ID) and one in English (en-US).

Pure: no I/O, no clock. It does not sign messages and does not publish them;
`service/api/feeds.py` serves them and `service/atom.py` lists them.

Times are written in the receiving region's own offset (WIB, +07:00, for the
bundled network), seconds precision, as CAP 1.2 wants: `2025-03-04T00:40:00+07:00`;
UTC itself is `-00:00` (CAP 1.2 §3.3.2: "Z" and "+00:00" are not used for UTC).
"""

from __future__ import annotations

import logging
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Literal

from schemas import Alert, LocalizedText, Region, Station
from service.settings import Settings

log = logging.getLogger(__name__)

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_MEDIA_TYPE = "application/cap+xml"
CapStatus = Literal["Actual", "Exercise", "System", "Test", "Draft"]
Lang = Literal["id", "en"]
LANGUAGES: tuple[tuple[Lang, str], ...] = (("id", "id-ID"), ("en", "en-US"))

# What XML 1.0 can carry at all; anything else (NUL, most C0 controls, lone
# surrogates) would make the document ill-formed however it is escaped.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# siaga's alert ids carry the evidence time in UTC: `depok-20250302T180000Z-observed-1-…`
_ID_TIME = re.compile(r"-(\d{8}T\d{6}Z)-")

_EVENT: dict[str, tuple[str, str]] = {
    "observed": ("Peringatan banjir", "Flood warning"),
    "predicted": ("Banjir kiriman", "Flood wave from upstream"),
    "rising": ("Muka air naik cepat", "Rapidly rising river"),
    "rainfall": ("Hujan lebat", "Heavy rain"),
    "sensor": ("Gangguan sensor", "Sensor fault"),
}
_RAIN_EVENT: dict[str, tuple[str, str]] = {
    "very_heavy": ("Hujan sangat lebat", "Very heavy rain"),
    "extreme": ("Hujan ekstrem", "Extreme rain"),
}
_SEVERITY = {1: "Extreme", 2: "Severe", 3: "Moderate", 4: "Minor"}
_RESPONSE = {1: "Evacuate", 2: "Prepare", 3: "Monitor", 4: "None"}
_CERTAINTY = {"observed": "Observed", "likely": "Likely", "possible": "Possible"}
_ZONE_NAMES = {7 * 60: "WIB", 8 * 60: "WITA", 9 * 60: "WIT"}


@dataclass(frozen=True, slots=True)
class CapProfile:
    """Who speaks and how: the parts of a CAP message that are not in the alert."""

    sender: str = "siaga@example.invalid"
    sender_name: str = "siaga flood early warning"
    status: CapStatus = "Actual"
    geocode_name: str = "BPS"
    circle_radius_km: float = 0.0
    expires_after_eta: timedelta = timedelta(hours=1)

    @classmethod
    def from_settings(cls, settings: Settings) -> CapProfile:
        return cls(
            sender=settings.cap_sender,
            sender_name=settings.cap_sender_name,
            status=settings.cap_status,
            geocode_name=settings.cap_geocode_name,
            circle_radius_km=settings.cap_circle_radius_km,
            expires_after_eta=timedelta(hours=settings.cap_expires_after_eta_h),
        )


def alert_zone(alert: Alert, region: Region | None) -> timezone:
    """The zone CAP times are written in: the region's, else the alert's own."""
    if region is not None:
        minutes = round(region.utc_offset_h * 60)
    else:
        offset = alert.issued_at.utcoffset() or timedelta(0)
        minutes = round(offset.total_seconds() / 60)
    return timezone(timedelta(minutes=minutes))


def cap_time(at: datetime, zone: timezone) -> str:
    """`2025-03-04T00:40:00+07:00`: seconds precision, UTC as `-00:00`."""
    local = at.astimezone(zone).replace(microsecond=0)
    minutes = round((local.utcoffset() or timedelta(0)).total_seconds() / 60)
    sign = "+" if minutes > 0 else "-"
    hh, mm = divmod(abs(minutes), 60)
    return f"{local.year:04d}-{local:%m-%dT%H:%M:%S}{sign}{hh:02d}:{mm:02d}"


def expires_at(alert: Alert, profile: CapProfile) -> datetime | None:
    """When a `predicted` or `rising` alert stops being news: after its ETA window.

    Every other kind ends by an explicit Cancel, and missing data never clears an
    alert (DESIGN.md §4), so those carry no expiry; neither does a Cancel itself.
    """
    if alert.msg_type == "cancel" or alert.kind not in ("predicted", "rising"):
        return None
    end = alert.eta_to or alert.eta_from
    return None if end is None else end + profile.expires_after_eta


def clean_text(text: str) -> str:
    """`text` with characters XML 1.0 cannot carry replaced by U+FFFD."""
    return _NOT_XML_CHAR.sub("\ufffd", text)


def to_cap(
    alert: Alert,
    region: Region | None,
    station: Station | None,
    profile: CapProfile,
    lookup: Callable[[str], Alert | None],
    web: str | None = None,
) -> bytes:
    """The CAP 1.2 message for `alert`, as UTF-8 XML with a declaration."""
    zone = alert_zone(alert, region)
    root = ET.Element("alert", {"xmlns": CAP_NS})
    _sub(root, "identifier", alert.id)
    _sub(root, "sender", profile.sender)
    _sub(root, "sent", cap_time(alert.issued_at, zone))
    _sub(root, "status", profile.status)
    _sub(root, "msgType", alert.msg_type.capitalize())
    _sub(root, "scope", "Public")
    references = _references(alert, profile, lookup, zone)
    if references:
        _sub(root, "references", " ".join(references))
    for lang, language in LANGUAGES:
        _info(root, alert, region, station, profile, zone, lang, language, web)
    return serialize(root)


def serialize(root: ET.Element) -> bytes:
    """Indented UTF-8 XML with a declaration.

    Elements carry plain names under an `xmlns` attribute on the root: ElementTree's
    own `default_namespace` refuses unprefixed attributes such as Atom's `rel`.
    """
    ET.indent(root, space="  ")
    text = ET.tostring(root, encoding="unicode")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + text.encode() + b"\n"


def _references(alert: Alert, profile: CapProfile, lookup: Callable[[str], Alert | None],
                zone: timezone) -> list[str]:
    """`sender,identifier,sent` for each alert this one updates or cancels.

    A referenced alert the store no longer holds keeps its reference: a Cancel that
    names nothing would leave subscribers with an alert nobody ever ends. Its `sent`
    is then read from the id (the evidence time; it equals `sent` for alerts issued
    in a replay and precedes it by the processing delay when live). An id that
    carries no time is left out, with a warning.
    """
    out = []
    for ref_id in alert.references:
        earlier = lookup(ref_id)
        if earlier is not None:
            sent = cap_time(earlier.issued_at, zone)
        else:
            match = _ID_TIME.search(ref_id)
            if match is None:
                log.warning("alert %s references unknown %s: reference left out",
                            alert.id, ref_id)
                continue
            evidence = datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            sent = cap_time(evidence, zone)
            log.info("alert %s references %s, no longer held: sent taken from its id",
                     alert.id, ref_id)
        out.append(f"{profile.sender},{ref_id},{sent}")
    return out


def _info(root: ET.Element, alert: Alert, region: Region | None, station: Station | None,
          profile: CapProfile, zone: timezone, lang: Lang, language: str,
          web: str | None) -> None:
    info = _sub(root, "info")
    _sub(info, "language", language)
    _sub(info, "category", "Met")  # CAP 1.2: "Met - Meteorological (inc. flood)"
    if alert.kind == "sensor":
        _sub(info, "category", "Infra")  # the gauge itself is what failed
    _sub(info, "event", _pick(_event(alert), lang))
    _sub(info, "responseType", _response_type(alert))
    _sub(info, "urgency", _urgency(alert))
    _sub(info, "severity", _severity(alert))
    _sub(info, "certainty", _CERTAINTY[alert.certainty])
    code = _sub(info, "eventCode")
    _sub(code, "valueName", "SIAGA_KIND")
    _sub(code, "value", alert.kind)
    onset = _onset(alert)
    if onset is not None:
        _sub(info, "onset", cap_time(onset, zone))
    expires = expires_at(alert, profile)
    if expires is not None:
        _sub(info, "expires", cap_time(expires, zone))
    _sub(info, "senderName", profile.sender_name)
    _sub(info, "headline", _text(alert.headline, lang))
    _sub(info, "description", _description(alert, region, zone, lang))
    _sub(info, "instruction", _text(alert.instruction, lang))
    if web is not None:
        _sub(info, "web", web)
    for name, value in _parameters(alert, zone):
        parameter = _sub(info, "parameter")
        _sub(parameter, "valueName", name)
        _sub(parameter, "value", value)
    area = _sub(info, "area")
    _sub(area, "areaDesc", region.name if region is not None else alert.region_id)
    if station is not None and station.location is not None:
        where = station.location
        _sub(area, "circle",
             f"{_num(where.lat, 6)},{_num(where.lon, 6)} {_num(profile.circle_radius_km, 3)}")
    if region is not None and region.geocode:
        geocode = _sub(area, "geocode")
        _sub(geocode, "valueName", profile.geocode_name)
        _sub(geocode, "value", region.geocode)


def _event(alert: Alert) -> tuple[str, str]:
    if alert.kind == "rainfall":
        return _RAIN_EVENT.get(alert.rain_category or "", _EVENT["rainfall"])
    return _EVENT[alert.kind]


def _response_type(alert: Alert) -> str:
    if alert.msg_type == "cancel":
        return "AllClear"
    if alert.kind == "sensor":
        return "Assess"  # check the gauge; it says nothing about the water
    if alert.kind == "rainfall":
        return "Prepare" if alert.level <= 2 else "Monitor"
    return _RESPONSE[alert.level]


def _urgency(alert: Alert) -> str:
    if alert.msg_type == "cancel":
        return "Past"
    # DESIGN.md §4: predicted → Expected, whatever the lead time; rising is within the
    # rising horizon (an hour by default), CAP's own definition of Expected
    return "Expected" if alert.kind in ("predicted", "rising") else "Immediate"


def _severity(alert: Alert) -> str:
    if alert.msg_type == "cancel" or alert.kind == "sensor":
        return "Minor"
    return _SEVERITY[alert.level]


def _onset(alert: Alert) -> datetime | None:
    if alert.msg_type == "cancel":
        return None
    if alert.kind == "predicted":
        return alert.eta_from or alert.eta_to
    if alert.kind == "rising":
        return alert.eta_to  # when the next level is reached at the current rate
    return None


def _description(alert: Alert, region: Region | None, zone: timezone, lang: Lang) -> str:
    where = alert.station_name + (f" ({alert.river})" if alert.river else "")
    region_name = region.name if region is not None else alert.region_id
    value = "" if alert.value is None or not math.isfinite(alert.value) else (
        f"{_num(alert.value, 2)} {alert.unit or ''}".strip())
    at = _local(alert.observed_at, zone)
    parts = []
    if lang == "id":
        reading = f"{value} pada {at}" if value else f"pukul {at}"
        parts.append(f"{where}, {region_name}: {reading}. "
                     f"Siaga {alert.level} ({alert.level_name}).")
        if alert.kind == "predicted" and alert.eta_from and alert.eta_to:
            parts.append(f"Air dari hulu diperkirakan tiba antara "
                         f"{_local(alert.eta_from, zone)} dan {_local(alert.eta_to, zone)}.")
        elif alert.kind == "rising" and alert.eta_to and alert.msg_type != "cancel":
            parts.append(f"Dengan laju ini Siaga {alert.level} tercapai sekitar "
                         f"{_local(alert.eta_to, zone)}.")
    else:
        reading = f"{value} at {at}" if value else f"at {at}"
        parts.append(f"{where}, {region_name}: {reading}. "
                     f"Level {alert.level} ({alert.level_name}).")
        if alert.kind == "predicted" and alert.eta_from and alert.eta_to:
            parts.append(f"Water from upstream is expected between "
                         f"{_local(alert.eta_from, zone)} and {_local(alert.eta_to, zone)}.")
        elif alert.kind == "rising" and alert.eta_to and alert.msg_type != "cancel":
            parts.append(f"At this rate level {alert.level} is reached around "
                         f"{_local(alert.eta_to, zone)}.")
    if alert.note is not None:
        parts.append(_text(alert.note, lang))
    return " ".join(parts)


def _parameters(alert: Alert, zone: timezone) -> list[tuple[str, str]]:
    """Machine-readable facts, the same in both languages."""
    out = [("SIAGA_KIND", alert.kind), ("SIAGA_LEVEL", str(alert.level)),
           ("SIAGA_LEVEL_NAME", alert.level_name)]
    if alert.previous_level is not None:
        out.append(("SIAGA_PREVIOUS_LEVEL", str(alert.previous_level)))
    out += [("STATION_ID", alert.station_id), ("BASIN", alert.basin),
            ("REGION_ID", alert.region_id)]
    if alert.river:
        out.append(("RIVER", alert.river))
    # the predicted contract's newcomer: read it when the model has it
    upstream = getattr(alert, "upstream_station_id", None)
    if isinstance(upstream, str) and upstream:
        out.append(("UPSTREAM_STATION_ID", upstream))
    out.append(("OBSERVED_AT", cap_time(alert.observed_at, zone)))
    if alert.value is not None and math.isfinite(alert.value):
        name = "RAINFALL_MM" if alert.unit == "mm" else "WATER_LEVEL_CM"
        out.append((name, _num(alert.value, 2)))
    optional: list[tuple[str, float | None]] = [
        ("RATE_CM_PER_H", alert.rate_cm_per_h), ("RAIN_WINDOW_H", alert.rain_window_h)]
    out += [(name, _num(v, 2)) for name, v in optional if v is not None and math.isfinite(v)]
    if alert.rain_category:
        out.append(("RAIN_CATEGORY", alert.rain_category))
    if alert.eta_from is not None:
        out.append(("ETA_FROM", cap_time(alert.eta_from, zone)))
    if alert.eta_to is not None:
        out.append(("ETA_TO", cap_time(alert.eta_to, zone)))
    if alert.fault:
        out.append(("SENSOR_FAULT", alert.fault))
    return out


def _local(at: datetime, zone: timezone) -> str:
    """`2025-03-04 00:40 WIB`, for people."""
    local = at.astimezone(zone)
    minutes = round((local.utcoffset() or timedelta(0)).total_seconds() / 60)
    name = _ZONE_NAMES.get(minutes) or f"UTC{cap_time(at, zone)[-6:]}"
    return f"{local.year:04d}-{local:%m-%d %H:%M} {name}"


def _num(value: float, decimals: int) -> str:
    """A plain decimal (never `1e+03`), without trailing zeros: `350`, `12.5`."""
    text = f"{value:.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _text(text: LocalizedText, lang: Lang) -> str:
    return text.id if lang == "id" else text.en


def _pick(pair: tuple[str, str], lang: Lang) -> str:
    return pair[0] if lang == "id" else pair[1]


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    child = ET.SubElement(parent, tag)
    if text is not None:
        child.text = clean_text(text)
    return child
