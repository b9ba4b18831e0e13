"""`siaga simulate`, `siaga replay` and `siaga score`: try the service with floods.

In: command-line arguments. Out: readings pushed to a running service (HTTP
with a gateway token, or Kafka), a summary on stdout, progress on stderr, a
score as a table, JSON and PNG plots. Exit code 0, or 2 with a message on a
bad file, flag or refusal (via `SiagaError` in service/cli.py).
Not here: scenarios (service/scenarios.py), file parsing (service/recorded.py),
sending (service/gateway.py), scoring rules (service/scoring.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from service import scenarios
from service.errors import SiagaError
from service.gateway import (
    HttpSink,
    KafkaSink,
    Progress,
    Reading,
    SendSummary,
    Sink,
    fetch_alerts,
    format_summary,
    push,
)
from service.network_file import load_network
from service.recorded import (
    Columns,
    load_mapping_file,
    parse_pairs,
    parse_time,
    parse_tz,
    read_recording,
)
from service.score_report import format_report, plot, references, report_json
from service.scoring import score
from service.settings import Settings

COMMANDS = ("simulate", "replay", "score")
DEFAULT_URL = "http://127.0.0.1:8000"


def add_commands(sub: Any) -> None:
    """Register the three commands on the `siaga` parser's subparsers."""
    sim = sub.add_parser("simulate", help="push synthetic floods to a running service")
    sim.add_argument("--scenario", action="append", default=None,
                     help=f"one of {', '.join(scenarios.SCENARIOS)} (repeat to combine; "
                          "default demo)")
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--speed", type=float, default=600.0,
                     help="simulated seconds per wall second; 0 = as fast as possible")
    sim.add_argument("--start", default=None,
                     help="simulated start (ISO, with offset); default: so the last readings "
                          "are sent at their own time (live), or a day ago (--speed 0)")
    sim.add_argument("--hours", type=float, default=None, help="simulated duration")
    sim.add_argument("--out", type=Path, default=None,
                     help="write the readings as JSON lines to this file ('-' = stdout) "
                          "and send nothing")
    _target_args(sim)
    rep = sub.add_parser("replay", help="replay a recorded CSV through a running service")
    rep.add_argument("file", type=Path)
    _column_args(rep)
    rep.add_argument("--speed", type=float, default=0.0,
                     help="event seconds per wall second; 0 = as fast as possible")
    _target_args(rep)
    sc = sub.add_parser("score", help="compare the service's alerts with a recorded reference")
    sc.add_argument("file", type=Path)
    _column_args(sc)
    sc.add_argument("--url", default=os.environ.get("SIAGA_URL", DEFAULT_URL))
    sc.add_argument("--alerts", type=Path, default=None,
                    help="a JSON file of alerts (a list, or a GET /v1/alerts page) "
                         "instead of asking --url")
    sc.add_argument("--reference", choices=("auto", "bounds", "status"), default="auto",
                    help="auto: official statuses when a status column is mapped")
    sc.add_argument("--tolerance-h", type=float, default=2.0)
    sc.add_argument("--format", choices=("table", "json"), default="table")
    sc.add_argument("--json", type=Path, default=None, help="also write the JSON here")
    sc.add_argument("--plot", type=Path, default=None, help="a PNG per station in this folder")


def _target_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", default=os.environ.get("SIAGA_URL", DEFAULT_URL))
    p.add_argument("--token", default=None, help="gateway token (default: $SIAGA_TOKEN)")
    p.add_argument("--kafka", default=None, metavar="BOOTSTRAP",
                   help="produce straight into siaga.readings instead of HTTP")
    p.add_argument("--batch", type=int, default=500, help="readings per request")
    p.add_argument("--settle", type=float, default=2.0,
                   help="seconds to let the worker catch up before reading alerts")
    p.add_argument("--no-alerts", action="store_true", help="do not ask GET /v1/alerts")


