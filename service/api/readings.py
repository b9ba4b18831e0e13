"""`POST /v1/readings`: gateways push one or many readings."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ValidationError

from schemas import ReadingBatchIn, ReadingIn
from service.api.runtime import RuntimeDep
from service.api.security import AUTH_RESPONSES, ErrorBody, GatewayDep
from service.errors import BrokerUnavailable
from service.ingest import ItemResult, judge, write_readings

router = APIRouter(prefix="/v1", tags=["readings"])


class ItemVerdict(BaseModel):
    index: int
    status: Literal["accepted", "rejected", "not_written"]
    station_id: str | None = None
    observed_at: AwareDatetime | None = None
    reason: str | None = None


class IngestResponse(BaseModel):
    accepted: int
    rejected: int
    not_written: int = 0
    items: list[ItemVerdict]


def _response(items: list[ItemResult], status: int, headers: dict[str, str] | None = None
              ) -> JSONResponse:
    items = sorted(items, key=lambda r: r.index)
    body = IngestResponse(
        accepted=sum(r.status == "accepted" for r in items),
        rejected=sum(r.status == "rejected" for r in items),
        not_written=sum(r.status == "not_written" for r in items),
        items=[ItemVerdict(**asdict(r)) for r in items],
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


async def _batch(request: Request) -> ReadingBatchIn:
    """The body, parsed only once the caller is known: an anonymous or rate-limited
    request is refused before a megabyte of JSON is parsed for it."""
    try:
        return ReadingBatchIn.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError(
            [{**err, "loc": ("body", *err["loc"])} for err in exc.errors(include_url=False)]
        ) from None


# The body is parsed leniently (each item judged on its own, with a reason), but the
# documentation says what a good item looks like.
_BATCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["readings"],
    "properties": {"readings": {
        "type": "array", "minItems": 1, "items": ReadingIn.model_json_schema(),
        "description": "One or more readings; each is accepted or rejected on its own",
    }},
}
_BATCH_EXAMPLE = {"readings": [
    {"station_id": "katulampa", "observed_at": "2019-04-25T20:20:00+07:00",
     "kind": "water_level", "value": 141.0, "unit": "cm"},
    {"station_id": "katulampa", "observed_at": "2019-04-25T20:30:00+07:00",
     "kind": "water_level", "value": 1.5, "unit": "m"},
]}
_422_SCHEMA = {"anyOf": [
    {"$ref": "#/components/schemas/IngestResponse"},
    {"$ref": "#/components/schemas/HTTPValidationError"},
]}


@router.post(
    "/readings",
    response_model=IngestResponse,
    responses={
        **AUTH_RESPONSES,
        207: {"model": IngestResponse, "description": "Some items accepted, some rejected"},
        413: {"model": ErrorBody, "description": "Body or batch too large"},
        422: {"description": "No item was acceptable (`items` say why), or the body is not "
                             "a batch (`detail`)",
              "content": {"application/json": {"schema": _422_SCHEMA}}},
        503: {"model": IngestResponse, "description": "Kafka did not acknowledge; retry later"},
    },
    openapi_extra={"requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _BATCH_SCHEMA, "example": _BATCH_EXAMPLE}},
    }},
)
async def post_readings(
    rt: RuntimeDep, gateway: GatewayDep, batch: Annotated[ReadingBatchIn, Depends(_batch)]
) -> Any:
    """Judge each reading on its own. 200: all accepted (durably in Kafka); 207: some
    rejected (see `items`); 422: none acceptable; 503 + Retry-After: Kafka unreachable,
    with the items that were and were not written. Needs a gateway token; a station
    outside the token's scope is rejected per item ("station not permitted for this
    token"), whether or not it exists."""
    settings = rt.settings
    if len(batch.readings) > settings.max_batch_items:
        return JSONResponse(
            {"detail": f"batch of {len(batch.readings)} readings exceeds "
                       f"{settings.max_batch_items}; split it"},
            status_code=413,
        )
    now = datetime.now(UTC)
    rejected, to_write = judge(
        batch.readings, rt.network, now, timedelta(seconds=settings.max_future_skew_s),
        may_report=gateway.may_report,
    )
    rt.counters.rejected += len(rejected)
    written: list[ItemResult] = []
    if to_write:
        try:
            written = await write_readings(
                rt.producer.get(), settings.readings_topic, to_write, settings.ingest_timeout_s,
                gateway=gateway.name,
            )
        except BrokerUnavailable as exc:
            partial = exc.partial or [
                ItemResult(i, "not_written", r.station_id, r.observed_at,
                           reason="broker unavailable; send this item again")
                for i, r in to_write
            ]
            rt.counters.accepted += sum(r.status == "accepted" for r in partial)
            rt.counters.not_written += sum(r.status == "not_written" for r in partial)
            return _response(rejected + partial, 503,
                             headers={"Retry-After": str(settings.retry_after_s)})
    rt.counters.accepted += len(written)
    if not written:
        return _response(rejected, 422)
    return _response(rejected + written, 207 if rejected else 200)
