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

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from detectors import rainfall, trend
from detectors.config import StationTable
from detectors.events import FAULT_CODES, FAULTS, QUALITY_CODES, DetectorEvent, MsgType
from detectors.quality import basic_faults, flatline_step, is_spike, resolve_pending_spike
from detectors.staleness import stale_deadlines
from detectors.state import (
    RAIN_COARSE_S,
    RAIN_FINE_S,
    STATE_DTYPE,
    StateArray,
    new_state,
)
from detectors.threshold import hysteresis_step

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
STALE = FAULT_CODES["stale"]
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

    def set_groups(self, groups: I64) -> None:
        """Which group (e.g. Kafka partition) each station's readings arrive in."""
        if groups.shape != (len(self.table),):
            raise ValueError(f"groups needs one entry per station ({len(self.table)})")
        self.groups = groups.astype(np.int64)

    # ------------------------------------------------------------------ batches
    def process(self, stations: I64, t: F64, values: F64, interval_s: F64) -> BatchVerdict:
        """Judge a batch; state is updated in place, `rollback(verdict)` undoes it."""
        n = len(stations)
        if not len(t) == len(values) == len(interval_s) == n:
            raise ValueError("stations, t, values and interval_s differ in length")
        touched = np.unique(stations)
        verdict = BatchVerdict(quality=np.zeros(n, dtype=np.int8),
                               undo=[(touched, self.state[touched].copy())])
        if n == 0:
            return verdict
        occurrence = _occurrence(stations)
        for r in range(int(occurrence.max()) + 1):
            rows = np.flatnonzero(occurrence == r)
            rain = self.table.is_rain[stations[rows]]
            if (~rain).any():
                self._levels(rows[~rain], stations, t, values, verdict)
            if rain.any():
                self._rain(rows[rain], stations, t, values, interval_s, verdict)
        self._stale_by_group(self.groups[stations], t, verdict)
        verdict.events.sort(key=lambda e: (e.t, e.station, _KIND_RANK[e.kind]))
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
        candidates = np.arange(len(self.table)) if among is None else np.flatnonzero(among)
        self._declare_stale(candidates, np.full(len(candidates), reference_t), verdict)
        verdict.events.sort(key=lambda e: (e.t, e.station, _KIND_RANK[e.kind]))
        return verdict

    def _stale_by_group(self, batch_groups: I64, batch_t: F64, verdict: BatchVerdict) -> None:
        """After a batch: judge the stations of its groups by the batch's newest time in
        each group — the stream's own times, so a replay judges exactly as it went live."""
        newest = np.full(int(self.groups.max()) + 1, np.nan)
        np.fmax.at(newest, batch_groups, batch_t)
        candidates = np.flatnonzero(~np.isnan(newest[self.groups]))
        self._declare_stale(candidates, newest[self.groups[candidates]], verdict)

    def _declare_stale(self, candidates: I64, reference: F64, verdict: BatchVerdict) -> None:
        """Candidates whose deadline has passed by their reference time go stale."""
        st = self.state
        deadline = stale_deadlines(st["last_t"][candidates], st["level"][candidates],
                                   self.table.normal_interval_s[candidates],
                                   self.table.settings.stale_grace)
        passed = (reference > deadline) & (st["fault"][candidates] != STALE)
        rows = candidates[passed]
        if len(rows) == 0:
            return
        deadline = deadline[passed]
        verdict.undo.append((rows, st[rows].copy()))
        for i, at in zip(rows.tolist(), deadline.tolist(), strict=True):
            verdict.events.append(self._sensor_event(i, STALE, at, None))
        st["fault"][rows] = STALE
        st["fault_t"][rows] = deadline

    # ------------------------------------------------------------------ water level
    def _levels(self, rows: I64, stations: I64, t_all: F64, v_all: F64,
                verdict: BatchVerdict) -> None:
        tb, st = self.table, self.state
        s, t, v = stations[rows], t_all[rows], v_all[rows]
        s, t, v, rows = self._in_order(s, t, v, rows, verdict)
        if len(s) == 0:
            return
        code = basic_faults(v, tb.range_min[s], tb.range_max[s], tb.zero_possible[s])
        clean = code == 0

        old_t, old_v = st["valid_t"][s], st["valid_v"][s].astype(np.float64)
        pending_t, pending_v = st["pending_t"][s], st["pending_v"][s].astype(np.float64)
        glitch, confirmed = resolve_pending_spike(t, v, old_v, pending_t, pending_v,
                                                  tb.max_rate_per_s[s], clean)
        if confirmed.any():
            c = np.flatnonzero(confirmed)
            self._accept(s[c], pending_t[c], pending_v[c], verdict, confirmed_at=t[c])
            old_t = np.where(confirmed, pending_t, old_t)
            old_v = np.where(confirmed, pending_v, old_v)
        resolved = glitch | confirmed
        st["pending_t"][s[resolved]] = np.nan
        st["pending_v"][s[resolved]] = np.nan

        spike = clean & is_spike(t, v, old_t, old_v, tb.max_rate_per_s[s])
        code[spike] = FAULT_CODES["spike"]
        st["pending_t"][s[spike]] = t[spike]
        st["pending_v"][s[spike]] = v[spike]

        clean = code == 0
        flat_t, flat_v = st["flat_t"][s], st["flat_v"][s].astype(np.float64)
        stuck, new_flat_t, new_flat_v = flatline_step(
            t, v, flat_t, flat_v, tb.settings.flatline_tolerance_cm, tb.flatline_s[s])
        st["flat_t"][s[clean]] = new_flat_t[clean]
        st["flat_v"][s[clean]] = new_flat_v[clean]
        code[clean & stuck] = FAULT_CODES["flatline"]

        verdict.quality[rows] = code
        verdict.quality[rows[confirmed & (code == 0)]] = QUALITY_CODES["spike_confirmed"]
        self._sensor_transitions(s, t, v, code, glitch, verdict)
        ok = code == 0
        if ok.any():
            self._accept(s[ok], t[ok], v[ok], verdict)

    def _in_order(self, s: I64, t: F64, v: F64, rows: I64, verdict: BatchVerdict
                  ) -> tuple[I64, F64, F64, I64]:
        """Drop late and duplicate readings (history only) and advance `last_t`.

        A reading after a silence longer than the gauge's deadline declares the
        gap (a stale alert at the deadline) before it is judged, unless a check
        already did: every gap is one stale episode however the stream was batched.
        """
        st = self.state
        last = st["last_t"][s]
        late, duplicate = t < last, t == last
        verdict.quality[rows[late]] = QUALITY_CODES["late"]
        verdict.quality[rows[duplicate]] = QUALITY_CODES["duplicate"]
        keep = ~(late | duplicate)
        s, t, v, rows = s[keep], t[keep], v[keep], rows[keep]
        self._declare_stale(s, t, verdict)
        st["last_t"][s] = t
        return s, t, v, rows

    def _accept(self, s: I64, t: F64, v: F64, verdict: BatchVerdict,
                confirmed_at: F64 | None = None) -> None:
        """Valid readings: remember them, grade with hysteresis, update the trend."""
        tb, st = self.table, self.state
        previous_v = st["valid_v"][s].astype(np.float64)
        st["valid_t"][s] = t
        st["valid_v"][s] = v
        level = st["level"][s]
        new_level, dwell_t, dwell_level = hysteresis_step(
            level, st["dwell_t"][s], st["dwell_level"][s], t, v, tb.bounds[s], tb.deadband[s],
            tb.min_dwell_s[s], tb.settings.boundary_rule)
        st["dwell_t"][s] = dwell_t
        st["dwell_level"][s] = dwell_level
        for i in np.flatnonzero(new_level != level).tolist():
            verdict.events.append(self._level_event(
                "observed", int(s[i]), int(new_level[i]), float(t[i]), float(v[i]),
                late_confirmed_t=None if confirmed_at is None else float(confirmed_at[i])))
        ring_t, ring_v, pos = trend.push(st["ring_t"][s], st["ring_v"][s], st["ring_pos"][s],
                                         t, v)
        st["ring_t"][s] = ring_t
        st["ring_v"][s] = ring_v
        st["ring_pos"][s] = pos
        self._rising(s, t, v, previous_v, new_level, ring_t, ring_v, verdict)

    def _rising(self, s: I64, t: F64, v: F64, previous_v: F64, level: npt.NDArray[np.int8],
                ring_t: F64, ring_v: npt.NDArray[np.float32], verdict: BatchVerdict) -> None:
        cfg, st = self.table.settings, self.state
        slope, count = trend.slope_per_s(ring_t, ring_v, t, cfg.trend_window_s)
        next_idx = np.clip(4 - level.astype(np.int64), 0, 2)
        bound = self.table.bounds[s, next_idx]
        eta = trend.seconds_to_bound(v, slope, bound)
        # the fit must agree with the latest step: right after a sudden fall a window's
        # slope can still point up, and that is no reason to warn
        rising = ((level > 1) & (count >= cfg.trend_min_points)
                  & (slope * 3600.0 >= cfg.rising_min_rate_cm_per_h)
                  & (eta <= cfg.rising_horizon_s) & ~(v < previous_v))
        target = np.where(rising, level - 1, 0).astype(np.int8)
        current = st["rising_level"][s]
        reached = (current != 0) & (level <= current)
        current = np.where(reached, 0, current)  # reaching the level closes it quietly
        st["rising_level"][s[reached]] = 0
        for i in np.flatnonzero(target != current).tolist():
            station, was = int(s[i]), int(current[i])
            ref_t = float(st["rising_t"][station])
            if target[i] == 0:
                verdict.events.append(DetectorEvent(
                    "rising", "cancel", station, was, was, float(t[i]), float(v[i]),
                    ref_discriminator=str(was), ref_t=ref_t,
                    rate_cm_per_h=_finite(slope[i] * 3600.0)))
                st["rising_level"][station] = 0
                continue
            verdict.events.append(DetectorEvent(
                "rising", "alert" if was == 0 else "update", station, int(target[i]),
                int(level[i]), float(t[i]), float(v[i]),
                ref_discriminator=str(was) if was else None, ref_t=ref_t if was else None,
                eta_t=float(t[i] + eta[i]), rate_cm_per_h=float(slope[i] * 3600.0)))
            st["rising_level"][station] = target[i]
            st["rising_t"][station] = t[i]

    # ------------------------------------------------------------------ rainfall
    def _rain(self, rows: I64, stations: I64, t_all: F64, v_all: F64, interval_all: F64,
              verdict: BatchVerdict) -> None:
        tb, st = self.table, self.state
        s, t, v = stations[rows], t_all[rows], v_all[rows]
        s, t, v, rows = self._in_order(s, t, v, rows, verdict)
        interval = interval_all[rows]
        if len(s) == 0:
            return
        code = basic_faults(v, tb.range_min[s], tb.range_max[s], np.ones(len(s), np.bool_))
        verdict.quality[rows] = code
        self._sensor_transitions(s, t, v, code, np.zeros(len(s), np.bool_), verdict)
        ok = code == 0
        if not ok.any():
            return
        s, t, v, interval = s[ok], t[ok], v[ok], interval[ok]
        fine_ids, fine_mm, _ = rainfall.spread(
            st["fine_id"][s], st["fine_mm"][s], t - interval, t, v, RAIN_FINE_S)
        coarse_ids, coarse_mm, _ = rainfall.spread(
            st["coarse_id"][s], st["coarse_mm"][s], t - interval, t, v, RAIN_COARSE_S)
        st["fine_id"][s], st["fine_mm"][s] = fine_ids, fine_mm
        st["coarse_id"][s], st["coarse_mm"][s] = coarse_ids, coarse_mm
        total_1h = rainfall.window_total(fine_ids, fine_mm, t, 3600.0, RAIN_FINE_S)
        total_24h = rainfall.window_total(coarse_ids, coarse_mm, t, 86_400.0, RAIN_COARSE_S)
        level_1h = rainfall.levels(total_1h, rainfall.HOURLY)
        level_24h = rainfall.levels(total_24h, rainfall.DAILY)
        rain_level = np.minimum(level_1h, level_24h)
        level = st["level"][s]
        # no deadband for rain: accumulations only fall as the window slides on
        new_level, dwell_t, dwell_level = hysteresis_step(
            level, st["dwell_t"][s], st["dwell_level"][s], t,
            (4 - rain_level).astype(np.float64),
            np.tile(np.array([1.0, 2.0, 3.0]), (len(s), 1)), np.zeros(len(s)),
            np.full(len(s), tb.settings.rain_min_dwell_s), "at_or_above")
        st["dwell_t"][s] = dwell_t
        st["dwell_level"][s] = dwell_level
        for i in np.flatnonzero(new_level != level).tolist():
            hourly = level_1h[i] <= level_24h[i]
            total = float(total_1h[i] if hourly else total_24h[i])
            table = rainfall.HOURLY if hourly else rainfall.DAILY
            verdict.events.append(self._level_event(
                "rainfall", int(s[i]), int(new_level[i]), float(t[i]), total,
                rain_window_h=1.0 if hourly else 24.0,
                rain_category=rainfall.category(total, table)[0]))

    # ------------------------------------------------------------------ events
    def _level_event(self, kind: str, station: int, level: int, t: float, value: float,
                     **extra: object) -> DetectorEvent:
        st = self.state
        previous = int(st["level"][station])
        previous_t = float(st["level_t"][station])
        st["level"][station] = level
        st["level_t"][station] = t
        st["level_value"][station] = value
        msg: MsgType = "alert" if previous == 4 else ("cancel" if level == 4 else "update")
        return DetectorEvent(
            kind, msg, station, level, previous, t, value,  # type: ignore[arg-type]
            ref_discriminator=None if previous == 4 else str(previous),
            ref_t=None if previous == 4 else previous_t,
            **extra,  # type: ignore[arg-type]
        )

    def _sensor_transitions(self, s: I64, t: F64, v: F64, code: npt.NDArray[np.int8],
                            glitch: npt.NDArray[np.bool_], verdict: BatchVerdict) -> None:
        """Open, change or close each station's sensor episode."""
        st = self.state
        open_fault = st["fault"][s]
        for i in np.flatnonzero(code.astype(np.int16) != open_fault).tolist():
            verdict.events.append(
                self._sensor_event(int(s[i]), int(code[i]), float(t[i]), float(v[i]),
                                   glitch=bool(glitch[i])))
        changed = code != open_fault
        st["fault"][s[changed]] = code[changed]
        st["fault_t"][s[changed]] = t[changed]

    def _sensor_event(self, station: int, code: int, t: float, value: float | None,
                      glitch: bool = False) -> DetectorEvent:
        st = self.state
        was = int(st["fault"][station])
        level = int(st["level"][station])
        msg: MsgType = "alert" if was == 0 else ("cancel" if code == 0 else "update")
        return DetectorEvent(
            "sensor", msg, station, level, level, t, value,
            ref_discriminator=FAULTS[was] if was else None,
            ref_t=float(st["fault_t"][station]) if was else None,
            fault=FAULTS[code or was], glitch=glitch and code == 0)


def _occurrence(stations: I64) -> I64:
    """For each reading, how many readings of the same station precede it in the batch."""
    order = np.argsort(stations, kind="stable")
    ordered = stations[order]
    n = len(stations)
    starts = np.ones(n, dtype=np.bool_)
    starts[1:] = ordered[1:] != ordered[:-1]
    first = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    occurrence = np.empty(n, dtype=np.int64)
    occurrence[order] = np.arange(n) - first
    return occurrence


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None
