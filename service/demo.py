"""`siaga run --demo`: once the API answers, push the demo flood through it as a gateway.

In: the running uvicorn server (for its address) and a gateway token minted for
the simulator. Out: the demo scenario (service/scenarios.py) sent over HTTP at
600× (a simulated day in ~2.5 min, the last readings at their own time), a
progress line on stderr and the run's summary on stdout. A failure here is
logged and never stops the service.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import UTC, datetime

import httpx
import uvicorn

from schemas import Network
from service import scenarios
from service.auth import config_line, mint_token
from service.gateway import HttpSink, Progress, fetch_alerts, format_summary, push
from service.settings import Settings
from service.tools_cli import alerts_of_run, simulated_start

log = logging.getLogger(__name__)

SPEED = 600.0
TOKEN_NAME = "demo-simulator"


def with_simulator_token(settings: Settings) -> tuple[Settings, str]:
    """Add a gateway token for the simulator. Wall-clock staleness is switched off: the
    demo compresses a day into minutes, so its event times lag the clock by hours and
    every gauge would look silent."""
    token = mint_token()
    line = config_line(TOKEN_NAME, "gateway", token, stations=["*"])
    tokens = "; ".join(t for t in (settings.tokens, line) if t)
    return settings.model_copy(update={"tokens": tokens, "stale_wall_clock": False}), token


async def run_demo(server: uvicorn.Server, token: str, network: Network) -> None:
    try:
        for _ in range(6000):  # uvicorn offers no event for "listening"
            if server.started:
                break
            await asyncio.sleep(0.05)
        host, port = server.servers[0].sockets[0].getsockname()[:2]
        base = f"http://{host}:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=5.0) as client:
            for _ in range(600):  # the worker joins its group first
                if (await client.get("/readyz")).status_code == 200:
                    break
                await asyncio.sleep(0.2)
        duration = scenarios.duration_of(["demo"])
        start = simulated_start(datetime.now(UTC), duration, SPEED)
        readings = scenarios.generate(["demo"], seed=1, network=network, start=start)
        print(f"siaga demo: simulating a flood day ({len(readings)} readings) at {SPEED:g}x; "
              f"watch: curl -s '{base}/v1/alerts?limit=5' | python3 -m json.tool",
              file=sys.stderr, flush=True)
        sink = HttpSink(base, token)
        try:
            summary = await push(readings, sink, speed=SPEED, progress=Progress(len(readings)))
        finally:
            await sink.aclose()
        await asyncio.sleep(2.0)
        alerts = alerts_of_run(await fetch_alerts(base), summary)
        print(format_summary(summary, alerts), flush=True)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("the demo simulator failed; the service runs on")
