"""A per-subscriber circuit breaker: closed → open → half-open → closed.

In: successes and failures of attempts, and the time (monotonic seconds, passed in
so tests need no clock). Out: whether an attempt may go now, and how long to wait.

- closed: attempts go; `failures` retriable failures in a row open it.
- open: no attempt for `open_s`; then half-open.
- half-open: one trial attempt; success closes, failure opens again for `open_s`.

Deliberately not here: the retry delay (`backoff`) and the give-up time; the
subscriber waits for the longer of the backoff and the breaker.
"""

from __future__ import annotations

from typing import Literal

State = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    def __init__(self, failures: int, open_s: float) -> None:
        self.threshold = failures
        self.open_s = open_s
        self._failures = 0
        self._opened_at: float | None = None

    def state(self, now: float) -> State:
        if self._opened_at is None:
            return "closed"
        if now - self._opened_at >= self.open_s:
            return "half_open"
        return "open"

    def wait_s(self, now: float) -> float:
        """Seconds until an attempt may go (0 when closed or half-open)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self.open_s - now)

    def success(self) -> None:
        self._failures = 0
        self._opened_at = None

    def failure(self, now: float) -> None:
        if self._opened_at is not None:
            # a failed half-open trial (or a failure while open): open for another period
            self._opened_at = now
            return
        self._failures += 1
        if self._failures >= self.threshold:
            self._opened_at = now
