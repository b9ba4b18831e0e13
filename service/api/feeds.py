"""Alerts as CAP 1.2 messages and a region's current alerts as an Atom feed.

Public like every alert read (`SIAGA_PUBLIC_ALERTS`). The XML itself is made by
`service/cap.py` and `service/atom.py`; this module only looks up what they need
and builds absolute links, from `SIAGA_PUBLIC_BASE_URL` or else the request's URL.
Its router goes in before the JSON alert routes: `/v1/alerts/{id}` would
otherwise take `depok-….cap` for an alert id.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from service.api.runtime import Runtime, RuntimeDep
from service.api.security import PUBLIC_RESPONSES, AlertReaderDep, ErrorBody
from service.atom import ATOM_MEDIA_TYPE, current_alerts, region_feed
from service.cap import CAP_MEDIA_TYPE, CapProfile, Lang, to_cap

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["alerts"])


def _json_errors(*extra: tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """Refusals are JSON even here; given as `model`, FastAPI would list them under the
    route's XML media type and the schema would promise what the server never sends."""
    described = [(code, spec["description"]) for code, spec in PUBLIC_RESPONSES.items()]
    return {code: {"description": text, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{ErrorBody.__name__}"}}}}
        for code, text in [*described, *extra]}


class CapResponse(Response):
    media_type = CAP_MEDIA_TYPE


class AtomResponse(Response):
    media_type = ATOM_MEDIA_TYPE


@router.get(
    "/alerts/{alert_id}.cap",
    response_class=CapResponse,
    responses={200: {"content": {CAP_MEDIA_TYPE: {"schema": {"type": "string"}}},
                     "description": "The alert as an OASIS CAP 1.2 message"},
               **_json_errors((404, "No such alert"))},
)
async def get_alert_cap(alert_id: str, request: Request, rt: RuntimeDep,
                        _reader: AlertReaderDep) -> CapResponse:
    """One alert as CAP 1.2 XML, an `info` block in Indonesian and one in English."""
    alert = rt.store.get(alert_id)
    if alert is None:
        raise HTTPException(404, f"no alert {alert_id!r}")
    base = _base_url(rt, request)
    body = to_cap(
        alert,
        rt.network.regions_by_id.get(alert.region_id),
        rt.network.stations_by_id.get(alert.station_id),
        CapProfile.from_settings(rt.settings),
        rt.store.get,
        web=f"{base}/v1/alerts/{quote(alert.id, safe='')}",
    )
    return CapResponse(body)


@router.get(
    "/regions/{region_id}/alerts.atom",
    response_class=AtomResponse,
    responses={200: {"content": {ATOM_MEDIA_TYPE: {"schema": {"type": "string"}}},
                     "description": "Atom 1.0 feed; each entry links to its CAP message"},
               **_json_errors((404, "No such region"))},
)
async def region_alerts_atom(
    region_id: str,
    request: Request,
    rt: RuntimeDep,
    _reader: AlertReaderDep,
    lang: Annotated[Lang, Query(description="language of titles and summaries")] = "id",
) -> AtomResponse:
    """The region's current alerts: the latest message of each open episode, and of
    each closed one for `SIAGA_ATOM_KEEP_CANCELS_H` after its Cancel."""
    region = rt.network.regions_by_id.get(region_id)
    if region is None:
        raise HTTPException(404, f"no region {region_id!r}")
    profile = CapProfile.from_settings(rt.settings)
    alerts, _ = rt.store.query(region_id=region_id, limit=len(rt.store) + 1)
    now = datetime.now(UTC)
    entries = current_alerts(alerts, now, timedelta(hours=rt.settings.atom_keep_cancels_h),
                             profile)
    base = _base_url(rt, request)
    query = "" if lang == "id" else f"?lang={lang}"
    body = region_feed(
        region, entries, profile=profile, lang=lang, now=now,
        feed_url=f"{base}/v1/regions/{quote(region.id, safe='')}/alerts.atom{query}",
        cap_url=lambda i: f"{base}/v1/alerts/{quote(i, safe='')}.cap",
        json_url=lambda i: f"{base}/v1/alerts/{quote(i, safe='')}",
    )
    return AtomResponse(body)


def _base_url(rt: Runtime, request: Request) -> str:
    return (rt.settings.public_base_url or str(request.base_url)).rstrip("/")