def _column_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--time-col", default=None)
    p.add_argument("--station-col", default=None, help="long form: the station id column")
    p.add_argument("--value-col", default=None, help="long form: the value column")
    p.add_argument("--status-col", default=None, help="long form: official status column")
    p.add_argument("--map", action="append", default=[], metavar="STATION=COLUMN",
                   help="wide form: a station's column (repeat)")
    p.add_argument("--status-map", action="append", default=[], metavar="STATION=COLUMN")
    p.add_argument("--mapping", type=Path, default=None,
                   help="TOML/JSON: {station: column} or these options (time_col, map, ...)")
    p.add_argument("--tz", default="+07:00", help="zone of naive timestamps (default WIB)")
    p.add_argument("--time-format", default=None, help="strptime format, if not ISO-like")
    p.add_argument("--unit", choices=("cm", "m"), default="cm")
    p.add_argument("--rain-interval-s", type=int, default=3600)
    p.add_argument("--from", dest="start", default=None, help="window start (inclusive)")
    p.add_argument("--to", dest="end", default=None, help="window end (exclusive)")


def columns(args: argparse.Namespace) -> Columns:
    options: dict[str, Any] = load_mapping_file(args.mapping) if args.mapping else {}
    known = {"time_col", "station_col", "value_col", "status_col", "map", "status_map", "tz",
             "time_format", "unit"}
    if options and not known & options.keys():
        options = {"map": options}  # a plain {station: column} table
    tz = parse_tz(options.get("tz", args.tz) if args.tz == "+07:00" else args.tz)

    def when(text: str | None) -> datetime | None:
        try:
            return parse_time(text, tz) if text else None
        except ValueError as exc:
            raise SiagaError(f"--from/--to: {exc}") from exc

    return Columns(
        time_col=args.time_col or options.get("time_col"),
        station_col=args.station_col or options.get("station_col"),
        value_col=args.value_col or options.get("value_col"),
        status_col=args.status_col or options.get("status_col"),
        mapping={**options.get("map", {}), **parse_pairs(args.map)},
        status_mapping={**options.get("status_map", {}),
                        **parse_pairs(args.status_map, "--status-map")},
        tz=tz, time_format=args.time_format or options.get("time_format"),
        unit=options.get("unit", args.unit) if args.unit == "cm" else args.unit,
        rain_interval_s=args.rain_interval_s, start=when(args.start), end=when(args.end))


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "simulate":
        return asyncio.run(_simulate(args, settings))
    if args.command == "replay":
        return asyncio.run(_replay(args, settings))
    return asyncio.run(_score(args, settings))


def simulated_start(now: datetime, duration: timedelta, speed: float) -> datetime:
    """Live (speed > 0): the run ends with readings sent at their own time, every earlier
    one already in the past when sent; as fast as possible: the last reading is now."""
    lag = duration * (1.0 - 1.0 / speed) if speed > 0 else duration
    return (now - lag).replace(second=0, microsecond=0)


async def _simulate(args: argparse.Namespace, settings: Settings) -> int:
    network = load_network(settings.network)
    names = [n.strip() for item in (args.scenario or ["demo"]) for n in item.split(",")]
    try:
        duration = (timedelta(hours=args.hours) if args.hours
                    else scenarios.duration_of(names))
        start = (parse_time(args.start, scenarios.WIB) if args.start
                 else simulated_start(datetime.now(UTC), duration, args.speed))
        readings = scenarios.generate(names, seed=args.seed, network=network, start=start,
                                      duration=duration)
    except ValueError as exc:
        raise SiagaError(str(exc)) from exc
    if args.out is not None:
        text = "".join(json.dumps(r) + "\n" for r in readings)
        if str(args.out) == "-":
            sys.stdout.write(text)
        else:
            args.out.write_text(text, "utf-8")
        return 0
    print(f"simulating {', '.join(scenarios.expand(names))}: {len(readings)} readings from "
          f"{start.astimezone(scenarios.WIB):%Y-%m-%d %H:%M %z}, {duration} at speed "
          f"{args.speed:g}", file=sys.stderr)
    await send_and_summarise(readings, args, settings)
    return 0


