"""One signed POST of one alert to one subscriber, to an address checked just before.

In: the webhook URL, headers and body. Out: nothing on a 2xx; `DeliveryError` (with
`retriable`) otherwise. The host is resolved and every address checked
(`url_safety.resolve_checked`); the request goes to the checked IP with the
original `Host` header (and, for https, the original name as SNI and for
certificate checks), so DNS cannot change the answer between check and connect.

One `Sender` (one httpx client, one connection pool) per subscriber: connections
are pooled by IP, and a pool shared between names on one IP could reuse a TLS
session made for another name. Redirects are never followed. At most
`MAX_RESPONSE_BYTES` of an answer are read.

Deliberately not here: retries, backoff, the circuit breaker (`subscriber`).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit

import httpx

from service.delivery.errors import DeliveryError, classify
from service.delivery.url_safety import IPNetwork, default_port, resolve_checked

MAX_RESPONSE_BYTES = 64 * 1024


class Sender:
    def __init__(self, timeout_s: float, allow: tuple[IPNetwork, ...]) -> None:
        self.allow = allow
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s), follow_redirects=False, trust_env=False,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> int:
        """POST; return the 2xx status or raise `DeliveryError`."""
        host, port = default_port(url)
        addresses = await resolve_checked(host, port, self.allow)
        ip = addresses[0]
        parts = urlsplit(url)
        ip_text = f"[{ip}]" if isinstance(ip, ipaddress.IPv6Address) else str(ip)
        target = urlunsplit((parts.scheme, f"{ip_text}:{port}", parts.path or "/",
                             parts.query, ""))
        headers = {**headers, "Host": parts.netloc.rpartition("@")[2]}
        extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
        try:
            async with self._client.stream("POST", target, content=body, headers=headers,
                                           extensions=extensions) as response:
                read = 0
                async for chunk in response.aiter_raw():
                    read += len(chunk)
                    if read >= MAX_RESPONSE_BYTES:
                        break
                status, answer_headers = response.status_code, response.headers
        except httpx.TimeoutException as exc:
            raise DeliveryError(f"timeout ({type(exc).__name__})", retriable=True) from exc
        except (httpx.TransportError, OSError) as exc:
            raise DeliveryError(f"connection failed: {type(exc).__name__}: {exc}",
                                retriable=True) from exc
        error = classify(status, answer_headers)
        if error is not None:
            raise error
        return status
