"""The webhook signature: a known vector (computed with `openssl dgst -hmac`), and verify."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from service.delivery.signing import delivery_headers, signature, verify

SECRET = "siaga-test-secret-0123"
BODY = b'{"id":"abc"}'
# printf '1700000000.{"id":"abc"}' | openssl dgst -sha256 -hmac 'siaga-test-secret-0123'
VECTOR = "sha256=53d820c69589f06ea92d8aeae9f0d66da30ab4bea68856ee2dc40f345fec2df1"


def test_signature_matches_a_vector_computed_by_openssl() -> None:
    assert signature(SECRET, 1700000000, BODY) == VECTOR


def test_headers_carry_the_id_timestamp_and_signature() -> None:
    headers = delivery_headers(secret=SECRET, alert_id="abc", subscription_id="sub-1",
                               body=BODY, attempt=2, language="id", timestamp=1700000000)
    assert headers["X-Siaga-Signature"] == VECTOR
    assert headers["X-Siaga-Timestamp"] == "1700000000"
    assert headers["Idempotency-Key"] == headers["X-Siaga-Alert-Id"] == "abc"
    assert headers["X-Siaga-Delivery-Attempt"] == "2"
    assert headers["Content-Language"] == "id"
    unsigned = delivery_headers(secret=None, alert_id="abc", subscription_id="s", body=BODY,
                                attempt=1, language="both")
    assert "X-Siaga-Signature" not in unsigned


def test_verify_accepts_the_right_signature_only_and_refuses_old_timestamps() -> None:
    assert verify(SECRET, "1700000000", BODY, VECTOR, now=1700000100)
    assert not verify(SECRET, "1700000000", BODY + b" ", VECTOR, now=1700000100)
    assert not verify("another-secret-000000", "1700000000", BODY, VECTOR, now=1700000100)
    assert not verify(SECRET, "1700000001", BODY, VECTOR, now=1700000100)
    assert not verify(SECRET, "1700000000", BODY, VECTOR, now=1700000000 + 301)
    assert not verify(SECRET, "soon", BODY, VECTOR)


def test_the_readme_snippet_for_receivers_verifies_a_real_delivery() -> None:
    readme = (Path(__file__).resolve().parents[4] / "README.md").read_text()
    found = re.search(r"```python\n(import hashlib.*?)```", readme, re.S)
    assert found is not None
    assert len(found.group(1).strip().splitlines()) == 5
    namespace: dict[str, Any] = {}
    exec(found.group(1), namespace)  # the snippet exactly as receivers will copy it
    headers = delivery_headers(secret=SECRET, alert_id="abc", subscription_id="s",
                               body=BODY, attempt=1, language="both")
    assert namespace["from_siaga"](SECRET, BODY, headers) is True
    assert namespace["from_siaga"]("another-secret-000000", BODY, headers) is False
    assert namespace["from_siaga"](SECRET, BODY + b"x", headers) is False
