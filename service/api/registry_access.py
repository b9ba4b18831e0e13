"""Shared by the subscription, silence and ack routes: the registries, once loaded;
writing a record with the right answer when Kafka is away; 422s that name the id.

In: the runtime. Out: FastAPI dependencies and helpers. Deliberately not here:
who may do what (`service.api.security`), the rules (`service.delivery_rules`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, TypeVar

from aiokafka.errors import KafkaError
from fastapi import Depends, HTTPException
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

from service.api.runtime import RuntimeDep
from service.api.security import AnyTokenDep, ErrorBody, forbidden
from service.auth import Identity
from service.compacted import CompactedView
from service.delivery_rules import UnknownId
from service.errors import BrokerUnavailable
from service.registries import Registries

M = TypeVar("M", bound=BaseModel)

UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body is not JSON"},
    503: {"model": ErrorBody,
          "description": "Kafka is unreachable or the registries are still loading; "
                         "see Retry-After"},
}


def _unavailable(detail: str, retry_after_s: int) -> HTTPException:
    return HTTPException(503, detail, headers={"Retry-After": str(retry_after_s)})


async def _loaded(rt: RuntimeDep) -> Registries:
    """The registries, or 503 until they have read their topics to the end: an answer
    from a half-read registry would be wrong, not merely late."""
    if not rt.registries.ready:
        raise _unavailable("subscriptions, silences and acks are still loading",
                           rt.settings.retry_after_s)
    return rt.registries


RegistriesDep = Annotated[Registries, Depends(_loaded)]


async def _region_actor(identity: AnyTokenDep) -> Identity:
    """A subscriber (acts for its region) or an operator; gateways are refused before
    the body is even looked at. The region itself is checked against the record."""
    if identity.kind not in ("subscriber", "operator"):
        raise forbidden("this route needs a subscriber or operator token")
    return identity


ActorDep = Annotated[Identity, Depends(_region_actor)]


async def write(rt: RuntimeDep, view: CompactedView[M], key: str, value: M | None) -> None:
    """Durably write (acks=all) and read back, or 503 with Retry-After."""
    try:
        await view.put(rt.registries.producer(), key, value,
                       timeout_s=rt.settings.ingest_timeout_s)
    except (BrokerUnavailable, KafkaError, TimeoutError) as exc:
        raise _unavailable(f"not written: Kafka did not acknowledge ({type(exc).__name__}); "
                           "try again", rt.settings.retry_after_s) from exc


def unknown_ids_error(unknown: Sequence[UnknownId]) -> RequestValidationError:
    """A 422 shaped like every other validation error, one entry per unknown id."""
    return RequestValidationError([
        {"type": "unknown_id", "msg": u.message,
         "loc": ("body", u.field) if u.index < 0 else ("body", u.field, u.index)}
        for u in unknown
    ])
