"""Talk to a running siaga as a gateway does: push readings, paced by event time; read alerts.

In: readings as JSON-ready dicts sorted by `observed_at` (from service/scenarios.py
or service/recorded.py), a sink (`HttpSink`: `POST /v1/readings` in batches with
a gateway bearer token; `KafkaSink`: straight into `siaga.readings`, key =
station id), a speed factor (simulated seconds per wall second; 0 = as fast as
possible). Out: a `SendSummary` of what each station sent and what the service
accepted or rejected (and why), a progress line on stderr, the alerts of a run
(`fetch_alerts`, following `next_cursor`).

Not here: making or validating readings, scoring. Over Kafka nothing is judged
at the door: "accepted" there means acknowledged by the broker, and a bad
record goes to the dead-letter topic with its reason.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TextIO

import httpx

from service import kafka
from service.errors import SiagaError
from service.settings import Settings

log = logging.getLogger(__name__)
# one INFO line per request would bury the progress line and the summary
logging.getLogger("httpx").setLevel(logging.WARNING)

Reading = dict[str, Any]
Verdict = tuple[str, str | None]  # ("accepted" | "rejected", reason)
BATCH_MAX = 500  # under the API's default limit of 1,000 items and 2 MiB per request
RETRIES = 6


class SendError(SiagaError):
    """The service refused the whole request (token, size, unreachable): stop, say why."""


class Sink(Protocol):
    async def send(self, readings: list[Reading]) -> list[Verdict]: ...

    async def aclose(self) -> None: ...


class HttpSink:
    """`POST /v1/readings`; 429 and 503 are retried after their Retry-After, and a 503
    resends only the items it says were not written."""

    def __init__(self, base_url: str, token: str | None, *, batch_max: int = BATCH_MAX,
                 timeout_s: float = 30.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.AsyncClient(base_url=base_url, headers=headers, timeout=timeout_s)
        self.batch_max = batch_max

    async def send(self, readings: list[Reading]) -> list[Verdict]:
        out: list[Verdict] = []
        for i in range(0, len(readings), self.batch_max):
            out.extend(await self._post(readings[i : i + self.batch_max]))
        return out

    async def _post(self, batch: list[Reading]) -> list[Verdict]:
        verdicts: list[Verdict | None] = [None] * len(batch)
        pending = list(range(len(batch)))
        for attempt in range(RETRIES):
            try:
                response = await self.client.post(
                    "/v1/readings", json={"readings": [batch[i] for i in pending]})
            except httpx.HTTPError as exc:
                raise SendError(f"cannot reach {self.client.base_url}: {exc}") from exc
            if response.status_code in (401, 403):
                raise SendError(f"the service refused the token ({response.status_code}): "
                                f"{_detail(response)}; pass a gateway token with --token "
                                "or SIAGA_TOKEN")
            if response.status_code == 429:
                await asyncio.sleep(_retry_after(response, attempt))
                continue
            if response.status_code not in (200, 207, 422, 503) or "items" not in (
                    body := response.json()):
                raise SendError(f"POST /v1/readings answered {response.status_code}: "
                                f"{_detail(response)}")
            retry: list[int] = []
            for item in body["items"]:
                index = pending[item["index"]]
                if item["status"] == "not_written":
                    retry.append(index)
                else:
                    verdicts[index] = (item["status"], item.get("reason"))
            if not retry:
                return [v or ("rejected", "no answer") for v in verdicts]
            pending = retry
            log.warning("broker did not acknowledge %d readings; resending", len(retry))
            await asyncio.sleep(_retry_after(response, attempt))
        raise SendError(f"gave up after {RETRIES} attempts: the service kept answering "
                        "429/503 (rate limit or broker trouble)")

    async def aclose(self) -> None:
        await self.client.aclose()


def _retry_after(response: httpx.Response, attempt: int) -> float:
    try:
        seconds = float(str(response.headers.get("Retry-After", "")))
        return min(seconds, 30.0)
    except ValueError:
        return min(0.5 * 2.0**attempt, 30.0)


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))[:300]
    except ValueError:
        return response.text[:300]


class KafkaSink:
    """Produce into the readings topic, key = station id, and wait for acks=all."""

    def __init__(self, bootstrap: str, settings: Settings | None = None) -> None:
        # SIAGA_KAFKA_* (SASL, prefix) still apply: a gateway has credentials of its own
        self.settings = (settings or Settings()).model_copy(update={"kafka_bootstrap": bootstrap})
        self.producer = kafka.producer(self.settings, client_id="siaga-simulator")
        self.started = False

    async def send(self, readings: list[Reading]) -> list[Verdict]:
        if not self.started:
            await self.producer.start()
            self.started = True
        futures = [
            await self.producer.send(self.settings.readings_topic,
                                     value=json.dumps(r).encode(),
                                     key=str(r["station_id"]).encode())
            for r in readings
        ]
        await asyncio.gather(*futures)
        return [("accepted", None)] * len(readings)

    async def aclose(self) -> None:
        if self.started:
            await self.producer.stop()


@dataclass
class StationCount:
    sent: int = 0
    accepted: int = 0
    rejected: int = 0


@dataclass
class SendSummary:
    stations: dict[str, StationCount] = field(default_factory=dict)
    reasons: Counter[str] = field(default_factory=Counter)
    first_at: datetime | None = None
    last_at: datetime | None = None
    wall_s: float = 0.0

    def add(self, batch: list[Reading], verdicts: list[Verdict]) -> None:
        for reading, (status, reason) in zip(batch, verdicts, strict=True):
            count = self.stations.setdefault(str(reading["station_id"]), StationCount())
            count.sent += 1
            if status == "accepted":
                count.accepted += 1
            else:
                count.rejected += 1
                self.reasons[reason or "?"] += 1

    @property
    def total(self) -> StationCount:
        out = StationCount()
        for c in self.stations.values():
            out.sent, out.accepted, out.rejected = (
                out.sent + c.sent, out.accepted + c.accepted, out.rejected + c.rejected)
        return out


class Progress:
    """A bar redrawn in place on a terminal; elsewhere a plain line every 10%."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = max(total, 1)
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.shown = -1.0
        self.last_draw = 0.0

    def update(self, done: int, at: datetime, summary: SendSummary) -> None:
        fraction = done / self.total
        total = summary.total
        text = (f"{done}/{self.total} readings  sim {at:%Y-%m-%d %H:%M %z}  "
                f"accepted {total.accepted} rejected {total.rejected}")
        if self.tty:
            now = time.monotonic()
            if now - self.last_draw < 0.1 and done < self.total:
                return
            self.last_draw = now
            bar = "#" * int(30 * fraction)
            self.stream.write(f"\r[{bar:<30}] {100 * fraction:3.0f}% {text}")
        elif fraction - self.shown >= 0.1 or done == self.total:
            self.shown = fraction
            self.stream.write(f"{100 * fraction:3.0f}% {text}\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


async def push(
    readings: list[Reading], sink: Sink, *, speed: float, progress: Progress | None = None,
    batch_max: int = BATCH_MAX, clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> SendSummary:
    """Send in time order. At `speed` > 0 a reading leaves when the wall clock, run
    `speed` times faster, reaches its event time (the first reading leaves at once);
    readings due together go in one request."""
    summary = SendSummary()
    if not readings:
        return summary
    times = [datetime.fromisoformat(r["observed_at"]) for r in readings]
    t0, w0 = times[0].timestamp(), clock()
    summary.first_at, summary.last_at = times[0], times[-1]
    i = 0
    while i < len(readings):
        j = min(len(readings), i + batch_max)
        if speed > 0:
            wait = w0 + (times[i].timestamp() - t0) / speed - clock()
            if wait > 0:
                await sleep(wait)
            due = t0 + (clock() - w0) * speed
            j = i + 1
            while j < len(readings) and j - i < batch_max and times[j].timestamp() <= due:
                j += 1
        batch = readings[i:j]
        summary.add(batch, await sink.send(batch))
        if progress is not None:
            progress.update(j, times[j - 1], summary)
        i = j
    summary.wall_s = clock() - w0
    if progress is not None:
        progress.finish()
    return summary


async def fetch_alerts(base_url: str, *, client: httpx.AsyncClient | None = None,
                       page: int = 10_000, **params: str) -> list[dict[str, Any]]:
    """Every alert the service holds (filtered by `params`), oldest first."""
    own = client is None
    http = client or httpx.AsyncClient(base_url=base_url, timeout=30.0)
    out: list[dict[str, Any]] = []
    cursor: str | None = None
    try:
        while True:
            query = {**params, "limit": str(page), **({"cursor": cursor} if cursor else {})}
            try:
                response = await http.get("/v1/alerts", params=query)
            except httpx.HTTPError as exc:
                raise SendError(f"cannot read alerts from {base_url}: {exc}") from exc
            if response.status_code != 200:
                raise SendError(f"GET /v1/alerts answered {response.status_code}: "
                                f"{_detail(response)}")
            body = response.json()
            out.extend(body["alerts"])
            cursor = body.get("next_cursor")
            if not cursor:
                break
    finally:
        if own:
            await http.aclose()
    out.reverse()
    return out


def format_summary(summary: SendSummary, alerts: list[dict[str, Any]] | None) -> str:
    """The end-of-run table: per station, then the alerts by region and kind."""
    lines = [f"{'station':<22} {'sent':>6} {'accepted':>9} {'rejected':>9}"]
    for station_id in sorted(summary.stations):
        c = summary.stations[station_id]
        lines.append(f"{station_id:<22} {c.sent:>6} {c.accepted:>9} {c.rejected:>9}")
    t = summary.total
    lines.append(f"{'total':<22} {t.sent:>6} {t.accepted:>9} {t.rejected:>9}"
                 f"   in {summary.wall_s:.1f} s")
    for reason, n in summary.reasons.most_common(5):
        lines.append(f"  rejected {n}×: {reason}")
    if alerts is None:
        return "\n".join(lines)
    lines.append(f"alerts seen: {len(alerts)}")
    regions: dict[str, Counter[str]] = {}
    worst: dict[str, int] = {}
    for a in alerts:
        regions.setdefault(a["region_id"], Counter())[a["kind"]] += 1
        if a["msg_type"] != "cancel" and a["kind"] in ("observed", "predicted"):
            worst[a["region_id"]] = min(worst.get(a["region_id"], 4), a["level"])
    for region in sorted(regions):
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(regions[region].items()))
        lines.append(f"  {region:<24} {kinds}; most severe Siaga {worst.get(region, 4)}")
    return "\n".join(lines)
