"""Routes of the bundled network, and the expected levels learnt from the real record."""

from __future__ import annotations

import csv
from pathlib import Path

from schemas import Network
from service.routing import routes_by_source
from service.routing.learn import learn_expected_levels


def test_katulampa_water_enters_depok_then_jakarta_at_manggarai(network: Network) -> None:
    routes = routes_by_source(network)["katulampa"]
    summary = [(r.region_id, r.target, r.travel_min_h, r.travel_max_h) for r in routes]
    # Karet is Jakarta too, but Jakarta already hears of this water at Manggarai
    assert summary == [("kota-depok", "depok", 3, 4), ("dki-jakarta", "manggarai", 9, 11)]
    to_jakarta = routes[1]
    assert to_jakarta.via == ("depok",)
    # Katulampa Siaga 2 -> Depok Siaga 1 -> Manggarai Siaga 3: composed along the path
    assert to_jakarta.expected == {1: 3, 2: 3, 3: 3}
    assert routes[0].expected == {1: 1, 2: 1, 3: 3}


def test_a_gauge_in_a_region_warns_its_own_downstream_gauge(network: Network) -> None:
    (karet,) = routes_by_source(network)["manggarai"]
    assert (karet.region_id, karet.target, karet.travel_min_h, karet.travel_max_h) == (
        "dki-jakarta", "karet", 0.75, 1.25)
    assert karet.expected == {}  # no record for this link: no expectation


def test_cisadane_travel_times_add_up_to_the_sea(network: Network) -> None:
    routes = {r.target: r for r in routes_by_source(network)["cisadane-batubeulah"]}
    assert set(routes) == {"cisadane-empang", "cisadane-serpong", "pintu-air-sepuluh",
                           "cisadane-teluknaga"}
    teluknaga = routes["cisadane-teluknaga"]
    assert (teluknaga.travel_min_h, teluknaga.travel_max_h) == (1 + 4 + 2 + 2, 2 + 6 + 3 + 3)


def _column(rows: list[dict[str, str]], name: str) -> list[float | None]:
    return [float(r[name]) if r[name] else None for r in rows]


def test_the_bundled_expected_levels_are_the_ones_the_record_teaches(
        network: Network, ciliwung_csv: Path) -> None:
    with ciliwung_csv.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    levels = {s: _column(rows, f"{s.capitalize()} (air)")
              for s in ("katulampa", "depok", "manggarai")}
    stations = network.stations_by_id
    for link in network.links:
        if link.upstream not in levels or link.downstream not in levels:
            continue
        up, down = stations[link.upstream], stations[link.downstream]
        assert up.bounds is not None and down.bounds is not None
        learnt = learn_expected_levels(levels[up.id], up.bounds, levels[down.id], down.bounds,
                                       link.travel_min_h, link.travel_max_h)
        assert learnt == link.expected_levels, (link.upstream, link.downstream)
    # what that means: a Katulampa Siaga 2 has usually brought Depok to Siaga 1
    assert network.links[0].expected_levels[2] == 1
