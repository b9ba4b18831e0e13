"""Turn a level change into the alert a region receives.

Alert ids are a hash of the alert's content (station, receiving region,
kind, level, event time), never of wall time or a counter, so reprocessing
the same readings after a crash or a replay re-emits the same ids.

The episode lifecycle: leaving Normal opens an episode with an `alert`;
every later change is an `update` that references the alert before it;
returning to Normal is a `cancel` (all clear) referencing the last one.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from detectors.levels import LevelChange
from schemas import LEVEL_NAMES, Alert, LocalizedText, MsgType, Station

_INSTRUCTIONS: dict[int, LocalizedText] = {
    4: LocalizedText(
        id="Kondisi kembali normal. Tetap pantau informasi resmi.",
        en="Conditions are back to normal. Keep following official updates.",
    ),
    3: LocalizedText(
        id="Waspada: pantau informasi resmi, siapkan dokumen penting dan barang berharga.",
        en="Be alert: follow official updates, prepare documents and valuables.",
    ),
    2: LocalizedText(
        id="Siaga: siapkan evakuasi warga bantaran sungai, pindahkan barang ke tempat tinggi.",
        en="Prepare: get riverbank residents ready to evacuate, move belongings up high.",
    ),
    1: LocalizedText(
        id="Awas: segera evakuasi warga bantaran sungai ke tempat aman.",
        en="Danger: evacuate riverbank residents to safety now.",
    ),
}


def alert_id(station_id: str, region_id: str, kind: str, level: int, observed_at: datetime) -> str:
    """Deterministic id: the same evidence always gives the same id."""
    at = observed_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    digest = hashlib.sha256(
        f"{station_id}|{region_id}|{kind}|{level}|{at}".encode()
    ).hexdigest()
    return f"{station_id}-{at}-{kind}-{level}-{digest[:12]}"


def build_level_alert(
    change: LevelChange, station: Station, region_id: str, issued_at: datetime
) -> Alert:
    """The `observed` alert for a gauge's own region when its level changes."""
    previous = change.previous
    references: list[str] = []
    msg_type: MsgType = "alert"
    if previous.level != 4 and previous.changed_at is not None:
        references = [
            alert_id(station.id, region_id, "observed", previous.level, previous.changed_at)
        ]
        msg_type = "cancel" if change.level == 4 else "update"
    level_name = LEVEL_NAMES[change.level]
    value = f"{change.value_cm:g} cm"
    if change.level == 4:
        headline = LocalizedText(
            id=f"{station.name} kembali Normal (Siaga 4): {value}",
            en=f"{station.name} back to Normal (level 4): {value}",
        )
    else:
        trend_id = "naik" if change.level < previous.level else "turun"
        trend_en = "up" if change.level < previous.level else "down"
        headline = LocalizedText(
            id=f"Siaga {change.level} ({level_name}) di {station.name}: {value}, {trend_id} "
            f"dari Siaga {previous.level}",
            en=f"Level {change.level} ({level_name}) at {station.name}: {value}, {trend_en} "
            f"from level {previous.level}",
        )
    return Alert(
        id=alert_id(station.id, region_id, "observed", change.level, change.observed_at),
        msg_type=msg_type,
        references=references,
        station_id=station.id,
        station_name=station.name,
        basin=station.basin,
        river=station.river,
        region_id=region_id,
        level=change.level,
        level_name=level_name,
        previous_level=previous.level,
        kind="observed",
        observed_at=change.observed_at,
        issued_at=issued_at,
        value=change.value_cm,
        unit="cm",
        certainty="observed",
        headline=headline,
        instruction=_INSTRUCTIONS[change.level],
    )
