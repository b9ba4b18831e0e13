"""The Reading contract (DESIGN.md §3): what a gateway sends, and what is on `siaga.readings`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

ReadingKind = Literal["water_level", "rainfall"]
ReadingUnit = Literal["cm", "m", "mm"]

STATION_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"

_UNITS_BY_KIND: dict[str, tuple[str, ...]] = {
    "water_level": ("cm", "m"),
    "rainfall": ("mm",),
}


class ReadingIn(BaseModel):
    """One reading as a gateway sends it.

    `observed_at` must carry a zone offset: a naive time is ambiguous across
    WIB/WITA/WIT and would shift a flood by hours. `value` must be finite.
    Water level comes in cm or m, rainfall in mm over `interval_s` seconds.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    station_id: str = Field(pattern=STATION_ID_PATTERN, description="Station id from the network")
    observed_at: AwareDatetime = Field(description="Event time of the observation, with offset")
    kind: ReadingKind
    value: float = Field(allow_inf_nan=False, ge=-1e6, le=1e6)
    unit: ReadingUnit
    interval_s: int | None = Field(
        default=None, gt=0, le=86_400 * 31, description="Accumulation period of a rainfall value"
    )

    @model_validator(mode="after")
    def _unit_fits_kind(self) -> ReadingIn:
        allowed = _UNITS_BY_KIND[self.kind]
        if self.unit not in allowed:
            raise ValueError(
                f"unit {self.unit!r} does not fit kind {self.kind!r}; expected one of {allowed}"
            )
        if self.kind == "rainfall" and self.interval_s is None:
            raise ValueError("rainfall needs interval_s, the accumulation period in seconds")
        if self.kind == "water_level" and self.interval_s is not None:
            raise ValueError("interval_s applies to rainfall only")
        return self

    def normalized(self) -> Reading:
        """The reading in canonical units: water level in cm, rainfall in mm."""
        if self.unit == "m":
            return self.model_copy(update={"value": self.value * 100.0, "unit": "cm"})
        return self


# A reading in canonical units (cm or mm), as ingest writes it to `siaga.readings`
# and the detectors take it: a `ReadingIn` that has been through `normalized()`.
Reading = ReadingIn


class ReadingBatchIn(BaseModel):
    """Body of `POST /v1/readings`. Items are judged one by one, so they stay raw here."""

    model_config = ConfigDict(extra="forbid")

    readings: list[Any] = Field(
        description="One or more readings; each is accepted or rejected on its own",
        min_length=1,
    )
