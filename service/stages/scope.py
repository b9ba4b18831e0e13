"""Scope stage: a record that names a gateway must be for one of that gateway's stations.

In: a decoded reading's station and the record's headers, and the token
registry. Out: `None` (the reading goes on to be graded) or the reason to
dead-letter the record.

HTTP ingest stamps each record with `siaga-gateway: <token name>`; the worker
checks it again here, so a reading can never be graded for a station outside
the scope of the gateway it claims to come from (a mis-deployed API, a replay
from elsewhere, a gateway token revoked since). A header is only a claim: any
Kafka writer can set it. Who may write to `siaga.readings` directly at all is
decided by the broker (SASL principal + ACLs, see docker-compose.yml), not here.

Deliberately not here: validating the reading. It runs after the decode
stage, so a record that does not even decode is dead-lettered with that
precise reason, and the station checked is the one the reading is graded for.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from service.auth import TokenRegistry
from service.ingest import GATEWAY_HEADER
from service.stages.decode import DecodedBatch

Headers = Sequence[tuple[str, bytes]]


def scope_violation(headers: Headers, station_id: str, registry: TokenRegistry) -> str | None:
    named = [v for k, v in headers if k == GATEWAY_HEADER]
    if not named:
        return None
    if len(named) > 1:
        return f"several {GATEWAY_HEADER} headers; a record comes from one gateway"
    try:
        gateway = named[0].decode("utf-8")
    except UnicodeDecodeError:
        return f"{GATEWAY_HEADER} header is not UTF-8"
    permitted = registry.gateway_may_report(gateway, station_id)
    if permitted is None:
        return (f"gateway {gateway[:64]!r} named in the {GATEWAY_HEADER} header is not "
                "configured on this worker")
    if not permitted:
        return f"station not permitted for gateway {gateway[:64]!r}"
    return None


def out_of_scope(batch: DecodedBatch, headers: Sequence[Headers], station_ids: Sequence[str],
                 registry: TokenRegistry) -> DecodedBatch:
    """A filter: the rows whose record may report their station. The batch returned
    carries the decode stage's rejections and, after them, the others, each with its
    reason. `headers[i]` belongs to the batch's record i."""
    if not any(headers):
        return batch  # a direct Kafka writer names no gateway
    keep = np.ones(len(batch), dtype=np.bool_)
    verdicts: dict[tuple[tuple[tuple[str, bytes], ...], int], str | None] = {}
    for row, (i, station) in enumerate(zip(batch.positions.tolist(), batch.stations.tolist(),
                                           strict=True)):
        named = headers[i]
        if not named:
            continue
        key = (tuple(named), station)
        if key not in verdicts:
            verdicts[key] = scope_violation(named, station_ids[station], registry)
        reason = verdicts[key]
        if reason is not None:
            keep[row] = False
            batch.rejected.append((i, reason))
    return batch if keep.all() else batch.take(keep)
