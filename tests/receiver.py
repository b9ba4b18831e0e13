"""A real HTTP webhook receiver for tests: uvicorn on a free loopback port.

Records every request (path, headers, body, arrival time) and answers what the test
says per path: a status, optional headers, an optional delay.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from service.broker import free_port
from service.delivery.signing import verify
from service.runner import _EmbeddedServer

Scope = dict[str, Any]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int

    @property
    def alert_id(self) -> str:
        value: str = json.loads(self.body)["id"]
        return value

    def signed_by(self, secret: str) -> bool:
        return verify(secret, self.headers["x-siaga-timestamp"], self.body,
                      self.headers["x-siaga-signature"])


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[Received] = []
        self.answers: dict[str, Answer] = {}

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str, status: int = 200, *, delay_s: float = 0.0,
               headers: dict[str, str] | None = None) -> None:
        self.answers[path] = Answer(status, headers or {}, delay_s)

    def at(self, path: str, status: int | None = 200) -> list[Received]:
        return [r for r in self.received if r.path == path
                and (status is None or r.status == status)]

    def ids(self, path: str) -> list[str]:
        """Alert ids acknowledged (2xx) at `path`, in arrival order."""
        return [r.alert_id for r in self.at(path)]

    async def wait_for(self, path: str, count: int, timeout_s: float = 30.0) -> list[str]:
        deadline = time.monotonic() + timeout_s
        while len(set(self.ids(path))) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path}: {len(set(self.ids(path)))} of {count} alerts")
            await asyncio.sleep(0.05)
        return self.ids(path)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the sender died mid-request (a SIGKILL test): nothing was received
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path: str = scope["path"]
        answer = self.answers.get(path, Answer())
        if answer.delay_s:
            await asyncio.sleep(answer.delay_s)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.received.append(Received(path, headers, body, time.time(), answer.status))
        await send({"type": "http.response.start", "status": answer.status,
                    "headers": [(k.encode(), v.encode()) for k, v in answer.headers.items()]})
        await send({"type": "http.response.body", "body": b"ok"})


@asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    rx = Receiver()
    server = _EmbeddedServer(uvicorn.Config(rx, host="127.0.0.1", port=rx.port,
                                            log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield rx
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
