"""Signing webhook bodies so a receiver can check they came from siaga.

In: the subscription's secret, a unix timestamp and the exact body bytes. Out: the
`X-Siaga-Signature` value `sha256=<hex>` of HMAC-SHA256(secret, f"{ts}." + body),
the full header set of a delivery, and `verify` for receivers (and our tests).

Deliberately not here: choosing the body, key rotation (a subscription has one
secret; PATCH a new one), replay windows beyond `verify`'s `tolerance_s`.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Siaga-Signature"
TIMESTAMP_HEADER = "X-Siaga-Timestamp"
USER_AGENT = "siaga-webhook/0.1"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=` + hex HMAC-SHA256 over `"<timestamp>." + body`, keyed by the secret."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def delivery_headers(*, secret: str | None, alert_id: str, subscription_id: str,
                     body: bytes, attempt: int, language: str,
                     timestamp: int | None = None) -> dict[str, str]:
    """Headers of one POST. The alert id is the idempotency key: the same alert sent
    twice (a retry, a redelivery after a crash) carries the same key."""
    ts = int(time.time()) if timestamp is None else timestamp
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Idempotency-Key": alert_id,
        "X-Siaga-Alert-Id": alert_id,
        "X-Siaga-Subscription-Id": subscription_id,
        "X-Siaga-Delivery-Attempt": str(attempt),
        "Content-Language": {"id": "id", "en": "en"}.get(language, "id, en"),
        TIMESTAMP_HEADER: str(ts),
    }
    # every subscription made through the API has a secret; an unsigned POST is only
    # possible for a record written around the API, and a receiver will refuse it
    if secret is not None:
        headers[SIGNATURE_HEADER] = signature(secret, ts, body)
    return headers


def verify(secret: str, timestamp: str, body: bytes, signature_header: str, *,
           tolerance_s: float = 300.0, now: float | None = None) -> bool:
    """What a receiver does: recompute, compare in constant time, refuse old timestamps."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, ts, body), signature_header)
