"""Run siaga's roles in one asyncio process: API, detector worker, embedded broker.

`siaga run` = all of them; without `SIAGA_KAFKA_BOOTSTRAP` it first starts the
embedded broker on loopback. SIGINT/SIGTERM: the API stops taking requests,
the worker finishes its batch, commits and leaves the group, then the broker
we started (and only that one) is stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Generator
from typing import Literal

import uvicorn

from service import kafka
from service.api import create_app
from service.api.runtime import ReadyProbe
from service.broker import EmbeddedBroker
from service.network_file import load_network
from service.settings import Settings
from service.worker import DetectorWorker

log = logging.getLogger(__name__)

Role = Literal["api", "worker"]


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handling: the runner owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def run_roles(settings: Settings, roles: set[Role]) -> None:
    broker: EmbeddedBroker | None = None
    if not settings.kafka_bootstrap:
        broker = EmbeddedBroker(port=settings.embedded_broker_port)
        broker.start()
        settings = settings.model_copy(update={
            "kafka_bootstrap": broker.bootstrap,
            "kafka_idempotence": False,  # Tansu has no idempotent producer
        })
        log.info("embedded Kafka-compatible broker on %s (memory only)", broker.bootstrap)
    elif settings.kafka_idempotence is None:
        settings = settings.model_copy(update={"kafka_idempotence": True})
    try:
        await _run(settings, roles)
    finally:
        if broker is not None:
            broker.stop()


async def _run(settings: Settings, roles: set[Role]) -> None:
    network = load_network(settings.network)
    await _ensure_topics_with_retry(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    worker = DetectorWorker(settings, network) if "worker" in roles else None
    server: _EmbeddedServer | None = None
    tasks: list[asyncio.Task[None]] = []
    if worker is not None:
        await worker.start()
        tasks.append(asyncio.create_task(worker.run(), name="siaga-worker"))
    if "api" in roles:
        probes: dict[str, ReadyProbe] = {"worker_assigned": worker} if worker else {}
        app = create_app(settings, network, probes=probes)
        server = _EmbeddedServer(uvicorn.Config(
            app, host=settings.http_host, port=settings.http_port,
            log_level=settings.log_level.lower(), lifespan="on",
        ))
        tasks.append(asyncio.create_task(server.serve(), name="siaga-api"))
        log.info("siaga API on http://%s:%s (docs at /docs)", settings.http_host,
                 settings.http_port)
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
    finally:
        log.info("shutting down")
        if server is not None:
            server.should_exit = True
        if worker is not None:
            await worker.stop()
        stopper.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(
                result, asyncio.CancelledError
            ):
                raise result


async def _ensure_topics_with_retry(settings: Settings, attempts: int = 30) -> None:
    delay = 0.5
    for attempt in range(1, attempts + 1):
        try:
            await kafka.ensure_topics(settings)
            return
        except Exception as exc:
            if attempt == attempts:
                raise
            log.warning("cannot create topics yet (%s); retrying in %.1f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
