"""What the engine reports: level changes, rising trends, rainfall, sensor faults.

Events are plain records with station indexes and epoch times; turning them
into `schemas.Alert` (texts, ids, local times) is `detectors.alerts`.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from detectors.state import FieldViews

I64 = npt.NDArray[np.int64]
I8 = npt.NDArray[np.int8]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

EventKind = Literal["observed", "rising", "rainfall", "sensor"]
MsgType = Literal["alert", "update", "cancel"]

# sensor fault codes (state "fault" field); 0 = no fault
FAULTS: dict[int, str] = {
    1: "sentinel",
    2: "out_of_range",
    3: "zero",
    4: "spike",
    5: "flatline",
    6: "stale",
}
FAULT_CODES = {name: code for code, name in FAULTS.items()}

# reading quality flags (per reading, returned with a batch); 0 = ok
QUALITY: dict[int, str] = {
    0: "ok",
    **FAULTS,
    7: "late",
    8: "duplicate",
    9: "spike_confirmed",
}
QUALITY_CODES = {name: code for code, name in QUALITY.items()}


@dataclass(frozen=True, slots=True)
class DetectorEvent:
    kind: EventKind
    msg_type: MsgType
    station: int
    level: int  # Siaga level the event speaks of (sensor: the gauge's current level)
    previous_level: int | None
    t: float  # event time of the evidence, epoch seconds
    value: float | None
    # the event this one updates or cancels: its level (or fault) and time
    ref_discriminator: str | None = None
    ref_t: float | None = None
    fault: str | None = None  # sensor events: which fault; cancel: the one that ended
    eta_t: float | None = None  # rising: when the next level is projected
    rate_cm_per_h: float | None = None
    rain_window_h: float | None = None
    rain_category: str | None = None
    late_confirmed_t: float | None = None  # a spike raised one reading late: confirmed here
    glitch: bool = False  # a sensor cancel because the suspect reading was a glitch

    @property
    def discriminator(self) -> str:
        """What, besides station/kind/time, makes this event's id unique."""
        if self.kind == "sensor":
            return f"{self.fault}-clear" if self.msg_type == "cancel" else str(self.fault)
        return str(self.level)


class _Unfrozen:
    """DetectorEvent's slots without its frozen `__setattr__`, see `_event`."""

    __slots__ = DetectorEvent.__slots__


def _event(kind: EventKind, msg_type: MsgType, station: int, level: int,
           previous_level: int | None, t: float, value: float | None,
           ref_discriminator: str | None = None, ref_t: float | None = None,
           fault: str | None = None, eta_t: float | None = None,
           rate_cm_per_h: float | None = None, rain_window_h: float | None = None,
           rain_category: str | None = None, late_confirmed_t: float | None = None,
           glitch: bool = False) -> DetectorEvent:
    """`DetectorEvent(...)` about 5× faster, for the engine's tens of thousands per batch.

    The frozen dataclass's `__init__` pays for one `object.__setattr__` call per field;
    here the fields are stored into an unfrozen object of the same slots, which then
    becomes a DetectorEvent (CPython allows the class change between identical slot
    layouts). The result is an ordinary DetectorEvent: equal, hashed, printed and
    frozen like one built by its constructor."""
    e: Any = _Unfrozen()
    e.kind = kind
    e.msg_type = msg_type
    e.station = station
    e.level = level
    e.previous_level = previous_level
    e.t = t
    e.value = value
    e.ref_discriminator = ref_discriminator
    e.ref_t = ref_t
    e.fault = fault
    e.eta_t = eta_t
    e.rate_cm_per_h = rate_cm_per_h
    e.rain_window_h = rain_window_h
    e.rain_category = rain_category
    e.late_confirmed_t = late_confirmed_t
    e.glitch = glitch
    e.__class__ = DetectorEvent
    event: DetectorEvent = e
    return event


