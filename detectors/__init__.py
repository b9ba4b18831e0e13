"""Pure detectors: readings in, quality flags and events out, events into alerts.

In: batches of readings as arrays (station index, event time in epoch
seconds, value, accumulation interval), a `StationTable` of per-station
parameters built from the network, and the per-station state.
Out: a quality flag per reading, and `DetectorEvent`s — level changes with
hysteresis (`observed`), projected crossings (`rising`), BMKG rainfall
categories (`rainfall`), sensor faults and staleness (`sensor`) — which
`build_alert` turns into `schemas.Alert`s with deterministic ids (`alert_fields`
gives the same alert as plain values, for encoding it without building the model).

Deliberately no I/O, no clock, no Kafka, no FastAPI: the same readings in the
same order always give the same events, so replaying history is a test.
The engine works on whole batches of stations at once with numpy.
"""

from detectors.alerts import (
    ALERT_FIELDS,
    alert_fields,
    alert_id,
    alert_values,
    build_alert,
    local_time,
)
from detectors.config import DetectorSettings, StationTable
from detectors.engine import BatchVerdict, DetectorEngine
from detectors.events import FAULTS, QUALITY, DetectorEvent
from detectors.staleness import expected_interval_s, is_stale
from detectors.state import export_station, import_station, state_bytes_per_station
from detectors.threshold import BoundaryRule, grade_level, grade_levels, hysteresis_step

__all__ = [
    "ALERT_FIELDS",
    "FAULTS",
    "QUALITY",
    "BatchVerdict",
    "BoundaryRule",
    "DetectorEngine",
    "DetectorEvent",
    "DetectorSettings",
    "StationTable",
    "alert_fields",
    "alert_id",
    "alert_values",
    "build_alert",
    "expected_interval_s",
    "export_station",
    "grade_level",
    "grade_levels",
    "hysteresis_step",
    "import_station",
    "is_stale",
    "local_time",
    "state_bytes_per_station",
]
