"""One root error with a `retriable` flag, as aiokafka does it."""

from __future__ import annotations

from typing import Any


class SiagaError(Exception):
    """Root of siaga's own errors. `retriable` says whether trying again may help."""

    retriable: bool = False

    def __init__(self, message: str, *, retriable: bool | None = None) -> None:
        super().__init__(message)
        if retriable is not None:
            self.retriable = retriable


class ConfigError(SiagaError):
    """The configuration (settings, network file) is unusable; fix it and restart."""


class BrokerUnavailable(SiagaError):
    """Kafka did not acknowledge in time; the same request may succeed later.

    `partial` carries per-item results when some items of a batch were written.
    """

    retriable = True

    def __init__(self, message: str, *, partial: list[Any] | None = None) -> None:
        super().__init__(message)
        self.partial = partial or []


class EmbeddedBrokerError(SiagaError):
    """The embedded broker could not be started."""
