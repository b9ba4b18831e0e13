"""Every aiokafka client siaga makes carries the SASL settings, and only when they are set."""

from __future__ import annotations

import pytest

from service import kafka
from service.errors import ConfigError
from service.settings import Settings


async def _client_options(settings: Settings) -> list[dict[str, object]]:
    """The connection options as each client (producer, consumer, admin) holds them."""
    producer, consumer = kafka.producer(settings), kafka.consumer(settings)
    admin = kafka.admin_client(settings)
    try:
        return [{
            "security_protocol": inner._security_protocol,
            "sasl_mechanism": inner._sasl_mechanism,
            "username": inner._sasl_plain_username,
            "password": inner._sasl_plain_password,
        } for inner in (producer.client, consumer._client, admin._client)]
    finally:
        await producer.stop()
        await consumer.stop()
        await admin.close()


async def test_sasl_credentials_reach_producer_consumer_and_admin() -> None:
    settings = Settings(
        kafka_bootstrap="kafka:9092", kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="SCRAM-SHA-512", kafka_sasl_username="siaga",
        kafka_sasl_password="s3cret",
    )
    expected = {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
                "username": "siaga", "password": "s3cret"}
    assert await _client_options(settings) == [expected] * 3
    assert "s3cret" not in repr(settings)


async def test_without_sasl_settings_clients_speak_plaintext_as_the_embedded_broker_wants(
) -> None:
    for options in await _client_options(Settings(kafka_bootstrap="127.0.0.1:9092")):
        assert options["security_protocol"] == "PLAINTEXT"
        assert options["username"] is None and options["password"] is None


def test_sasl_without_credentials_is_a_config_error() -> None:
    settings = Settings(kafka_bootstrap="kafka:9092", kafka_security_protocol="SASL_PLAINTEXT")
    with pytest.raises(ConfigError, match="SIAGA_KAFKA_SASL_USERNAME"):
        settings.kafka_security()
