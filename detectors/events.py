"""What the engine reports: level changes, rising trends, rainfall, sensor faults.

Events are plain records with station indexes and epoch times; turning them
into `schemas.Alert` (texts, ids, local times) is `detectors.alerts`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from detectors.state import FieldViews

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


def level_event(f: FieldViews, kind: EventKind, station: int, level: int, t: float,
                value: float, **extra: object) -> DetectorEvent:
    """A station's graded level changes: record it in the state and report it."""
    previous = int(f.level[station])
    previous_t = float(f.level_t[station])
    f.level[station] = level
    f.level_t[station] = t
    f.level_value[station] = value
    msg: MsgType = "alert" if previous == 4 else ("cancel" if level == 4 else "update")
    return DetectorEvent(
        kind, msg, station, level, previous, t, value,
        ref_discriminator=None if previous == 4 else str(previous),
        ref_t=None if previous == 4 else previous_t,
        **extra,  # type: ignore[arg-type]
    )


def sensor_event(f: FieldViews, station: int, code: int, t: float, value: float | None,
                 glitch: bool = False) -> DetectorEvent:
    """A sensor episode opens, changes fault or closes (the caller updates the state)."""
    was = int(f.fault[station])
    level = int(f.level[station])
    msg: MsgType = "alert" if was == 0 else ("cancel" if code == 0 else "update")
    return DetectorEvent(
        "sensor", msg, station, level, level, t, value,
        ref_discriminator=FAULTS[was] if was else None,
        ref_t=float(f.fault_t[station]) if was else None,
        fault=FAULTS[code or was], glitch=glitch and code == 0)
