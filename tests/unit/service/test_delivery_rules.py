"""The pure delivery rules: matching, silencing, defaults, unknown ids, pending acks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from schemas import Alert, LocalizedText, Network
from schemas.silence import SilenceCreate, SilencePublic
from schemas.subscription import PullChannel, Subscription, SubscriptionCreate
from service.delivery_rules import (
    default_subscriptions,
    matches,
    silencing,
    unacknowledged,
    unknown_ids,
)

T0 = datetime(2025, 3, 2, 20, 0, tzinfo=UTC)


class PredictedAlert(Alert):
    """What main's router will issue: the Alert plus the upstream gauge that is the evidence."""

    upstream_station_id: str | None = None


def alert(station: str = "katulampa", *, level: int = 2, kind: str = "observed",
          msg_type: str = "alert", previous: int | None = 3, region: str = "kota-bogor",
          basin: str = "ciliwung", at: datetime = T0, upstream: str | None = None,
          ident: str | None = None) -> Alert:
    fields: dict[str, Any] = dict(
        id=ident or f"{station}-{kind}-{level}-{msg_type}-{at.isoformat()}",
        msg_type=msg_type, station_id=station, station_name=station, basin=basin,
        region_id=region, level=level, level_name="x", previous_level=previous, kind=kind,
        observed_at=at, issued_at=at, value=1.0, certainty="observed",
        headline=LocalizedText(id="h", en="h"), instruction=LocalizedText(id="i", en="i"))
    if upstream is not None:
        return PredictedAlert(**fields, upstream_station_id=upstream)
    return Alert(**fields)


def sub(**selection: Any) -> Subscription:
    values: dict[str, Any] = {"id": "sub-1", "region_id": "dki-jakarta",
                              "channel": PullChannel(type="pull"), "created_at": T0,
                              "updated_at": T0, "created_by": "test", **selection}
    return Subscription(**values)


def test_stations_basins_and_upstream_regions_select(network: Network) -> None:
    katulampa = alert("katulampa")
    cisadane = alert("cisadane-empang", basin="cisadane")
    assert matches(sub(stations=["katulampa"]), katulampa, network)
    assert not matches(sub(stations=["depok"]), katulampa, network)
    assert matches(sub(basins=["cisadane"]), cisadane, network)
    assert not matches(sub(basins=["cisadane"]), katulampa, network)
    assert matches(sub(upstream_regions=["kota-bogor"]), katulampa, network)
    assert matches(sub(upstream_regions=["kota-bogor"]), cisadane, network)
    assert not matches(sub(upstream_regions=["kota-depok"]), katulampa, network)
    # nothing selected: the alerts addressed to the subscription's own region
    assert not matches(sub(), katulampa, network)
    assert matches(sub(), alert("manggarai", region="dki-jakarta"), network)


def test_a_predicted_alert_matches_by_its_upstream_gauge_and_its_region(network: Network
                                                                      ) -> None:
    predicted = alert("manggarai", kind="predicted", region="dki-jakarta", upstream="depok")
    assert matches(sub(stations=["depok"]), predicted, network)
    assert matches(sub(stations=["manggarai"]), predicted, network)
    assert matches(sub(upstream_regions=["kota-depok"]), predicted, network)
    assert not matches(sub(stations=["katulampa"]), predicted, network)


def test_min_level_counts_down_from_4_and_cancels_always_match(network: Network) -> None:
    waspada, siaga, awas = (alert(level=n) for n in (3, 2, 1))
    quiet = sub(stations=["katulampa"], min_level=2)
    assert [matches(quiet, a, network) for a in (waspada, siaga, awas)] == [False, True, True]
    assert [matches(sub(stations=["katulampa"], min_level=3), a, network)
            for a in (waspada, siaga, awas)] == [True, True, True]
    cancel = alert(level=4, msg_type="cancel", previous=3)
    assert matches(sub(stations=["katulampa"], min_level=1), cancel, network)
    # an update down from a level it was given is delivered; one between lower levels not
    assert matches(quiet, alert(level=3, msg_type="update", previous=2), network)
    assert not matches(quiet, alert(level=3, msg_type="update", previous=4), network)


def test_kinds_filter(network: Network) -> None:
    rising = alert(kind="rising")
    assert matches(sub(stations=["katulampa"]), rising, network)  # default: every kind
    assert not matches(sub(stations=["katulampa"], kinds=["observed"]), rising, network)
    # a cancel of another kind is still of another kind
    assert not matches(sub(stations=["katulampa"], kinds=["observed"]),
                       alert(kind="sensor", msg_type="cancel"), network)


def silence(station: str, start: datetime, minutes: int, **extra: Any) -> SilencePublic:
    return SilencePublic(id=f"sil-{station}", station_id=station, starts_at=start,
                         ends_at=start + timedelta(minutes=minutes), reason="maintenance",
                         by="ops", created_at=start, **extra)


def test_silencing_window_is_half_open() -> None:
    s = silence("depok", T0, 60)
    assert silencing([s], alert("depok", at=T0 - timedelta(seconds=1))) is None
    assert silencing([s], alert("depok", at=T0)) == s
    assert silencing([s], alert("depok", at=T0 + timedelta(minutes=59, seconds=59))) == s
    assert silencing([s], alert("depok", at=T0 + timedelta(minutes=60))) is None
    ended = silence("depok", T0, 60, ended_at=T0 + timedelta(minutes=10))
    assert silencing([ended], alert("depok", at=T0 + timedelta(minutes=9))) == ended
    assert silencing([ended], alert("depok", at=T0 + timedelta(minutes=10))) is None


