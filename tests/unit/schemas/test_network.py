from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from schemas import Network, SiagaBounds


def _network(**changes: Any) -> dict[str, Any]:
    gauge = {"kind": "water_level", "basin": "b", "region_id": "r",
             "bounds": {"siaga3_cm": 1, "siaga2_cm": 2, "siaga1_cm": 3},
             "valid_range": {"min": 0, "max": 10}}
    net: dict[str, Any] = {
        "regions": [{"id": "r", "name": "R"}],
        "stations": [{"id": "a", "name": "A", **gauge}, {"id": "b", "name": "B", **gauge},
                     {"id": "c", "name": "C", **gauge}],
        "links": [{"upstream": "a", "downstream": "b", "travel_min_h": 1, "travel_max_h": 2}],
    }
    net.update(changes)
    return net


def test_a_small_network_validates() -> None:
    net = Network.model_validate(_network())
    assert net.station("b") is not None and net.station("z") is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"regions": [{"id": "r", "name": "R"}, {"id": "r", "name": "again"}]},
         "duplicate region id 'r'"),
        ({"links": [{"upstream": "a", "downstream": "x", "travel_min_h": 1,
                     "travel_max_h": 2}]}, "unknown station 'x'"),
        ({"links": [{"upstream": "a", "downstream": "b", "travel_min_h": 3,
                     "travel_max_h": 2}]}, "exceeds travel_max_h"),
        ({"links": [{"upstream": "a", "downstream": "b", "travel_min_h": 1, "travel_max_h": 2},
                    {"upstream": "b", "downstream": "c", "travel_min_h": 1, "travel_max_h": 2},
                    {"upstream": "c", "downstream": "a", "travel_min_h": 1,
                     "travel_max_h": 2}]}, "cycle: a -> b -> c -> a"),
    ],
)
def test_inconsistent_networks_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Network.model_validate(_network(**changes))


def test_station_problems_are_named() -> None:
    bad = _network()
    bad["stations"][0]["region_id"] = "nowhere"
    with pytest.raises(ValidationError, match="station 'a' names unknown region 'nowhere'"):
        Network.model_validate(bad)
    bad = _network()
    del bad["stations"][1]["bounds"]
    with pytest.raises(ValidationError, match="water-level station 'b' needs Siaga bounds"):
        Network.model_validate(bad)
    with pytest.raises(ValidationError, match="rise strictly"):
        SiagaBounds(siaga3_cm=150, siaga2_cm=80, siaga1_cm=200)


def test_the_bundled_network_has_the_design_facts(network: Network) -> None:
    bounds = {s.id: s.bounds.as_tuple() for s in network.stations if s.bounds}
    assert bounds["katulampa"] == (80, 150, 200)
    assert bounds["depok"] == (200, 270, 350)
    assert bounds["manggarai"] == (750, 850, 950)
    assert bounds["karet"] == (450, 550, 600)
    assert bounds["pulo-gadung"] == (550, 700, 770)
    assert bounds["pasar-ikan"] == (170, 200, 250)
    regions = {s.id: s.region_id for s in network.stations}
    assert (regions["katulampa"], regions["depok"], regions["manggarai"]) == (
        "kota-bogor", "kota-depok", "dki-jakarta")
    links = {(lk.upstream, lk.downstream): (lk.travel_min_h, lk.travel_max_h)
             for lk in network.links}
    assert links[("katulampa", "depok")] == (3, 4)
    assert links[("depok", "manggarai")] == (6, 7)
    cisadane_regions = [network.stations_by_id[s].region_id for s in (
        "cisadane-batubeulah", "cisadane-empang", "cisadane-serpong", "pintu-air-sepuluh",
        "cisadane-teluknaga")]
    assert cisadane_regions == ["kab-bogor", "kota-bogor", "kota-tangerang-selatan",
                                "kota-tangerang", "kab-tangerang"]
    assert any(s.kind == "rainfall" for s in network.stations)
