"""Who gets which alert: pure rules over subscriptions, silences and acks.

In: a subscription, silences, acks, alerts and the network. Out: yes/no
answers, the silence that applies, the default subscription of each region,
the alerts still waiting for an acknowledgement. No I/O, no clock (callers
pass `now`), no Kafka: the API and the router can both use these.

- `matches`: the subscription's station/basin/upstream-region selection, its
  `kinds`, and its `min_level`; a cancel always matches, and so does an update
  that comes down from a level the subscription was given (so a region that
  got "Siaga 2" also hears it fell to "Siaga 3").
- `silencing`: an alert is silenced by a silence of its `station_id` or, for a
  `predicted` alert, of its `upstream_station_id` (the evidence), when its
  `issued_at` is in [starts_at, until).
- `unacknowledged`: see its docstring.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from schemas import Alert, Network
from schemas.silence import SilencePublic
from schemas.subscription import ALL_KINDS, DEFAULT_PREFIX, PullChannel, Subscription


def alert_stations(alert: Alert) -> tuple[str, ...]:
    """The gauges an alert is about: its own, and a predicted alert's upstream evidence."""
    # `upstream_station_id` arrives with the router's predicted alerts (not in every build)
    upstream = getattr(alert, "upstream_station_id", None)
    if isinstance(upstream, str) and upstream != alert.station_id:
        return (alert.station_id, upstream)
    return (alert.station_id,)


def _selected(subscription: Subscription, alert: Alert, network: Network) -> bool:
    if not (subscription.stations or subscription.basins or subscription.upstream_regions):
        return alert.region_id == subscription.region_id
    stations = alert_stations(alert)
    if any(s in subscription.stations for s in stations):
        return True
    if alert.basin in subscription.basins:
        return True
    if subscription.upstream_regions:
        by_id = network.stations_by_id
        regions = {by_id[s].region_id for s in stations if s in by_id}
        if regions & set(subscription.upstream_regions):
            return True
    return False


def matches(subscription: Subscription, alert: Alert, network: Network) -> bool:
    """Whether `alert` is for `subscription` (silences aside: see `silencing`).

    The network says which region a gauge is in, for `upstream_regions`.
    """
    if alert.kind not in subscription.kinds:
        return False
    if not _selected(subscription, alert, network):
        return False
    if alert.msg_type == "cancel":
        return True
    if alert.level <= subscription.min_level:
        return True
    # coming down from a level it was given: it needs to hear that too
    return alert.previous_level is not None and alert.previous_level <= subscription.min_level


def silencing(silences: Iterable[SilencePublic], alert: Alert) -> SilencePublic | None:
    """The silence that keeps `alert` from delivery, or None. First match wins."""
    stations = alert_stations(alert)
    for silence in silences:
        if silence.station_id in stations and silence.covers(alert.issued_at):
            return silence
    return None


def upstream_closure(network: Network, station_ids: Iterable[str]) -> set[str]:
    """The stations plus every gauge upstream of them, following the river links."""
    upstream_of: dict[str, list[str]] = {}
    for link in network.links:
        upstream_of.setdefault(link.downstream, []).append(link.upstream)
    found = set(station_ids)
    todo = list(found)
    while todo:
        for up in upstream_of.get(todo.pop(), []):
            if up not in found:
                found.add(up)
                todo.append(up)
    return found


def default_subscriptions(network: Network, now: datetime) -> list[Subscription]:
    """One per region: its own gauges and all upstream of them, Siaga 3 and worse,
    every kind, both languages, pulled (stream/feed)."""
    defaults = []
    for region in network.regions:
        own = [s.id for s in network.stations if s.region_id == region.id]
        defaults.append(Subscription(
            id=DEFAULT_PREFIX + region.id, region_id=region.id,
            name=f"{region.name}: own gauges and everything upstream",
            stations=sorted(upstream_closure(network, own)), min_level=3,
            kinds=list(ALL_KINDS), language="both", channel=PullChannel(type="pull"),
            created_at=now, updated_at=now, created_by="siaga",
        ))
    return defaults


@dataclass(frozen=True, slots=True)
class UnknownId:
    field: str
    index: int
    value: str

    @property
    def message(self) -> str:
        what = {"stations": "station", "basins": "basin", "upstream_regions": "region",
                "region_id": "region", "station_id": "station"}[self.field]
        return f"unknown {what} {self.value!r}"


def unknown_ids(network: Network, *, region_id: str | None = None,
                stations: Iterable[str] = (), basins: Iterable[str] = (),
                upstream_regions: Iterable[str] = ()) -> list[UnknownId]:
    """Every id the network does not know, with where it was (empty: all known)."""
    regions = network.regions_by_id
    basin_ids = {s.basin for s in network.stations}
    found: list[UnknownId] = []
    if region_id is not None and region_id not in regions:
        found.append(UnknownId("region_id", -1, region_id))
    checks: list[tuple[str, Iterable[str], Mapping[str, object] | set[str]]] = [
        ("stations", stations, network.stations_by_id),
        ("basins", basins, basin_ids),
        ("upstream_regions", upstream_regions, regions),
    ]
    for field, values, known in checks:
        found.extend(UnknownId(field, i, v) for i, v in enumerate(values) if v not in known)
    return found


def _escalates(alert: Alert) -> bool:
    return alert.msg_type == "alert" or (
        alert.previous_level is not None and alert.level < alert.previous_level)


def unacknowledged(alerts: Iterable[Alert], acked: Mapping[str, object]) -> list[Alert]:
    """The latest alert of each open episode at Siaga 2 or 1 that no ack covers.

    An episode is (region_id, station_id, kind) for `observed` and `predicted`
    alerts; it is open while its latest alert is not a cancel. An ack covers the
    episode when it acknowledges any of the episode's alerts issued at or after
    its latest escalation (its first alert, or the latest update to a more
    severe level): acking "Siaga 2" does not cover a later "Siaga 1", but acking
    "Siaga 1" covers a later step down to "Siaga 2". `acked` is keyed by alert id.
    """
    episodes: dict[tuple[str, str, str], list[Alert]] = {}
    for alert in alerts:
        if alert.kind in ("observed", "predicted"):
            episodes.setdefault((alert.region_id, alert.station_id, alert.kind), []).append(alert)
    waiting = []
    for members in episodes.values():
        members.sort(key=lambda a: (a.issued_at, a.observed_at))
        latest = members[-1]
        if latest.msg_type == "cancel" or latest.level > 2:
            continue
        since = max((a.issued_at for a in members if _escalates(a)),
                    default=members[0].issued_at)
        if not any(a.id in acked for a in members if a.issued_at >= since):
            waiting.append(latest)
    waiting.sort(key=lambda a: a.issued_at, reverse=True)
    return waiting
