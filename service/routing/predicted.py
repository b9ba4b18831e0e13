"""Build the `predicted` alerts a region receives about water on its way.

Ids follow the same rule as every alert (`detectors.alert_id`): the receiving
region, the gauge it concerns, and the evidence (level and source gauge, at
the event time it was reached), so a replay gives the same ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from detectors import alert_id
from detectors.alerts import INSTRUCTIONS
from schemas import LEVEL_NAMES, Alert, LocalizedText, MsgType, Network
from service.routing.topology import Route


@dataclass(frozen=True, slots=True)
class Wave:
    """The evidence a prediction rests on: the most severe level an upstream gauge
    reached in its current episode, and when."""

    route: Route
    level: int
    at: datetime  # event time the water left the gauge, in the receiving region's zone
    value: float | None
    peak_at: datetime | None = None  # the episode's peak, while its water is on the way


def _stamp(t: datetime) -> str:
    return t.strftime("%d/%m %H:%M")


def predicted_alert(network: Network, wave: Wave, msg_type: MsgType, previous: Alert | None,
                    issued_at: datetime) -> Alert:
    route = wave.route
    target = network.stations_by_id[route.target]
    source = network.stations_by_id[route.source]
    expected = route.expected_level(wave.level)
    eta_from = wave.at + timedelta(hours=route.travel_min_h)
    eta_to = wave.at + timedelta(hours=route.travel_max_h)
    value = "" if wave.value is None else f", {wave.value:g} cm"
    exp_id = f"; perkiraan Siaga {expected} ({LEVEL_NAMES[expected]})" if expected else ""
    exp_en = f"; expected level {expected} ({LEVEL_NAMES[expected]})" if expected else ""
    headline = LocalizedText(
        id=f"Air dari {source.name} (Siaga {wave.level}{value} pukul {_stamp(wave.at)}) "
           f"diperkirakan tiba di {target.name} antara {_stamp(eta_from)} dan "
           f"{_stamp(eta_to)}{exp_id}",
        en=f"Water from {source.name} (level {wave.level}{value} at {_stamp(wave.at)}) is "
           f"expected at {target.name} between {_stamp(eta_from)} and {_stamp(eta_to)}"
           f"{exp_en}",
    )
    return Alert(
        id=alert_id(target.id, route.region_id, "predicted", f"{wave.level}-{source.id}",
                    wave.at),
        msg_type=msg_type,
        references=[previous.id] if previous is not None and msg_type != "alert" else [],
        station_id=target.id,
        station_name=target.name,
        basin=target.basin,
        river=target.river,
        region_id=route.region_id,
        level=wave.level,  # 1..3 by construction
        level_name=LEVEL_NAMES[wave.level],
        previous_level=previous.level if previous is not None else None,
        kind="predicted",
        observed_at=wave.at,
        issued_at=issued_at,
        value=wave.value,
        unit="cm" if wave.value is not None else None,
        certainty="likely",
        eta_from=eta_from,
        eta_to=eta_to,
        headline=headline,
        instruction=INSTRUCTIONS[expected or wave.level],
        upstream_station_id=source.id,
        upstream_station_name=source.name,
        expected_level=expected,
    )


def cancelled_prediction(network: Network, last: Alert, evidence: Alert,
                         arrived_level: int, issued_at: datetime) -> Alert:
    """All upstream gauges are back to normal: the prediction ends. `arrived_level` is
    the most severe level the target itself reached meanwhile (4 = the water never came)."""
    target = network.stations_by_id[last.station_id]
    source = network.stations_by_id[evidence.station_id]
    at = evidence.observed_at
    if arrived_level <= 3:
        why_id = f"air telah tiba dan mencapai Siaga {arrived_level} di {target.name}"
        why_en = f"the water arrived and reached level {arrived_level} at {target.name}"
    else:
        why_id = f"air di hulu surut tanpa kenaikan di {target.name}"
        why_en = f"the water upstream receded without a rise at {target.name}"
    return Alert(
        id=alert_id(target.id, last.region_id, "predicted", "cancel", at),
        msg_type="cancel",
        references=[last.id],
        station_id=target.id,
        station_name=target.name,
        basin=target.basin,
        river=target.river,
        region_id=last.region_id,
        level=4,
        level_name=LEVEL_NAMES[4],
        previous_level=last.level,
        kind="predicted",
        observed_at=at,
        issued_at=issued_at,
        value=evidence.value,
        unit=evidence.unit,
        certainty="likely",
        headline=LocalizedText(
            id=f"Perkiraan banjir di {target.name} berakhir: {why_id} "
               f"({source.name} normal sejak {_stamp(at)})",
            en=f"Flood prediction for {target.name} ended: {why_en} "
               f"({source.name} normal since {_stamp(at)})"),
        instruction=INSTRUCTIONS[4],
        upstream_station_id=source.id,
        upstream_station_name=source.name,
    )
