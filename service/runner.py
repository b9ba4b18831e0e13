"""Run siaga's roles in one asyncio process: API, detector worker, router, webhook
dispatcher, embedded broker.

`siaga run` = all of them; without `SIAGA_KAFKA_BOOTSTRAP` it first starts the
embedded broker on loopback. SIGINT/SIGTERM: the API stops taking requests,
the worker finishes its batch, commits and leaves the group, then the broker
we started (and only that one) is stopped.

Access: serving HTTP needs tokens (`SIAGA_TOKENS[_FILE]`). Without any, on a
loopback address, ephemeral demo tokens (an operator and an every-station
gateway) are made for the run and printed once to the terminal, never to the
log; on any other address the API refuses to start.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
import logging
import signal
from collections.abc import Generator
from typing import Literal

import uvicorn

from schemas import Network
from service import kafka
from service.api import create_app
from service.api.runtime import ReadyProbe
from service.auth import TokenRegistry, config_line, mint_token, parse_lines
from service.broker import EmbeddedBroker
from service.delivery.dispatcher import Dispatcher
from service.demo import run_demo, with_simulator_token
from service.errors import ConfigError
from service.network_file import load_network
from service.router_worker import RouterWorker
from service.settings import Settings
from service.worker import DetectorWorker

log = logging.getLogger(__name__)

Role = Literal["api", "worker", "router", "dispatcher"]


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handling: the runner owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


# Young objects the cyclic collector lets pile up before it looks (Python's default: 700).
# A batch makes a record object per reading and most die with the batch, freed by
# reference counting; at 700 the collector ran ~1,000 times over a 500,000-reading
# backlog, promoting each batch's live records and re-walking them in full collections:
# 15% of the worker's time. Cycles (asyncio's futures, tracebacks) are still collected.
YOUNG_OBJECTS_BEFORE_COLLECTING = 100_000


def settle_collector() -> None:
    """Tune the cyclic garbage collector for a long-running stream process.

    Everything made so far (modules, the network, settings, clients) lives as long as
    the process: frozen out of the collector's sight, so a full collection stays short
    instead of pausing the worker for ~50 ms (the p99 reading -> alert latency).
    """
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_OBJECTS_BEFORE_COLLECTING, older, oldest)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve to anything


def prepare_access(settings: Settings, network: Network, roles: set[Role]) -> Settings:
    """Check the configured tokens; on loopback without any, add printed demo tokens."""
    registry = TokenRegistry.from_sources(settings.tokens, settings.tokens_file, network)
    if len(registry) or "api" not in roles:
        return settings
    if not is_loopback(settings.http_host):
        raise ConfigError(
            f"refusing to serve on {settings.http_host} without tokens: anyone who can reach "
            "it could push readings. Configure SIAGA_TOKENS_FILE (make tokens with "
            "`siaga token mint`), or listen on 127.0.0.1 for a local demo."
        )
    gateway, operator = mint_token(), mint_token()
    lines = "; ".join([
        config_line("demo-gateway", "gateway", gateway, stations=["*"]),
        config_line("demo-operator", "operator", operator),
    ])
    TokenRegistry(parse_lines(lines, "demo tokens"), network)
    # to the terminal only: a log line would keep the token after the run
    print(
        "\nsiaga: no tokens configured; demo tokens for this run only (loopback):\n"
        f"  export SIAGA_TOKEN={gateway}            # gateway, every station\n"
        f"  export SIAGA_OPERATOR_TOKEN={operator}   # operator (GET /v1/status)\n",
        flush=True,
    )
    return settings.model_copy(update={"tokens": lines, "tokens_file": None})


async def run_roles(settings: Settings, roles: set[Role], demo: bool = False) -> None:
    network = load_network(settings.network)
    settings = prepare_access(settings, network, roles)
    demo_token = None
    if demo and "api" in roles:
        settings, demo_token = with_simulator_token(settings)
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
        await _run(settings, network, roles, demo_token)
    finally:
        if broker is not None:
            broker.stop()


async def _run(settings: Settings, network: Network, roles: set[Role],
               demo_token: str | None = None) -> None:
    # signals first: a SIGTERM while starting up must still mean a clean stop
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await _ensure_topics_with_retry(settings)
        if not stop.is_set():
            await _serve(settings, network, roles, stop, demo_token)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _serve(settings: Settings, network: Network, roles: set[Role],
                 stop: asyncio.Event, demo_token: str | None = None) -> None:
    worker = DetectorWorker(settings, network) if "worker" in roles else None
    router = RouterWorker(settings, network) if "router" in roles else None
    dispatcher = Dispatcher(settings, network) if "dispatcher" in roles else None
    server: _EmbeddedServer | None = None
    tasks: list[asyncio.Task[None]] = []
    demo: asyncio.Task[None] | None = None  # not in `tasks`: its end must not stop the service
    if worker is not None:
        await worker.start()
        tasks.append(asyncio.create_task(worker.run(), name="siaga-worker"))
    if router is not None:
        await router.start()
        tasks.append(asyncio.create_task(router.run(), name="siaga-router"))
    if dispatcher is not None:
        await dispatcher.start()
        tasks.append(asyncio.create_task(dispatcher.run(), name="siaga-dispatcher"))
    if "api" in roles:
        probes: dict[str, ReadyProbe] = {"worker_assigned": worker} if worker else {}
        if router is not None:
            probes["router_assigned"] = router
        if dispatcher is not None:
            probes["dispatcher_ready"] = dispatcher
        app = create_app(settings, network, probes=probes)
        server = _EmbeddedServer(uvicorn.Config(
            app, host=settings.http_host, port=settings.http_port,
            log_level=settings.log_level.lower(), lifespan="on",
        ))
        tasks.append(asyncio.create_task(server.serve(), name="siaga-api"))
        log.info("siaga API on http://%s:%s (docs at /docs)", settings.http_host,
                 settings.http_port)
        if demo_token is not None:
            demo = asyncio.create_task(run_demo(server, demo_token, network), name="siaga-demo")
    settle_collector()
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
    finally:
        log.info("shutting down")
        if demo is not None:  # first: it talks to the API, which is about to go
            demo.cancel()
            await asyncio.gather(demo, return_exceptions=True)
        if server is not None:
            server.should_exit = True
        if worker is not None:
            await worker.stop()
        if router is not None:
            await router.stop()
        if dispatcher is not None:
            await dispatcher.stop()
        stopper.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
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
