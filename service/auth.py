"""Bearer tokens: how they are minted, configured as hashes, and checked.

In: token configuration lines (from `SIAGA_TOKENS` and/or `SIAGA_TOKENS_FILE`)
and the bearer token a caller presents. Out: a `TokenRegistry` that answers
"who is this?" with an `Identity` (name, kind, scope) or `None`.

One configuration line per token, fields separated by spaces::

    <name> <kind> sha256:<64 hex> [stations=a,b|*] [regions=r1,r2] [region=r]

- `gateway` tokens need `stations=` and/or `regions=`: a gateway may report
  the listed stations plus every station of the listed regions; `stations=*`
  means every station of the network (the demo gateway of `siaga run`).
- `subscriber` tokens need exactly one `region=`: the region (kabupaten/kota,
  or the agency serving it) whose subscriptions and acknowledgements it owns.
- `operator` tokens take no scope: they act for the whole hub.

Tokens are 256 random bits (`secrets.token_urlsafe(32)`), so a fast unsalted
SHA-256 is the right hash: there is no dictionary to attack and nothing a
slow KDF would add except latency on every request. Comparison is constant
time (`hmac.compare_digest`) and runs over every entry, so timing says
nothing about which entry or how many bytes matched. Several entries may
share a name (rotation: add the new token, move the gateway, drop the old).

Deliberately not here: HTTP (see `service.api.security`), rate limits, and
any storage of plain tokens. Nothing in this module logs a token or a hash.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from schemas import Network
from service.errors import ConfigError

TokenKind = Literal["gateway", "subscriber", "operator"]
TOKEN_KINDS: tuple[str, ...] = get_args(TokenKind)

# Names travel in Kafka headers and logs, so keep them plain.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_DIGEST_PATTERN = re.compile(r"^sha256:([0-9a-f]{64})$")
_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
# A prefix lets secret scanners and humans recognise a leaked siaga token.
TOKEN_PREFIX = "siaga_"
MAX_TOKEN_CHARS = 512
ALL_STATIONS = "*"


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a valid token belongs to. `stations` is `None` for "every station"."""

    name: str
    kind: TokenKind
    stations: frozenset[str] | None = frozenset()
    region: str | None = None

    def may_report(self, station_id: str) -> bool:
        if self.kind != "gateway":
            return False
        return self.stations is None or station_id in self.stations


@dataclass(frozen=True, slots=True)
class TokenEntry:
    """One configuration line, before station scopes are resolved against a network."""

    name: str
    kind: TokenKind
    digest: bytes
    stations: frozenset[str] | None = frozenset()  # None = every station
    regions: frozenset[str] = frozenset()
    region: str | None = None


