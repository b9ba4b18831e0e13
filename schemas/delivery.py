"""Webhook delivery records: what the dispatcher writes and the API reads.

In: the records of three compacted topics. Out: validated models.
- `DeliveryProgress` (`siaga.delivery-progress`, key = subscription id): how far a
  subscriber has been served in `siaga.alerts`, per partition.
- `DeadLetter` (`siaga.deliveries`, key = `<subscription id>/<alert id>`): an alert
  that could not be delivered, or one an operator asked to send again.
- `SubscriberStatus` (`siaga.delivery-status`, key = subscription id): the
  dispatcher's periodic report for `GET /v1/status`.

Deliberately not here: how delivery works (`service.delivery`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.alert import Alert

CircuitState = Literal["closed", "open", "half_open"]
DeadLetterState = Literal["dead", "requeued"]


class DeliveryProgress(BaseModel):
    """`positions[p]` is the offset after the last alert of partition `p` that this
    subscriber has been served (delivered 2xx, dead-lettered, or not meant for it)."""

    model_config = ConfigDict(frozen=True)

    subscription_id: str
    positions: dict[int, int]
    delivered: int = Field(default=0, ge=0, description="2xx answers so far")
    updated_at: AwareDatetime


class DeadLetter(BaseModel):
    model_config = ConfigDict(frozen=True)

    subscription_id: str
    alert_id: str
    state: DeadLetterState = "dead"
    reason: str
    status_code: int | None = Field(default=None, description="the last HTTP answer, if any")
    retriable: bool = Field(description="false: the receiver refused it (4xx); true: gave up")
    attempts: int = Field(ge=0)
    dead_at: AwareDatetime
    requeued_at: AwareDatetime | None = None
    requeued_by: str | None = None
    alert: Alert

    @staticmethod
    def key_of(subscription_id: str, alert_id: str) -> str:
        return f"{subscription_id}/{alert_id}"


class SubscriberStatus(BaseModel):
    model_config = ConfigDict(frozen=True)

    subscription_id: str
    region_id: str
    url_host: str
    delivered: int
    backlog: int = Field(description="alerts queued for it, plus unread records while it "
                         "reads its backlog from the topic")
    last_success_at: AwareDatetime | None = None
    last_error: str | None = None
    last_error_at: AwareDatetime | None = None
    circuit: CircuitState
    dead_letters: int
    updated_at: AwareDatetime
