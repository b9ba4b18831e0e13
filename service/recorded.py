"""Recorded gauge data from a CSV file, checked as a whole before anything is sent.

In: CSV text in wide form (a time column, then a column per station) or long form
(time, station and value columns), column options (`Columns`) and the network.
Out: a `Recording`: readings as JSON-ready dicts sorted by time (water level in
the file's unit, rainfall in mm over `rain_interval_s`), and per station the
reference series in cm and any official statuses, for `siaga score`.

Defaults recognise `../shared/data/ciliwung-hourly-2021-2025.csv`: `Tanggal` is
the time, `Katulampa (air)` etc. match station ids, `(cuaca)` columns are left
alone, naive times are WIB. Every problem (missing column, unparseable time, a
station not in the network, a non-numeric value, a duplicate) is collected with
its line and column; one or more is a `RecordingError` and no reading at all.
Not here: sending (service/gateway.py), scoring (service/scoring.py).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any, Literal

from schemas import Network
from service.errors import SiagaError

WIB = timezone(timedelta(hours=7))
Reading = dict[str, Any]
TIME_NAMES = ("tanggal", "waktu", "time", "timestamp", "datetime", "observed-at", "date", "jam")
STATION_NAMES = ("station-id", "station", "stasiun", "pos")
VALUE_NAMES = ("value", "level-cm", "level", "water-level", "tinggi-air", "tma")
MISSING = ("", "-", "na", "n/a", "nan", "null")
FALLBACK_FORMATS = ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d-%m-%Y %H:%M", "%Y/%m/%d %H:%M")
STATUS_WORDS = {"normal": 4, "waspada": 3, "siaga": 2, "awas": 1}
MAX_ERRORS = 20


class RecordingError(SiagaError):
    """The file cannot be replayed as it is; the message names each line and column."""


@dataclass(frozen=True)
class Columns:
    time_col: str | None = None
    station_col: str | None = None  # long form
    value_col: str | None = None  # long form
    status_col: str | None = None  # long form: official Siaga status per row
    mapping: dict[str, str] = field(default_factory=dict)  # wide form: station id -> column
    status_mapping: dict[str, str] = field(default_factory=dict)  # wide: station -> status
    tz: tzinfo = WIB
    time_format: str | None = None
    unit: Literal["cm", "m"] = "cm"
    rain_interval_s: int = 3600
    start: datetime | None = None  # window: start <= t < end
    end: datetime | None = None


@dataclass
class Recording:
    form: Literal["wide", "long"]
    rows: int
    readings: list[Reading]
    series: dict[str, list[tuple[datetime, float]]]  # reference values in cm (or mm)
    statuses: dict[str, list[tuple[datetime, int]]]
    columns: dict[str, str]  # wide form: which column each station came from


def parse_pairs(items: Iterable[str], flag: str = "--map") -> dict[str, str]:
    """`station=COLUMN` pairs from the command line."""
    out: dict[str, str] = {}
    for item in items:
        station, sep, column = item.partition("=")
        if not sep or not station.strip() or not column.strip():
            raise RecordingError(f"{flag} {item!r}: expected station=COLUMN")
        out[station.strip()] = column.strip()
    return out


def load_mapping_file(path: Path) -> dict[str, Any]:
    """A TOML or JSON mapping: `{station: column}`, or options (`time_col`, `map`, ...)."""
    try:
        text = path.read_text("utf-8")
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (OSError, ValueError) as exc:
        raise RecordingError(f"cannot read mapping file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise RecordingError(f"mapping file {path} must hold a table/object")
    return data


def parse_time(text: str, tz: tzinfo, time_format: str | None = None) -> datetime:
    """A timestamp; a naive one is taken to be in `tz`. ValueError if unparseable."""
    text = text.strip()
    if time_format:
        at = datetime.strptime(text, time_format)  # noqa: DTZ007 (zone added below)
    else:
        try:
            at = datetime.fromisoformat(text)
        except ValueError:
            for fmt in FALLBACK_FORMATS:
                try:
                    at = datetime.strptime(text, fmt)  # noqa: DTZ007
                    break
                except ValueError:
                    continue
            else:
                raise ValueError(f"unparseable timestamp {text!r}") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=tz)


def parse_tz(text: str) -> tzinfo:
    """`+07:00`, `+0700`, `WIB`/`WITA`/`WIT` or `UTC`."""
    named = {"wib": 7, "wita": 8, "wit": 9, "utc": 0, "z": 0}
    if text.lower() in named:
        return timezone(timedelta(hours=named[text.lower()]))
    match = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", text.strip())
    if not match:
        raise RecordingError(f"--tz {text!r}: expected an offset like +07:00, or WIB")
    sign = -1 if match[1] == "-" else 1
    return timezone(sign * timedelta(hours=int(match[2]), minutes=int(match[3])))


def parse_status(text: str) -> int:
    """Official status text → Siaga level: `1`..`4`, `Siaga 2`, `Waspada`, `Awas`, `Normal`."""
    t = text.strip().lower()
    match = re.fullmatch(r"(?:siaga\s*)?([1-4])", t)
    if match:
        return int(match[1])
    if t in STATUS_WORDS:
        return STATUS_WORDS[t]
    raise ValueError(f"unknown status {text!r} (expected 1-4, Siaga N, Normal/Waspada/Siaga/Awas)")


def _norm(header: str) -> str:
    h = re.sub(r"\((air|cm|m|tma)\)|[_ ](cm|tma)$", "", header.strip().lower())
    return re.sub(r"[^a-z0-9]+", "-", h).strip("-")


def _number(text: str) -> float | None:
    t = text.strip()
    if t.lower() in MISSING:
        return None
    if "," in t and "." not in t:
        t = t.replace(",", ".")  # Indonesian decimal comma
    value = float(t)  # ValueError: not a number
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not finite")
    return value


class _Errors:
    def __init__(self, name: str) -> None:
        self.name, self.items, self.more = name, list[str](), 0

    def add(self, line: int | None, column: str | None, message: str) -> None:
        if len(self.items) >= MAX_ERRORS:
            self.more += 1
            return
        where = ", ".join(p for p in (f"line {line}" if line else "",
                                      f"column {column!r}" if column else "") if p)
        self.items.append(f"{self.name}: {where + ': ' if where else ''}{message}")

    def raise_if_any(self) -> None:
        if self.items:
            more = f"\n(and {self.more} more)" if self.more else ""
            raise RecordingError("\n".join(self.items) + more + "\nnothing was sent")


def parse_recording(text: str, network: Network, cols: Columns, name: str = "file"
                    ) -> Recording:
    errors = _Errors(name)
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise RecordingError(f"{name}: empty file, no header line")
    header = [h.strip() for h in header]
    norm = {_norm(h): h for h in reversed(header)}

    def find(wanted: str | None, defaults: tuple[str, ...], what: str) -> str | None:
        if wanted is not None:
            if wanted not in header:
                errors.add(1, wanted, f"{what} column not in the header ({', '.join(header)})")
                return None
            return wanted
        return next((norm[d] for d in defaults if d in norm), None)

    time_col = find(cols.time_col, TIME_NAMES, "time") or (header[0] if not cols.time_col
                                                           else None)
    station_col = find(cols.station_col, STATION_NAMES, "station")
    form: Literal["wide", "long"] = "long" if station_col and not cols.mapping else "wide"
    value_col = find(cols.value_col, VALUE_NAMES, "value") if form == "long" else None
    status_col = find(cols.status_col, (), "status") if form == "long" else None
    mapping = dict(cols.mapping)
    if form == "long" and value_col is None and cols.value_col is None:
        errors.add(1, None, f"no value column (name it with --value-col; header: "
                            f"{', '.join(header)})")
    if form == "wide" and not mapping:
        by_name = {_norm(s.name): s.id for s in network.stations}
        for h in header:
            key = _norm(h)
            station = key if network.station(key) else by_name.get(key)
            if h != time_col and station and station not in mapping:
                mapping[station] = h
        if not mapping:
            errors.add(1, None, "no column names a station of the network; map them with "
                                f"--map station=COLUMN (header: {', '.join(header)})")
    for what, pairs in (("--map", mapping if form == "wide" else {}),
                        ("--status-map", cols.status_mapping)):
        for station, column in pairs.items():
            if network.station(station) is None:
                errors.add(None, None, f"{what}: unknown station {station!r} (not in the network)")
            if column not in header:
                errors.add(1, column, f"{what} {station}={column}: no such column in the header")
    errors.raise_if_any()
    time_column = time_col or header[0]
    index = {h: i for i, h in reversed(list(enumerate(header)))}

    readings: list[tuple[datetime, Reading]] = []
    series: dict[str, list[tuple[datetime, float]]] = {}
    statuses: dict[str, list[tuple[datetime, int]]] = {}
    seen: dict[tuple[str, datetime], int] = {}
    rows = 0

    def take(line: int, at: datetime, station_id: str, cell: str, column: str) -> None:
        station = network.station(station_id)
        if station is None:
            errors.add(line, column, f"unknown station {station_id!r} (not in the network)")
            return
        try:
            value = _number(cell)
        except ValueError:
            errors.add(line, column, f"not a number: {cell!r}")
            return
        if value is None:
            return
        first = seen.setdefault((station_id, at), line)
        if first != line:
            errors.add(line, column, f"second reading of {station_id} at {at.isoformat()} "
                                     f"(first on line {first})")
            return
        if not _inside(at, cols):
            return
        reading: Reading = {"station_id": station_id, "observed_at": at.isoformat(),
                            "kind": station.kind, "value": value}
        if station.kind == "rainfall":
            reading.update(unit="mm", interval_s=cols.rain_interval_s)
        else:
            reading["unit"] = cols.unit
        readings.append((at, reading))
        cm = value * 100.0 if station.kind == "water_level" and cols.unit == "m" else value
        series.setdefault(station_id, []).append((at, cm))

    def status(line: int, at: datetime, station_id: str, cell: str, column: str) -> None:
        if cell.strip().lower() in MISSING:
            return
        try:
            level = parse_status(cell)
        except ValueError as exc:
            errors.add(line, column, str(exc))
            return
        if _inside(at, cols):
            statuses.setdefault(station_id, []).append((at, level))

    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        rows += 1
        if len(row) != len(header):
            errors.add(line, None, f"{len(row)} fields where the header has {len(header)}")
            continue
        try:
            at = parse_time(row[index[time_column]], cols.tz, cols.time_format)
        except ValueError as exc:
            errors.add(line, time_column, str(exc))
            continue
        if form == "long" and station_col and value_col:
            station_id = row[index[station_col]].strip()
            take(line, at, station_id, row[index[value_col]], value_col)
            if status_col:
                status(line, at, station_id, row[index[status_col]], status_col)
        else:
            for station_id, column in mapping.items():
                take(line, at, station_id, row[index[column]], column)
            for station_id, column in cols.status_mapping.items():
                status(line, at, station_id, row[index[column]], column)
    errors.raise_if_any()
    readings.sort(key=lambda p: (p[0], p[1]["station_id"]))
    for points in series.values():
        points.sort()
    for marks in statuses.values():
        marks.sort()
    return Recording(form=form, rows=rows, readings=[r for _, r in readings], series=series,
                     statuses=statuses, columns=mapping if form == "wide" else {})


def _inside(at: datetime, cols: Columns) -> bool:
    return (cols.start is None or at >= cols.start) and (cols.end is None or at < cols.end)


def read_recording(path: Path, network: Network, cols: Columns) -> Recording:
    try:
        text = path.read_text("utf-8-sig")  # a BOM from a spreadsheet is not a column name
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordingError(f"cannot read {path}: {exc}") from exc
    return parse_recording(text, network, cols, name=path.name)
