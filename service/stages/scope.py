"""Scope stage: a record that names a gateway must be for one of that gateway's stations.

In: a record's headers and raw value, and the token registry. Out: `None`
(the record goes on to decode+validate) or the reason to dead-letter it.

HTTP ingest stamps each record with `siaga-gateway: <token name>`; the worker
checks it again here, so a reading can never be graded for a station outside
the scope of the gateway it claims to come from (a mis-deployed API, a replay
from elsewhere, a gateway token revoked since). A header is only a claim: any
Kafka writer can set it. Who may write to `siaga.readings` directly at all is
decided by the broker (SASL principal + ACLs, see docker-compose.yml), not here.

Deliberately not here: validating the reading (the validate stage does it
for every record; a value that does not even parse passes this stage and is
dead-lettered there with the precise reason).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from service.auth import TokenRegistry
from service.ingest import GATEWAY_HEADER
from service.stages.validate import MAX_RECORD_BYTES

Headers = Sequence[tuple[str, bytes]]


def scope_violation(headers: Headers, value: bytes | None, registry: TokenRegistry
                    ) -> str | None:
    named = [v for k, v in headers if k == GATEWAY_HEADER]
    if not named:
        return None
    if len(named) > 1:
        return f"several {GATEWAY_HEADER} headers; a record comes from one gateway"
    try:
        gateway = named[0].decode("utf-8")
    except UnicodeDecodeError:
        return f"{GATEWAY_HEADER} header is not UTF-8"
    station = _claimed_station(value)
    if station is None:
        return None
    permitted = registry.gateway_may_report(gateway, station)
    if permitted is None:
        return (f"gateway {gateway[:64]!r} named in the {GATEWAY_HEADER} header is not "
                "configured on this worker")
    if not permitted:
        return f"station not permitted for gateway {gateway[:64]!r}"
    return None


def _claimed_station(value: bytes | None) -> str | None:
    if value is None or len(value) > MAX_RECORD_BYTES:
        return None
    try:
        parsed = json.loads(value)
    except (ValueError, RecursionError):
        return None
    station = parsed.get("station_id") if isinstance(parsed, dict) else None
    return station if isinstance(station, str) else None
