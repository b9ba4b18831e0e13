"""Webhook delivery: the `siaga dispatcher` role and its parts.

- `signing`: HMAC-SHA256 signature headers (and verification, for receivers and tests)
- `url_safety`: which addresses a webhook may reach; resolve-check-connect
- `errors`: `DeliveryError` (retriable or not) and how an HTTP answer is classified
- `backoff`: full-jitter delays and `Retry-After`
- `breaker`: the per-subscriber circuit breaker
- `sender`: one signed POST to one checked address
- `subscriber`: one subscriber's queue, retries, cursor and backlog reading
- `dispatcher`: the role: reads `siaga.alerts`, fans out, publishes status
"""
