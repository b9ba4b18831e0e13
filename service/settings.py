"""All configuration in one place, read from `SIAGA_*` environment variables.

Built where it is used (the app's lifespan, the CLI), never at import, so
tests can build as many differently-configured instances as they like.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from detectors import BoundaryRule, DetectorSettings


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIAGA_", extra="ignore")

    # HTTP
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)

    # Kafka. No bootstrap means: `siaga run` starts the embedded broker.
    kafka_bootstrap: str | None = None
    topic_prefix: str = Field(default="siaga", pattern=r"^[A-Za-z0-9._-]+$")
    readings_partitions: int = Field(default=6, ge=1)
    alerts_partitions: int = Field(default=3, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    # None = auto: on for an external Kafka, off for the embedded broker (it has none).
    kafka_idempotence: bool | None = None
    kafka_request_timeout_ms: int = Field(default=10_000, ge=500)
    kafka_linger_ms: int = Field(default=5, ge=0)
    kafka_fetch_max_wait_ms: int = Field(default=50, ge=0)
    kafka_session_timeout_ms: int = Field(default=10_000, ge=1_000)
    kafka_heartbeat_interval_ms: int = Field(default=1_000, ge=100)
    worker_group: str = "siaga-detectors"
    embedded_broker_port: int = Field(default=0, ge=0, le=65535, description="0 = a free port")

    # Network and detectors (a station's own value in the network file wins)
    network: Path | None = Field(default=None, description="Network file; bundled one if unset")
    boundary_rule: BoundaryRule = "at_or_above"
    deadband_cm: float = Field(default=10.0, ge=0)
    min_dwell_s: float = Field(default=3600.0, ge=0)
    max_rate_cm_per_h: float = Field(default=150.0, gt=0)
    flatline_s: float = Field(default=48 * 3600.0, gt=0)
    flatline_tolerance_cm: float = Field(default=0.5, ge=0)
    trend_window_s: float = Field(default=3600.0, gt=0)
    trend_min_points: int = Field(default=3, ge=2)
    rising_horizon_s: float = Field(default=3600.0, gt=0)
    rising_min_rate_cm_per_h: float = Field(default=10.0, ge=0)
    stale_grace: float = Field(default=2.0, ge=1.0)
    rain_min_dwell_s: float = Field(default=3600.0, ge=0)
    # judge staleness by the wall clock when the worker is idle (caught up);
    # off = event time only, as in a replay
    stale_wall_clock: bool = True

    # Ingest
    max_batch_items: int = Field(default=1_000, ge=1)
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    max_future_skew_s: int = Field(default=300, ge=0)
    ingest_timeout_s: float = Field(default=10.0, gt=0)
    retry_after_s: int = Field(default=5, ge=1)

    # Reading alerts
    alerts_memory_max: int = Field(default=500_000, ge=1_000)
    sse_heartbeat_s: float = Field(default=15.0, gt=0)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    def topic(self, name: str) -> str:
        """Full topic name, e.g. `siaga.readings` for `readings`."""
        return f"{self.topic_prefix}.{name}"

    @property
    def readings_topic(self) -> str:
        return self.topic("readings")

    @property
    def dlq_topic(self) -> str:
        return self.topic("readings.dlq")

    @property
    def alerts_topic(self) -> str:
        return self.topic("alerts")

    @property
    def station_events_topic(self) -> str:
        return self.topic("station-events")

    def detector_settings(self) -> DetectorSettings:
        return DetectorSettings(
            boundary_rule=self.boundary_rule,
            deadband_cm=self.deadband_cm,
            min_dwell_s=self.min_dwell_s,
            max_rate_cm_per_h=self.max_rate_cm_per_h,
            flatline_s=self.flatline_s,
            flatline_tolerance_cm=self.flatline_tolerance_cm,
            trend_window_s=self.trend_window_s,
            trend_min_points=self.trend_min_points,
            rising_horizon_s=self.rising_horizon_s,
            rising_min_rate_cm_per_h=self.rising_min_rate_cm_per_h,
            stale_grace=self.stale_grace,
            rain_min_dwell_s=self.rain_min_dwell_s,
        )

    def bootstrap(self) -> str:
        if not self.kafka_bootstrap:
            raise ValueError("SIAGA_KAFKA_BOOTSTRAP is not set and no embedded broker runs")
        return self.kafka_bootstrap

    def idempotence(self) -> bool:
        return bool(self.kafka_idempotence)
