"""`siaga run` as a user runs it: a subprocess with the embedded broker, stopped by SIGTERM."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.broker import free_port
from tests.helpers import series


def _wait_ready(base: str, process: subprocess.Popen[str], timeout_s: float = 40.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"siaga run exited early with {process.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError("siaga run did not become ready")


def test_siaga_run_starts_everything_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIAGA_")}
    env.update({"SIAGA_HTTP_PORT": str(port), "SIAGA_KAFKA_SESSION_TIMEOUT_MS": "6000",
                "SIAGA_MIN_DWELL_S": "0"})
    log_path = tmp_path / "siaga.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "run"], env=env, stdout=log,
            stderr=subprocess.STDOUT, text=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process)
        printed = log_path.read_text()
        gateway = re.search(r"export SIAGA_TOKEN=(\S+)", printed)
        operator = re.search(r"export SIAGA_OPERATOR_TOKEN=(\S+)", printed)
        assert gateway and operator, printed
        start = (datetime.now(UTC) - timedelta(hours=6)).replace(microsecond=0)
        readings = {"readings": series("katulampa", start, [60, 90, 160, 210, 120],
                                       step=timedelta(hours=1))}
        refused = httpx.post(f"{base}/v1/readings", json=readings, timeout=10)
        assert refused.status_code == 401
        response = httpx.post(f"{base}/v1/readings", json=readings, timeout=10,
                              headers={"Authorization": f"Bearer {gateway.group(1)}"})
        assert response.status_code == 200, response.text
        status = httpx.get(f"{base}/v1/status", timeout=10,
                           headers={"Authorization": f"Bearer {operator.group(1)}"})
        assert status.status_code == 200
        alerts: list[dict[str, object]] = []
        deadline = time.monotonic() + 10
        while len(alerts) < 4 and time.monotonic() < deadline:
            alerts = httpx.get(f"{base}/v1/alerts", params={
                "region_id": "kota-bogor", "kind": "observed"}).json()["alerts"]
            time.sleep(0.1)
        assert [a["level"] for a in reversed(alerts)] == [3, 2, 1, 3]
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    output = log_path.read_text()
    assert code == 0, output
    # the demo tokens were printed once, for the user, and never logged
    assert output.count(gateway.group(1)) == 1
    match = re.search(r"embedded broker pid (\d+) listening", output)
    assert match, output
    broker_pid = int(match.group(1))
    assert f"embedded broker pid {broker_pid} stopped" in output
    try:
        os.kill(broker_pid, 0)
    except ProcessLookupError:
        pass
    else:
        raise AssertionError(f"embedded broker pid {broker_pid} still runs")


def test_siaga_run_refuses_a_public_address_without_tokens() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIAGA_")}
    env.update({"SIAGA_HTTP_HOST": "0.0.0.0", "SIAGA_HTTP_PORT": str(free_port())})
    done = subprocess.run([sys.executable, "-m", "service.cli", "run"], env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert "refusing to serve on 0.0.0.0 without tokens" in done.stderr
    assert "SIAGA_TOKENS_FILE" in done.stderr
    assert "embedded broker" not in done.stderr  # refused before starting anything


def test_token_mint_prints_the_token_once_and_a_line_holding_only_its_hash() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", "token", "mint", "--kind", "gateway",
         "--stations", "katulampa,depok", "--name", "bogor-gw"],
        capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 0, done.stderr
    lines = [line.strip() for line in done.stdout.splitlines()]
    token = lines[1]
    config = lines[3]
    assert token.startswith("siaga_") and len(token) >= 40
    assert done.stdout.count(token) == 1
    assert config.startswith("bogor-gw gateway sha256:")
    assert config.endswith("stations=katulampa,depok")
    assert hashlib.sha256(token.encode()).hexdigest() in config


@pytest.mark.timeout(150)
def test_the_quick_start_demo_shows_a_flood_and_its_warnings_downstream(
        tmp_path: Path) -> None:
    """`make run` = `siaga run --demo`: within a minute Katulampa rises and Depok and
    Jakarta are warned, as the README says."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIAGA_")}
    env.update({"SIAGA_HTTP_PORT": str(port), "SIAGA_KAFKA_SESSION_TIMEOUT_MS": "6000"})
    log_path = tmp_path / "siaga.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "run", "--demo"], env=env, stdout=log,
            stderr=subprocess.STDOUT, text=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process)
        ready_at = time.monotonic()
        katulampa: list[dict[str, Any]] = []
        predicted: list[dict[str, Any]] = []
        while time.monotonic() - ready_at < 60 and not (katulampa and predicted):
            katulampa = httpx.get(f"{base}/v1/alerts", params={
                "station_id": "katulampa", "kind": "observed"}).json()["alerts"]
            predicted = httpx.get(f"{base}/v1/alerts", params={
                "region_id": "dki-jakarta", "kind": "predicted"}).json()["alerts"]
            time.sleep(0.5)
        seen_after_s = time.monotonic() - ready_at
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    output = log_path.read_text()
    assert code == 0, output
    assert katulampa and predicted, output[-3000:]
    assert seen_after_s < 60
    assert katulampa[-1]["level"] == 3  # the first of the rise
    first = predicted[-1]
    assert (first["station_id"], first["upstream_station_id"]) == ("manggarai", "katulampa")
    assert "siaga demo: simulating a flood day" in output
    assert "Traceback" not in output
