"""Dead letters: a record the worker cannot grade, as it goes to `siaga.readings.dlq`.

In: the record (original bytes, key, where it came from) and the reason. Out:
(value, key, headers) ready to produce. The original bytes are kept whole unless
they would not fit a Kafka request; then a truncated copy carries the original's
size and SHA-256 in headers. Deliberately not here: deciding what is bad (the
validate and scope stages do) and producing (the worker does).
"""

from __future__ import annotations

import hashlib

from service.pipeline import DeadLetter

# A dead letter must always be writable, or one record would stall its partition.
MAX_DLQ_KEY_BYTES = 1024
MAX_REASON_BYTES = 4096


def dead_letter_record(dead: DeadLetter, max_value_bytes: int
                       ) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
    """(value, key, headers) for the DLQ: the original bytes, or, when they would not fit
    a Kafka request, a truncated copy with the original's size and SHA-256 in headers."""
    rec = dead.record
    reason = dead.reason.encode()
    if len(reason) > MAX_REASON_BYTES:
        reason = reason[:MAX_REASON_BYTES - 3] + "…".encode()
    headers = [
        ("siaga-reason", reason),
        ("siaga-source", f"{rec.topic}/{rec.partition}/{rec.offset}".encode()),
    ]
    value, key = rec.value, rec.key
    if value is not None and len(value) > max_value_bytes:
        headers += [
            ("siaga-truncated", b"value"),
            ("siaga-original-bytes", str(len(value)).encode()),
            ("siaga-original-sha256", hashlib.sha256(value).hexdigest().encode()),
        ]
        value = value[:max_value_bytes]
    if key is not None and len(key) > MAX_DLQ_KEY_BYTES:
        headers += [("siaga-key-truncated", str(len(key)).encode())]
        key = key[:MAX_DLQ_KEY_BYTES]
    return value, key, headers
