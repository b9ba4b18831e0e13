"""Assemble the FastAPI app. Settings and the network are built in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from schemas import Network
from schemas.delivery import DeadLetter, SubscriberStatus
from service.alert_store import AlertStore
from service.api import (
    acks,
    alerts,
    deliveries,
    feeds,
    readings,
    silences,
    status,
    subscriptions,
    whoami,
)
from service.api.limits import BodyLimit
from service.api.runtime import Access, ProducerLink, ReadyProbe, Runtime
from service.auth import TokenRegistry
from service.compacted import CompactedView
from service.group_monitor import GroupMonitor
from service.network_file import load_network
from service.registries import Registries
from service.settings import Settings
from service.station_board import StationBoard
from service.topic_views import TopicViews

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    network: Network | None = None,
    probes: dict[str, ReadyProbe] | None = None,
    registry: TokenRegistry | None = None,
) -> FastAPI:
    """The siaga API. `probes` adds readiness checks (e.g. an in-process worker).

    Settings are read when the app is made (`uvicorn --factory`), never at import.
    Tokens come from `registry`, else from the settings (`SIAGA_TOKENS[_FILE]`);
    with none configured only the public routes answer.
    """
    cfg = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        net = network or load_network(cfg.network)
        tokens = registry or TokenRegistry.from_sources(cfg.tokens, cfg.tokens_file, net)
        if not len(tokens):
            log.warning("no tokens configured: only public routes will answer")
        store = AlertStore(cfg.alerts_memory_max)
        board = StationBoard(net)
        views = TopicViews(cfg, net, store, board)
        producer = ProducerLink(cfg)
        group = GroupMonitor(cfg)
        registries = Registries(cfg, net, producer.get)
        store.withhold = registries.withheld  # silenced: listed, not streamed
        dead_letters = CompactedView(cfg, cfg.topic("deliveries"), DeadLetter)
        webhook_status = CompactedView(cfg, cfg.topic("delivery-status"), SubscriberStatus)
        app.state.runtime = Runtime(
            settings=cfg, network=net, store=store, board=board, views=views,
            producer=producer, group=group, access=Access.build(cfg, tokens),
            registries=registries,
            extra_probes={"registries_loaded": registries, **(probes or {})},
            dead_letters=dead_letters, webhook_status=webhook_status,
        )
        await producer.start()
        await views.start()
        await registries.start()
        await dead_letters.start()
        await webhook_status.start()
        await group.start()
        try:
            yield
        finally:
            await group.stop()
            await webhook_status.stop()
            await dead_letters.stop()
            await registries.stop()
            await views.stop()
            await producer.stop()

    app = FastAPI(
        title="siaga",
        summary="Flood early-warning hub: gauge readings in, graded Siaga alerts out.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.add_middleware(BodyLimit, max_bytes=cfg.max_body_bytes)
    app.include_router(readings.router)
    app.include_router(feeds.router)  # before alerts: `/v1/alerts/{id}` would take `….cap`
    app.include_router(alerts.router)
    app.include_router(status.router)
    app.include_router(whoami.router)
    app.include_router(subscriptions.router)
    app.include_router(silences.router)
    app.include_router(acks.router)
    app.include_router(deliveries.router)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # default 422 body, minus the echoed input (it can be megabytes of garbage)
        errors: list[dict[str, Any]] = [
            {k: v for k, v in err.items() if k not in ("input", "ctx", "url")}
            for err in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    return app
