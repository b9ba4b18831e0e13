"""Schemathesis against the service's own OpenAPI schema, over real HTTP, with valid tokens.

Every operation in the schema except the SSE stream (it never ends; its
access and limits are tested in test_access.py and test_limits.py) gets
schema-valid and schema-violating requests. Checks: no 5xx, the status code
is documented, and the body and content type conform to the schema. The
counts are printed (run with `-s` to see them) and written to the JUnit-style
`user_properties` of the test.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from schemas import Network
from service.settings import Settings
from tests.helpers import TOKENS, running_service, series

MAX_EXAMPLES = 150  # per operation and generation mode; the whole run stays under a minute
STREAM_PATH = "/v1/regions/{region_id}/alerts/stream"
# Which valid token each operation is called with: the one its route asks for.
TOKEN_FOR = {("POST", "/v1/readings"): "all-gw", ("GET", "/v1/status"): "ops",
             ("GET", "/v1/whoami"): "jakarta-sub", ("POST", "/v1/silences"): "ops",
             ("DELETE", "/v1/silences/{silence_id}"): "ops"}
METHODS = ("GET ", "POST ", "PATCH ", "DELETE ")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


def _fuzz(schema_doc: dict[str, Any], base_url: str, tally: Counter[str]) -> list[str]:
    """Run every operation in both modes; return the failures (empty when all is well)."""
    schema = schemathesis.openapi.from_dict(schema_doc)
    failures: list[str] = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise AssertionError(f"the service's own schema is invalid: {result.err()}")
        operation = result.ok()
        if operation.path == STREAM_PATH:
            continue
        token = TOKEN_FOR.get((operation.method.upper(), operation.path), "bogor-sub")
        headers = {"Authorization": f"Bearer {TOKENS[token]}"}
        label = f"{operation.method.upper()} {operation.path}"
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _runner(operation, mode, headers, base_url, f"{label} [{mode.value}]", tally,
                        failures)()
            except Unsatisfiable:
                if mode is GenerationMode.POSITIVE:
                    raise
                # an operation without inputs (e.g. /healthz) has no invalid request to make
                tally[f"{label} [negative: nothing to negate]"] += 0
    return failures


def _runner(operation: Any, mode: GenerationMode, headers: dict[str, str], base_url: str,
            label: str, tally: Counter[str], failures: list[str]) -> Any:
    @given(case=operation.as_strategy(generation_mode=mode, headers=headers))
    @hypothesis_settings(
        max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case[Any]) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=10)
        tally["cases"] += 1
        tally[label] += 1
        tally[f"status {response.status_code}"] += 1
        if response.status_code >= 500:
            tally["5xx"] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except AssertionError as exc:  # schemathesis reports failures this way
            failures.append(f"{label} -> {response.status_code}: {str(exc)[:800]}")

    return run


# schemathesis 4.32 draws from `random` inside its strategies, which this hypothesis
# release deprecates; that is schemathesis' business, not a fault of the service.
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@pytest.mark.timeout(120)
async def test_schemathesis_finds_no_5xx_and_no_schema_violation(
    settings: Settings, network: Network
) -> None:
    async with running_service(settings, network) as svc:
        # real alerts first, so the alert routes answer with data and not only 404s
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)
        posted = await svc.gateway.post("/v1/readings", json={
            "readings": series("katulampa", start, [60, 90, 160, 210],
                               step=timedelta(hours=1))})
        assert posted.status_code == 200
        await svc.wait_for_alerts(3, kind="observed")
        schema_doc = (await svc.client.get("/openapi.json")).json()
        tally: Counter[str] = Counter()
        # schemathesis calls are blocking: run them off the loop that serves them
        failures = await asyncio.to_thread(_fuzz, schema_doc, svc.base_url, tally)
    operations = sorted(k for k in tally if k.startswith(METHODS))
    print(f"\nschemathesis: {tally['cases']} cases, {tally['5xx']} responses 5xx")
    for key in operations + sorted(k for k in tally if k.startswith("status ")):
        print(f"  {key}: {tally[key]}")
    covered = {k.split(" [")[0] for k in operations}
    documented = {f"{method.upper()} {path}" for path, item in schema_doc["paths"].items()
                  for method in item if path != STREAM_PATH}
    assert covered == documented
    assert tally["5xx"] == 0
    assert failures == [], "\n".join(failures[:10])
