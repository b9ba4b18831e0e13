"""Which addresses a webhook may reach, and which failures are retried: the rules
alone, and the sender against real sockets on loopback (refused, silent, answering)."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from service.broker import free_port
from service.delivery.errors import DeliveryError, UnsafeAddress, classify
from service.delivery.sender import Sender
from service.delivery.url_safety import check_url, forbidden_reason, parse_nets

LOOPBACK = parse_nets("127.0.0.0/8")


@pytest.mark.parametrize(("address", "what"), [
    ("127.0.0.1", "loopback"), ("127.5.5.5", "loopback"), ("::1", "loopback"),
    ("10.0.0.1", "private"), ("172.16.3.4", "private"), ("192.168.1.1", "private"),
    ("fd12:3456::1", "private"), ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
    ("224.0.0.1", "multicast"), ("ff02::1", "multicast"), ("0.0.0.0", "unspecified"),
    ("::", "unspecified"), ("240.0.0.1", "reserved"), ("100.64.0.1", "globally routable"),
    ("::ffff:10.0.0.1", "private"), ("::ffff:127.0.0.1", "loopback"),
    ("192.0.2.10", "private"), ("2001:db8::1", "private"),
])
def test_addresses_inside_or_unroutable_are_refused(address: str, what: str) -> None:
    reason = forbidden_reason(ipaddress.ip_address(address))
    assert reason is not None and what in reason


@pytest.mark.parametrize("address", ["1.1.1.1", "203.119.1.1", "2606:4700:4700::1111",
                                     "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(address)) is None


def test_the_allowlist_lets_chosen_networks_through_and_no_more() -> None:
    allow = parse_nets("127.0.0.0/8, fd00::/8")
    assert forbidden_reason(ipaddress.ip_address("127.0.0.1"), allow) is None
    assert forbidden_reason(ipaddress.ip_address("fd00::5"), allow) is None
    assert forbidden_reason(ipaddress.ip_address("::1"), allow) is not None
    assert forbidden_reason(ipaddress.ip_address("10.0.0.1"), allow) is not None
    with pytest.raises(ValueError):
        parse_nets("127.0.0.0/33")


async def test_names_are_resolved_before_they_are_judged() -> None:
    assert "loopback" in (await check_url("http://localhost:8080/x", ()) or "")
    assert "loopback" in (await check_url("https://[::1]/x", ()) or "")
    assert await check_url("http://localhost:8080/x", parse_nets("127.0.0.0/8, ::1/128")) is None
    # a name that does not resolve now is accepted here and checked at every delivery
    assert await check_url("https://bpbd.example.invalid/hook", ()) is None


@pytest.mark.parametrize(("status", "retriable"), [
    (500, True), (502, True), (503, True), (504, True), (408, True), (429, True),
    (400, False), (401, False), (403, False), (404, False), (410, False), (422, False),
    (301, False)])
def test_http_answers_are_classified(status: int, retriable: bool) -> None:
    error = classify(status, {"retry-after": "7"})
    assert error is not None and isinstance(error, DeliveryError)
    assert error.retriable is retriable and error.status_code == status
    assert error.retry_after_s == (7.0 if status in (429, 503) else None)
    assert classify(200, {}) is None and classify(204, {}) is None


@asynccontextmanager
async def raw_server(answer: bytes | None,
                     heads: list[bytes] | None = None) -> AsyncIterator[int]:
    """A socket server on loopback: answers `answer` to each request, or never (None);
    the request heads go to `heads`."""
    release = asyncio.Event()
    handlers: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            handlers.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            if heads is not None:
                heads.append(head)
            if answer is None:
                await release.wait()
            else:
                writer.write(answer)
                await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        release.set()
        server.close()
        await asyncio.gather(*handlers, return_exceptions=True)


async def test_connection_refused_and_timeouts_are_retriable() -> None:
    sender = Sender(timeout_s=0.3, allow=LOOPBACK)
    try:
        with pytest.raises(DeliveryError) as refused:
            await sender.post(f"http://127.0.0.1:{free_port()}/x", {}, b"{}")
        assert refused.value.retriable and "connection failed" in str(refused.value)
        async with raw_server(None) as port:
            with pytest.raises(DeliveryError) as silent:
                await sender.post(f"http://127.0.0.1:{port}/x", {}, b"{}")
        assert silent.value.retriable and "timeout" in str(silent.value)
    finally:
        await sender.aclose()


async def test_the_sender_posts_to_the_checked_address_with_the_original_host() -> None:
    sender = Sender(timeout_s=2.0, allow=parse_nets("127.0.0.0/8, ::1/128"))
    try:
        heads: list[bytes] = []
        async with raw_server(b"HTTP/1.1 410 Gone\r\ncontent-length: 0\r\n\r\n",
                              heads) as port:
            with pytest.raises(DeliveryError) as gone:
                await sender.post(f"http://localhost:{port}/x?a=1", {}, b"{}")
        assert not gone.value.retriable and gone.value.status_code == 410
        # connected to the address it checked, and still said which host it meant
        [head] = heads
        assert head.startswith(b"POST /x?a=1 HTTP/1.1\r\n")
        assert f"\r\nHost: localhost:{port}\r\n".encode() in head
        async with raw_server(b"HTTP/1.1 204 No Content\r\n\r\n") as port:
            assert await sender.post(f"http://127.0.0.1:{port}/x", {}, b"{}") == 204
    finally:
        await sender.aclose()
    strict = Sender(timeout_s=2.0, allow=())
    try:
        with pytest.raises(UnsafeAddress) as unsafe:
            await strict.post("http://localhost:9/x", {}, b"{}")
        assert not unsafe.value.retriable and "loopback" in str(unsafe.value)
    finally:
        await strict.aclose()
