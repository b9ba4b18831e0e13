"""Alert stage: detector events → alerts for the regions that receive them.

In: a batch's detector events, the network, the wall clock (`None` in a
replay). Out: each alert as it goes to Kafka, the Alert contract already
encoded as JSON, with the keys it is produced under. Every gauge alerts its
own region here; propagation to the regions downstream (`predicted`) is the
router's (`service.routing`). Deliberately not here: producing, or parsing
the alerts back (`IssuedAlert.model()` does that for tests and tools).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import msgspec

from detectors import ALERT_FIELDS, DetectorEvent, StationTable, alert_values
from schemas import Alert, Network

# the values come from `alert_values`, in the contract's order: encoding them is a
# fifth of validating an `Alert` and serialising it (a property test holds the two
# to the same alert)
_ENCODER = msgspec.json.Encoder()
# the contract's fields as a Struct, so that msgspec writes the values under their
# names without a dict being built for them; gc=False as an alert's values are never
# part of a cycle
_AlertFields = msgspec.defstruct("AlertFields", ALERT_FIELDS, gc=False)


# a Struct, not a frozen dataclass: as immutable and comparable, built in a ninth of the
# time (a frozen dataclass sets each field through object.__setattr__: 0.35 µs an alert);
# gc=False as it only ever holds strings and bytes, which cannot form a cycle
class IssuedAlert(msgspec.Struct, frozen=True, gc=False):
    """One alert as the worker produces it: the Alert contract as JSON bytes, and the
    region and basin it is keyed by on `siaga.alerts` and `siaga.station-events`."""

    id: str
    region_id: str
    basin: str
    json: bytes

    def model(self) -> Alert:
        """The alert as a validated `Alert` (for tests and tools; the worker never needs it)."""
        return Alert.model_validate_json(self.json)


def alerts_for_events(events: Iterable[DetectorEvent], network: Network, table: StationTable,
                      issued_at: datetime | None) -> list[IssuedAlert]:
    """`issued_at=None` (replaying history): each alert is issued at its evidence's time."""
    stations = network.stations_by_id
    regions = network.regions_by_id
    ids = table.ids
    alerts = []
    # one buffer for the batch, copied out per alert: an encoder's own starts small and
    # is grown again for every alert (a sixth of the encoding, measured)
    buffer = bytearray()
    encode_into = _ENCODER.encode_into
    for event in events:
        station = stations[ids[event.station]]
        region = regions[station.region_id]
        values = alert_values(event, station, region, issued_at)
        encode_into(_AlertFields(*values), buffer)
        alerts.append(IssuedAlert(values[0], region.id, station.basin, bytes(buffer)))
    return alerts
