"""The station network: regions, gauges and the river links between them.

An operator ships their own network as a file (`SIAGA_NETWORK`); this module
only says what a valid one looks like. A network that would make grading or
routing ambiguous (duplicate ids, unknown regions, bounds out of order, a
river that flows in a circle) is refused with a message naming the culprit.
"""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.reading import STATION_ID_PATTERN

StationKind = Literal["water_level", "rainfall"]


class SiagaBounds(BaseModel):
    """Lower bounds (cm) of Siaga 3, 2 and 1; at or above a bound is that level."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    siaga3_cm: float = Field(allow_inf_nan=False)
    siaga2_cm: float = Field(allow_inf_nan=False)
    siaga1_cm: float = Field(allow_inf_nan=False)

    @model_validator(mode="after")
    def _ascending(self) -> SiagaBounds:
        if not self.siaga3_cm < self.siaga2_cm < self.siaga1_cm:
            raise ValueError(
                "Siaga bounds must rise strictly: siaga3_cm < siaga2_cm < siaga1_cm, got "
                f"{self.siaga3_cm} / {self.siaga2_cm} / {self.siaga1_cm}"
            )
        return self

    def as_tuple(self) -> tuple[float, float, float]:
        return (self.siaga3_cm, self.siaga2_cm, self.siaga1_cm)


class ValidRange(BaseModel):
    """What the instrument can physically show; outside it a value is a sensor fault."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: float = Field(allow_inf_nan=False)
    max: float = Field(allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered(self) -> ValidRange:
        if not self.min < self.max:
            raise ValueError(f"valid range needs min < max, got {self.min} .. {self.max}")
        return self


class Location(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Region(BaseModel):
    """A kabupaten/kota that owns gauges and receives alerts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=STATION_ID_PATTERN)
    name: str = Field(min_length=1)
    geocode: str | None = Field(default=None, description="BPS/Kemendagri region code")
    utc_offset_h: float = Field(
        default=7.0, ge=-12, le=14, description="Local time of alerts: WIB 7, WITA 8, WIT 9"
    )


class Station(BaseModel):
    """A river gauge (`water_level`) or rain gauge (`rainfall`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=STATION_ID_PATTERN)
    name: str = Field(min_length=1)
    kind: StationKind
    basin: str = Field(min_length=1)
    river: str | None = None
    region_id: str
    bounds: SiagaBounds | None = Field(default=None, description="Required for water_level")
    valid_range: ValidRange = Field(description="cm for water level, mm for rainfall")
    reporting_interval_s: int = Field(
        default=3600, gt=0, description="Expected interval at Siaga 4 (Normal)"
    )
    location: Location | None = None
    # Detector tuning; None = the service-wide default (settings)
    deadband_cm: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    min_dwell_s: int | None = Field(default=None, ge=0)
    max_rate_cm_per_h: float | None = Field(
        default=None, gt=0, allow_inf_nan=False,
        description="A faster jump is a suspect spike until the next reading confirms it",
    )
    flatline_s: int | None = Field(
        default=None, gt=0, description="The same value for longer than this is a fault"
    )
    zero_possible: bool = Field(
        default=True, description="False where an exact 0 can only be a dead sensor"
    )

    @model_validator(mode="after")
    def _bounds_fit_kind(self) -> Station:
        if self.kind == "water_level" and self.bounds is None:
            raise ValueError(f"water-level station {self.id!r} needs Siaga bounds")
        if self.kind == "rainfall" and self.bounds is not None:
            raise ValueError(f"rain gauge {self.id!r} has no Siaga bounds; grade it by BMKG")
        return self


_AlertLevel = Annotated[int, Field(ge=1, le=3)]
_AnyLevel = Annotated[int, Field(ge=1, le=4)]


class RiverLink(BaseModel):
    """Water at `upstream` reaches `downstream` after `travel_min_h` to `travel_max_h` hours."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    upstream: str
    downstream: str
    travel_min_h: float = Field(ge=0, allow_inf_nan=False)
    travel_max_h: float = Field(gt=0, allow_inf_nan=False)
    expected_levels: dict[_AlertLevel, _AnyLevel] = Field(
        default_factory=dict,
        description="Upstream Siaga level -> the level the downstream gauge reached after it, "
                    "learnt from history; missing levels have no expectation",
    )

    @model_validator(mode="after")
    def _range(self) -> RiverLink:
        if self.travel_min_h > self.travel_max_h:
            raise ValueError(
                f"link {self.upstream}->{self.downstream}: travel_min_h {self.travel_min_h} "
                f"exceeds travel_max_h {self.travel_max_h}"
            )
        if self.upstream == self.downstream:
            raise ValueError(f"link {self.upstream}->{self.downstream} points at itself")
        return self


class Network(BaseModel):
    """Regions, stations and river links, checked for consistency as a whole."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    regions: list[Region] = Field(min_length=1)
    stations: list[Station] = Field(min_length=1)
    links: list[RiverLink] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Network:
        region_ids = _unique([r.id for r in self.regions], "region")
        station_ids = _unique([s.id for s in self.stations], "station")
        kinds = {s.id: s.kind for s in self.stations}
        for station in self.stations:
            if station.region_id not in region_ids:
                raise ValueError(
                    f"station {station.id!r} names unknown region {station.region_id!r}"
                )
        downstream_of: dict[str, list[str]] = {}
        for link in self.links:
            for end in (link.upstream, link.downstream):
                if end not in station_ids:
                    raise ValueError(
                        f"link {link.upstream}->{link.downstream} names unknown station {end!r}"
                    )
                if kinds[end] != "water_level":
                    raise ValueError(
                        f"link {link.upstream}->{link.downstream}: {end!r} is not a river gauge"
                    )
            downstream_of.setdefault(link.upstream, []).append(link.downstream)
        _refuse_cycles(downstream_of)
        return self

    def station(self, station_id: str) -> Station | None:
        return self.stations_by_id.get(station_id)

    @cached_property
    def stations_by_id(self) -> dict[str, Station]:
        return {s.id: s for s in self.stations}

    @cached_property
    def regions_by_id(self) -> dict[str, Region]:
        return {r.id: r for r in self.regions}


def _unique(ids: list[str], what: str) -> set[str]:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            raise ValueError(f"duplicate {what} id {item!r}")
        seen.add(item)
    return seen


def _refuse_cycles(downstream_of: dict[str, list[str]]) -> None:
    done: set[str] = set()
    for start in downstream_of:
        path: list[str] = []
        on_path: set[str] = set()
        stack: list[tuple[str, int]] = [(start, 0)]
        while stack:
            node, i = stack.pop()
            if i == 0:
                if node in on_path:
                    cycle = " -> ".join([*path[path.index(node) :], node])
                    raise ValueError(f"river links form a cycle: {cycle}")
                if node in done:
                    continue
                path.append(node)
                on_path.add(node)
            children = downstream_of.get(node, [])
            if i < len(children):
                stack.append((node, i + 1))
                stack.append((children[i], 0))
            else:
                done.add(node)
                on_path.discard(node)
                path.pop()