def mint_token() -> str:
    """A new random token (256 bits of entropy). Shown once; only its hash is kept."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def digest_of(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def config_line(
    name: str,
    kind: TokenKind,
    token: str,
    *,
    stations: Iterable[str] = (),
    regions: Iterable[str] = (),
    region: str | None = None,
) -> str:
    """The line to add to `SIAGA_TOKENS_FILE` for `token`; it is parsed back to check it."""
    parts = [name, kind, "sha256:" + digest_of(token).hex()]
    stations, regions = list(stations), list(regions)
    if stations:
        parts.append("stations=" + ",".join(stations))
    if regions:
        parts.append("regions=" + ",".join(regions))
    if region is not None:
        parts.append("region=" + region)
    line = " ".join(parts)
    parse_line(line)
    return line


def parse_line(line: str) -> TokenEntry:
    """One configuration line → an entry; `ConfigError` naming what is wrong."""
    fields = line.split()
    if len(fields) < 3:
        raise ConfigError(f"token entry {_shorten(line)!r}: expected '<name> <kind> sha256:<hex>'")
    name, kind, digest_text, *scope_fields = fields
    if not NAME_PATTERN.match(name):
        raise ConfigError(f"token entry {name!r}: name must match {NAME_PATTERN.pattern}")
    if kind not in TOKEN_KINDS:
        raise ConfigError(f"token entry {name!r}: kind must be one of {', '.join(TOKEN_KINDS)}")
    match = _DIGEST_PATTERN.match(digest_text)
    if match is None:
        raise ConfigError(
            f"token entry {name!r}: the third field must be 'sha256:' and 64 lowercase hex "
            "digits (the hash, never the token itself; see `siaga token mint`)"
        )
    scope: dict[str, list[str]] = {}
    for item in scope_fields:
        key, sep, value = item.partition("=")
        if not sep or key not in ("stations", "regions", "region") or key in scope:
            raise ConfigError(f"token entry {name!r}: unexpected field {_shorten(item)!r}")
        ids = [v for v in value.split(",") if v]
        if not ids:
            raise ConfigError(f"token entry {name!r}: {key}= names nothing")
        for ident in ids:
            if not (_ID_PATTERN.match(ident) or (key == "stations" and ident == ALL_STATIONS)):
                raise ConfigError(
                    f"token entry {name!r}: {_shorten(ident)!r} is not a valid {key} id"
                )
        scope[key] = ids
    return _entry(name, kind, bytes.fromhex(match.group(1)), scope)  # type: ignore[arg-type]


def _entry(name: str, kind: TokenKind, digest: bytes, scope: dict[str, list[str]]) -> TokenEntry:
    if kind == "operator":
        if scope:
            raise ConfigError(f"token entry {name!r}: an operator token takes no scope")
        return TokenEntry(name, kind, digest)
    if kind == "subscriber":
        region = scope.get("region", [])
        if set(scope) != {"region"} or len(region) != 1:
            raise ConfigError(f"token entry {name!r}: a subscriber token needs exactly one "
                              "region=<region id>")
        return TokenEntry(name, kind, digest, region=region[0])
    if "region" in scope or not scope:
        raise ConfigError(f"token entry {name!r}: a gateway token needs stations= and/or "
                          "regions= (region= is for subscribers)")
    station_ids = scope.get("stations", [])
    if ALL_STATIONS in station_ids and len(station_ids) > 1:
        raise ConfigError(f"token entry {name!r}: stations=* stands alone")
    stations = None if station_ids == [ALL_STATIONS] else frozenset(station_ids)
    return TokenEntry(name, kind, digest, stations=stations,
                      regions=frozenset(scope.get("regions", [])))


def parse_lines(text: str, source: str) -> list[TokenEntry]:
    """Entries from text: one per line or separated by `;`; `#` starts a comment."""
    entries = []
    for number, raw in enumerate(text.splitlines(), start=1):
        for chunk in raw.split("#", 1)[0].split(";"):
            if chunk.strip():
                try:
                    entries.append(parse_line(chunk.strip()))
                except ConfigError as exc:
                    raise ConfigError(f"{source}, line {number}: {exc}") from None
    return entries


class TokenRegistry:
    """The configured tokens, with gateway scopes resolved against the network."""

    def __init__(self, entries: Iterable[TokenEntry], network: Network) -> None:
        self._entries: list[tuple[bytes, Identity]] = []
        seen: set[bytes] = set()
        for entry in entries:
            if entry.digest in seen:
                raise ConfigError(f"token entry {entry.name!r}: the same token is configured "
                                  "twice")
            seen.add(entry.digest)
            self._entries.append((entry.digest, _resolve(entry, network)))
        self._gateways: dict[str, list[Identity]] = {}
        for _, identity in self._entries:
            if identity.kind == "gateway":
                self._gateways.setdefault(identity.name, []).append(identity)

    @classmethod
    def from_sources(cls, inline: str | None, file: Path | None, network: Network
                     ) -> TokenRegistry:
        entries = parse_lines(inline or "", "SIAGA_TOKENS")
        if file is not None:
            try:
                text = file.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"cannot read SIAGA_TOKENS_FILE {file}: {exc.strerror}"
                                  ) from None
            entries += parse_lines(text, str(file))
        return cls(entries, network)

    def __len__(self) -> int:
        return len(self._entries)

    def verify(self, token: str) -> Identity | None:
        """The identity of a presented token, or `None`. Constant time in the token."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        presented = digest_of(token)
        found: Identity | None = None
        for digest, identity in self._entries:
            # no early exit: every entry is compared whatever matched before
            if hmac.compare_digest(presented, digest):
                found = identity
        return found

    def gateway_may_report(self, gateway: str, station_id: str) -> bool | None:
        """Whether the gateway of that name may report the station; `None`: no such gateway.

        With rotation a name may have several entries; they share one scope in
        practice, and any of them permitting the station is enough.
        """
        identities = self._gateways.get(gateway)
        if not identities:
            return None
        return any(identity.may_report(station_id) for identity in identities)


def _resolve(entry: TokenEntry, network: Network) -> Identity:
    """Check every id against the network: a typo must fail at start, not deny silently."""
    unknown_regions = sorted((entry.regions | ({entry.region} if entry.region else set()))
                             - set(network.regions_by_id))
    if unknown_regions:
        raise ConfigError(f"token entry {entry.name!r}: unknown region(s) "
                          f"{', '.join(unknown_regions)}")
    if entry.kind != "gateway":
        return Identity(entry.name, entry.kind, frozenset(), entry.region)
    if entry.stations is None:
        return Identity(entry.name, "gateway", None)
    unknown = sorted(s for s in entry.stations if network.station(s) is None)
    if unknown:
        raise ConfigError(f"token entry {entry.name!r}: unknown station(s) {', '.join(unknown)}")
    in_regions = {s.id for s in network.stations if s.region_id in entry.regions}
    return Identity(entry.name, "gateway", entry.stations | in_regions)


def _shorten(text: str) -> str:
    # a misconfigured line might hold a plain token: never echo much of it
    return text[:12] + "…" if len(text) > 12 else text
