"""Acknowledgements: a receiving region says it has seen an alert.

The value of `siaga.acks` (key = alert id) is exactly `Ack` as JSON; the router
reads it to stop reminders. Deliberately no logic: who may acknowledge is the
API's business, what an ack covers is `service.delivery_rules.unacknowledged`.
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class AckCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=1000)


class Ack(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    alert_id: str
    region_id: str
    acked_at: AwareDatetime
    by: str = Field(description="Token name")
    note: str | None = None
