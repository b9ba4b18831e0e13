"""The router: the alerts of each gauge's own region in, what else must be said out.

    own-region alerts ─▶ track gauges ─▶ predict for each region downstream ─▶ inhibit
            │                                   (alert → update → cancel)        │
            └─────────────▶ episodes ◀───────────────────────────────────────────┘
                               └─▶ reminders (repeat interval, unacknowledged Siaga 1/2)

One prediction per (receiving region, entry gauge): a storm that touches
Katulampa and then Depok gives DKI Jakarta one stream about Manggarai, whose
ETA moves to Depok's evidence once the wave has reached Depok at the same
severity, not a burst of unrelated messages. A prediction rests on the most
severe level each upstream gauge reached in its current episode (the water of
a peak is still on its way after the gauge has dropped) and is cancelled when
every upstream gauge is back to normal.

Inhibition (Alertmanager's inhibit rule): while the entry gauge itself is
observed at the predicted level or worse, the prediction is not sent: the
gauge's own alerts say more. So an observed Siaga 1 mutes every prediction for
its gauge; `rising` alerts need no rule, the detectors never project past Siaga 1.

Clock: `now` when live (wall time, as the worker's); `None` when replaying
history: alerts are issued at their evidence's event time and reminders fall
due by event time, so a replay gives the same alerts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import groupby

from detectors import local_time
from schemas import Alert, LocalizedText, Network
from service.routing.predicted import Wave, cancelled_prediction, predicted_alert
from service.routing.topology import Route, routes_by_source

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class RouterSettings:
    # a condition that still holds is said again after this long: shorter as it worsens
    repeat_s: dict[int, float] = field(
        default_factory=lambda: {3: 6 * 3600.0, 2: 3 * 3600.0, 1: 3600.0})
    # an unacknowledged Siaga 2 or 1 is said again after this long, up to this many
    # times; then at the repeat interval like any other
    ack_resend_s: float = 1800.0
    ack_resend_max: int = 3
    reminder_kinds: tuple[str, ...] = ("observed", "predicted")

    def __post_init__(self) -> None:
        if self.ack_resend_s <= 0 or any(v <= 0 for v in self.repeat_s.values()):
            raise ValueError("repeat and re-send intervals must be positive")


@dataclass(slots=True)
class _Gauge:
    level: int = 4
    peak_level: int = 4
    peak_at: datetime = _EPOCH
    peak_value: float | None = None
    last: Alert | None = None


@dataclass(slots=True)
class _Prediction:
    last: Alert | None = None  # the last one sent
    signature: tuple[int, str, datetime | None] | None = None
    arrived_level: int = 4  # most severe level the entry gauge reached meanwhile


@dataclass(slots=True)
class _Episode:
    latest: Alert  # the last alert that said something new
    last_sent: Alert  # that one, or its latest reminder
    reminders: int = 0
    acked: bool = False
    ids: set[str] = field(default_factory=set)  # every alert of the episode: an ack names one


@dataclass(slots=True)
class RouterStats:
    predicted: int = 0
    inhibited: int = 0
    reminders: int = 0


class Router:
    def __init__(self, network: Network, settings: RouterSettings | None = None) -> None:
        self.network = network
        self.settings = settings or RouterSettings()
        self.stats = RouterStats()
        routes = routes_by_source(network)
        self._sources: dict[tuple[str, str], list[Route]] = {}
        self._keys_of: dict[str, set[tuple[str, str]]] = {}
        for source, out in routes.items():
            for route in out:
                key = (route.region_id, route.target)
                self._sources.setdefault(key, []).append(route)
                self._keys_of.setdefault(source, set()).add(key)
                self._keys_of.setdefault(route.target, set()).add(key)
        self._gauges: dict[str, _Gauge] = {}
        self._predictions: dict[tuple[str, str], _Prediction] = {}
        self._episodes: dict[tuple[str, str, str], _Episode] = {}
        self._acked: set[str] = set()
        self._clock = _EPOCH
        self._pending: list[Alert] = []

    # ------------------------------------------------------------------ input
    def process(self, alerts: Iterable[Alert], now: datetime | None = None) -> list[Alert]:
        """Alerts the detectors issued (each for its gauge's own region); returns what
        the router adds, in the order to publish.

        Alerts of one event time are taken together: Katulampa and Depok back to normal
        in the same hour end a prediction with one cancel, not an update first. So when
        replaying (`now=None`) the latest event time waits for a later one, or `flush()`:
        where Kafka happened to cut its batches never changes what comes out."""
        self._pending.extend(alerts)
        if now is None and self._pending:
            cut = max(a.observed_at for a in self._pending)
            ready = [a for a in self._pending if a.observed_at < cut]
            self._pending = [a for a in self._pending if a.observed_at >= cut]
        else:
            ready, self._pending = self._pending, []
        return self._route(ready, now)

    def flush(self, now: datetime | None = None) -> list[Alert]:
        """Route what is held back (end of a replay, or caught up)."""
        ready, self._pending = self._pending, []
        return self._route(ready, now)

    def _route(self, alerts: list[Alert], now: datetime | None) -> list[Alert]:
        out: list[Alert] = []
        for _, group in groupby(sorted(alerts, key=lambda a: (a.observed_at, a.station_id)),
                                key=lambda a: a.observed_at):
            batch = list(group)
            self._advance(now or batch[0].observed_at, out)
            evidence: dict[tuple[str, str], Alert] = {}
            for alert in batch:
                self._track(alert)
                if alert.kind == "observed" and alert.reminder == 0:
                    self._observe(alert)
                    for key in self._keys_of.get(alert.station_id, ()):
                        # an upstream gauge's alert is the evidence; the target's own is not
                        if key not in evidence or alert.station_id != key[1]:
                            evidence[key] = alert
            for key in sorted(evidence):
                self._repredict(key, evidence[key], now, out)
        return out

    def tick(self, now: datetime) -> list[Alert]:
        """Live: route anything held back, then the reminders due by the wall clock."""
        out = self.flush(now)
        self._advance(now, out, live=True)
        return out

    def acknowledge(self, alert_id: str) -> None:
        """A region confirmed it received this alert (or a reminder of it)."""
        self._acked.add(alert_id)
        for episode in self._episodes.values():
            if alert_id in episode.ids:
                episode.acked = True

    # --------------------------------------------------------------- gauges
    def _observe(self, alert: Alert) -> None:
        gauge = self._gauges.setdefault(alert.station_id, _Gauge())
        gauge.level = alert.level
        gauge.last = alert
        if alert.level == 4:
            gauge.peak_level, gauge.peak_value = 4, None
        elif alert.level < gauge.peak_level:
            gauge.peak_level, gauge.peak_at, gauge.peak_value = (
                alert.level, alert.observed_at, alert.value)
        for key in self._keys_of.get(alert.station_id, ()):
            prediction = self._predictions.get(key)
            if key[1] == alert.station_id and prediction is not None:
                prediction.arrived_level = min(prediction.arrived_level, alert.level)

    def _repredict(self, key: tuple[str, str], evidence: Alert, now: datetime | None,
                   out: list[Alert]) -> None:
        prediction = self._predictions.setdefault(key, _Prediction())
        # by event time, live or replaying: what the water does never depends on the clock
        wave = self._strongest_wave(key, evidence.observed_at)
        open_ = prediction.last is not None and prediction.last.msg_type != "cancel"
        if wave is None:
            if open_ and prediction.last is not None:
                self._emit(cancelled_prediction(self.network, prediction.last, evidence,
                                                prediction.arrived_level,
                                                now or evidence.observed_at), out)
            self._predictions[key] = _Prediction()
            return
        signature = (wave.level, wave.route.source, wave.peak_at)
        if signature == prediction.signature:
            return  # the same condition is never said twice
        target = self._gauges.get(key[1])
        if target is not None and target.level <= wave.level:
            # the water is there: the gauge's own observed alerts say more (inhibition)
            self.stats.inhibited += 1
            return
        if not open_:
            prediction.arrived_level = target.level if target is not None else 4
        alert = predicted_alert(self.network, wave, "update" if open_ else "alert",
                                prediction.last if open_ else None,
                                now or evidence.observed_at)
        prediction.last, prediction.signature = alert, signature
        self.stats.predicted += 1
        self._emit(alert, out)

    def _strongest_wave(self, key: tuple[str, str], clock: datetime) -> Wave | None:
        """The most severe upstream evidence in force; of equals, the nearest gauge's.

        A gauge's evidence is the peak of its episode while that water can still be on
        its way (until the latest ETA has passed), then its current level."""
        best: Wave | None = None
        region = self.network.regions_by_id[key[0]]
        for route in self._sources[key]:
            gauge = self._gauges.get(route.source)
            if gauge is None or gauge.level == 4 or gauge.last is None:
                continue
            level, at, value = gauge.peak_level, gauge.peak_at, gauge.peak_value
            peak: datetime | None = at
            if clock > at + timedelta(hours=route.travel_max_h):
                # the peak's water has passed; what flows now left the gauge now
                level, at, value, peak = gauge.level, clock, gauge.last.value, None
            if best is None or (level, route.travel_min_h) < (
                    best.level, best.route.travel_min_h):
                best = Wave(route, level, local_time(at.timestamp(), region), value, peak)
        return best

    # ------------------------------------------------------ episodes, reminders
    def _emit(self, alert: Alert, out: list[Alert]) -> None:
        self._track(alert)
        out.append(alert)

    def _track(self, alert: Alert) -> None:
        if alert.kind not in self.settings.reminder_kinds:
            return
        key = (alert.region_id, alert.station_id, alert.kind)
        if alert.msg_type == "cancel" or alert.level == 4:
            episode = self._episodes.pop(key, None)
            if episode is not None:
                self._forget(episode)
            return
        episode = self._episodes.get(key)
        if alert.reminder:
            if episode is not None:
                episode.ids.add(alert.id)
                episode.last_sent = alert
                episode.reminders = max(episode.reminders, alert.reminder)
            return
        if episode is None:
            episode = self._episodes[key] = _Episode(alert, alert)
        else:
            episode.latest = episode.last_sent = alert
            episode.reminders = 0
        episode.ids.add(alert.id)
        episode.acked = alert.id in self._acked  # a new condition needs a new ack

    def _forget(self, episode: _Episode) -> None:
        self._acked -= episode.ids

    def _advance(self, clock: datetime, out: list[Alert], live: bool = False) -> None:
        """Reminders due by `clock`, earliest first."""
        if clock <= self._clock:
            return
        self._clock = clock
        while True:
            dues = ((due, k) for k, e in self._episodes.items()
                    if (due := self._due(e)) is not None)
            due, key = min(dues, default=(clock, None))
            if key is None or due > clock or (due == clock and not live):
                return  # (a reminder due as new evidence arrives waits for what it says)
            # replaying: each reminder at the event time it fell due, as live would send it
            self._emit(self._reminder(self._episodes[key], clock if live else due), out)

    def _due(self, episode: _Episode) -> datetime | None:
        due = episode.last_sent.issued_at + timedelta(seconds=self._interval_s(episode))
        latest = episode.latest
        if latest.kind == "predicted" and latest.eta_to is not None and due > latest.eta_to:
            return None  # its water has come or not by now: the gauge's own alerts speak
        return due

    def _interval_s(self, episode: _Episode) -> float:
        level = episode.latest.level
        interval = self.settings.repeat_s.get(level, 1e12)
        if level <= 2 and not episode.acked and episode.reminders < self.settings.ack_resend_max:
            interval = min(interval, self.settings.ack_resend_s)
        return interval

    def _reminder(self, episode: _Episode, at: datetime) -> Alert:
        latest = episode.latest
        n = episode.reminders + 1
        self.stats.reminders += 1
        since = latest.observed_at.strftime("%d/%m %H:%M")
        unacked = latest.level <= 2 and not episode.acked
        return latest.model_copy(update={
            "id": f"{latest.id}-r{n}",
            "msg_type": "update",
            "references": [episode.last_sent.id],
            "issued_at": at.astimezone(latest.observed_at.tzinfo),
            "reminder": n,
            "note": LocalizedText(
                id=f"Pengingat ke-{n}: kondisi ini masih berlaku sejak {since}"
                   + ("; belum dikonfirmasi penerima" if unacked else ""),
                en=f"Reminder {n}: this still holds since {since}"
                   + ("; not yet acknowledged" if unacked else "")),
        })
