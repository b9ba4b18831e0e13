"""FastAPI dependencies that decide who may call a route, and how often.

In: the `Authorization: Bearer …` header and the client address of a request.
Out: the caller's `Identity` for the route, or an error answered before the
route body runs, so nothing is written for a refused request:

- 401 + `WWW-Authenticate: Bearer`: no token where one is needed, or a token
  that is not valid (a token that was presented is always checked, even on
  public routes, so a gateway with a revoked token hears about it at once);
- 403: a valid token whose kind or scope does not cover the route. Scope is
  checked before existence, so a refusal never tells whether a region exists;
- 429 + `Retry-After`: the caller's token bucket is empty (per token name for
  callers with a token, per client address otherwise).

Behind a reverse proxy the client address is the proxy's unless uvicorn is
told to trust its `X-Forwarded-For` (`--forwarded-allow-ips`).

Deliberately not here: token parsing and hashing (`service.auth`), and
per-item decisions such as which stations a gateway may report (the ingest
route asks `Identity.may_report`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from service.api.limits import retry_after
from service.api.runtime import Runtime, RuntimeDep
from service.auth import Identity

_bearer = HTTPBearer(
    auto_error=False,
    description="A gateway, subscriber or operator token (`siaga token mint`).",
)

_CHALLENGE = 'Bearer realm="siaga"'


@dataclass(frozen=True, slots=True)
class Caller:
    """The identity behind a request (`None`: anonymous) and the key its limits count by."""

    identity: Identity | None
    key: str


def unauthorized(detail: str, *, invalid: bool = False) -> HTTPException:
    challenge = _CHALLENGE + (', error="invalid_token"' if invalid else "")
    return HTTPException(401, detail, headers={"WWW-Authenticate": challenge})


def forbidden(detail: str) -> HTTPException:
    return HTTPException(
        403, detail, headers={"WWW-Authenticate": _CHALLENGE + ', error="insufficient_scope"'}
    )


def client_key(request: Request) -> str:
    return "ip:" + (request.client.host if request.client else "unknown")


async def _caller(
    request: Request,
    rt: RuntimeDep,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> Caller:
    """Authenticate (if a token is presented) and charge the caller's rate limit."""
    header = request.headers.get("authorization")
    identity: Identity | None = None
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer":
            identity = rt.access.registry.verify(token.strip())
        if identity is None:
            # failed attempts count against the address, so guessing is throttled too
            _charge(rt, client_key(request), anonymous=True)
            raise unauthorized("the bearer token is not valid", invalid=True)
    caller = Caller(identity, f"token:{identity.name}" if identity else client_key(request))
    _charge(rt, caller.key, anonymous=identity is None)
    return caller


def _charge(rt: Runtime, key: str, *, anonymous: bool) -> None:
    buckets = rt.access.anonymous_rate if anonymous else rt.access.token_rate
    wait = buckets.take(key)
    if wait > 0:
        raise HTTPException(
            429, "too many requests; slow down",
            headers={"Retry-After": retry_after(wait)},
        )


CallerDep = Annotated[Caller, Depends(_caller)]


def _identified(caller: Caller) -> Identity:
    if caller.identity is None:
        raise unauthorized("this route needs a bearer token")
    return caller.identity


async def _any_token(caller: CallerDep) -> Identity:
    return _identified(caller)


async def _gateway(caller: CallerDep) -> Identity:
    identity = _identified(caller)
    if identity.kind != "gateway":
        raise forbidden("this route needs a gateway token")
    return identity


async def _operator(caller: CallerDep) -> Identity:
    identity = _identified(caller)
    if identity.kind != "operator":
        raise forbidden("this route needs an operator token")
    return identity


async def _alert_reader(caller: CallerDep, rt: RuntimeDep) -> Caller:
    """Warnings are public unless `SIAGA_PUBLIC_ALERTS=false`; then any valid token reads."""
    if not rt.settings.public_alerts:
        _identified(caller)
    return caller


def check_region(identity: Identity, region_id: str) -> None:
    """403 unless the identity acts for `region_id`: its own subscriber, or an operator.

    For routes where the region comes in the body (e.g. creating a
    subscription); path-scoped routes use `SubscriberDep`. Called before the
    route looks the region up, so the answer is the same whether it exists.
    """
    if identity.kind == "operator":
        return
    if identity.kind != "subscriber" or identity.region != region_id:
        raise forbidden("this token does not act for that region")


async def _subscriber_of_path_region(caller: CallerDep, region_id: str) -> Identity:
    identity = _identified(caller)
    check_region(identity, region_id)
    return identity


AnyTokenDep = Annotated[Identity, Depends(_any_token)]
GatewayDep = Annotated[Identity, Depends(_gateway)]
OperatorDep = Annotated[Identity, Depends(_operator)]
AlertReaderDep = Annotated[Caller, Depends(_alert_reader)]
# For routes under /v1/regions/{region_id}/…: the region's subscriber, or an operator.
SubscriberDep = Annotated[Identity, Depends(_subscriber_of_path_region)]

class ErrorBody(BaseModel):
    """What a refused request gets back: one sentence saying why."""

    detail: str


# Documented answers of the dependencies above, for the OpenAPI schema.
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No token, or the token is not valid"},
    403: {"model": ErrorBody, "description": "The token does not cover this route or scope"},
    429: {"model": ErrorBody, "description": "Rate limit exceeded; see Retry-After"},
}
PUBLIC_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody,
          "description": "The token presented is not valid (or alerts are not public here)"},
    429: {"model": ErrorBody, "description": "Rate limit exceeded; see Retry-After"},
}
