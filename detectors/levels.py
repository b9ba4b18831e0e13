"""Per-station level tracking: graded readings in, level changes out.

Readings of one station are taken in event-time order as they arrive; a
reading not newer than the newest one already counted (a duplicate, or one
that arrived late) is history and never moves a level, so a late 90 cm can't
undo a Siaga 1 that a later 210 cm set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class StationLevel:
    """What the detector remembers of a gauge: its level and the event times behind it."""

    level: int
    changed_at: datetime | None  # observed_at of the reading that set `level`
    last_observed_at: datetime | None  # newest observed_at that counted


NORMAL = StationLevel(level=4, changed_at=None, last_observed_at=None)


@dataclass(frozen=True, slots=True)
class LevelChange:
    station_id: str
    previous: StationLevel
    level: int
    observed_at: datetime
    value_cm: float


def track_levels(
    station_ids: Sequence[str],
    observed_at: Sequence[datetime],
    levels: Sequence[int],
    values_cm: Sequence[float],
    state: Mapping[str, StationLevel],
) -> tuple[list[LevelChange], dict[str, StationLevel]]:
    """Walk graded readings in arrival order; return the changes and the updated states.

    `state` is not modified: the caller adopts the returned states only once
    the alerts they imply are safely written, so a failed write can be retried.
    """
    if not len(station_ids) == len(observed_at) == len(levels) == len(values_cm):
        raise ValueError("station_ids, observed_at, levels and values_cm differ in length")
    updated: dict[str, StationLevel] = {}
    changes: list[LevelChange] = []
    for station_id, at, level, value in zip(
        station_ids, observed_at, levels, values_cm, strict=True
    ):
        current = updated.get(station_id) or state.get(station_id, NORMAL)
        if current.last_observed_at is not None and at <= current.last_observed_at:
            continue
        level = int(level)
        if level != current.level:
            changes.append(
                LevelChange(
                    station_id=station_id,
                    previous=current,
                    level=level,
                    observed_at=at,
                    value_cm=float(value),
                )
            )
            updated[station_id] = StationLevel(level=level, changed_at=at, last_observed_at=at)
        else:
            updated[station_id] = StationLevel(
                level=current.level, changed_at=current.changed_at, last_observed_at=at
            )
    return changes, updated
