"""docker-compose.yml is checked offline: no Docker engine runs on our machines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def test_kafka_runs_in_kraft_mode_with_a_healthcheck() -> None:
    kafka = _compose()["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert "kafka-broker-api-versions" in " ".join(kafka["healthcheck"]["test"])


def test_service_roles_point_at_kafka_and_wait_for_it() -> None:
    services = _compose()["services"]
    for role in ("api", "worker"):
        svc = services[role]
        assert svc["command"] == ["siaga", role]
        assert svc["depends_on"]["kafka"]["condition"] == "service_healthy"
        env = svc["environment"]
        assert env["SIAGA_KAFKA_BOOTSTRAP"] == "kafka:9092"
        # every SIAGA_ variable names a real setting
        for name in env:
            assert name.removeprefix("SIAGA_").lower() in Settings.model_fields, name
    api = services["api"]
    assert "8000:8000" in api["ports"]
    assert "/readyz" in " ".join(api["healthcheck"]["test"])
    assert services["worker"]["deploy"]["replicas"] >= 2


def test_the_image_installs_the_package_and_its_console_command() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install" in dockerfile
    for package in ("schemas", "detectors", "service"):
        assert f"COPY {package} " in dockerfile
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'siaga = "service.cli:main"' in pyproject