def test_silencing_never_hides_another_station() -> None:
    s = silence("depok", T0, 60)
    at = T0 + timedelta(minutes=5)
    assert silencing([s], alert("katulampa", kind="sensor", at=at)) is None
    assert silencing([s], alert("manggarai", region="dki-jakarta", at=at)) is None


def test_a_predicted_alert_is_silenced_through_its_upstream_gauge() -> None:
    s = silence("depok", T0, 60)
    at = T0 + timedelta(minutes=5)
    predicted = alert("manggarai", kind="predicted", region="dki-jakarta", upstream="depok",
                      at=at)
    assert silencing([s], predicted) == s
    assert silencing([silence("katulampa", T0, 60)], predicted) is None


def test_default_subscriptions_follow_the_river_upstream(network: Network) -> None:
    now = datetime.now(UTC)
    defaults = {d.id: d for d in default_subscriptions(network, now)}
    assert set(defaults) == {f"default-{r.id}" for r in network.regions}
    jakarta = defaults["default-dki-jakarta"]
    assert {"manggarai", "karet", "pasar-ikan", "depok", "katulampa"} <= set(jakarta.stations)
    assert not {"cisadane-empang", "cisadane-batubeulah"} & set(jakarta.stations)
    depok = defaults["default-kota-depok"]
    assert {"depok", "katulampa"} <= set(depok.stations)
    assert "manggarai" not in depok.stations
    tangerang = defaults["default-kab-tangerang"]
    assert {"cisadane-teluknaga", "pintu-air-sepuluh", "cisadane-serpong", "cisadane-empang",
            "cisadane-batubeulah"} <= set(tangerang.stations)
    for d in defaults.values():
        assert (d.min_level, d.language, d.channel.type) == (3, "both", "pull")
        assert set(d.kinds) == {"observed", "predicted", "rising", "rainfall", "sensor"}
        assert d.is_default
    # Jakarta's default takes Katulampa's own alerts (addressed to Kota Bogor)
    assert matches(jakarta, alert("katulampa"), network)
    assert not matches(depok, alert("manggarai", region="dki-jakarta"), network)


def test_unknown_ids_are_named(network: Network) -> None:
    found = unknown_ids(network, region_id="atlantis", stations=["depok", "no-gauge"],
                        basins=["ciliwung", "nile"], upstream_regions=["mars"])
    assert [(u.field, u.index, u.message) for u in found] == [
        ("region_id", -1, "unknown region 'atlantis'"),
        ("stations", 1, "unknown station 'no-gauge'"),
        ("basins", 1, "unknown basin 'nile'"),
        ("upstream_regions", 0, "unknown region 'mars'"),
    ]
    assert unknown_ids(network, region_id="kota-depok", stations=["depok"]) == []


def test_webhook_urls_must_be_http_and_ids_well_formed() -> None:
    with pytest.raises(ValidationError, match="http"):
        SubscriptionCreate(region_id="kota-depok",
                           channel={"type": "webhook", "url": "ftp://example.org/x"})
    ok = SubscriptionCreate(region_id="kota-depok",
                            channel={"type": "webhook", "url": "https://example.org/h"})
    assert ok.channel.type == "webhook"
    with pytest.raises(ValidationError):
        SubscriptionCreate(region_id="kota-depok", min_level=5)


def test_silence_create_needs_a_reason_and_one_end() -> None:
    with pytest.raises(ValidationError, match="reason"):
        SilenceCreate(station_id="depok", duration_min=30, reason="   ")
    with pytest.raises(ValidationError, match="exactly one"):
        SilenceCreate(station_id="depok", reason="x")
    body = SilenceCreate(station_id="depok", duration_min=30, reason="pump")
    assert body.window(T0) == (T0, T0 + timedelta(minutes=30))
    late = SilenceCreate(station_id="depok", ends_at=T0 - timedelta(minutes=1), reason="x",
                         starts_at=T0 - timedelta(hours=1))
    with pytest.raises(ValueError, match="over"):
        late.window(T0)


def test_unacknowledged_is_the_latest_of_each_open_severe_episode() -> None:
    h = timedelta(hours=1)
    a3 = alert("depok", level=3, previous=4, at=T0, ident="a3", region="kota-depok")
    a2 = alert("depok", level=2, previous=3, msg_type="update", at=T0 + h, ident="a2",
               region="kota-depok")
    a1 = alert("depok", level=1, previous=2, msg_type="update", at=T0 + 2 * h, ident="a1",
               region="kota-depok")
    down = alert("depok", level=2, previous=1, msg_type="update", at=T0 + 3 * h, ident="d2",
                 region="kota-depok")
    assert unacknowledged([a3, a2], {}) == [a2]
    assert unacknowledged([a3], {}) == []                     # Siaga 3 needs no ack
    assert unacknowledged([a3, a2], {"a2": True}) == []
    # an ack of Siaga 2 does not cover the later escalation to Siaga 1
    assert unacknowledged([a3, a2, a1], {"a2": True}) == [a1]
    # an ack of Siaga 1 covers the step down to Siaga 2
    assert unacknowledged([a3, a2, a1, down], {"a1": True}) == []
    cancel = alert("depok", level=4, previous=2, msg_type="cancel", at=T0 + 4 * h,
                   region="kota-depok")
    assert unacknowledged([a3, a2, cancel], {}) == []
    # sensor and rising alerts are not waited on
    assert unacknowledged([alert("depok", level=1, kind="sensor")], {}) == []
