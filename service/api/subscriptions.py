"""Subscriptions over HTTP: create, list, read, change, delete, and the pull feed.

In: subscriber or operator tokens and JSON bodies. Out: `SubscriptionPublic`
(never a webhook secret, except the generated one, once, in the answer that
made it). Every change is a record on `siaga.subscriptions` (a delete is a
tombstone), read back before the answer, so the registry of every replica
agrees within about a second.

Who: an operator manages all; a subscriber token only its own region's
(403 otherwise, the same whether or not the subscription's region exists);
gateways none. Deliberately not here: matching rules, webhook delivery.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime

from schemas import Alert
from schemas.subscription import (
    SUBSCRIPTION_ID_PATTERN,
    Subscription,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionList,
    SubscriptionPublic,
    SubscriptionUpdate,
    WebhookChannel,
)
from service.api.alert_marks import AlertPage, page
from service.api.registry_access import (
    UNAVAILABLE,
    ActorDep,
    RegistriesDep,
    unknown_ids_error,
    write,
)
from service.api.runtime import Runtime, RuntimeDep
from service.api.security import AUTH_RESPONSES, ErrorBody, check_region
from service.delivery.url_safety import check_url, parse_nets
from service.delivery_rules import matches, unknown_ids

router = APIRouter(prefix="/v1/subscriptions", tags=["subscriptions"],
                   responses={**AUTH_RESPONSES, **UNAVAILABLE})

SubscriptionId = Annotated[str, Path(pattern=SUBSCRIPTION_ID_PATTERN)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody}}
INVALID: dict[int | str, dict[str, Any]] = {
    422: {"description": "Invalid body, or an id the network does not know (named)"}}
MAX_PAGE = 10_000


def _check_ids(rt: Runtime, sub: Subscription) -> None:
    unknown = unknown_ids(rt.network, region_id=sub.region_id, stations=sub.stations,
                          basins=sub.basins, upstream_regions=sub.upstream_regions)
    if unknown:
        raise unknown_ids_error(unknown)


async def _check_webhook(rt: Runtime, sub: Subscription) -> None:
    """422 for a webhook URL siaga may not call (loopback, private, …: SSRF), unless
    `SIAGA_WEBHOOK_ALLOW_NETS` permits it. Checked again at every delivery."""
    if not isinstance(sub.channel, WebhookChannel):
        return
    reason = await check_url(sub.channel.url, parse_nets(rt.settings.webhook_allow_nets))
    if reason is not None:
        raise RequestValidationError([{"type": "webhook_url_refused", "msg": reason,
                                       "loc": ("body", "channel", "url")}])


def _with_secret(channel: WebhookChannel, keep: str | None) -> tuple[WebhookChannel, str | None]:
    """The channel with a secret, and the secret to show once if one was generated."""
    if channel.secret is not None:
        return channel, None
    if keep is not None:
        return channel.model_copy(update={"secret": keep}), None
    made = secrets.token_urlsafe(32)
    return channel.model_copy(update={"secret": made}), made


def _created(sub: Subscription, secret: str | None) -> SubscriptionCreated:
    return SubscriptionCreated(**sub.public().model_dump(), secret=secret)


async def _owned(subscription_id: SubscriptionId, identity: ActorDep,
                 registries: RegistriesDep) -> Subscription:
    """The subscription in the path, if the caller acts for its region: a dependency, so
    404/403 come before the body is judged."""
    sub = registries.subscriptions.get(subscription_id)
    if sub is None:
        raise HTTPException(404, f"no subscription {subscription_id!r}")
    check_region(identity, sub.region_id)
    return sub


OwnedDep = Annotated[Subscription, Depends(_owned)]


@router.post("", status_code=201, response_model=SubscriptionCreated, responses=INVALID)
async def create_subscription(body: SubscriptionCreate, identity: ActorDep, rt: RuntimeDep,
                              registries: RegistriesDep) -> SubscriptionCreated:
    """Register what a region wants. A webhook without `secret` gets a generated one,
    shown in this answer only. Unknown station, basin or region ids: 422 naming them."""
    check_region(identity, body.region_id)
    now = datetime.now(UTC)
    secret = None
    channel = body.channel
    if isinstance(channel, WebhookChannel):
        channel, secret = _with_secret(channel, None)
    sub = Subscription(**body.model_dump(exclude={"channel"}), channel=channel,
                       id="sub-" + uuid.uuid4().hex[:16], created_at=now, updated_at=now,
                       created_by=identity.name)
    _check_ids(rt, sub)
    await _check_webhook(rt, sub)
    await write(rt, registries.subscriptions, sub.id, sub)
    return _created(sub, secret)


@router.get("", response_model=SubscriptionList)
async def list_subscriptions(
    identity: ActorDep, registries: RegistriesDep,
    region_id: Annotated[str | None, Query(max_length=64)] = None,
) -> SubscriptionList:
    """An operator sees all (or one region's); a subscriber its own region's."""
    subs = [s for s in registries.subscriptions.values()
            if (identity.kind == "operator" or s.region_id == identity.region)
            and (region_id is None or s.region_id == region_id)]
    subs.sort(key=lambda s: (s.region_id, s.id))
    return SubscriptionList(subscriptions=[s.public() for s in subs], count=len(subs))


@router.get("/{subscription_id}", response_model=SubscriptionPublic, responses=NOT_FOUND)
async def get_subscription(sub: OwnedDep) -> SubscriptionPublic:
    return sub.public()


@router.patch("/{subscription_id}", response_model=SubscriptionCreated,
              responses={**NOT_FOUND, **INVALID})
async def update_subscription(old: OwnedDep, body: SubscriptionUpdate, identity: ActorDep,
                              rt: RuntimeDep, registries: RegistriesDep
                              ) -> SubscriptionCreated:
    """Change the fields given. A new webhook channel without `secret` keeps the old
    webhook's secret, or gets a generated one (shown in this answer only)."""
    changes = body.model_dump(exclude_unset=True, exclude={"channel"})
    if changes.get("region_id") is not None:
        check_region(identity, changes["region_id"])
    changes = {k: v for k, v in changes.items() if v is not None or k == "name"}
    secret = None
    if body.channel is not None:
        channel = body.channel
        if isinstance(channel, WebhookChannel):
            keep = old.channel.secret if isinstance(old.channel, WebhookChannel) else None
            channel, secret = _with_secret(channel, keep)
        changes["channel"] = channel
    # validate the result as a whole, as a create would be
    sub = Subscription.model_validate({**old.model_dump(), **changes,
                                       "channel": changes.get("channel", old.channel),
                                       "updated_at": datetime.now(UTC)})
    _check_ids(rt, sub)
    await _check_webhook(rt, sub)
    await write(rt, registries.subscriptions, sub.id, sub)
    return _created(sub, secret)


@router.delete("/{subscription_id}", status_code=204, response_class=Response,
               responses=NOT_FOUND)
async def delete_subscription(sub: OwnedDep, rt: RuntimeDep, registries: RegistriesDep
                              ) -> Response:
    """Delete it (a tombstone on the topic). A deleted default stays deleted."""
    await write(rt, registries.subscriptions, sub.id, None)
    return Response(status_code=204)


@router.get("/{subscription_id}/alerts", response_model=AlertPage, responses=NOT_FOUND)
async def subscription_alerts(
    sub: OwnedDep, rt: RuntimeDep, registries: RegistriesDep,
    since: Annotated[AwareDatetime | None, Query(description="issued at or after")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$",
                                        description="next_cursor of the previous page")] = None,
) -> AlertPage:
    """The pull channel: alerts that match the subscription and are not silenced, most
    recent first; follow `next_cursor` for older ones."""
    def wanted(alert: Alert) -> bool:
        return matches(sub, alert, rt.network) and not registries.withheld(alert)

    alerts, next_seq = rt.store.query(since=since, limit=limit, where=wanted,
                                      before_seq=int(cursor) if cursor is not None else None)
    return page(registries, alerts, next_seq)
