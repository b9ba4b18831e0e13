"""`GET /v1/whoami`: which token this is, of what kind, with what scope.

Lets a gateway, subscriber or operator check its token before it matters.
Answers nothing about other tokens, and never echoes the token itself.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from service.api.security import AUTH_RESPONSES, AnyTokenDep

router = APIRouter(prefix="/v1", tags=["access"])


class CallerOut(BaseModel):
    name: str
    kind: Literal["gateway", "subscriber", "operator"]
    stations: list[str] | Literal["*"] | None = None
    region: str | None = None


@router.get("/whoami", response_model=CallerOut, responses=AUTH_RESPONSES)
async def whoami(identity: AnyTokenDep) -> CallerOut:
    """The caller's token name, kind and scope: for a gateway the stations it may report
    (`*` for all), for a subscriber its region; an operator acts for the whole hub."""
    stations: list[str] | Literal["*"] | None = None
    if identity.kind == "gateway":
        stations = "*" if identity.stations is None else sorted(identity.stations)
    return CallerOut(name=identity.name, kind=identity.kind, stations=stations,
                     region=identity.region)
