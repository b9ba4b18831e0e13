"""Present a score: references from a recording, a terminal table, JSON, PNG plots.

In: a `Recording` (service/recorded.py), alerts (dicts), a `ScoreReport`
(service/scoring.py). Out: the reference levels to score against, text, a
JSON-ready dict, one PNG per station (matplotlib, imported only when asked).
Not here: the scoring rules themselves, fetching alerts.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from schemas import Network
from service.errors import SiagaError
from service.recorded import Recording
from service.scenarios import DEFAULT_MAX_RATE_CM_PER_H
from service.scoring import Point, ScoreReport, drop_spikes, graded

log = logging.getLogger(__name__)


def references(recording: Recording, network: Network, *, use_status: bool
               ) -> tuple[dict[str, list[Point]], Literal["bounds", "status"], list[str]]:
    """Reference levels per river gauge, which kind, and notes on what was left out."""
    if use_status:
        if not recording.statuses:
            raise SiagaError("no official statuses in the file: name the column with "
                             "--status-col (long form) or --status-map station=COLUMN")
        return dict(recording.statuses), "status", []
    out: dict[str, list[Point]] = {}
    notes: list[str] = []
    for station_id, series in recording.series.items():
        station = network.station(station_id)
        if station is None or station.bounds is None:
            continue
        kept, dropped = drop_spikes(series, station.max_rate_cm_per_h
                                    or DEFAULT_MAX_RATE_CM_PER_H)
        for at, value in dropped:
            notes.append(f"reference: {station_id} {value:g} cm at {at:%Y-%m-%d %H:%M} "
                         "left out (in and out faster than the gauge can move)")
        out[station_id] = graded(kept, station.bounds.as_tuple())
    return out, "bounds", notes


def _t(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M}" if at else "-"


def _m(minutes: float | None) -> str:
    return f"{minutes:+.0f} min" if minutes is not None else "-"


def format_report(report: ScoreReport) -> str:
    lines = [f"reference: {report.reference}; tolerance {report.tolerance_min:.0f} min; "
             f"{report.alerts_considered} alerts in the window",
             f"{'station':<12} {'level':>5}  {'reached':<16}  {'alerted':<16}  {'result':<6} "
             f"{'delay':>9}  {'lead (predicted)':>16}"]
    for s in report.stations:
        for e in s.escalations:
            result = "held" if e.held else "hit" if e.hit else "MISS"
            lines.append(f"{s.station_id:<12} {e.level:>5}  {_t(e.crossing):<16}  "
                         f"{_t(e.alert_at):<16}  {result:<6} {_m(e.delay_min):>9}  "
                         f"{_m(e.lead_min):>16}")
    lines.append("")
    lines.append(f"{'station':<12} {'region':<24} {'hits':>4} {'misses':>6} {'false':>5} "
                 f"{'mean delay':>10} {'worst':>9} {'mean lead':>10}")
    for s in report.stations:
        lines.append(f"{s.station_id:<12} {s.region_id:<24} {s.hits:>4} {s.misses:>6} "
                     f"{s.false_alarms:>5} {_m(s.mean_delay_min):>10} "
                     f"{_m(s.worst_delay_min):>9} {_m(s.mean_lead_min):>10}")
    lines.append(f"{'overall':<12} {'':<24} {report.hits:>4} {report.misses:>6} "
                 f"{len(report.false_alarms):>5} {_m(report.mean_delay_min):>10} "
                 f"{_m(report.worst_delay_min):>9} {_m(report.mean_lead_min):>10}")
    for f in report.false_alarms:
        lines.append(f"false alarm: {f.kind} Siaga {f.level} at {f.station_id} "
                     f"({f.region_id}) {_t(f.at)}")
    lines.append("alerts per region (noise): " + "; ".join(
        f"{r.region_id} {r.alerts} (" + ", ".join(f"{k} {n}" for k, n in r.by_kind.items()) + ")"
        for r in report.regions))
    lines.extend(f"note: {n}" for n in report.notes)
    return "\n".join(lines)


def report_json(report: ScoreReport) -> dict[str, Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value

    data: dict[str, Any] = convert(dataclasses.asdict(report))
    return data


def _days(at: datetime) -> float:
    """matplotlib's date axis: days since 1970-01-01 UTC (its default epoch)."""
    return at.timestamp() / 86400.0


def plot(recording: Recording, alerts: list[dict[str, Any]], network: Network, out_dir: Path
         ) -> list[Path]:
    """One PNG per river gauge: level over time, the Siaga bounds, alerts as markers."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise SiagaError("--plot needs matplotlib: pip install 'siaga[plot]'") from exc
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    colours = {3: "gold", 2: "darkorange", 1: "red"}
    for station_id, series in sorted(recording.series.items()):
        station = network.station(station_id)
        if station is None or station.bounds is None or not series:
            continue
        fig, ax = plt.subplots(figsize=(10, 4))
        ax.plot([_days(t) for t, _ in series], [v for _, v in series], color="steelblue", lw=1.2,
                label="level (cm)")
        for level, bound in zip((3, 2, 1), station.bounds.as_tuple(), strict=True):
            ax.axhline(bound, color=colours[level], ls="--", lw=0.8, label=f"Siaga {level}")
        first, last = series[0][0], series[-1][0]
        mine = [a for a in alerts if a["station_id"] == station_id
                and a["kind"] in ("observed", "predicted")
                and first <= datetime.fromisoformat(a["observed_at"]) <= last]
        for kind, marker in (("observed", "o"), ("predicted", "^")):
            picked = [a for a in mine if a["kind"] == kind and a.get("value") is not None]
            if picked:
                ax.scatter([_days(datetime.fromisoformat(a["observed_at"])) for a in picked],
                           [a["value"] for a in picked], marker=marker, zorder=3,
                           c=[colours.get(a["level"], "green") for a in picked],
                           edgecolors="black", label=f"{kind} alerts")
        ax.xaxis_date(tz=series[0][0].tzinfo)
        ax.set_title(f"{station.name} ({station_id})")
        ax.set_ylabel("cm")
        ax.legend(loc="upper left", fontsize=7)
        fig.autofmt_xdate()
        path = out_dir / f"{station_id}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    log.info("wrote %d plots to %s", len(written), out_dir)
    return written
