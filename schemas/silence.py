"""Silences: an operator keeps a gauge's alerts from being delivered for a while.

In: the JSON of `POST /v1/silences` and the records of `siaga.silences`. Out:
validated models. A silence is never deleted: ending one early sets `ended_at`,
so the history shows who silenced what, why and until when.

Deliberately not here: the station's existence (the network decides, in the
API), and the rule itself (`service.delivery_rules.silencing`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.reading import STATION_ID_PATTERN

# A forgotten silence hides a flood: no silence may last longer than this.
MAX_SILENCE = timedelta(days=30)


class SilenceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    station_id: str = Field(pattern=STATION_ID_PATTERN, max_length=64)
    starts_at: AwareDatetime | None = Field(default=None, description="Default: now")
    ends_at: AwareDatetime | None = Field(default=None, description="Or give duration_min")
    duration_min: int | None = Field(default=None, gt=0,
                                     le=int(MAX_SILENCE.total_seconds() // 60))
    reason: str = Field(min_length=1, max_length=500)

    @field_validator("reason")
    @classmethod
    def _said_something(cls, reason: str) -> str:
        if not reason.strip():
            raise ValueError("reason must say why the gauge is silenced")
        return reason.strip()

    @model_validator(mode="after")
    def _one_end(self) -> SilenceCreate:
        if (self.ends_at is None) == (self.duration_min is None):
            raise ValueError("give exactly one of ends_at and duration_min")
        return self

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        """[starts_at, ends_at) with the defaults applied; ValueError if it is not sensible."""
        starts = self.starts_at or now
        if self.ends_at is not None:
            ends = self.ends_at
        else:
            ends = starts + timedelta(minutes=self.duration_min or 0)
        if ends <= starts:
            raise ValueError("ends_at must be after starts_at")
        if ends <= now:
            raise ValueError("the silence would already be over")
        if ends - starts > MAX_SILENCE:
            raise ValueError(f"a silence lasts at most {MAX_SILENCE.days} days")
        return starts, ends


class SilencePublic(BaseModel):
    """The stored record (value of `siaga.silences`, key = `id`) and what the API shows."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    station_id: str
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    reason: str
    by: str = Field(description="Token name of the operator")
    created_at: AwareDatetime
    ended_at: AwareDatetime | None = Field(default=None, description="Ended early")
    ended_by: str | None = None

    @property
    def until(self) -> datetime:
        """When it stops silencing: `ends_at`, or earlier if it was ended early."""
        if self.ended_at is not None and self.ended_at < self.ends_at:
            return self.ended_at
        return self.ends_at

    def covers(self, at: datetime) -> bool:
        return self.starts_at <= at < self.until


class SilenceList(BaseModel):
    silences: list[SilencePublic]
    count: int
