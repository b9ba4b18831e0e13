"""Operator status (operator token) and health probes (open: orchestrators call them)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from service.api.delivery_status import delivery_status
from service.api.runtime import Runtime, RuntimeDep
from service.api.security import AUTH_RESPONSES, OperatorDep

router = APIRouter(tags=["status"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Not ready; see `checks`"}})
async def readyz(rt: RuntimeDep) -> JSONResponse:
    """Ready: the broker answers, the views have loaded, every consumer is assigned."""
    checks: dict[str, bool] = {
        "broker_reachable": await rt.producer.reachable(),
        "views_loaded": rt.views.loaded.is_set() and rt.views.connected,
    }
    for name, probe in rt.extra_probes.items():
        checks[name] = probe.ready
    ready = all(checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


@router.get("/v1/status", responses=AUTH_RESPONSES)
async def status(rt: RuntimeDep, _operator: OperatorDep) -> dict[str, Any]:
    """The whole network at a glance: each gauge's last reading and level, stale gauges,
    and the counts of readings accepted, rejected and dead-lettered and alerts emitted;
    active silences, alerts at Siaga 2/1 waiting for an acknowledgement, and
    subscriptions per region. Needs an operator token."""
    now = datetime.now(UTC)
    stations = rt.board.snapshot(rt.store, now)
    return {
        "now": now,
        "broker_reachable": await rt.producer.reachable(),
        "views_loaded": rt.views.loaded.is_set(),
        "stations": stations,
        "stale_stations": [s["station_id"] for s in stations if s["stale"]],
        "counts": {
            "readings_accepted_here": rt.counters.accepted,
            "readings_rejected_here": rt.counters.rejected,
            "readings_not_written_here": rt.counters.not_written,
            "readings_in_topic": rt.views.reading_records,
            "readings_dead_lettered": rt.views.dead_lettered,
            "alerts_emitted": len(rt.store),
            "alert_duplicates_dropped": rt.store.duplicates_dropped,
            "live_subscribers": rt.store.subscriber_count,
        },
        "workers": _workers(rt),
        **delivery_status(rt, now),
    }


def _workers(rt: Runtime) -> dict[str, Any]:
    """The detector workers' group as Kafka records it, from any API replica."""
    group, views = rt.group, rt.views
    lag = group.lag(views.readings_highwater)
    checkpoint_ms = views.last_checkpoint_ms
    return {
        "group": rt.settings.worker_group,
        "partitions": [
            {"partition": p, "high_watermark": views.readings_highwater[p],
             "committed": group.committed.get(p), "lag": lag[p]}
            for p in sorted(views.readings_highwater)
        ],
        "total_lag": sum(lag.values()),
        "readings_per_s": None if group.rate_per_s is None else round(group.rate_per_s, 1),
        "seconds_since_checkpoint": None if checkpoint_ms is None else round(
            time.time() - checkpoint_ms / 1000, 1),
    }
