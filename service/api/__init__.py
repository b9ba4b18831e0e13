"""The HTTP face of siaga (FastAPI).

In: gateway readings (`POST /v1/readings`), queries from regions and operators.
Out: per-item ingest verdicts, alerts (JSON list, single, live SSE stream),
operator status and health probes.

Deliberately not here: grading (the worker does it from Kafka) and any state
that is not rebuilt from topics on start.
"""

from service.api.app import create_app

__all__ = ["create_app"]
