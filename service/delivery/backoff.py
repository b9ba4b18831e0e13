"""How long to wait before the next attempt.

In: the attempt number (0 = after the first failure), base and cap in seconds, a
random source; or a `Retry-After` header value. Out: seconds.

Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): uniform in
[0, min(cap, base * 2**attempt)], so many senders that failed together do not
retry together. Deliberately not here: the circuit breaker and the give-up time.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def backoff_ceiling(attempt: int, base_s: float, cap_s: float) -> float:
    """The upper bound of the jittered delay after `attempt` failures (0-based)."""
    # the exponent is capped so 2**attempt never overflows a float on long outages
    return min(cap_s, base_s * 2.0 ** min(attempt, 62))


def full_jitter(attempt: int, base_s: float, cap_s: float,
                rng: random.Random | None = None) -> float:
    return (rng or random).uniform(0.0, backoff_ceiling(attempt, base_s, cap_s))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date); None if absent
    or unreadable. Never negative."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
