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
    healthcheck = " ".join(kafka["healthcheck"]["test"])
    assert "kafka-broker-api-versions" in healthcheck
    assert "--command-config" in healthcheck  # the probe must authenticate too


def test_every_kafka_listener_authenticates_and_acls_deny_by_default() -> None:
    env = _compose()["services"]["kafka"]["environment"]
    protocols = dict(pair.split(":") for pair in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
                     .split(","))
    listeners = [entry.split("://")[0] for entry in env["KAFKA_LISTENERS"].split(",")]
    assert listeners and all(protocols[name].startswith("SASL_") for name in listeners)
    assert env["KAFKA_SASL_ENABLED_MECHANISMS"] in ("PLAIN", "SCRAM-SHA-512")
    assert env["KAFKA_AUTHORIZER_CLASS_NAME"].endswith("StandardAuthorizer")
    assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert env["KAFKA_SUPER_USERS"] == "User:admin"
    jaas = env["KAFKA_LISTENER_NAME_CLIENTS_PLAIN_SASL_JAAS_CONFIG"]
    for principal in ("admin", "siaga", "gateway_bogor"):
        assert f'user_{principal}="${{' in jaas  # passwords come from .env, not the file


def _acl_calls() -> list[str]:
    script = _compose()["services"]["kafka-acls"]["command"][0]
    return [call.strip() for call in script.split(";") if "--allow-principal" in call]


def test_a_gateway_principal_may_only_write_and_describe_the_readings_topic() -> None:
    gateway = [call for call in _acl_calls() if "User:gateway_bogor" in call]
    assert len(gateway) == 1
    words = gateway[0].split()
    operations = {words[i + 1] for i, w in enumerate(words) if w == "--operation"}
    assert operations == {"Write", "Describe"}
    assert words[words.index("--topic") + 1] == "siaga.readings"
    assert "--resource-pattern-type" not in words  # literal: that one topic
    assert "--group" not in words and "--cluster" not in words


def test_the_service_principal_gets_its_topics_and_its_group() -> None:
    calls = [call.split() for call in _acl_calls() if "User:siaga" in call]
    topic = next(c for c in calls if "--topic" in c)
    assert topic[topic.index("--topic") + 1] == Settings().topic_prefix + "."
    assert topic[topic.index("--resource-pattern-type") + 1] == "prefixed"
    groups = {c[c.index("--group") + 1] for c in calls if "--group" in c}
    assert groups == {Settings().worker_group, Settings().router_group}


def test_service_roles_point_at_kafka_and_wait_for_it() -> None:
    services = _compose()["services"]
    for role in ("api", "worker", "router", "dispatcher"):
        svc = services[role]
        assert svc["command"] == ["siaga", role]
        assert svc["depends_on"]["kafka"]["condition"] == "service_healthy"
        env = svc["environment"]
        assert env["SIAGA_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert env["SIAGA_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
        assert env["SIAGA_KAFKA_SASL_USERNAME"] == "siaga"
        assert env["SIAGA_KAFKA_SASL_PASSWORD"].startswith("${")  # from .env
        assert env["SIAGA_TOKENS_FILE"].startswith("/run/secrets/")
        assert svc["depends_on"]["kafka-acls"]["condition"] == "service_completed_successfully"
        # every SIAGA_ variable names a real setting
        for name in env:
            assert name.removeprefix("SIAGA_").lower() in Settings.model_fields, name
    api = services["api"]
    assert "8000:8000" in api["ports"]
    assert "/readyz" in " ".join(api["healthcheck"]["test"])
    assert services["worker"]["deploy"]["replicas"] >= 2
    assert services["dispatcher"]["deploy"]["replicas"] == 1  # a single instance delivers


def test_the_image_installs_the_package_and_its_console_command() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install" in dockerfile
    for package in ("schemas", "detectors", "service"):
        assert f"COPY {package} " in dockerfile
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'siaga = "service.cli:main"' in pyproject
