"""Score what the service issued against a reference: pure functions, no I/O.

In: a reference per station (values graded by the station's Siaga bounds, or
official statuses), the alerts the service issued (JSON dicts as `GET
/v1/alerts` returns them) and a tolerance. Out: a `ScoreReport` of dataclasses.

Definitions (times in minutes; positive delay = the service was late):
- An *episode* at level L is a run of reference points at L or more severe;
  runs less than `tolerance` apart are one episode (a one-hour dip is a glitch
  or a pause, not a new flood). Its *crossing* is its first point.
- *Hit*: the service's observed level (set by `observed` alerts, cleared by a
  cancel) was at L or more severe at some moment from crossing − tolerance to
  the episode's end. Delay = that moment − crossing. If it already was at the
  level before that window (a previous episode it never left), the episode is
  a hit that is *held*, left out of the delay figures. Otherwise a *miss*.
- *False alarm*: an `observed` alert (not a cancel) at level L ≤ 3 with no
  reference point at L or worse within ± tolerance; a `predicted` one (not a
  cancel) for gauge G at level L with no reference point of G at L or worse
  from its `eta_from` − tolerance to `eta_to` + tolerance.
- *Lead time* of an episode at gauge G: crossing − time of the first
  non-cancel `predicted` alert for G at level L or more severe, issued after
  the previous episode at that level ended (at most `lookback` before) and no
  later than crossing + tolerance; negative = the prediction came late.
- A `predicted` alert's level is the level it expects at G (`expected_level`,
  learnt from history) where it has one, else its warning level (the upstream
  gauge's). Reminders (re-sends of a condition that holds) are never false
  alarms of their own.
- *Noise*: alerts per receiving region, by kind, cancels and reminders included.
- An alert's time is `issued_at`; when that is more than `max_latency` after
  its `observed_at` (a wall-clock worker replaying history), its event time
  `observed_at` is when it would have been issued live; the report counts them.
Not here: fetching alerts, reading files, printing (service/score_report.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import fmean
from typing import Any, Literal

from detectors.threshold import BoundaryRule, grade_level
from schemas import Network

Point = tuple[datetime, int]  # (time, reference Siaga level)


@dataclass(frozen=True)
class Escalation:
    station_id: str
    region_id: str
    level: int
    crossing: datetime
    end: datetime
    hit: bool
    held: bool = False
    alert_at: datetime | None = None
    delay_min: float | None = None
    predicted_at: datetime | None = None
    lead_min: float | None = None


@dataclass(frozen=True)
class FalseAlarm:
    station_id: str
    region_id: str
    kind: str
    level: int
    at: datetime
    alert_id: str


@dataclass(frozen=True)
class StationScore:
    station_id: str
    region_id: str
    hits: int
    misses: int
    false_alarms: int
    mean_delay_min: float | None
    worst_delay_min: float | None
    mean_lead_min: float | None
    escalations: list[Escalation]


@dataclass(frozen=True)
class RegionNoise:
    region_id: str
    alerts: int
    by_kind: dict[str, int]


@dataclass(frozen=True)
class ScoreReport:
    reference: Literal["bounds", "status"]
    tolerance_min: float
    stations: list[StationScore]
    false_alarms: list[FalseAlarm]
    regions: list[RegionNoise]
    hits: int
    misses: int
    mean_delay_min: float | None
    worst_delay_min: float | None
    mean_lead_min: float | None
    event_timed_alerts: int
    alerts_considered: int
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Issued:
    """The fields of an alert that scoring reads."""

    id: str
    msg_type: str
    kind: str
    station_id: str
    region_id: str
    level: int
    at: datetime
    event_timed: bool
    eta_from: datetime | None
    eta_to: datetime | None
    reminder: bool = False


def as_issued(raw: dict[str, Any], max_latency: timedelta) -> Issued:
    observed = datetime.fromisoformat(raw["observed_at"])
    issued = datetime.fromisoformat(raw["issued_at"])
    late = issued - observed > max_latency

    def when(key: str) -> datetime | None:
        value = raw.get(key)
        return datetime.fromisoformat(value) if value else None

    level = int(raw["level"])
    if raw["kind"] == "predicted" and raw.get("expected_level") and raw["msg_type"] != "cancel":
        level = int(raw["expected_level"])  # what it says the gauge will reach
    return Issued(raw["id"], raw["msg_type"], raw["kind"], raw["station_id"], raw["region_id"],
                  level, observed if late else issued, late,
                  when("eta_from"), when("eta_to"), bool(raw.get("reminder")))


def graded(series: Sequence[tuple[datetime, float]], bounds: tuple[float, float, float],
           rule: BoundaryRule = "at_or_above") -> list[Point]:
    return [(at, grade_level(value, bounds, rule)) for at, value in series]


def drop_spikes(series: Sequence[tuple[datetime, float]], max_rate_cm_per_h: float
                ) -> tuple[list[tuple[datetime, float]], list[tuple[datetime, float]]]:
    """(kept, dropped): a point reached and left faster than the gauge can move, with
    its next neighbour back nearer the one before, is a recording glitch, not a flood
    (Manggarai 705 → 795 → 700 cm on 4 Mar 2025, a floodgate pool rising ≤ 60 cm/h)."""
    kept, dropped = [], []
    for i, (at, value) in enumerate(series):
        if 0 < i < len(series) - 1:
            (t0, v0), (t2, v2) = series[i - 1], series[i + 1]
            rate_in = abs(value - v0) / max((at - t0).total_seconds() / 3600.0, 1e-9)
            rate_out = abs(v2 - value) / max((t2 - at).total_seconds() / 3600.0, 1e-9)
            if min(rate_in, rate_out) > max_rate_cm_per_h and abs(v2 - v0) < abs(v2 - value):
                dropped.append((at, value))
                continue
        kept.append((at, value))
    return kept, dropped


def episodes(points: Sequence[Point], level: int, merge: timedelta
             ) -> list[tuple[datetime, datetime]]:
    """(first, last) time of each run at `level` or worse; runs < `merge` apart joined."""
    out: list[tuple[datetime, datetime]] = []
    for at, lvl in points:
        if lvl > level:
            continue
        if out and at - out[-1][1] <= merge:
            out[-1] = (out[-1][0], at)
        else:
            out.append((at, at))
    return out


def service_levels(alerts: Iterable[Issued], station_id: str) -> list[tuple[datetime, int]]:
    """The station's observed level over time as the service's alerts set it."""
    steps = [(a.at, 4 if a.msg_type == "cancel" else a.level) for a in alerts
             if a.kind == "observed" and a.station_id == station_id]
    return sorted(steps, key=lambda s: s[0])


def _level_at(steps: Sequence[tuple[datetime, int]], at: datetime) -> int:
    level = 4
    for t, lvl in steps:
        if t > at:
            break
        level = lvl
    return level


def _minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60.0


def _score_episode(station_id: str, region_id: str, level: int, span: tuple[datetime, datetime],
                   since: datetime, steps: Sequence[tuple[datetime, int]],
                   predicted: Sequence[Issued], tol: timedelta) -> Escalation:
    crossing, end = span
    window_start = crossing - tol
    held = _level_at(steps, window_start) <= level
    reached = [t for t, lvl in steps if window_start < t <= end and lvl <= level]
    first_pred = next((p for p in predicted if p.level <= level and since < p.at
                       and p.at <= crossing + tol), None)
    lead = _minutes(crossing - first_pred.at) if first_pred else None
    pred_at = first_pred.at if first_pred else None
    if held:
        return Escalation(station_id, region_id, level, crossing, end, hit=True, held=True,
                          predicted_at=pred_at, lead_min=lead)
    if not reached:
        return Escalation(station_id, region_id, level, crossing, end, hit=False,
                          predicted_at=pred_at, lead_min=lead)
    return Escalation(station_id, region_id, level, crossing, end, hit=True,
                      alert_at=reached[0], delay_min=_minutes(reached[0] - crossing),
                      predicted_at=pred_at, lead_min=lead)


def _mean(values: list[float]) -> float | None:
    return round(fmean(values), 1) if values else None


def _worst(values: list[float]) -> float | None:
    return round(max(values), 1) if values else None


def score(
    references: dict[str, list[Point]], raw_alerts: Iterable[dict[str, Any]], network: Network,
    *, tolerance: timedelta = timedelta(hours=2), lookback: timedelta = timedelta(hours=24),
    max_latency: timedelta = timedelta(hours=1),
    reference_kind: Literal["bounds", "status"] = "bounds",
) -> ScoreReport:
    """Score the alerts against reference levels per station (see the module docstring)."""
    times = [at for pts in references.values() for at, _ in pts]
    if not times:
        raise ValueError("the reference holds no readings of a known station")
    first, last = min(times) - tolerance, max(times) + tolerance
    alerts = [a for a in (as_issued(r, max_latency) for r in raw_alerts)
              if first <= a.at <= last]
    stations: list[StationScore] = []
    false: list[FalseAlarm] = []
    for station_id in sorted(references):
        station = network.station(station_id)
        if station is None:
            continue
        points = references[station_id]
        steps = service_levels(alerts, station_id)
        predicted = sorted((a for a in alerts if a.kind == "predicted"
                            and a.station_id == station_id and a.msg_type != "cancel"),
                           key=lambda a: a.at)
        escalations: list[Escalation] = []
        for level in (3, 2, 1):
            previous_end = points[0][0] - lookback if points else first
            for span in episodes(points, level, tolerance):
                since = max(previous_end, span[0] - lookback)
                escalations.append(_score_episode(station_id, station.region_id, level, span,
                                                  since, steps, predicted, tolerance))
                previous_end = span[1]
        escalations.sort(key=lambda e: (e.crossing, -e.level))
        mine = [a for a in alerts if a.station_id == station_id and a.msg_type != "cancel"
                and a.level <= 3 and a.kind in ("observed", "predicted") and not a.reminder]
        for a in mine:
            lo, hi = (a.at - tolerance, a.at + tolerance)
            if a.kind == "predicted":
                lo = (a.eta_from or a.at) - tolerance
                hi = (a.eta_to or a.at + lookback) + tolerance
            if not any(lo <= t <= hi and lvl <= a.level for t, lvl in points):
                false.append(FalseAlarm(station_id, a.region_id, a.kind, a.level, a.at, a.id))
        delays = [e.delay_min for e in escalations if e.delay_min is not None]
        leads = [e.lead_min for e in escalations if e.lead_min is not None]
        stations.append(StationScore(
            station_id, station.region_id,
            hits=sum(e.hit for e in escalations), misses=sum(not e.hit for e in escalations),
            false_alarms=sum(f.station_id == station_id for f in false),
            mean_delay_min=_mean(delays), worst_delay_min=_worst(delays),
            mean_lead_min=_mean(leads), escalations=escalations))
    noise: dict[str, Counter[str]] = {}
    for a in alerts:
        noise.setdefault(a.region_id, Counter())[a.kind] += 1
    all_delays = [e.delay_min for s in stations for e in s.escalations if e.delay_min is not None]
    all_leads = [e.lead_min for s in stations for e in s.escalations if e.lead_min is not None]
    notes = []
    event_timed = sum(a.event_timed for a in alerts)
    if event_timed:
        notes.append(f"{event_timed} alerts were issued more than {_minutes(max_latency):.0f} "
                     "min after their evidence (a replay graded by a wall-clock worker): "
                     "timed by their observed_at")
    return ScoreReport(
        reference=reference_kind, tolerance_min=_minutes(tolerance), stations=stations,
        false_alarms=false,
        regions=[RegionNoise(r, sum(c.values()), dict(sorted(c.items())))
                 for r, c in sorted(noise.items())],
        hits=sum(s.hits for s in stations), misses=sum(s.misses for s in stations),
        mean_delay_min=_mean(all_delays), worst_delay_min=_worst(all_delays),
        mean_lead_min=_mean(all_leads), event_timed_alerts=event_timed,
        alerts_considered=len(alerts), notes=notes)
