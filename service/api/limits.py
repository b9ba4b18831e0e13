"""Limits that keep one caller from hurting the service for everyone.

In: request bodies, and keys naming a caller (a token's name, or a client IP).
Out: 413 for oversize bodies (ASGI middleware, before the body is read), and
the bookkeeping behind 429s: token buckets for request rates, slots for
concurrent SSE streams. Answering 429 is the dependencies' job
(`service.api.security`), so it happens before a route writes anything.

Deliberately not here: who a caller is (`service.auth`), and any limit shared
between API replicas: each replica counts for itself, so N replicas allow up
to N times the configured rate.
"""

from __future__ import annotations

import json
import math
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """Pure ASGI middleware: a declared or streamed body over `max_bytes` gets 413."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _reply(send, 400, "Content-Length is not a number")
                    return
                if declared > self.max_bytes:
                    await _reply(send, 413, self._too_large())
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _reply(send, 413, self._too_large())

    def _too_large(self) -> str:
        return f"request body exceeds {self.max_bytes} bytes; split the batch"


async def _reply(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode())],
    })
    await send({"type": "http.response.body", "body": body})


class TokenBuckets:
    """One token bucket per key: `burst` requests at once, refilled at `rate` per second.

    Idle keys are forgotten beyond `max_keys` (least recently seen first), so
    a flood of distinct client addresses cannot grow memory without bound; a
    forgotten key comes back with a full bucket.
    """

    def __init__(self, rate: float, burst: int, *, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = float(burst)
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> float:
        """Take one token. 0.0: allowed; otherwise the seconds until one is available."""
        now = self._clock()
        tokens, stamp = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - stamp) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait


def retry_after(wait_s: float) -> str:
    """`Retry-After` in whole seconds, never 0: a client retrying at once would fail again."""
    return str(max(1, math.ceil(wait_s)))


class StreamSlots:
    """At most `per_key` concurrent long-lived streams per key."""

    def __init__(self, per_key: int) -> None:
        self.per_key = per_key
        self._open: dict[str, int] = {}

    def acquire(self, key: str) -> StreamLease | None:
        if self._open.get(key, 0) >= self.per_key:
            return None
        self._open[key] = self._open.get(key, 0) + 1
        return StreamLease(self, key)

    def open_for(self, key: str) -> int:
        return self._open.get(key, 0)

    def _release(self, key: str) -> None:
        left = self._open.get(key, 0) - 1
        if left > 0:
            self._open[key] = left
        else:
            self._open.pop(key, None)


class StreamLease:
    """A held slot. `release()` is idempotent; `bind(obj)` releases when `obj` is collected,
    for a response body that is dropped before it is ever iterated (its `finally` never runs).
    """

    def __init__(self, slots: StreamSlots, key: str) -> None:
        self._slots: StreamSlots | None = slots
        self._key = key

    def release(self) -> None:
        slots, self._slots = self._slots, None
        if slots is not None:
            slots._release(self._key)

    def bind(self, owner: object) -> None:
        weakref.finalize(owner, self.release)
