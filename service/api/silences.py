"""Silences over HTTP: an operator mutes a gauge for maintenance, with a reason.

In: operator tokens (any valid token may list). Out: `SilencePublic`. Every
change is a record on `siaga.silences`; ending a silence early rewrites it with
`ended_at`, never a tombstone, so the history shows it. A silenced gauge's
alerts are still recorded and listed (marked `silenced_by`) but not streamed
and not in subscription feeds (`service.delivery_rules.silencing`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path
from fastapi.exceptions import RequestValidationError

from schemas.silence import SilenceCreate, SilenceList, SilencePublic
from service.api.registry_access import UNAVAILABLE, RegistriesDep, unknown_ids_error, write
from service.api.runtime import RuntimeDep
from service.api.security import AUTH_RESPONSES, AnyTokenDep, ErrorBody, OperatorDep
from service.delivery_rules import UnknownId

router = APIRouter(prefix="/v1/silences", tags=["silences"],
                   responses={**AUTH_RESPONSES, **UNAVAILABLE})

SilenceId = Annotated[str, Path(pattern=r"^sil-[0-9a-f]{1,32}$")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody}}


@router.post("", status_code=201, response_model=SilencePublic, responses={
    422: {"description": "Invalid body, an unknown station, or a window that is over "
                         "or longer than 30 days"}})
async def create_silence(body: SilenceCreate, operator: OperatorDep, rt: RuntimeDep,
                         registries: RegistriesDep) -> SilencePublic:
    """Silence `station_id` from `starts_at` (default now) until `ends_at` or for
    `duration_min`. Alerts about it (as the gauge, or as the upstream evidence of a
    predicted alert) issued in that window are recorded but not delivered."""
    if rt.network.station(body.station_id) is None:
        raise unknown_ids_error([UnknownId("station_id", -1, body.station_id)])
    now = datetime.now(UTC)
    try:
        starts, ends = body.window(now)
    except ValueError as exc:
        raise RequestValidationError([{"type": "value_error", "msg": str(exc),
                                       "loc": ("body",)}]) from None
    silence = SilencePublic(id="sil-" + uuid.uuid4().hex[:16], station_id=body.station_id,
                            starts_at=starts, ends_at=ends, reason=body.reason,
                            by=operator.name, created_at=now)
    await write(rt, registries.silences, silence.id, silence)
    return silence


@router.get("", response_model=SilenceList)
async def list_silences(_identity: AnyTokenDep, registries: RegistriesDep,
                        all: bool = False) -> SilenceList:
    """Active and upcoming silences, soonest end first; `all=true` adds ended ones."""
    now = datetime.now(UTC)
    found = [s for s in registries.silences.values() if all or s.until > now]
    found.sort(key=lambda s: (s.until, s.id))
    return SilenceList(silences=found, count=len(found))


@router.delete("/{silence_id}", response_model=SilencePublic, responses=NOT_FOUND)
async def end_silence(silence_id: SilenceId, operator: OperatorDep, rt: RuntimeDep,
                      registries: RegistriesDep) -> SilencePublic:
    """End it now. The record stays, with `ended_at`; one that is over is left as it is."""
    silence = registries.silences.get(silence_id)
    if silence is None:
        raise HTTPException(404, f"no silence {silence_id!r}")
    now = datetime.now(UTC)
    if silence.until <= now:
        return silence
    ended = silence.model_copy(update={"ended_at": now, "ended_by": operator.name})
    await write(rt, registries.silences, silence_id, ended)
    return ended
