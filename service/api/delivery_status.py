"""The delivery part of `GET /v1/status`: silences, alerts waiting for an ack,
subscriptions per region, webhook subscribers (from `siaga.delivery-status`).

In: the runtime and the time. Out: a JSON-ready dict merged into the status
answer. Which alerts wait for an ack is `service.delivery_rules.unacknowledged`.
Deliberately simple: it scans the alerts kept in memory on each call (operators
call it, not the public).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from service.api.runtime import Runtime
from service.delivery_rules import unacknowledged


def delivery_status(rt: Runtime, now: datetime) -> dict[str, Any]:
    registries = rt.registries
    alerts, _ = rt.store.query(limit=max(len(rt.store), 1))
    waiting = unacknowledged(alerts, {a: True for a in _acked_ids(rt)})
    return {
        "registries_loaded": registries.ready,
        "active_silences": [
            {"id": s.id, "station_id": s.station_id, "until": s.until, "reason": s.reason,
             "by": s.by}
            for s in registries.active_silences(now)
        ],
        "unacknowledged": [
            {"alert_id": a.id, "region_id": a.region_id, "station_id": a.station_id,
             "kind": a.kind, "level": a.level, "msg_type": a.msg_type,
             "issued_at": a.issued_at, "silenced": registries.withheld(a),
             "headline": a.headline.en}
            for a in waiting
        ],
        "subscriptions_per_region": registries.subscriptions_per_region(),
        "webhooks": _webhooks(rt),
    }


def _webhooks(rt: Runtime) -> list[dict[str, Any]]:
    """Per webhook subscriber, as the dispatcher last published it (every few seconds):
    delivered, backlog, last success, last error, circuit, dead letters."""
    view = rt.webhook_status
    if view is None:
        return []
    return [s.model_dump(mode="json")
            for s in sorted(view.values(), key=lambda s: s.subscription_id)]


def _acked_ids(rt: Runtime) -> list[str]:
    return [ack.alert_id for ack in rt.registries.acks.values()]
