"""The contracts of siaga: what crosses a process or network boundary.

In: raw JSON from gateways, Kafka records and the operator's network file.
Out: validated pydantic models (`ReadingIn`, `Reading`, `Alert`, `Network`).

Deliberately no logic beyond validation: grading, routing and I/O live in
`detectors` and `service`. Every validation error names the field and says
what was expected, because a gateway operator has to act on it.
"""

from schemas.alert import (
    LEVEL_NAMES,
    Alert,
    AlertKind,
    Certainty,
    LocalizedText,
    MsgType,
    SiagaLevel,
)
from schemas.network import (
    Network,
    Region,
    RiverLink,
    SiagaBounds,
    Station,
    StationKind,
    ValidRange,
)
from schemas.reading import Reading, ReadingBatchIn, ReadingIn, ReadingKind

__all__ = [
    "LEVEL_NAMES",
    "Alert",
    "AlertKind",
    "Certainty",
    "LocalizedText",
    "MsgType",
    "Network",
    "Reading",
    "ReadingBatchIn",
    "ReadingIn",
    "ReadingKind",
    "Region",
    "RiverLink",
    "SiagaBounds",
    "SiagaLevel",
    "Station",
    "StationKind",
    "ValidRange",
]
