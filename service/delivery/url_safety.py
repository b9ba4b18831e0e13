"""Which addresses a webhook may reach (SSRF protection), checked twice.

In: a webhook URL (or host and port) and the allowlist (`SIAGA_WEBHOOK_ALLOW_NETS`,
CIDRs). Out: a reason to refuse, or the checked IP addresses to connect to.

Refused unless allowlisted: loopback, link-local, private, shared (100.64/10),
multicast, reserved, unspecified and every other not globally routable range, IPv4
and IPv6 (an IPv4-mapped IPv6 address is judged as its IPv4 address). A name is
refused if *any* address it resolves to is refused.

- At subscription create/patch (`check_url`): a literal IP or a name that resolves
  to a refused address is a 422. A name that does not resolve (yet) is accepted:
  it is checked again at every delivery.
- At delivery (`resolve_checked`): resolve, check every address, and the sender
  connects to a checked address (not to the name again), so a DNS answer that
  changes between check and connect (rebinding) cannot steer the POST inside.

Deliberately not here: the HTTP request itself (`sender`), redirects (never followed).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from service.delivery.errors import DeliveryError, UnsafeAddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
RESOLVE_TIMEOUT_S = 5.0


def parse_nets(text: str) -> tuple[IPNetwork, ...]:
    """`"127.0.0.0/8, ::1/128"` → networks. Raises ValueError on a malformed CIDR."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False)
                 for part in text.split(",") if part.strip())


def forbidden_reason(ip: IPAddress, allow: tuple[IPNetwork, ...] = ()) -> str | None:
    """Why siaga may not POST to `ip`, or None if it may."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip.version == net.version and ip in net for net in allow):
        return None
    for what, flag in (("loopback", ip.is_loopback), ("link-local", ip.is_link_local),
                       ("multicast", ip.is_multicast), ("unspecified", ip.is_unspecified),
                       ("reserved", ip.is_reserved), ("private", ip.is_private)):
        if flag:
            return f"{ip} is {'an' if what[0] in 'aeiou' else 'a'} {what} address"
    if not ip.is_global:
        return f"{ip} is not a globally routable address"
    return None


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (a literal IP: itself). Raises OSError/TimeoutError."""
    literal = _literal(host)
    if literal is not None:
        return [literal]
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(RESOLVE_TIMEOUT_S):
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        # IPv6 sockaddrs carry a scope after a '%' for link-local names
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if ip not in found:
            found.append(ip)
    return found


async def resolve_checked(host: str, port: int, allow: tuple[IPNetwork, ...]
                          ) -> list[IPAddress]:
    """The addresses to connect to, all checked. A refused address raises `UnsafeAddress`
    (not retriable); a name that does not resolve raises a retriable `DeliveryError`."""
    try:
        addresses = await resolve(host, port)
    except (OSError, TimeoutError, ValueError) as exc:  # ValueError: e.g. a bad IDNA label
        raise DeliveryError(f"cannot resolve {host}: {exc}", retriable=True) from exc
    if not addresses:
        raise DeliveryError(f"{host} resolves to no address", retriable=True)
    for ip in addresses:
        reason = forbidden_reason(ip, allow)
        if reason is not None:
            raise UnsafeAddress(f"webhook host {host} refused: {reason}")
    return addresses


def default_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return host, parts.port or (443 if parts.scheme == "https" else 80)


async def check_url(url: str, allow: tuple[IPNetwork, ...]) -> str | None:
    """For create/patch: a reason to refuse the URL now, or None. Names that do not
    resolve now are accepted (and checked at each delivery)."""
    try:
        host, port = default_port(url)
    except ValueError as exc:  # e.g. a port out of range
        return f"webhook url is malformed: {exc}"
    try:
        await resolve_checked(host, port, allow)
    except UnsafeAddress as exc:
        return str(exc)
    except DeliveryError:
        return None
    return None
