"""Alerts for regions: list, single, and a live Server-Sent Events stream.

Public by default, as warnings are; `SIAGA_PUBLIC_ALERTS=false` asks for any
valid token. Each caller (token name, or client address) may hold at most
`SIAGA_MAX_STREAMS_PER_CLIENT` streams at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime

from schemas import AlertKind
from service.alert_store import Stored, SubscriberGone
from service.api.alert_marks import AlertPage, AlertView, mark, page
from service.api.runtime import RuntimeDep
from service.api.security import PUBLIC_RESPONSES, AlertReaderDep, ErrorBody

router = APIRouter(prefix="/v1", tags=["alerts"], responses=PUBLIC_RESPONSES)

MAX_PAGE = 10_000


@router.get("/alerts", response_model=AlertPage)
async def list_alerts(
    rt: RuntimeDep,
    _reader: AlertReaderDep,
    region_id: str | None = None,
    station_id: str | None = None,
    kind: AlertKind | None = None,
    since: Annotated[AwareDatetime | None, Query(description="issued at or after")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$",
                                        description="next_cursor of the previous page")] = None,
) -> AlertPage:
    """Most recent first, silenced ones too (marked `silenced_by`). Follow `next_cursor`
    for older alerts."""
    alerts, next_seq = rt.store.query(
        region_id=region_id, station_id=station_id, kind=kind, since=since, limit=limit,
        before_seq=int(cursor) if cursor is not None else None,
    )
    return page(rt.registries, alerts, next_seq)


@router.get("/alerts/{alert_id}", response_model=AlertView,
            responses={404: {"model": ErrorBody}})
async def get_alert(alert_id: str, rt: RuntimeDep, _reader: AlertReaderDep) -> AlertView:
    alert = rt.store.get(alert_id)
    if alert is None:
        raise HTTPException(404, f"no alert {alert_id!r}")
    return mark(rt.registries, alert)


@router.get(
    "/regions/{region_id}/alerts/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, 404: {"model": ErrorBody},
               429: {"model": ErrorBody,
                     "description": "Rate limit, or too many open streams; see Retry-After"}},
)
async def stream_region_alerts(
    region_id: str,
    rt: RuntimeDep,
    reader: AlertReaderDep,
    last_event_id: Annotated[str | None, Header(max_length=200)] = None,
) -> StreamingResponse:
    """Live alerts for one region as Server-Sent Events (`event: alert`, `id` = alert id).
    Silenced alerts are not sent.

    Reconnect with `Last-Event-ID` to receive what was missed. A comment line
    every `SIAGA_SSE_HEARTBEAT_S` keeps proxies from closing an idle stream.
    """
    if region_id not in rt.network.regions_by_id:
        raise HTTPException(404, f"no region {region_id!r}")
    lease = rt.access.streams.acquire(reader.key)
    if lease is None:
        raise HTTPException(
            429, f"at most {rt.access.streams.per_key} open streams per client; close one",
            headers={"Retry-After": str(rt.settings.retry_after_s)},
        )
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
            lease.release()

    body = events()
    lease.bind(body)
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _event(stored: Stored) -> str:
    return f"id: {stored.alert.id}\nevent: alert\ndata: {stored.alert.model_dump_json()}\n\n"
