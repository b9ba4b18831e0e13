"""Load the station network: the bundled one, or the operator's file (TOML or JSON)."""

from __future__ import annotations

import json
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from schemas import Network
from service.errors import ConfigError


def load_network(path: Path | None = None) -> Network:
    """Parse and validate a network file; `None` loads the bundled network."""
    if path is None:
        text = resources.files("service").joinpath("data/network.toml").read_text("utf-8")
        return _validate(_parse(text, "network.toml"), "bundled network.toml")
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read network file {path}: {exc}") from exc
    return _validate(_parse(text, path.name), str(path))


def _parse(text: str, name: str) -> dict[str, Any]:
    try:
        if name.endswith(".json"):
            data = json.loads(text)
        else:
            data = tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"network file {name} is not valid TOML/JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"network file {name} must hold a table/object at the top")
    return data


def _validate(data: dict[str, Any], where: str) -> Network:
    try:
        return Network.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"network file {where} is invalid: {problems}") from exc