async def _replay(args: argparse.Namespace, settings: Settings) -> int:
    network = load_network(settings.network)
    recording = read_recording(args.file, network, columns(args))  # all checked, or nothing
    if not recording.readings:
        raise SiagaError(f"{args.file}: no readings in the chosen window")
    first, last = recording.readings[0]["observed_at"], recording.readings[-1]["observed_at"]
    print(f"replaying {len(recording.readings)} readings ({recording.form} form, "
          f"{', '.join(sorted(recording.series))}) from {first} to {last}", file=sys.stderr)
    await send_and_summarise(recording.readings, args, settings)
    return 0


def _sink(args: argparse.Namespace, settings: Settings) -> Sink:
    if args.kafka:
        return KafkaSink(args.kafka, settings)
    token = args.token or os.environ.get("SIAGA_TOKEN")
    if not token:
        raise SiagaError("no gateway token: pass --token or set SIAGA_TOKEN (`make run` "
                         "prints one)")
    return HttpSink(args.url, token, batch_max=args.batch)


async def send_and_summarise(readings: list[Reading], args: argparse.Namespace,
                             settings: Settings) -> SendSummary:
    sink = _sink(args, settings)
    try:
        summary = await push(readings, sink, speed=args.speed, progress=Progress(len(readings)),
                             batch_max=args.batch)
    finally:
        await sink.aclose()
    alerts = None
    if not args.no_alerts:
        await asyncio.sleep(args.settle)
        try:
            alerts = alerts_of_run(await fetch_alerts(args.url), summary)
        except SiagaError as exc:
            print(f"(alerts not read: {exc})", file=sys.stderr)
    print(format_summary(summary, alerts))
    return summary


def alerts_of_run(alerts: list[dict[str, Any]], summary: SendSummary) -> list[dict[str, Any]]:
    """The alerts this run's readings can have caused: its stations (or, for predictions,
    their upstream gauges), with evidence inside its time span (+ 1 h of staleness)."""
    if summary.first_at is None or summary.last_at is None:
        return []
    lo, hi = summary.first_at, summary.last_at + timedelta(hours=1)
    return [a for a in alerts
            if (a["station_id"] in summary.stations
                or a.get("upstream_station_id") in summary.stations)
            and lo <= datetime.fromisoformat(a["observed_at"]) <= hi]


async def _score(args: argparse.Namespace, settings: Settings) -> int:
    network = load_network(settings.network)
    recording = read_recording(args.file, network, columns(args))
    use_status = args.reference == "status" or (args.reference == "auto"
                                                 and bool(recording.statuses))
    refs, kind, notes = references(recording, network, use_status=use_status)
    alerts = load_alerts(args.alerts) if args.alerts else await fetch_alerts(args.url)
    try:
        report = score(refs, alerts, network, tolerance=timedelta(hours=args.tolerance_h),
                       reference_kind=kind)
    except ValueError as exc:
        raise SiagaError(str(exc)) from exc
    report.notes.extend(notes)
    data = report_json(report)
    if args.json:
        args.json.write_text(json.dumps(data, indent=2) + "\n", "utf-8")
    if args.format == "json":
        print(json.dumps(data, indent=2))
    else:
        print(format_report(report))
    if args.plot:
        for path in plot(recording, alerts, network, args.plot):
            print(f"plot: {path}", file=sys.stderr)
    return 0


def load_alerts(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise SiagaError(f"cannot read alerts from {path}: {exc}") from exc
    alerts = data.get("alerts") if isinstance(data, dict) else data
    if not isinstance(alerts, list):
        raise SiagaError(f"{path}: expected a list of alerts or an object with 'alerts'")
    return alerts
