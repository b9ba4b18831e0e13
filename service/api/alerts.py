"""Alerts for regions: list, single, and a live Server-Sent Events stream. Public by default."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel

from schemas import Alert, AlertKind
from service.alert_store import Stored, SubscriberGone
from service.api.runtime import RuntimeDep

router = APIRouter(prefix="/v1", tags=["alerts"])

MAX_PAGE = 10_000


class AlertPage(BaseModel):
    alerts: list[Alert]
    count: int
    next_cursor: str | None = None


@router.get("/alerts", response_model=AlertPage)
async def list_alerts(
    rt: RuntimeDep,
    region_id: str | None = None,
    station_id: str | None = None,
    kind: AlertKind | None = None,
    since: Annotated[AwareDatetime | None, Query(description="issued at or after")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$",
                                        description="next_cursor of the previous page")] = None,
) -> AlertPage:
    """Most recent first. Follow `next_cursor` for older alerts."""
    alerts, next_seq = rt.store.query(
        region_id=region_id, station_id=station_id, kind=kind, since=since, limit=limit,
        before_seq=int(cursor) if cursor is not None else None,
    )
    return AlertPage(
        alerts=alerts, count=len(alerts),
        next_cursor=str(next_seq) if next_seq is not None else None,
    )


@router.get("/alerts/{alert_id}", response_model=Alert, responses={404: {}})
async def get_alert(alert_id: str, rt: RuntimeDep) -> Alert:
    alert = rt.store.get(alert_id)
    if alert is None:
        raise HTTPException(404, f"no alert {alert_id!r}")
    return alert


@router.get(
    "/regions/{region_id}/alerts/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, 404: {}},
)
async def stream_region_alerts(
    region_id: str,
    rt: RuntimeDep,
    last_event_id: Annotated[str | None, Header(max_length=200)] = None,
) -> StreamingResponse:
    """Live alerts for one region as Server-Sent Events (`event: alert`, `id` = alert id).

    Reconnect with `Last-Event-ID` to receive what was missed. A comment line
    every `SIAGA_SSE_HEARTBEAT_S` keeps proxies from closing an idle stream.
    """
    if region_id not in rt.network.regions_by_id:
        raise HTTPException(404, f"no region {region_id!r}")
    sub, backlog = rt.store.subscribe(region_id, last_event_id)
    heartbeat = rt.settings.sse_heartbeat_s

    async def events() -> AsyncIterator[str]:
        try:
            yield "retry: 3000\n: connected\n\n"
            covered = -1
            for stored in backlog:
                covered = stored.seq
                yield _event(stored)
            while True:
                try:
                    stored = await asyncio.wait_for(sub.next(), timeout=heartbeat)
                except TimeoutError:
                    yield ": heartbeat\n\n"
                    continue
                except SubscriberGone:
                    return
                if stored.seq > covered:
                    yield _event(stored)
        finally:
            rt.store.unsubscribe(sub)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _event(stored: Stored) -> str:
    return f"id: {stored.alert.id}\nevent: alert\ndata: {stored.alert.model_dump_json()}\n\n"
