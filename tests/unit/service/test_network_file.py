from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.errors import ConfigError
from service.network_file import load_network
from service.settings import Settings


def test_an_operator_file_replaces_the_bundled_network(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    own = tmp_path / "net.json"
    own.write_text(json.dumps({
        "regions": [{"id": "kota-x", "name": "Kota X"}],
        "stations": [{"id": "pos-x", "name": "Pos X", "kind": "water_level", "basin": "x",
                      "region_id": "kota-x",
                      "bounds": {"siaga3_cm": 10, "siaga2_cm": 20, "siaga1_cm": 30},
                      "valid_range": {"min": 0, "max": 100}}],
    }))
    monkeypatch.setenv("SIAGA_NETWORK", str(own))
    network = load_network(Settings().network)
    assert [s.id for s in network.stations] == ["pos-x"]


def test_bad_files_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read network file"):
        load_network(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[[regions]\n")
    with pytest.raises(ConfigError, match="not valid TOML/JSON"):
        load_network(broken)
    wrong = tmp_path / "wrong.toml"
    wrong.write_text('[[regions]]\nid = "r"\nname = "R"\n[[stations]]\nid = "s"\n')
    with pytest.raises(ConfigError, match=r"stations\.0\.name: Field required"):
        load_network(wrong)
