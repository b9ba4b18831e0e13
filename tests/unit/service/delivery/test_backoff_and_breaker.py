"""Full-jitter backoff bounds, Retry-After, and the circuit breaker's transitions."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from service.delivery.backoff import backoff_ceiling, full_jitter, parse_retry_after
from service.delivery.breaker import CircuitBreaker


def test_the_ceiling_doubles_up_to_the_cap_and_survives_huge_attempt_counts() -> None:
    assert [backoff_ceiling(a, 0.5, 10.0) for a in range(7)] == [
        0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert backoff_ceiling(10_000, 0.5, 300.0) == 300.0


def test_full_jitter_stays_in_bounds_and_spreads_over_the_whole_range() -> None:
    rng = random.Random(1)
    for attempt in range(12):
        ceiling = backoff_ceiling(attempt, 0.5, 30.0)
        delays = [full_jitter(attempt, 0.5, 30.0, rng) for _ in range(2_000)]
        assert all(0.0 <= d <= ceiling for d in delays)
        # full jitter: uniform over [0, ceiling], so both ends of the range are used
        assert min(delays) < 0.05 * ceiling and max(delays) > 0.95 * ceiling
        assert abs(sum(delays) / len(delays) - ceiling / 2) < 0.05 * ceiling
    assert len({full_jitter(3, 0.5, 30.0, rng) for _ in range(100)}) == 100  # jittered


def test_retry_after_as_seconds_or_an_http_date() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True),
                             now=now) == 90.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=90), usegmt=True),
                             now=now) == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-5") is None


def test_breaker_opens_after_n_failures_half_opens_after_the_pause_and_closes_on_success(
) -> None:
    breaker = CircuitBreaker(failures=3, open_s=10.0)
    assert breaker.state(0.0) == "closed"
    breaker.failure(0.0)
    breaker.failure(1.0)
    assert breaker.state(1.0) == "closed" and breaker.wait_s(1.0) == 0.0
    breaker.failure(2.0)
    assert breaker.state(2.0) == "open" and breaker.wait_s(5.0) == 7.0
    assert breaker.state(12.0) == "half_open" and breaker.wait_s(12.0) == 0.0
    breaker.failure(12.0)  # the half-open trial failed: open for another pause
    assert breaker.state(13.0) == "open" and breaker.wait_s(13.0) == 9.0
    assert breaker.state(22.0) == "half_open"
    breaker.success()
    assert breaker.state(22.0) == "closed"
    breaker.failure(23.0)  # counting starts again from zero
    assert breaker.state(23.0) == "closed"


def test_a_success_resets_the_count_of_failures_in_a_row() -> None:
    breaker = CircuitBreaker(failures=2, open_s=1.0)
    breaker.failure(0.0)
    breaker.success()
    breaker.failure(0.0)
    assert breaker.state(0.0) == "closed"
