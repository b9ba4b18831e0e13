"""A real siaga instance inside a test: detector worker + uvicorn on a free port.

Tests authenticate with fixed tokens (`TOKENS`); their hashed config lines
(`TOKEN_LINES`) go into every test's settings.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import datetime, timedelta
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from schemas import Network
from service import kafka
from service.api import create_app
from service.api.runtime import ReadyProbe
from service.auth import config_line
from service.broker import free_port
from service.delivery.dispatcher import Dispatcher
from service.router_worker import RouterWorker
from service.runner import _EmbeddedServer
from service.settings import Settings
from service.worker import DetectorWorker

# Test-only tokens: fixed so failures are reproducible; never used outside tests.
TOKENS: dict[str, str] = {
    "ops": "siaga_test-operator-0000000000000000000000000000000",
    "all-gw": "siaga_test-gateway-all-000000000000000000000000000",
    "bogor-gw": "siaga_test-gateway-bogor-0000000000000000000000000",
    "jakarta-sub": "siaga_test-subscriber-jakarta-00000000000000000000",
    "bogor-sub": "siaga_test-subscriber-bogor-0000000000000000000000",
}
TOKEN_LINES = "; ".join([
    config_line("ops", "operator", TOKENS["ops"]),
    config_line("all-gw", "gateway", TOKENS["all-gw"], stations=["*"]),
    config_line("bogor-gw", "gateway", TOKENS["bogor-gw"], regions=["kota-bogor"]),
    config_line("jakarta-sub", "subscriber", TOKENS["jakarta-sub"], region="dki-jakarta"),
    config_line("bogor-sub", "subscriber", TOKENS["bogor-sub"], region="kota-bogor"),
])


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name]}"}


class Service:
    """`client` is anonymous; `gateway` (all stations) and `operator` carry tokens."""

    def __init__(self, base_url: str, client: httpx.AsyncClient,
                 worker: DetectorWorker | None, dispatcher: Dispatcher | None = None) -> None:
        self.base_url = base_url
        self.dispatcher = dispatcher
        self.client = client
        self.worker = worker
        self.gateway = httpx.AsyncClient(base_url=base_url, timeout=10.0,
                                         headers=bearer("all-gw"))
        self.operator = httpx.AsyncClient(base_url=base_url, timeout=10.0, headers=bearer("ops"))

    async def aclose(self) -> None:
        await self.gateway.aclose()
        await self.operator.aclose()

    async def wait_ready(self, timeout_s: float = 30.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            response = await self.client.get("/readyz")
            if response.status_code == 200:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"service not ready: {response.text}")
            await asyncio.sleep(0.1)

    async def wait_for_alerts(self, count: int, timeout_s: float = 10.0,
                              **params: Any) -> list[dict[str, Any]]:
        """Poll `GET /v1/alerts` until `count` alerts match (most recent first)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            response = await self.client.get("/v1/alerts", params={"limit": 10_000, **params})
            response.raise_for_status()
            alerts: list[dict[str, Any]] = response.json()["alerts"]
            if len(alerts) >= count:
                return alerts
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"wanted {count} alerts, have {len(alerts)}: {alerts}")
            await asyncio.sleep(0.05)


@asynccontextmanager
async def running_service(
    settings: Settings, network: Network, *, with_worker: bool = True,
    with_router: bool = True, with_dispatcher: bool = True,
    customize: Callable[[FastAPI], None] | None = None,
) -> AsyncIterator[Service]:
    """`customize` may add routes to the app, e.g. to exercise a dependency over real HTTP."""
    await kafka.ensure_topics(settings)
    worker = DetectorWorker(settings, network) if with_worker else None
    router = RouterWorker(settings, network) if with_worker and with_router else None
    dispatcher = Dispatcher(settings, network) if with_dispatcher else None
    tasks: list[asyncio.Task[None]] = []
    if worker is not None:
        await worker.start()
        tasks.append(asyncio.create_task(worker.run()))
    if router is not None:
        await router.start()
        tasks.append(asyncio.create_task(router.run()))
    if dispatcher is not None:
        await dispatcher.start()
        tasks.append(asyncio.create_task(dispatcher.run()))
    port = free_port()
    probes: dict[str, ReadyProbe] = {"worker_assigned": worker} if worker else {}
    if dispatcher is not None:
        probes["dispatcher_ready"] = dispatcher
    app = create_app(settings, network, probes=probes)
    if customize is not None:
        customize(app)
    server = _EmbeddedServer(uvicorn.Config(app, host="127.0.0.1", port=port,
                                            log_level="warning", lifespan="on"))
    tasks.append(asyncio.create_task(server.serve()))
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10.0) as client:
            while not server.started:
                if tasks[-1].done():
                    tasks[-1].result()
                await asyncio.sleep(0.02)
            service = Service(base, client, worker, dispatcher)
            try:
                await service.wait_ready()
                yield service
            finally:
                await service.aclose()
    finally:
        server.should_exit = True
        if worker is not None:
            await worker.stop()
        if router is not None:
            await router.stop()
        if dispatcher is not None:
            await dispatcher.stop()
        for task in tasks:
            with suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 10)


def level_reading(station_id: str, at: datetime, value: float, unit: str = "cm"
                  ) -> dict[str, Any]:
    return {"station_id": station_id, "observed_at": at.isoformat(), "kind": "water_level",
            "value": value, "unit": unit}


def series(station_id: str, start: datetime, values: Sequence[float],
           step: timedelta = timedelta(minutes=10)) -> list[dict[str, Any]]:
    return [level_reading(station_id, start + i * step, v) for i, v in enumerate(values)]


def sse_events(text: str) -> list[dict[str, str]]:
    """Parse complete SSE events (comments skipped) from a chunk of stream text."""
    events = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
        if "data" in fields:
            events.append(fields)
    return events


def decode(event: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(event["data"])
    return data


async def read_topic(settings: Settings, topic: str, expected: int, timeout_s: float = 20.0
                     ) -> list[Any]:
    """Every record of a topic, from the start, once at least `expected` have arrived."""
    client = kafka.consumer(settings, group_id=None)
    await client.start()
    out: list[Any] = []
    try:
        tps = await kafka.partitions_of(client, topic)
        client.assign(tps)
        await client.seek_to_beginning(*tps)
        deadline = asyncio.get_running_loop().time() + timeout_s
        while asyncio.get_running_loop().time() < deadline:
            batch = await client.getmany(timeout_ms=200)
            for records in batch.values():
                out.extend(records)
            if len(out) >= expected and not batch and await kafka.caught_up(client, tps):
                break
        return out
    finally:
        await client.stop()
