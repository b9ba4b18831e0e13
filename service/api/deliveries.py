"""Webhook dead letters over HTTP: list them, send them again (operator token).

In: the compacted `siaga.deliveries` topic as the dispatcher writes it. Out: the
dead letters (the alert, the reason, the last HTTP status, attempts), and requeue
requests: a record marked `requeued` on the same topic, which the dispatcher follows
and sends again (after the subscriber's queued alerts' current one; a requeued alert
is by nature out of order). A requeued alert that is delivered leaves the list; one
that fails again is dead again, with the new reason.

Deliberately not here: delivering (`service.delivery`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel

from schemas.delivery import DeadLetter, DeadLetterState
from schemas.subscription import SUBSCRIPTION_ID_PATTERN
from service.api.registry_access import UNAVAILABLE, write
from service.api.runtime import Runtime, RuntimeDep
from service.api.security import AUTH_RESPONSES, ErrorBody, OperatorDep
from service.compacted import CompactedView

router = APIRouter(prefix="/v1/deliveries", tags=["deliveries"],
                   responses={**AUTH_RESPONSES, **UNAVAILABLE})

SubscriptionId = Annotated[str, Path(pattern=SUBSCRIPTION_ID_PATTERN)]
AlertId = Annotated[str, Path(min_length=1, max_length=200)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody}}


class DeadLetterList(BaseModel):
    dead_letters: list[DeadLetter]
    count: int


class Requeued(BaseModel):
    requeued: list[str]
    count: int


def _view(rt: Runtime) -> CompactedView[DeadLetter]:
    view = rt.dead_letters
    if view is None or not view.loaded.is_set():
        raise HTTPException(503, "dead letters are still loading",
                            headers={"Retry-After": str(rt.settings.retry_after_s)})
    return view


@router.get("/dead", response_model=DeadLetterList)
async def list_dead_letters(
    rt: RuntimeDep, _operator: OperatorDep,
    subscription_id: Annotated[str | None, Query(pattern=SUBSCRIPTION_ID_PATTERN)] = None,
    state: Annotated[DeadLetterState | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1_000,
) -> DeadLetterList:
    """Alerts a webhook subscriber did not get, newest first: `reason`, `status_code`,
    `retriable` (false: the receiver refused it; true: retried until the give-up
    time), `attempts`, and `state` (`dead`, or `requeued` while waiting to go again)."""
    found = [d for d in _view(rt).values()
             if (subscription_id is None or d.subscription_id == subscription_id)
             and (state is None or d.state == state)]
    found.sort(key=lambda d: d.dead_at, reverse=True)
    return DeadLetterList(dead_letters=found[:limit], count=len(found))


async def _requeue(rt: Runtime, records: list[DeadLetter], by: str) -> Requeued:
    view = _view(rt)
    now = datetime.now(UTC)
    keys = []
    for record in records:
        key = DeadLetter.key_of(record.subscription_id, record.alert_id)
        await write(rt, view, key, record.model_copy(
            update={"state": "requeued", "requeued_at": now, "requeued_by": by}))
        keys.append(key)
    return Requeued(requeued=keys, count=len(keys))


@router.post("/dead/{subscription_id}/{alert_id}/requeue", status_code=202,
             response_model=Requeued, responses=NOT_FOUND)
async def requeue_one(subscription_id: SubscriptionId, alert_id: AlertId, rt: RuntimeDep,
                      operator: OperatorDep) -> Requeued:
    """Send this dead letter again (fix the receiver first). 404: no such dead letter."""
    record = _view(rt).get(DeadLetter.key_of(subscription_id, alert_id))
    if record is None:
        raise HTTPException(404, f"no dead letter of {alert_id!r} for {subscription_id!r}")
    return await _requeue(rt, [record], operator.name)


@router.post("/dead/{subscription_id}/requeue", status_code=202, response_model=Requeued)
async def requeue_all(subscription_id: SubscriptionId, rt: RuntimeDep,
                      operator: OperatorDep) -> Requeued:
    """Send every dead letter of this subscription again, oldest first."""
    records = sorted((d for d in _view(rt).values()
                      if d.subscription_id == subscription_id and d.state == "dead"),
                     key=lambda d: d.dead_at)
    return await _requeue(rt, records, operator.name)
