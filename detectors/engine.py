"""The detector engine: batches of readings in, quality flags and events out.

A batch is split into rounds so that no station appears twice in a round;
each round is then one set of array operations across all its stations.
Readings of one station stay in arrival order, so the result is the same
whether a series arrives in one batch or one reading at a time.

Staleness by event time: stations belong to groups (the stream layer uses the
Kafka partition); after each batch a gauge is stale once the newest event time
of its group passes its deadline, and a reading that arrives after a silence
longer than the deadline declares the gap itself. So every gap gets exactly one
stale alert, with the deadline as its time, however the stream was batched —
as long as each group's readings arrive in event-time order.

No I/O and no clock: `check_stale(reference_t)` takes the time to judge by.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from detectors import rainfall, trend
from detectors.config import StationTable
from detectors.events import (
    FAULT_CODES,
    QUALITY_CODES,
    DetectorEvent,
    level_events,
    rising_events,
    sensor_events,
)
from detectors.quality import basic_faults, flatline_step, is_spike, resolve_pending_spike
from detectors.rounds import batch_rounds
from detectors.staleness import stale_deadlines
from detectors.state import (
    RAIN_COARSE_S,
    RAIN_FINE_S,
    STATE_DTYPE,
    TREND_SLOTS,
    FieldViews,
    StateArray,
    new_state,
)
from detectors.threshold import grade_columns, hysteresis_graded

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]
STALE = FAULT_CODES["stale"]
# the column of `bounds` a level rises to next, clip(4 − level, 0, 2), by the level's byte
_NEXT_BOUND = np.clip(4 - np.arange(256, dtype=np.uint8).view(np.int8).astype(np.int64), 0, 2)
_KIND_RANK = {"sensor": 0, "observed": 1, "rising": 2, "rainfall": 3}


@dataclass(slots=True)
class BatchVerdict:
    quality: npt.NDArray[np.int8]  # per reading, codes of `detectors.events.QUALITY`
    events: list[DetectorEvent] = field(default_factory=list)
    undo: list[tuple[I64, StateArray]] = field(default_factory=list)


class DetectorEngine:
    def __init__(self, table: StationTable, state: StateArray | None = None) -> None:
        self.table = table
        self.state = state if state is not None else new_state(len(table))
        if self.state.dtype != STATE_DTYPE or len(self.state) != len(table):
            raise ValueError("state does not match the station table")
        self.groups: I64 = np.zeros(len(table), dtype=np.int64)
        self._views = FieldViews.of(self.state)
        self._bounds_t: F64 = np.ascontiguousarray(table.bounds.T)
        # value + deadband then never grades below the value itself
        self._deadband_raises = bool(np.all((table.deadband >= 0) & np.isfinite(table.deadband)))
        # rain gauges may read zero: `basic_faults` then judges both kinds in one call
        self._zero_possible: B = table.zero_possible | table.is_rain

    def set_groups(self, groups: I64) -> None:
        """Which group (e.g. Kafka partition) each station's readings arrive in."""
        if groups.shape != (len(self.table),):
            raise ValueError(f"groups needs one entry per station ({len(self.table)})")
        self.groups = groups.astype(np.int64)

    def _fields(self) -> FieldViews:
        """Views of `self.state`'s fields, renewed if the state array was replaced."""
        if self._views.state is not self.state:
            self._views = FieldViews.of(self.state)
        return self._views

    # ------------------------------------------------------------------ batches
    def process(self, stations: I64, t: F64, values: F64, interval_s: F64) -> BatchVerdict:
        """Judge a batch; state is updated in place, `rollback(verdict)` undoes it."""
        n = len(stations)
        if not len(t) == len(values) == len(interval_s) == n:
            raise ValueError("stations, t, values and interval_s differ in length")
        f = self._fields()
        rounds, touched = batch_rounds(stations, self.table.is_rain)
        verdict = BatchVerdict(quality=np.zeros(n, dtype=np.int8),
                               undo=[(touched, f.take(touched))])
        if n == 0:
            return verdict
        # a reading's basic faults depend on it alone: judged for the whole batch at once
        # rather than once per round
        tb = self.table
        faults = basic_faults(values, tb.range_min[stations], tb.range_max[stations],
                              self._zero_possible[stations])
        for rows, rain in rounds:
            if rain:
                self._rain(f, rows, stations, t, values, interval_s, faults, verdict)
            else:
                self._levels(f, rows, stations, t, values, faults, verdict)
        self._stale_by_group(f, stations, t, verdict)
        verdict.events.sort(key=_event_order)
        return verdict

    def rollback(self, verdict: BatchVerdict) -> None:
        for rows, saved in reversed(verdict.undo):
            self.state[rows] = saved
        verdict.undo.clear()

    def rain_totals_mm(self, station: int) -> tuple[float, float, float]:
        """(1 h, 3 h, 24 h) rainfall up to the gauge's newest reading."""
        st = self.state[station : station + 1]
        t = st["last_t"]
        if np.isnan(t[0]):
            return (0.0, 0.0, 0.0)
        fine_ids, fine_mm = st["fine_id"], st["fine_mm"]
        return (
            float(rainfall.window_total(fine_ids, fine_mm, t, 3600.0, RAIN_FINE_S)[0]),
            float(rainfall.window_total(fine_ids, fine_mm, t, 3 * 3600.0, RAIN_FINE_S)[0]),
            float(rainfall.window_total(st["coarse_id"], st["coarse_mm"], t, 86_400.0,
                                        RAIN_COARSE_S)[0]),
        )

    # ------------------------------------------------------------------ staleness
    def check_stale(self, reference_t: float,
                    among: npt.NDArray[np.bool_] | None = None) -> BatchVerdict:
        """Gauges (of `among`, default all) silent past their deadline at `reference_t`."""
        verdict = BatchVerdict(quality=np.zeros(0, dtype=np.int8))
        candidates = None if among is None else np.flatnonzero(among)
        judged = len(self.table) if candidates is None else len(candidates)
        self._declare_stale(self._fields(), candidates, np.full(judged, reference_t), verdict)
        verdict.events.sort(key=_event_order)
        return verdict

    def _stale_by_group(self, f: FieldViews, stations: I64, batch_t: F64,
                        verdict: BatchVerdict) -> None:
        """After a batch: judge the stations of its groups by the batch's newest time in
        each group — the stream's own times, so a replay judges exactly as it went live."""
        groups = self.groups
        top = int(groups.max())
        if top == 0 and int(groups.min()) >= -1:
            # one group (the default): its newest time judges every station; only the
            # comparisons see it, so which of ±0 fmax keeps does not matter
            newest = float(np.fmax.reduce(batch_t))
            if not math.isnan(newest):
                self._declare_stale(f, None, newest, verdict)
            return
        newest_by_group = np.full(top + 1, np.nan)
        np.fmax.at(newest_by_group, groups[stations], batch_t)
        candidates = (~np.isnan(newest_by_group[groups])).nonzero()[0]
        self._declare_stale(f, candidates, newest_by_group[groups[candidates]], verdict)

    def _declare_stale(self, f: FieldViews, candidates: I64 | None, reference: F64 | float,
                       verdict: BatchVerdict, last_t: F64 | None = None) -> None:
        """Candidates (None: every station) whose deadline has passed by their reference
        time go stale."""
        tb = self.table
        pick = slice(None) if candidates is None else candidates  # all: views, no gathers
        deadline = stale_deadlines(f.last_t[pick] if last_t is None else last_t, f.level[pick],
                                   tb.normal_interval_s[pick], tb.settings.stale_grace)
        passed = reference > deadline
        passed &= f.fault[pick] != STALE
        if not np.count_nonzero(passed):
            return
        rows = passed.nonzero()[0] if candidates is None else candidates[passed]
        deadline = deadline[passed]
        verdict.undo.append((rows, f.take(rows)))
        verdict.events += sensor_events(f, rows, np.full(len(rows), STALE, dtype=np.int8),
                                        deadline, None)
        f.fault[rows] = STALE
        f.fault_t[rows] = deadline

    def _in_order(self, f: FieldViews, rows: I64, stations: I64, t_all: F64, v_all: F64,
                  verdict: BatchVerdict) -> tuple[I64, F64, F64, I64]:
        """Drop late and duplicate readings (history only) and advance `last_t`.

        A reading after a silence longer than the gauge's deadline declares the
        gap (a stale alert at the deadline) before it is judged, unless a check
        already did: every gap is one stale episode however the stream was batched.
        """
        s, t, v = stations[rows], t_all[rows], v_all[rows]
        last = f.last_t[s]
        dropped = t <= last  # late or duplicate (NaN compares False either way)
        if np.count_nonzero(dropped):
            late = t < last
            duplicate = t == last
            verdict.quality[rows[late]] = QUALITY_CODES["late"]
            verdict.quality[rows[duplicate]] = QUALITY_CODES["duplicate"]
            keep = ~dropped
            s, t, v, rows, last = s[keep], t[keep], v[keep], rows[keep], last[keep]
        self._declare_stale(f, s, t, verdict, last_t=last)
        f.last_t[s] = t
        return s, t, v, rows

    # ------------------------------------------------------------------ water level
    def _levels(self, f: FieldViews, rows: I64, stations: I64, t_all: F64, v_all: F64,
                faults: npt.NDArray[np.int8], verdict: BatchVerdict) -> None:
        tb = self.table
        s, t, v, rows = self._in_order(f, rows, stations, t_all, v_all, verdict)
        if len(s) == 0:
            return
        code = faults[rows]
        clean = code == 0
        max_rate = tb.max_rate_per_s[s]
        old_t, old_v = f.valid_t[s], f.valid_v[s].astype(np.float64)
        pending_v32 = f.pending_v[s]
        glitch: B | None = None
        confirmed: B | None = None
        if np.count_nonzero(pending_v32 == pending_v32):  # a spike awaits (not NaN) somewhere
            pending_v = pending_v32.astype(np.float64)
            pending_t = f.pending_t[s]
            glitch, confirmed = resolve_pending_spike(t, v, old_v, pending_t, pending_v,
                                                      max_rate, clean)
            c = confirmed.nonzero()[0]
            if len(c):
                self._accept(f, s[c], pending_t[c], pending_v[c], old_v[c], verdict,
                             confirmed_at=t[c])
                old_t = np.where(confirmed, pending_t, old_t)
                old_v = np.where(confirmed, pending_v, old_v)
            resolved = s[glitch | confirmed]
            f.pending_t[resolved] = np.nan
            f.pending_v[resolved] = np.nan

        spike = clean & is_spike(t, v, old_t, old_v, max_rate)
        if np.count_nonzero(spike):
            code[spike] = FAULT_CODES["spike"]
            f.pending_t[s[spike]] = t[spike]
            f.pending_v[s[spike]] = v[spike]
            clean = code == 0
        stuck, new_flat_t, new_flat_v = flatline_step(
            t, v, f.flat_t[s], f.flat_v[s].astype(np.float64),
            tb.settings.flatline_tolerance_cm, tb.flatline_s[s])
        if np.count_nonzero(clean) == len(clean):
            f.flat_t[s] = new_flat_t
            f.flat_v[s] = new_flat_v
        else:
            f.flat_t[s[clean]] = new_flat_t[clean]
            f.flat_v[s[clean]] = new_flat_v[clean]
        stuck &= clean
        if np.count_nonzero(stuck):
            code[stuck] = FAULT_CODES["flatline"]

        verdict.quality[rows] = code
        ok = code == 0
        if confirmed is not None:
            verdict.quality[rows[confirmed & ok]] = QUALITY_CODES["spike_confirmed"]
        self._sensor_transitions(f, s, t, v, code, glitch, verdict)
        accepted = np.count_nonzero(ok)
        if accepted == len(ok):
            self._accept(f, s, t, v, old_v, verdict)
        elif accepted:
            self._accept(f, s[ok], t[ok], v[ok], old_v[ok], verdict)

    def _accept(self, f: FieldViews, s: I64, t: F64, v: F64, previous_v: F64,
                verdict: BatchVerdict, confirmed_at: F64 | None = None) -> None:
        """Valid readings: remember them, grade with hysteresis, update the trend.

        `previous_v` is each station's last valid value before this one.
        """
        tb = self.table
        f.valid_t[s] = t
        f.valid_v[s] = v
        # `take` along the columns: several times cheaper than indexing [:, s]
        level, bounds_t = f.level[s], self._bounds_t.take(s, axis=1)
        rule = tb.settings.boundary_rule
        raw = grade_columns(v, bounds_t, rule)
        if self._deadband_raises and not np.count_nonzero(raw > level):
            # no value below its level, nor value + deadband: `hysteresis_graded` would
            # only raise, and reset every dwell
            new_level: npt.NDArray[np.int8] = np.minimum(raw, level)
            dwell_t, dwell_level = None, None
        else:
            new_level, dwell_t, dwell_level = hysteresis_graded(
                level, f.dwell_t[s], f.dwell_level[s], t, raw,
                grade_columns(v + tb.deadband[s], bounds_t, rule), tb.min_dwell_s[s])
        self._store_dwell(f, s, dwell_t, dwell_level)
        changed = (new_level != level).nonzero()[0]
        if len(changed):
            late = {} if confirmed_at is None else {
                "late_confirmed_t": confirmed_at[changed].tolist()}
            verdict.events += level_events(f, "observed", s[changed], new_level[changed],
                                           t[changed], v[changed], **late)
        # only the new sample changes in each ring: write it, not the whole ring
        pos = f.ring_pos[s]
        f.ring_t[s, pos] = t
        f.ring_v[s, pos] = v
        f.ring_pos[s] = (pos + 1) % TREND_SLOTS
        self._rising(f, s, t, v, previous_v, new_level, verdict)

    def _rising(self, f: FieldViews, s: I64, t: F64, v: F64, previous_v: F64,
                level: npt.NDArray[np.int8], verdict: BatchVerdict) -> None:
        cfg = self.table.settings
        current = f.rising_level[s]
        reached = (current != 0) & (level <= current)
        if np.count_nonzero(reached):
            current = np.where(reached, 0, current)  # reaching the level closes it quietly
            f.rising_level[s[reached]] = 0
        # the slope matters only where a warning may start (not Siaga 1, not falling)
        # or one is open; each row's fit is independent, so the others are skipped
        maybe = level > 1
        maybe &= ~(v < previous_v)
        maybe |= current != 0
        c = maybe.nonzero()[0]
        if len(c) == 0:
            return
        s, t, v, level, current = s[c], t[c], v[c], level[c], current[c]
        slope, count = trend.slope_per_s(f.ring_t[s], f.ring_v[s], t, cfg.trend_window_s)
        eta = trend.seconds_to_bound(v, slope,
                                     self.table.bounds[s, _NEXT_BOUND[level.view(np.uint8)]])
        # the fit must agree with the latest step: right after a sudden fall a window's
        # slope can still point up, and that is no reason to warn
        rising = ((level > 1) & (count >= cfg.trend_min_points)
                  & (slope * 3600.0 >= cfg.rising_min_rate_cm_per_h)
                  & (eta <= cfg.rising_horizon_s) & ~(v < previous_v[c]))
        target = np.where(rising, level - 1, 0).astype(np.int8)
        moved = (target != current).nonzero()[0]
        if len(moved) == 0:
            return
        verdict.events += rising_events(f, s[moved], current[moved], target[moved],
                                        level[moved], t[moved], v[moved],
                                        slope[moved] * 3600.0, eta[moved])

    @staticmethod
    def _store_dwell(f: FieldViews, s: I64, dwell_t: F64 | None,
                     dwell_level: npt.NDArray[np.int8] | None) -> None:
        if dwell_t is None or dwell_level is None:
            f.dwell_t[s] = np.nan
            f.dwell_level[s] = 4
        else:
            f.dwell_t[s] = dwell_t
            f.dwell_level[s] = dwell_level

    # ------------------------------------------------------------------ rainfall
    def _rain(self, f: FieldViews, rows: I64, stations: I64, t_all: F64, v_all: F64,
              interval_all: F64, faults: npt.NDArray[np.int8], verdict: BatchVerdict) -> None:
        tb = self.table
        s, t, v, rows = self._in_order(f, rows, stations, t_all, v_all, verdict)
        if len(s) == 0:
            return
        interval = interval_all[rows]
        code = faults[rows]
        verdict.quality[rows] = code
        self._sensor_transitions(f, s, t, v, code, None, verdict)
        ok = code == 0
        accepted = np.count_nonzero(ok)
        if accepted < len(ok):
            if not accepted:
                return
            s, t, v, interval = s[ok], t[ok], v[ok], interval[ok]
        fine_ids, fine_mm, coarse_ids, coarse_mm, total_1h, total_24h = (
            rainfall.spread_and_total(f.fine_id[s], f.fine_mm[s], f.coarse_id[s],
                                      f.coarse_mm[s], t - interval, t, v))
        f.fine_id[s], f.fine_mm[s] = fine_ids, fine_mm
        f.coarse_id[s], f.coarse_mm[s] = coarse_ids, coarse_mm
        level_1h = rainfall.levels(total_1h, rainfall.HOURLY)
        level_24h = rainfall.levels(total_24h, rainfall.DAILY)
        # BMKG levels are 1..4, so bounds of 1, 2, 3 on (4 - level) grade to the level
        # itself; no deadband for rain: accumulations only fall as the window slides on
        rain_level = np.minimum(level_1h, level_24h)
        level = f.level[s]
        new_level, dwell_t, dwell_level = hysteresis_graded(
            level, f.dwell_t[s], f.dwell_level[s], t, rain_level, rain_level,
            tb.settings.rain_min_dwell_s)
        self._store_dwell(f, s, dwell_t, dwell_level)
        changed = (new_level != level).nonzero()[0]
        if len(changed) == 0:
            return
        hourly = level_1h[changed] <= level_24h[changed]
        total = np.where(hourly, total_1h[changed], total_24h[changed])
        hourly_l = hourly.tolist()
        verdict.events += level_events(
            f, "rainfall", s[changed], new_level[changed], t[changed], total,
            rain_window_h=[1.0 if h else 24.0 for h in hourly_l],
            rain_category=[rainfall.category(x, rainfall.HOURLY if h else rainfall.DAILY)[0]
                           for x, h in zip(total.tolist(), hourly_l, strict=True)])

    # ------------------------------------------------------------------ events
    def _sensor_transitions(self, f: FieldViews, s: I64, t: F64, v: F64,
                            code: npt.NDArray[np.int8], glitch: B | None,
                            verdict: BatchVerdict) -> None:
        """Open, change or close each station's sensor episode."""
        changed = (code != f.fault[s]).nonzero()[0]
        if len(changed) == 0:
            return
        s, code, t = s[changed], code[changed], t[changed]
        verdict.events += sensor_events(f, s, code, t, v[changed],
                                        None if glitch is None else glitch[changed])
        f.fault[s] = code
        f.fault_t[s] = t


def _event_order(event: DetectorEvent) -> tuple[float, int, int]:
    return (event.t, event.station, _KIND_RANK[event.kind])

