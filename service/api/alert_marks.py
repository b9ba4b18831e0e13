"""What the alert routes add to each alert: its silence and its acknowledgement.

In: an `Alert` and the registries. Out: `AlertView`, the alert plus
`silenced_by`, `acked_at` and `acked_by`. These belong to the API's answers,
not to the Alert contract: the records in `siaga.alerts` never carry them.
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, Field

from schemas import Alert
from service.registries import Registries


class AlertView(Alert):
    silenced_by: str | None = Field(
        default=None, description="Id of the silence that keeps it from delivery "
        "(still recorded and listed; not streamed, not in subscription feeds)")
    acked_at: AwareDatetime | None = Field(default=None, description="When its region "
                                           "acknowledged it")
    acked_by: str | None = Field(default=None, description="Token name that acknowledged it")


class AlertPage(BaseModel):
    alerts: list[AlertView]
    count: int
    next_cursor: str | None = None


def mark(registries: Registries, alert: Alert) -> AlertView:
    silence = registries.silenced_by(alert)
    ack = registries.ack_of(alert.id)
    # the alert is valid already; copying its fields skips validating it again
    return AlertView.model_construct(
        **dict(alert),
        silenced_by=silence.id if silence else None,
        acked_at=ack.acked_at if ack else None,
        acked_by=ack.by if ack else None,
    )


def page(registries: Registries, alerts: list[Alert], next_seq: int | None) -> AlertPage:
    return AlertPage(alerts=[mark(registries, a) for a in alerts], count=len(alerts),
                     next_cursor=str(next_seq) if next_seq is not None else None)
