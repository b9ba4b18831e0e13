"""Pure detectors: readings in, level changes and alerts out.

In: validated readings (`schemas.Reading`), the station network, the
previous per-station state, and the batch's `issued_at`.
Out: quality verdicts, Siaga levels (4..1), level changes, and `schemas.Alert`
objects with deterministic ids, plus the new state.

Deliberately no I/O, no clock, no Kafka, no FastAPI: the same readings in the
same order always give the same alerts, so replaying history is a test.
Grading is vectorised with numpy across the whole batch of stations;
per-station ordering logic stays in plain Python where a loop is the clearest.
"""

from detectors.alerts import alert_id, build_level_alert
from detectors.levels import LevelChange, StationLevel, track_levels
from detectors.quality import QualityVerdict, check_quality
from detectors.staleness import expected_interval_s, is_stale
from detectors.threshold import BoundaryRule, grade_level, grade_levels

__all__ = [
    "BoundaryRule",
    "LevelChange",
    "QualityVerdict",
    "StationLevel",
    "alert_id",
    "build_level_alert",
    "check_quality",
    "expected_interval_s",
    "grade_level",
    "grade_levels",
    "is_stale",
    "track_levels",
]

