"""All configuration in one place, read from `SIAGA_*` environment variables.

Built where it is used (the app's lifespan, the CLI), never at import, so
tests can build as many differently-configured instances as they like.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from detectors import BoundaryRule, DetectorSettings
from service.errors import ConfigError
from service.routing.router import RouterSettings


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIAGA_", extra="ignore")

    # HTTP
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)

    # Kafka. No bootstrap means: `siaga run` starts the embedded broker.
    kafka_bootstrap: str | None = None
    topic_prefix: str = Field(default="siaga", pattern=r"^[A-Za-z0-9._-]+$")
    readings_partitions: int = Field(default=6, ge=1)
    # alerts are few: one partition keeps them in one order for every reader, and the
    # worker's producer then fills one batch of them per linger, not one per partition
    # (reading → alert p99 on the embedded broker: bench/bench_worker.py, README)
    alerts_partitions: int = Field(default=1, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    # None = auto: on for an external Kafka, off for the embedded broker (it has none).
    kafka_idempotence: bool | None = None
    kafka_request_timeout_ms: int = Field(default=10_000, ge=500)
    # HTTP ingest answers once Kafka acknowledged: a short linger keeps POSTs quick
    kafka_linger_ms: int = Field(default=5, ge=0)
    # the worker's and router's producers: fewer, larger produce requests keep the
    # broker's tail latency flat under load (bench/bench_worker.py, README Performance)
    worker_linger_ms: int = Field(default=20, ge=0)
    kafka_fetch_max_wait_ms: int = Field(default=50, ge=0)
    kafka_session_timeout_ms: int = Field(default=10_000, ge=1_000)
    kafka_heartbeat_interval_ms: int = Field(default=1_000, ge=100)
    worker_group: str = "siaga-detectors"
    # records per batch, shared over the worker's partitions: bigger batches amortise
    # Kafka round trips and numpy calls (a batch is only this big when there is a backlog)
    worker_batch_max: int = Field(default=50_000, ge=1)
    # how often the worker writes changed station states to `siaga.state` and commits;
    # a crash re-reads at most this much input (re-emitting the same alert ids)
    checkpoint_interval_s: float = Field(default=1.0, ge=0)
    # restore detector state from `siaga.state` on assignment; off = grade from scratch
    # (a replay with a fresh consumer group then re-derives every alert)
    restore_state: bool = True
    # The service's own Kafka credentials (SASL). Unset = plaintext without
    # authentication, as the embedded broker wants; see docker-compose.yml.
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"] | None = (
        None
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
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
    # Dead letters carry the original bytes up to this size; bigger records are
    # dead-lettered as a truncated copy with headers giving the original size and
    # hash. It stays below the producer's max_request_size (1 MiB) and Kafka's
    # default message.max.bytes, so a dead letter can always be written.
    dlq_max_value_bytes: int = Field(default=512 * 1024, ge=1024, le=900 * 1024)

    # Access (service/auth.py): token lines hold hashes only, never tokens.
    tokens: str | None = Field(default=None, description="Token lines, separated by ';'")
    tokens_file: Path | None = Field(default=None, description="File of token lines")
    public_alerts: bool = Field(default=True, description="Alert feeds readable without token")
    # Token buckets: per token name for callers with a token, per client IP otherwise.
    rate_limit_per_s: float = Field(default=20.0, gt=0)
    rate_limit_burst: int = Field(default=100, ge=1)
    anon_rate_limit_per_s: float = Field(default=5.0, gt=0)
    anon_rate_limit_burst: int = Field(default=30, ge=1)
    max_streams_per_client: int = Field(default=4, ge=1)

    # Router: predictions downstream and reminders (service/routing)
    router_group: str = "siaga-router"
    # a condition that still holds is said again after this long, by level
    repeat_siaga3_s: float = Field(default=6 * 3600.0, gt=0)
    repeat_siaga2_s: float = Field(default=3 * 3600.0, gt=0)
    repeat_siaga1_s: float = Field(default=3600.0, gt=0)
    # an unacknowledged Siaga 2 or 1 is said again after this long, up to this many times
    ack_resend_s: float = Field(default=1800.0, gt=0)
    ack_resend_max: int = Field(default=3, ge=0)

    # Webhook delivery (service/delivery): `siaga dispatcher`
    # an alert not delivered this long after it was published is dead-lettered
    webhook_give_up_s: float = Field(default=24 * 3600.0, gt=0)
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    # retries: full jitter, uniform in [0, min(max, base * 2**attempt)]
    webhook_backoff_base_s: float = Field(default=0.5, gt=0)
    webhook_backoff_max_s: float = Field(default=300.0, gt=0)
    webhook_retry_after_max_s: float = Field(default=3600.0, gt=0)
    # per-subscriber circuit breaker: open after this many failures in a row, for this long
    webhook_breaker_failures: int = Field(default=5, ge=1)
    webhook_breaker_open_s: float = Field(default=30.0, gt=0)
    # alerts held in memory per subscriber; beyond it the subscriber reads its backlog
    # from `siaga.alerts` itself (the topic is the durable backlog)
    webhook_queue_max: int = Field(default=1_000, ge=1)
    # records per partition re-read before the oldest cursor at start, to know which
    # ids were served already (the alerts topic may carry an id twice after a crash)
    webhook_dedupe_lookback: int = Field(default=5_000, ge=0)
    webhook_status_interval_s: float = Field(default=5.0, gt=0)
    # CIDRs (comma-separated) webhooks may reach although private/loopback/reserved
    webhook_allow_nets: str = Field(default="", pattern=r"^[0-9A-Fa-f:.,/ ]*$")

    # Reading alerts
    alerts_memory_max: int = Field(default=500_000, ge=1_000)
    sse_heartbeat_s: float = Field(default=15.0, gt=0)

    # CAP 1.2 and Atom feeds (service/cap.py, service/atom.py). `sender` must be globally
    # unique, by CAP 1.2 usually a mailbox or domain you own; the default says "not set".
    cap_sender: str = Field(default="siaga@example.invalid", pattern=r"^[^\s,<&]+$")
    cap_sender_name: str = Field(default="siaga flood early warning", min_length=1)
    cap_status: Literal["Actual", "Exercise", "System", "Test", "Draft"] = "Actual"
    cap_geocode_name: str = Field(default="BPS", pattern=r"^\S+$")
    cap_circle_radius_km: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    # predicted/rising alerts expire this long after the end of their ETA window
    cap_expires_after_eta_h: float = Field(default=1.0, ge=0, allow_inf_nan=False)
    # an episode's cancel stays in the Atom feed this long, so pollers see the all-clear
    atom_keep_cancels_h: float = Field(default=24.0, ge=0, allow_inf_nan=False)
    # absolute links in CAP `web` and Atom; unset = the URL the request came in on
    public_base_url: str | None = Field(default=None, pattern=r"^https?://\S+$")

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
    def state_topic(self) -> str:
        return self.topic("state")

    @property
    def station_events_topic(self) -> str:
        return self.topic("station-events")

    @property
    def acks_topic(self) -> str:
        return self.topic("acks")

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

    def router_settings(self) -> RouterSettings:
        return RouterSettings(
            repeat_s={3: self.repeat_siaga3_s, 2: self.repeat_siaga2_s,
                      1: self.repeat_siaga1_s},
            ack_resend_s=self.ack_resend_s,
            ack_resend_max=self.ack_resend_max,
        )

    def bootstrap(self) -> str:
        if not self.kafka_bootstrap:
            raise ValueError("SIAGA_KAFKA_BOOTSTRAP is not set and no embedded broker runs")
        return self.kafka_bootstrap

    def idempotence(self) -> bool:
        return bool(self.kafka_idempotence)

    def kafka_security(self) -> dict[str, object]:
        """aiokafka client options for SASL/TLS; empty when nothing is configured."""
        options: dict[str, object] = {}
        if self.kafka_security_protocol is not None:
            options["security_protocol"] = self.kafka_security_protocol
        if self.kafka_sasl_mechanism is not None:
            options["sasl_mechanism"] = self.kafka_sasl_mechanism
        if self.kafka_sasl_username is not None:
            options["sasl_plain_username"] = self.kafka_sasl_username
        if self.kafka_sasl_password is not None:
            options["sasl_plain_password"] = self.kafka_sasl_password.get_secret_value()
        if (self.kafka_security_protocol or "").startswith("SASL") and not (
            self.kafka_sasl_mechanism and self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ConfigError(
                f"SIAGA_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "SIAGA_KAFKA_SASL_MECHANISM, SIAGA_KAFKA_SASL_USERNAME and "
                "SIAGA_KAFKA_SASL_PASSWORD"
            )
        return options

    @property
    def has_tokens(self) -> bool:
        return bool((self.tokens or "").strip()) or self.tokens_file is not None
