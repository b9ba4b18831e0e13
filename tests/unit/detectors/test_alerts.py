from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from detectors import LevelChange, StationLevel, alert_id, build_level_alert
from schemas import Network

T0 = datetime(2025, 3, 3, 1, 0, tzinfo=timezone(timedelta(hours=7)))


def test_ids_depend_on_content_and_not_on_the_zone_it_was_written_in() -> None:
    same_instant = T0.astimezone(UTC)
    assert alert_id("depok", "kota-depok", "observed", 1, T0) == alert_id(
        "depok", "kota-depok", "observed", 1, same_instant)
    assert alert_id("depok", "kota-depok", "observed", 1, T0) != alert_id(
        "depok", "dki-jakarta", "observed", 1, T0)
    assert alert_id("depok", "kota-depok", "observed", 1, T0).startswith(
        "depok-20250302T180000Z-observed-1-")


def test_lifecycle_alert_update_cancel(network: Network) -> None:
    depok = network.stations_by_id["depok"]
    issued = datetime(2025, 3, 3, tzinfo=UTC)
    opened = build_level_alert(
        LevelChange("depok", StationLevel(4, None, None), 2, T0, 280.0), depok, "kota-depok",
        issued)
    worse = build_level_alert(
        LevelChange("depok", StationLevel(2, T0, T0), 1, T0 + timedelta(hours=1), 380.0),
        depok, "kota-depok", issued)
    clear = build_level_alert(
        LevelChange("depok", StationLevel(1, T0 + timedelta(hours=1), T0), 4,
                    T0 + timedelta(hours=9), 150.0), depok, "kota-depok", issued)
    assert (opened.msg_type, opened.references) == ("alert", [])
    assert (worse.msg_type, worse.references) == ("update", [opened.id])
    assert (clear.msg_type, clear.references) == ("cancel", [worse.id])
    assert worse.headline.id == "Siaga 1 (Awas) di Pos Depok: 380 cm, naik dari Siaga 2"
    assert worse.headline.en == "Level 1 (Awas) at Pos Depok: 380 cm, up from level 2"
    assert "evakuasi" in worse.instruction.id
    assert clear.headline.en == "Pos Depok back to Normal (level 4): 150 cm"
    assert (clear.level, clear.level_name, clear.previous_level) == (4, "Normal", 1)
