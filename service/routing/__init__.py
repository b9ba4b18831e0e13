"""Routing: the alerts a gauge's own region got → what the regions downstream need.

In: the alerts the detector worker issued for each gauge's own region
(`siaga.station-events`), in event-time order per basin, and acknowledgements.
Out: `predicted` alerts for every region downstream (ETA from the river
network's travel times, expected level from a rule learnt from history), their
updates and cancels, and reminders of conditions that still hold.

Deliberately not here: grading readings (the detectors), who receives what
(subscriptions and silences are applied at delivery), and any I/O: the router
is a pure state machine; `service.router_worker` feeds it from Kafka.
"""

from service.routing.router import Router, RouterSettings
from service.routing.topology import Route, routes_by_source

__all__ = ["Route", "Router", "RouterSettings", "routes_by_source"]
