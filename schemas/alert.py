"""The Alert contract (DESIGN.md §3): what a subscriber receives."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SiagaLevel = Literal[1, 2, 3, 4]
MsgType = Literal["alert", "update", "cancel"]
AlertKind = Literal["observed", "predicted", "rising", "rainfall", "sensor"]
Certainty = Literal["observed", "likely", "possible"]

# 4 is the quietest level; 1 the most severe (DKI Jakarta's floodgate grading).
LEVEL_NAMES: dict[int, str] = {4: "Normal", 3: "Waspada", 2: "Siaga", 1: "Awas"}


class LocalizedText(BaseModel):
    """The same message in Indonesian (`id`) and English (`en`)."""

    model_config = ConfigDict(frozen=True)

    id: str
    en: str


class Alert(BaseModel):
    """A graded flood alert for one receiving region.

    `id` is derived from the alert's content, so replaying the same readings
    yields the same ids and a subscriber can drop duplicates.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    msg_type: MsgType
    references: list[str] = Field(default_factory=list)
    station_id: str
    station_name: str
    basin: str
    river: str | None = None
    region_id: str = Field(description="The receiving region")
    level: SiagaLevel
    level_name: str
    previous_level: SiagaLevel | None
    kind: AlertKind
    observed_at: AwareDatetime = Field(description="Event time of the evidence")
    issued_at: AwareDatetime
    value: float | None = Field(description="The evidence: water level in cm for a gauge")
    unit: Literal["cm", "mm"] | None = "cm"
    certainty: Certainty
    eta_from: AwareDatetime | None = None
    eta_to: AwareDatetime | None = None
    headline: LocalizedText
    instruction: LocalizedText
    note: LocalizedText | None = Field(default=None, description="Why this alert is unusual")
    rate_cm_per_h: float | None = Field(default=None, description="rising: least-squares rate")
    rain_window_h: float | None = Field(default=None, description="rainfall: 1 or 24 h total")
    rain_category: str | None = Field(default=None, description="rainfall: BMKG category")
    fault: str | None = Field(default=None, description="sensor: which fault")
    upstream_station_id: str | None = Field(
        default=None, description="predicted: the upstream gauge whose reading is the evidence")
    upstream_station_name: str | None = None
    expected_level: SiagaLevel | None = Field(
        default=None,
        description="predicted: the level expected at `station_id`, by a rule learnt from history")
    reminder: int = Field(
        default=0, ge=0,
        description="0 for a new alert; n for the n-th re-send of a condition that still holds")
