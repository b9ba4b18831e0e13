"""Last value wins per key, a tombstone deletes, and a garbage record changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.ack import Ack
from service.compacted import CompactedView
from service.settings import Settings

AT = datetime(2025, 3, 4, 0, 40, tzinfo=UTC)


def _ack(alert_id: str, by: str) -> bytes:
    return Ack(alert_id=alert_id, region_id="kota-depok", acked_at=AT, by=by
               ).model_dump_json().encode()


def _by(view: CompactedView[Ack], key: str) -> str | None:
    value = view.get(key)
    return value.by if value else None


def test_records_apply_in_order_last_value_wins() -> None:
    view = CompactedView(Settings(kafka_bootstrap="unused:9092"), "t.acks", Ack)
    changes: list[tuple[str, str | None]] = []
    view.on_change(lambda key, value: changes.append((key, value.by if value else None)))
    view._apply(b"a1", _ack("a1", "first"))
    view._apply(b"a2", _ack("a2", "other"))
    view._apply(b"a1", _ack("a1", "second"))
    assert _by(view, "a1") == "second"
    view._apply(b"a2", None)  # tombstone
    assert "a2" not in view and view.ever_seen("a2") and len(view) == 1
    view._apply(b"a1", b"{not json")  # skipped: the key keeps its value
    view._apply(None, _ack("a3", "x"))  # no key: skipped
    assert _by(view, "a1") == "second"
    assert view.unreadable == 2 and not view.ever_seen("a3")
    assert changes == [("a1", "first"), ("a2", "other"), ("a1", "second"), ("a2", None)]
