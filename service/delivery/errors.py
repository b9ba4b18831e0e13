"""Delivery errors: one root class with a `retriable` flag (as aiokafka's), and how an
HTTP answer is classified.

In: an HTTP status and its headers, or a transport failure. Out: `DeliveryError`
(`retriable`, `status_code`, `retry_after_s`). Retriable: timeouts, connection
errors, 5xx, 408 and 429. Everything else in 4xx means the receiver refuses this
alert and asking again will not change that: dead letter at once. 3xx are not
followed (a redirect could point anywhere, including inside our network) and count
as refusals too.

Deliberately not here: waiting, counting attempts, giving up (`subscriber`).
"""

from __future__ import annotations

from collections.abc import Mapping

from service.delivery.backoff import parse_retry_after
from service.errors import SiagaError

RETRIABLE_4XX = frozenset({408, 429})


class DeliveryError(SiagaError):
    """A delivery attempt failed. `retriable`: trying again later may succeed."""

    def __init__(self, message: str, *, retriable: bool, status_code: int | None = None,
                 retry_after_s: float | None = None) -> None:
        super().__init__(message, retriable=retriable)
        self.status_code = status_code
        self.retry_after_s = retry_after_s


class UnsafeAddress(DeliveryError):
    """The webhook's host is (or resolves to) an address siaga may not call."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retriable=False)


def is_retriable_status(status: int) -> bool:
    return status >= 500 or status in RETRIABLE_4XX


def classify(status: int, headers: Mapping[str, str]) -> DeliveryError | None:
    """None for a 2xx; else the error this answer means."""
    if 200 <= status < 300:
        return None
    retry_after = None
    if status in (429, 503):
        retry_after = parse_retry_after(headers.get("retry-after"))
    if is_retriable_status(status):
        return DeliveryError(f"HTTP {status}", retriable=True, status_code=status,
                             retry_after_s=retry_after)
    return DeliveryError(f"HTTP {status}: refused by the receiver (not retried)",
                         retriable=False, status_code=status)
