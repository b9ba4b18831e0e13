"""`siaga replay` and `siaga score` as a user runs them, against a real service instance.

The CLI runs as a subprocess (the real `siaga` entry point) while the service (detector
worker + uvicorn, embedded broker) runs in the test's event loop.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from schemas import Network
from service.settings import Settings
from tests.helpers import TOKENS, running_service

WINDOW = ["--from", "2025-03-02 00:00", "--to", "2025-03-05 00:00"]


async def _siaga(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service.cli", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _bad_copy(source: Path, bad: Path) -> Path:
    """The first 200 lines of the real file, Katulampa unreadable on line 151."""
    lines = source.read_text("utf-8").splitlines()[:200]
    cells = lines[150].split(",")
    lines[150] = ",".join([cells[0], "tinggi", *cells[2:]])
    bad.write_text("\n".join(lines) + "\n")
    return bad


def _read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


@pytest.mark.timeout(150)
async def test_march_2025_replay_gives_depok_siaga_1_and_the_score_calls_it_a_hit(
    settings: Settings, network: Network, ciliwung_csv: Path, tmp_path: Path
) -> None:
    bad = _bad_copy(ciliwung_csv, tmp_path / "bad.csv")
    async with running_service(settings, network) as svc:
        token = ["--url", svc.base_url, "--token", TOKENS["all-gw"]]
        # a bad file: exit 2, the line and column named, not one reading accepted
        code, _, err = await _siaga("replay", str(bad), *token)
        assert code == 2
        assert "bad.csv: line 151, column 'Katulampa (air)': not a number: 'tinggi'" in err
        status = (await svc.operator.get("/v1/status")).json()
        assert status["counts"]["readings_accepted_here"] == 0

        code, out, err = await _siaga("replay", str(ciliwung_csv), *WINDOW, *token,
                                      "--settle", "0", "--no-alerts")
        assert code == 0, err
        assert "replaying 216 readings (wide form, depok, katulampa, manggarai)" in err
        assert "total                     216       216         0" in out

        async def depok_siaga_1() -> list[str]:
            page = (await svc.client.get("/v1/alerts", params={
                "station_id": "depok", "kind": "observed", "limit": 1000})).json()
            return sorted(a["observed_at"] for a in page["alerts"]
                          if a["level"] == 1 and a["msg_type"] != "cancel")

        for _ in range(200):
            if len(await depok_siaga_1()) >= 2:
                break
            await asyncio.sleep(0.05)
        # both waves: 380 cm at 01:00 on 3 Mar, 350 cm at 01:00 on 4 Mar (the hourly
        # record's sample; the official announcement said 00:40)
        assert await depok_siaga_1() == ["2025-03-03T01:00:00+07:00",
                                         "2025-03-04T01:00:00+07:00"]
        # the router warned Jakarta of Katulampa's water: Manggarai, 9-11 h ahead
        jakarta = await svc.wait_for_alerts(1, timeout_s=20, region_id="dki-jakarta",
                                            kind="predicted", station_id="manggarai")
        first = min(jakarta, key=lambda a: a["observed_at"])
        assert (first["upstream_station_id"], first["observed_at"], first["eta_from"],
                first["eta_to"]) == ("katulampa", "2025-03-02T20:00:00+07:00",
                                     "2025-03-03T05:00:00+07:00", "2025-03-03T07:00:00+07:00")

        report = tmp_path / "score.json"
        code, out, err = await _siaga("score", str(ciliwung_csv), *WINDOW,
                                      "--url", svc.base_url, "--json", str(report))
        assert code == 0, err
    data = _read_json(report)
    depok = next(s for s in data["stations"] if s["station_id"] == "depok")
    siaga1 = [e for e in depok["escalations"] if e["level"] == 1]
    assert [(e["crossing"], e["hit"], e["delay_min"]) for e in siaga1] == [
        ("2025-03-03T01:00:00+07:00", True, 0.0), ("2025-03-04T01:00:00+07:00", True, 0.0)]
    assert "depok            1  2025-03-04 01:00  2025-03-04 01:00  hit       +0 min" in out
    # the worker stamps issued_at with the wall clock: the score times alerts by evidence
    assert data["event_timed_alerts"] == data["alerts_considered"] > 0
    assert (data["hits"], data["misses"], len(data["false_alarms"])) == (13, 0, 0)
    assert "manggarai 795 cm at 2025-03-04 00:00 left out" in out
    # Jakarta's lead time: Katulampa's Siaga 3 at 20:00 on 2 March, Manggarai's at 07:00
    manggarai = next(s for s in data["stations"] if s["station_id"] == "manggarai")
    first_wave = next(e for e in manggarai["escalations"] if e["level"] == 3)
    assert (first_wave["crossing"], first_wave["predicted_at"], first_wave["lead_min"]) == (
        "2025-03-03T07:00:00+07:00", "2025-03-02T20:00:00+07:00", 660.0)
