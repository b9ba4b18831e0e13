"""What the engine reports: level changes, rising trends, rainfall, sensor faults.

Events are plain records with station indexes and epoch times; turning them
into `schemas.Alert` (texts, ids, local times) is `detectors.alerts`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
