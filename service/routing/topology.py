"""The river network as routes: which gauge's water reaches which region, and when.

A route runs from a source gauge to the first gauge of a region on a path
downstream of it (its *entry gauge* for that region): water at Katulampa
enters DKI Jakarta at Manggarai, so Katulampa → (dki-jakarta, manggarai), not
→ Karet. Travel times add up along the path; the expected levels compose
(Katulampa Siaga 2 → Depok Siaga 1 → Manggarai Siaga 3).
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas import Network, RiverLink


@dataclass(frozen=True, slots=True)
class Route:
    source: str
    target: str  # the entry gauge of `region_id` on this path
    region_id: str
    travel_min_h: float
    travel_max_h: float
    expected: dict[int, int]  # source level -> level expected at the target
    via: tuple[str, ...]  # gauges between source and target

    def expected_level(self, source_level: int) -> int | None:
        return self.expected.get(source_level)


def routes_by_source(network: Network) -> dict[str, list[Route]]:
    """For each gauge with anything downstream, its routes, nearest first."""
    links: dict[str, list[RiverLink]] = {}
    for link in network.links:
        links.setdefault(link.upstream, []).append(link)
    stations = network.stations_by_id
    out: dict[str, list[Route]] = {}
    for source in links:
        found: dict[tuple[str, str], Route] = {}
        # (gauge, min_h, max_h, expected, via, regions already entered)
        stack: list[tuple[str, float, float, dict[int, int], tuple[str, ...], frozenset[str]]]
        stack = [(source, 0.0, 0.0, {1: 1, 2: 2, 3: 3}, (), frozenset())]
        while stack:
            gauge, lo, hi, expected, via, entered = stack.pop()
            for link in links.get(gauge, []):
                target = link.downstream
                region = stations[target].region_id
                composed = _compose(expected, link.expected_levels)
                t_lo, t_hi = lo + link.travel_min_h, hi + link.travel_max_h
                if region not in entered:
                    key = (region, target)
                    route = Route(source, target, region, t_lo, t_hi, composed, via)
                    found[key] = _merge(found.get(key), route)
                stack.append((target, t_lo, t_hi, composed, (*via, target),
                              entered | {region}))
        out[source] = sorted(found.values(), key=lambda r: (r.travel_min_h, r.target))
    return out


def _compose(first: dict[int, int], then: dict[int, int]) -> dict[int, int]:
    out = {}
    for level, mid in first.items():
        if mid == 4:
            out[level] = 4  # normal water upstream keeps the next gauge normal
        elif mid in then:
            out[level] = then[mid]
    return out


def _merge(old: Route | None, new: Route) -> Route:
    """Two paths to the same gauge (a confluence): the widest window, the worst level."""
    if old is None:
        return new
    expected = dict(old.expected)
    for level, value in new.expected.items():
        expected[level] = min(value, expected.get(level, 4))
    return Route(new.source, new.target, new.region_id,
                 min(old.travel_min_h, new.travel_min_h),
                 max(old.travel_max_h, new.travel_max_h), expected,
                 old.via if len(old.via) <= len(new.via) else new.via)
