"""Subscriptions: what a region (or any downstream agency) wants delivered, and how.

In: the JSON of `POST/PATCH /v1/subscriptions` and the records of the compacted
`siaga.subscriptions` topic. Out: validated models. `Subscription` is the stored
record (it holds the webhook secret, which the delivery side needs to sign);
`SubscriptionPublic` is what the API shows (never the secret).

Deliberately not here: whether the ids exist in the network (that needs the
network: `service.delivery_rules.unknown_ids`), matching alerts, storage.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, get_args
from urllib.parse import urlsplit

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from schemas.alert import AlertKind, SiagaLevel
from schemas.reading import STATION_ID_PATTERN

ALL_KINDS: tuple[AlertKind, ...] = get_args(AlertKind)
Language = Literal["id", "en", "both"]
SUBSCRIPTION_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,79}$"
DEFAULT_PREFIX = "default-"

_Id = Annotated[str, Field(pattern=STATION_ID_PATTERN, max_length=64)]
_Ids = Annotated[list[_Id], Field(max_length=500)]


class WebhookChannel(BaseModel):
    """POST each alert to `url`; `secret` signs the body (generated when not given)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["webhook"]
    url: str = Field(max_length=2000, description="http(s) URL that receives the alerts")
    secret: str | None = Field(default=None, min_length=16, max_length=200,
                               description="Write-only: never shown after create")

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("webhook url must be an http(s) URL with a host")
        return url


class PullChannel(BaseModel):
    """The region fetches: `GET /v1/subscriptions/{id}/alerts` or its SSE stream."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["pull"]


Channel = Annotated[WebhookChannel | PullChannel, Field(discriminator="type")]


class WebhookChannelPublic(BaseModel):
    """A webhook channel as shown: the URL, and whether a secret is set (never the secret)."""

    model_config = ConfigDict(frozen=True)

    type: Literal["webhook"]
    url: str
    has_secret: bool


ChannelPublic = Annotated[WebhookChannelPublic | PullChannel, Field(discriminator="type")]


class _Selection(BaseModel):
    """Which alerts: by station, basin or upstream region, then by level and kind.

    With no station, basin or upstream region, the subscription takes the alerts
    addressed to its own `region_id`.
    """

    stations: _Ids = Field(default_factory=list, description="Gauges whose alerts it wants "
                           "(as the alert's station or as a predicted alert's upstream gauge)")
    basins: _Ids = Field(default_factory=list)
    upstream_regions: _Ids = Field(default_factory=list,
                                   description="Regions whose gauges' alerts it wants")
    min_level: SiagaLevel = Field(default=3, description="Deliver this level and more severe "
                                  "(3 = Siaga 3, 2 and 1); cancels always")
    kinds: list[AlertKind] = Field(default_factory=lambda: list(ALL_KINDS), min_length=1,
                                   max_length=len(ALL_KINDS))
    language: Language = "both"


class SubscriptionCreate(_Selection):
    model_config = ConfigDict(extra="forbid")

    region_id: _Id = Field(description="The receiving region that owns the subscription")
    name: str | None = Field(default=None, max_length=200)
    channel: Channel = Field(default_factory=lambda: PullChannel(type="pull"))


class SubscriptionUpdate(BaseModel):
    """PATCH: only the fields given change; `channel` is replaced as a whole."""

    model_config = ConfigDict(extra="forbid")

    region_id: _Id | None = None
    name: str | None = Field(default=None, max_length=200)
    stations: _Ids | None = None
    basins: _Ids | None = None
    upstream_regions: _Ids | None = None
    min_level: SiagaLevel | None = None
    kinds: list[AlertKind] | None = Field(default=None, min_length=1,
                                          max_length=len(ALL_KINDS))
    language: Language | None = None
    channel: Channel | None = None


class Subscription(_Selection):
    """The stored record (value of `siaga.subscriptions`, key = `id`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(pattern=SUBSCRIPTION_ID_PATTERN)
    region_id: str
    name: str | None = None
    channel: Channel
    created_at: AwareDatetime
    updated_at: AwareDatetime
    created_by: str = Field(description="Token name, or 'siaga' for a default")

    @property
    def is_default(self) -> bool:
        return self.id.startswith(DEFAULT_PREFIX)

    def public(self) -> SubscriptionPublic:
        channel: WebhookChannelPublic | PullChannel
        if isinstance(self.channel, WebhookChannel):
            channel = WebhookChannelPublic(type="webhook", url=self.channel.url,
                                           has_secret=self.channel.secret is not None)
        else:
            channel = self.channel
        data = self.model_dump(exclude={"channel"})
        return SubscriptionPublic(**data, channel=channel, is_default=self.is_default)


class SubscriptionPublic(_Selection):
    """A subscription as the API shows it."""

    id: str
    region_id: str
    name: str | None = None
    channel: ChannelPublic
    created_at: datetime
    updated_at: datetime
    created_by: str
    is_default: bool


class SubscriptionCreated(SubscriptionPublic):
    """The answer to a create (or a PATCH that set a new webhook): the generated secret,
    shown this once; `null` when the caller chose the secret or there is none."""

    secret: str | None = None


class SubscriptionList(BaseModel):
    subscriptions: list[SubscriptionPublic]
    count: int
