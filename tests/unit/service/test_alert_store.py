from __future__ import annotations

import asyncio
from datetime import timedelta

from detectors import DetectorSettings
from schemas import Alert, Network
from service.alert_store import SUBSCRIBER_QUEUE_MAX, AlertStore, SubscriberGone
from service.pipeline import run_pipeline
from tests.helpers import series
from tests.unit.service.test_pipeline import T0

# no spike checks and no dwell: every reading here is a level change, an alert
PLAIN = DetectorSettings(max_rate_cm_per_h=1e9, min_dwell_s=0)


def _alerts(network: Network, n_cycles: int) -> list[Alert]:
    values = [100.0, 160.0, 260.0, 310.0, 100.0] * n_cycles
    return run_pipeline(series("krukut-hulu", T0, values), network, settings=PLAIN)


def test_pages_most_recent_first_with_a_cursor(network: Network) -> None:
    store = AlertStore()
    alerts = _alerts(network, 5)
    for a in alerts:
        store.add(a)
    seen: list[Alert] = []
    cursor = None
    while True:
        page, cursor = store.query(limit=7, before_seq=cursor)
        seen.extend(page)
        if cursor is None:
            break
    assert seen == list(reversed(alerts))
    page, _ = store.query(kind="observed", station_id="krukut-hulu", region_id="dki-jakarta",
                          since=alerts[-3].issued_at, limit=100)
    assert page == list(reversed(alerts[-3:]))
    assert store.query(region_id="kota-bogor")[0] == []


def test_duplicate_ids_are_kept_once(network: Network) -> None:
    store = AlertStore()
    alerts = _alerts(network, 1)
    for a in alerts + alerts:
        store.add(a)
    assert len(store) == len(alerts) and store.duplicates_dropped == len(alerts)
    observed = [a for a in alerts if a.kind == "observed"]
    assert store.latest_observed()["krukut-hulu"] == observed[-1]


def test_memory_is_bounded(network: Network) -> None:
    store = AlertStore(max_items=1_000)
    alerts = run_pipeline(series("krukut-hulu", T0, [100.0, 300.0] * 700,
                                 step=timedelta(minutes=5)), network, settings=PLAIN)
    for a in alerts:
        store.add(a)
    assert len(store) <= 1_000
    assert store.get(alerts[-1].id) == alerts[-1] and store.get(alerts[0].id) is None


async def test_subscribers_get_backlog_then_live_and_slow_ones_are_dropped(
    network: Network
) -> None:
    store = AlertStore()
    alerts = _alerts(network, 2)
    for a in alerts[:4]:
        store.add(a)
    sub, backlog = store.subscribe("dki-jakarta", last_event_id=alerts[1].id)
    assert [s.alert for s in backlog] == alerts[2:4]
    store.add(alerts[4])
    assert (await sub.next()).alert == alerts[4]
    other, _ = store.subscribe("kota-bogor", None)
    store.add(alerts[5])
    assert other.queue.empty()
    # a client that stops reading is cut loose instead of buffering without bound
    flood = run_pipeline(series("krukut-hulu", T0 + timedelta(days=30),
                                [100.0, 300.0] * SUBSCRIBER_QUEUE_MAX), network,
                         settings=PLAIN)
    for a in flood:
        store.add(a)
    drained = 0
    try:
        while True:
            await asyncio.wait_for(sub.next(), 1)
            drained += 1
    except SubscriberGone:
        pass
    # the queue is cleared at once: the client resumes by Last-Event-ID from the store
    assert drained == 0
    assert store.subscriber_count == 1  # only the idle kota-bogor subscriber is left
    store.unsubscribe(other)
    assert store.subscriber_count == 0
