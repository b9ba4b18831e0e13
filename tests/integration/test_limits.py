"""Rate limits (429 + Retry-After), body and batch limits (413), the SSE stream cap.

None of them may lose what was already accepted: a refused request is
answered before anything is written, and every reading accepted before it is
in Kafka and graded.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx

from schemas import Network
from service.broker import EmbeddedBroker
from tests.conftest import make_settings
from tests.helpers import bearer, read_topic, running_service, series

STREAM = "/v1/regions/kota-bogor/alerts/stream"


async def test_rate_limit_and_size_limits_refuse_before_writing_and_lose_nothing(
    broker: EmbeddedBroker, network: Network
) -> None:
    settings = make_settings(
        broker.bootstrap, rate_limit_per_s=0.01, rate_limit_burst=3,
        anon_rate_limit_per_s=0.01, anon_rate_limit_burst=2,
        max_batch_items=10, max_body_bytes=16 * 1024,
    )
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=8)
    # hourly: alerts at 90, 160, 210 (and 120, were it let in)
    rise = series("katulampa", start, [60, 90, 160, 210, 120], step=timedelta(hours=1))
    async with running_service(settings, network) as svc:
        gateway = svc.gateway
        for batch in ([rise[0], rise[1]], [rise[2]], [rise[3]]):  # the whole burst
            response = await gateway.post("/v1/readings", json={"readings": batch})
            assert response.status_code == 200, response.text

        refused = await gateway.post("/v1/readings", json={"readings": [rise[4]]})
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        # the bucket is per token: another gateway is not slowed down by this one
        other = await svc.client.post("/v1/readings", headers=bearer("bogor-gw"),
                                      json={"readings": [rise[0]]})
        assert other.status_code == 200

        # 413s: a body over the limit is refused before it is read, whatever it holds
        huge = b'{"readings": [' + b" " * settings.max_body_bytes + b"]}"
        too_big = await svc.client.post("/v1/readings", content=huge, headers={
            **bearer("bogor-gw"), "content-type": "application/json"})
        assert too_big.status_code == 413
        too_many = await svc.client.post("/v1/readings", headers=bearer("bogor-gw"), json={
            "readings": series("katulampa", start + timedelta(hours=6), [300] * 11)})
        assert too_many.status_code == 413

        # anonymous readers are limited per client address
        public = [await svc.client.get("/v1/alerts") for _ in range(3)]
        assert [r.status_code for r in public] == [200, 200, 429]
        assert int(public[2].headers["Retry-After"]) >= 1

        # everything accepted is in Kafka, nothing refused is, and the worker graded it all
        records = await read_topic(settings, settings.readings_topic, 5)
        values = sorted(json.loads(r.value)["value"] for r in records)
        assert values == [60.0, 60.0, 90.0, 160.0, 210.0]
        alerts = await read_topic(settings, settings.alerts_topic, 3)
        levels = [json.loads(a.value)["level"] for a in alerts
                  if json.loads(a.value)["kind"] == "observed"]
        assert sorted(levels) == [1, 2, 3]  # no Siaga 3 again: the 429'd 120 cm never arrived
        status = await svc.operator.get("/v1/status")
        assert status.json()["counts"]["readings_accepted_here"] == 5


@asynccontextmanager
async def _open_stream(client: httpx.AsyncClient, headers: dict[str, str] | None = None
                       ) -> AsyncIterator[httpx.Response]:
    async with client.stream("GET", STREAM, headers=headers) as response:
        if response.status_code != 200:
            await response.aread()
        yield response


async def test_concurrent_streams_are_capped_per_client_and_slots_come_back(
    broker: EmbeddedBroker, network: Network
) -> None:
    settings = make_settings(broker.bootstrap, max_streams_per_client=2)
    async with running_service(settings, network, with_worker=False) as svc, AsyncExitStack(
    ) as held:
        for _ in range(2):
            opened = await held.enter_async_context(_open_stream(svc.client))
            assert opened.status_code == 200
        async with _open_stream(svc.client) as third:
            assert third.status_code == 429
            assert int(third.headers["Retry-After"]) >= 1
        # a subscriber's token is its own client, with its own slots
        async with _open_stream(svc.client, bearer("bogor-sub")) as own:
            assert own.status_code == 200

        await held.aclose()  # both anonymous streams hang up; their slots are freed
        deadline = asyncio.get_running_loop().time() + 5
        while True:
            async with _open_stream(svc.client) as again:
                if again.status_code == 200:
                    break
            assert asyncio.get_running_loop().time() < deadline, "stream slots never came back"
            await asyncio.sleep(0.1)
