"""Acknowledgements over HTTP: a receiving region says it has seen an alert.

In: `POST /v1/alerts/{id}/ack` with an optional note, by a subscriber token of the
alert's receiving region (`region_id`) or an operator. Out: the `Ack`, written to
`siaga.acks` (key = alert id, acks=all) in the format the router reads. 202 when
written; 200 with the existing ack when the alert was acknowledged already (nothing
is written: acking twice is harmless).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException
from fastapi.responses import JSONResponse

from schemas import Alert
from schemas.ack import Ack, AckCreate
from service.api.registry_access import UNAVAILABLE, ActorDep, RegistriesDep, write
from service.api.runtime import RuntimeDep
from service.api.security import AUTH_RESPONSES, ErrorBody, check_region

router = APIRouter(prefix="/v1/alerts", tags=["alerts"],
                   responses={**AUTH_RESPONSES, **UNAVAILABLE})


async def _ackable(alert_id: str, identity: ActorDep, rt: RuntimeDep) -> Alert:
    """The alert in the path, if the caller acts for its receiving region (a dependency,
    so 404/403 come before the body is judged)."""
    alert = rt.store.get(alert_id)
    if alert is None:
        raise HTTPException(404, f"no alert {alert_id!r}")
    check_region(identity, alert.region_id)
    return alert


@router.post("/{alert_id}/ack", status_code=202, response_model=Ack, responses={
    200: {"model": Ack, "description": "Acknowledged before; the earlier ack"},
    404: {"model": ErrorBody}})
async def ack_alert(alert: Annotated[Alert, Depends(_ackable)], identity: ActorDep,
                    rt: RuntimeDep, registries: RegistriesDep,
                    body: Annotated[AckCreate | None, Body()] = None) -> JSONResponse:
    """Acknowledge an alert for its receiving region; reminders for it stop."""
    alert_id = alert.id
    known = registries.ack_of(alert_id)
    if known is not None:
        return JSONResponse(known.model_dump(mode="json"), status_code=200)
    region = rt.network.regions_by_id.get(alert.region_id)
    acked_at = datetime.now(UTC)
    if region is not None:
        # in the region's local time, as its alerts are (always with an offset)
        acked_at = acked_at.astimezone(timezone(timedelta(hours=region.utc_offset_h)))
    ack = Ack(alert_id=alert_id, region_id=alert.region_id, acked_at=acked_at,
              by=identity.name, note=body.note if body else None)
    await write(rt, registries.acks, alert_id, ack)
    return JSONResponse(ack.model_dump(mode="json"), status_code=202)
