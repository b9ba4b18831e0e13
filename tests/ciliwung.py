"""Read the real hourly Ciliwung file (WIB, no zone in the file) into readings."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

WIB = timezone(timedelta(hours=7), "WIB")
COLUMNS = {"katulampa": "Katulampa (air)", "depok": "Depok (air)",
           "manggarai": "Manggarai (air)"}


def load_readings(path: Path, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Readings of the three gauges for rows with start <= time < end, in file order."""
    readings: list[dict[str, Any]] = []
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            at = datetime.strptime(row["Tanggal"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=WIB)
            if not start <= at < end:
                continue
            for station_id, column in COLUMNS.items():
                if row[column]:
                    readings.append({
                        "station_id": station_id, "observed_at": at.isoformat(),
                        "kind": "water_level", "value": float(row[column]), "unit": "cm",
                    })
    return readings
