"""Turn detector events into the alerts a region receives.

Alert ids are a hash of the alert's content (station, receiving region, kind,
what it says, event time), never of wall time or a counter, so reprocessing
the same readings after a crash or a replay re-emits the same ids.

Episodes, per station and kind: the first alert is `alert`, later changes
are `update` referencing the one before, the end is `cancel` (all clear).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from detectors.events import DetectorEvent
from schemas import LEVEL_NAMES, Alert, LocalizedText, Region, Station

INSTRUCTIONS: dict[int, LocalizedText] = {
    4: LocalizedText(
        id="Kondisi kembali normal. Tetap pantau informasi resmi.",
        en="Conditions are back to normal. Keep following official updates.",
    ),
    3: LocalizedText(
        id="Waspada: pantau informasi resmi, siapkan dokumen penting dan barang berharga.",
        en="Be alert: follow official updates, prepare documents and valuables.",
    ),
    2: LocalizedText(
        id="Siaga: siapkan evakuasi warga bantaran sungai, pindahkan barang ke tempat tinggi.",
        en="Prepare: get riverbank residents ready to evacuate, move belongings up high.",
    ),
    1: LocalizedText(
        id="Awas: segera evakuasi warga bantaran sungai ke tempat aman.",
        en="Danger: evacuate riverbank residents to safety now.",
    ),
}
_SENSOR_INSTRUCTION = LocalizedText(
    id="Periksa pos duga air; jangan andalkan pembacaan ini sampai dipastikan.",
    en="Check the gauge; do not rely on its readings until confirmed.",
)
_FAULT_TEXT: dict[str, tuple[str, str]] = {
    "sentinel": ("nilai kode galat", "an error-code value"),
    "out_of_range": ("nilai di luar jangkauan alat", "a value outside the gauge's range"),
    "zero": ("nilai nol yang mustahil", "an impossible zero"),
    "spike": ("lonjakan mendadak", "a sudden jump"),
    "flatline": ("nilai yang tidak berubah terlalu lama", "a value stuck for too long"),
    "stale": ("tidak ada laporan", "no reports"),
}
_RAIN_TEXT: dict[str, tuple[str, str]] = {
    "heavy": ("hujan lebat", "heavy rain"),
    "very_heavy": ("hujan sangat lebat", "very heavy rain"),
    "extreme": ("hujan ekstrem", "extreme rain"),
}


def alert_id(station_id: str, region_id: str, kind: str, discriminator: str | int,
             observed_at: datetime) -> str:
    """Deterministic id: the same evidence always gives the same id."""
    return _alert_id(station_id, region_id, kind, discriminator, _compact_utc(observed_at))


def _alert_id(station_id: str, region_id: str, kind: str, discriminator: str | int,
              at: str) -> str:
    """`alert_id` with the time already in its compact UTC form (`_moment` gives it)."""
    digest = hashlib.sha256(
        f"{station_id}|{region_id}|{kind}|{discriminator}|{at}".encode()
    ).hexdigest()
    return f"{station_id}-{at}-{kind}-{discriminator}-{digest[:12]}"


@lru_cache(maxsize=4096)  # a batch's alerts share a few report times
def _compact_utc(at: datetime) -> str:
    return _format_compact_utc(at)


def _format_compact_utc(at: datetime) -> str:
    """`at` as %Y%m%dT%H%M%SZ in UTC; formatted by hand, strftime was a third of an alert."""
    u = at.astimezone(UTC)
    if u.year < 1000:
        return u.strftime("%Y%m%dT%H%M%SZ")  # keep strftime's own rendering of such years
    return f"{u.year}{u.month:02d}{u.day:02d}T{u.hour:02d}{u.minute:02d}{u.second:02d}Z"


def local_time(epoch_s: float, region: Region) -> datetime:
    return _moment(epoch_s, region.utc_offset_h)[0]


# an alert needs its time twice, as the local time it shows and as its id's stamp: one
# lookup by epoch time gives both (a batch's alerts share a few report times)
@lru_cache(maxsize=4096)
def _moment(epoch_s: float, utc_offset_h: float) -> tuple[datetime, str]:
    """The local time an alert shows for `epoch_s`, and the UTC stamp its id carries."""
    at = _local_time(epoch_s, utc_offset_h)
    return at, _format_compact_utc(at)


def _local_time(epoch_s: float, utc_offset_h: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, tz=_zone(utc_offset_h))


@lru_cache(maxsize=64)
def _zone(utc_offset_h: float) -> timezone:
    return timezone(timedelta(hours=utc_offset_h))


def build_alert(event: DetectorEvent, station: Station, region: Region,
                issued_at: datetime) -> Alert:
    """The alert for `region` about `event` at `station`."""
    return Alert(**alert_fields(event, station, region, issued_at))


ALERT_FIELDS: tuple[str, ...] = tuple(Alert.model_fields)  # the contract's fields, in order


def alert_fields(event: DetectorEvent, station: Station, region: Region,
                 issued_at: datetime) -> dict[str, Any]:
    """`build_alert`'s alert as plain values, every field of the contract in its order.

    JSON-ready (texts are objects, times aware datetimes): the worker encodes it
    straight to bytes, as `Alert` would serialise it, without building the model
    (which cost as much as the rest of an alert).
    """
    return dict(zip(ALERT_FIELDS, alert_values(event, station, region, issued_at), strict=True))


def alert_values(event: DetectorEvent, station: Station, region: Region,
                 issued_at: datetime | None) -> tuple[Any, ...]:
    """`alert_fields`' values alone, one for each of `ALERT_FIELDS`, in its order.

    `issued_at=None` (replaying history): issued at the evidence's time.

    What an alert says is decided here, for `alert_fields` and `build_alert` too.
    A tuple rather than a dict because the worker encodes the values into the
    contract's fields without a dict: building 30 keys was a tenth of an alert.
    """
    kind = event.kind
    level = event.level
    value = event.value
    station_id = station.id
    region_id = region.id
    at, stamp = _moment(event.t, region.utc_offset_h)
    references = []
    if event.ref_discriminator is not None and event.ref_t is not None:
        references = [_alert_id(station_id, region_id, kind, event.ref_discriminator,
                                _moment(event.ref_t, region.utc_offset_h)[1])]
    headline, instruction, note = _texts(event, station, region)
    return (
        _alert_id(station_id, region_id, kind, event.discriminator, stamp),  # id
        event.msg_type,  # msg_type
        references,  # references
        station_id,  # station_id
        station.name,  # station_name
        station.basin,  # basin
        station.river,  # river
        region_id,  # region_id
        level,  # level
        LEVEL_NAMES[level],  # level_name
        event.previous_level,  # previous_level
        kind,  # kind
        at,  # observed_at
        at if issued_at is None else issued_at,  # issued_at
        value,  # value
        None if value is None else "mm" if kind == "rainfall" else "cm",  # unit
        "likely" if kind == "rising" else "observed",  # certainty
        None,  # eta_from
        # eta_to, in the observed time's zone; not cached: every projection is a time of
        # its own, which would only push the report times out of the cache
        None if event.eta_t is None else datetime.fromtimestamp(event.eta_t, at.tzinfo),
        headline,  # headline
        instruction,  # instruction
        note,  # note
        event.rate_cm_per_h,  # rate_cm_per_h
        event.rain_window_h,  # rain_window_h
        event.rain_category,  # rain_category
        event.fault,  # fault
        None,  # upstream_station_id
        None,  # upstream_station_name
        None,  # expected_level
        0,  # reminder
    )


Text = dict[str, str]  # a LocalizedText's fields: {"id": ..., "en": ...}
_INSTRUCTION_FIELDS: dict[int, Text] = {k: v.model_dump() for k, v in INSTRUCTIONS.items()}
_SENSOR_INSTRUCTION_FIELDS: Text = _SENSOR_INSTRUCTION.model_dump()
_READINGS_RELIABLE: Text = {"id": "Pembacaan kembali dapat diandalkan.",
                            "en": "Readings can be relied on again."}


def _texts(event: DetectorEvent, station: Station, region: Region
           ) -> tuple[Text, Text, Text | None]:
    name = station.name
    unit = "mm" if event.kind == "rainfall" else "cm"
    value = "" if event.value is None else f"{event.value:g} {unit}"
    note = None
    if event.kind == "observed":
        headline = _level_headline(event, name, value)
        if event.late_confirmed_t is not None:
            hhmm = local_time(event.late_confirmed_t, region).strftime("%H:%M")
            note = {
                "id": f"Dinaikkan terlambat satu pembacaan: lonjakan ini dipastikan oleh "
                      f"pembacaan pukul {hhmm}.",
                "en": f"Raised one reading late: this jump was confirmed by the {hhmm} reading."}
        return headline, _INSTRUCTION_FIELDS[event.level], note
    if event.kind == "rising":
        if event.msg_type == "cancel":
            return ({"id": f"Kenaikan di {name} melambat: {value}",
                     "en": f"Rise at {name} has slowed: {value}"},
                    _INSTRUCTION_FIELDS[event.previous_level or 4], None)
        minutes = 0 if event.eta_t is None else max(0, round((event.eta_t - event.t) / 60))
        rate = f"{event.rate_cm_per_h or 0:.0f}"
        level = event.level
        level_name = LEVEL_NAMES[level]
        return ({
            "id": f"{name} naik {rate} cm/jam: Siaga {level} ({level_name}) "
                  f"dalam ±{minutes} menit ({value})",
            "en": f"{name} rising {rate} cm/h: level {level} ({level_name}) "
                  f"in about {minutes} min ({value})"},
            _INSTRUCTION_FIELDS[level], None)
    if event.kind == "rainfall":
        window = f"{event.rain_window_h:g}"
        if event.msg_type == "cancel":
            return ({"id": f"Hujan di {name} mereda ({value} dalam {window} jam)",
                     "en": f"Rain at {name} has eased ({value} in {window} h)"},
                    _INSTRUCTION_FIELDS[4], None)
        ind, eng = _RAIN_TEXT.get(event.rain_category or "", ("hujan", "rain"))
        return ({"id": f"{ind.capitalize()} di {name}: {value} dalam {window} jam",
                 "en": f"{eng.capitalize()} at {name}: {value} in {window} h"},
                _INSTRUCTION_FIELDS[event.level], None)
    ind, eng = _FAULT_TEXT.get(event.fault or "", ("gangguan", "a fault"))
    if event.msg_type == "cancel":
        why_id = " (pembacaan tadi hanya gangguan sesaat)" if event.glitch else ""
        why_en = " (the suspect reading was a glitch)" if event.glitch else ""
        return ({"id": f"Pos {name} kembali normal{why_id}: {value}",
                 "en": f"Gauge {name} reads normally again{why_en}: {value}"},
                _READINGS_RELIABLE, None)
    return ({"id": f"Gangguan sensor di {name}: {ind}", "en": f"Sensor fault at {name}: {eng}"},
            _SENSOR_INSTRUCTION_FIELDS, None)


def _level_headline(event: DetectorEvent, name: str, value: str) -> Text:
    if event.level == 4:
        return {"id": f"{name} kembali Normal (Siaga 4): {value}",
                "en": f"{name} back to Normal (level 4): {value}"}
    previous = event.previous_level or 4
    up = event.level < previous
    level_name = LEVEL_NAMES[event.level]
    return {
        "id": f"Siaga {event.level} ({level_name}) di {name}: {value}, "
              f"{'naik' if up else 'turun'} dari Siaga {previous}",
        "en": f"Level {event.level} ({level_name}) at {name}: {value}, "
              f"{'up' if up else 'down'} from level {previous}"}