# a field added to DetectorEvent but not to `_event` would be left unset: refuse to load
if list(inspect.signature(_event).parameters) != [f.name for f in fields(DetectorEvent)]:
    raise TypeError("detectors.events._event must take DetectorEvent's fields, in order")


def level_events(f: FieldViews, kind: EventKind, stations: I64, levels: I8, t: F64,
                 values: F64, **extra: Sequence[object]) -> list[DetectorEvent]:
    """Stations' graded levels change: record them in the state and report them.

    `extra` holds one value per station for each further event field. The state is
    read and written for all stations at once: a station appears once per call."""
    previous = f.level[stations].tolist()
    previous_t = f.level_t[stations].tolist()
    f.level[stations] = levels
    f.level_t[stations] = t
    f.level_value[stations] = values
    columns = list(extra.items())
    events: list[DetectorEvent] = []
    for k, (station, level, at, value, was, was_t) in enumerate(zip(
            stations.tolist(), levels.tolist(), t.tolist(), values.tolist(), previous,
            previous_t, strict=True)):
        msg: MsgType = "alert" if was == 4 else ("cancel" if level == 4 else "update")
        events.append(_event(
            kind, msg, station, level, was, at, value,
            ref_discriminator=None if was == 4 else str(was),
            ref_t=None if was == 4 else was_t,
            **{name: column[k] for name, column in columns},  # type: ignore[arg-type]
        ))
    return events


def rising_events(f: FieldViews, stations: I64, was: I8, target: I8, levels: I8, t: F64,
                  values: F64, rate_cm_per_h: F64, eta_s: F64) -> list[DetectorEvent]:
    """Rising warnings open (`target` > 0 where `was` is 0), move to another level, or
    close (`target` 0): record them in the state and report them."""
    events: list[DetectorEvent] = []
    # each station appears once: its state is read before, and written after
    for station, old, goal, level, at, value, ref_t, rate, eta in zip(
            stations.tolist(), was.tolist(), target.tolist(), levels.tolist(), t.tolist(),
            values.tolist(), f.rising_t[stations].tolist(), rate_cm_per_h.tolist(),
            eta_s.tolist(), strict=True):
        if goal == 0:
            events.append(_event(
                "rising", "cancel", station, old, old, at, value,
                ref_discriminator=str(old), ref_t=ref_t,
                rate_cm_per_h=rate if math.isfinite(rate) else None))
        else:
            events.append(_event(
                "rising", "alert" if old == 0 else "update", station, goal, level, at, value,
                ref_discriminator=str(old) if old else None, ref_t=ref_t if old else None,
                eta_t=at + eta, rate_cm_per_h=rate))
    f.rising_level[stations] = target
    opened = target != 0
    f.rising_t[stations[opened]] = t[opened]
    return events


def sensor_events(f: FieldViews, stations: I64, codes: I8, t: F64, values: F64 | None,
                  glitch: B | None = None) -> list[DetectorEvent]:
    """Sensor episodes open, change fault or close (the caller updates the state)."""
    was_all = f.fault[stations].tolist()
    level_all = f.level[stations].tolist()
    was_t_all = f.fault_t[stations].tolist()
    value_all: list[float | None] = [None] * len(stations) if values is None else values.tolist()
    glitch_all = [False] * len(stations) if glitch is None else glitch.tolist()
    events: list[DetectorEvent] = []
    for station, code, at, value, was, level, was_t, glitched in zip(
            stations.tolist(), codes.tolist(), t.tolist(), value_all, was_all, level_all,
            was_t_all, glitch_all, strict=True):
        msg: MsgType = "alert" if was == 0 else ("cancel" if code == 0 else "update")
        events.append(_event(
            "sensor", msg, station, level, level, at, value,
            ref_discriminator=FAULTS[was] if was else None,
            ref_t=was_t if was else None,
            fault=FAULTS[code or was], glitch=glitched and code == 0))
    return events
