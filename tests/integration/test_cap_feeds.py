"""CAP 1.2 and Atom over real HTTP: readings in through the gateway, the worker
grades them on the embedded broker, and the alerts come out as CAP and Atom."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas import Network
from service.auth import mint_token
from service.settings import Settings
from tests.cap_xsd import ATOM, CAP, cap_links, info, parse_atom, parse_cap
from tests.helpers import bearer, running_service, series


async def test_real_alerts_as_cap_and_in_the_regions_atom_feed(
    settings: Settings, network: Network
) -> None:
    settings = settings.model_copy(update={"min_dwell_s": 0.0,
                                           "cap_sender": "bpbd@siaga.example.id"})
    start = (datetime.now(UTC) - timedelta(hours=5)).replace(microsecond=0)
    async with running_service(settings, network) as svc:
        # Depok: Siaga 2, then Siaga 1 an hour later (an update of the same episode)
        readings = series("depok", start, [150, 280], step=timedelta(hours=1))
        assert (await svc.gateway.post("/v1/readings", json={"readings": readings})
                ).status_code == 200
        opened = (await svc.wait_for_alerts(1, station_id="depok", kind="observed"))[0]
        worse_reading = series("depok", start + timedelta(hours=2), [380])
        assert (await svc.gateway.post("/v1/readings", json={"readings": worse_reading})
                ).status_code == 200
        worse = (await svc.wait_for_alerts(2, station_id="depok", kind="observed"))[0]
        assert (worse["msg_type"], worse["references"]) == ("update", [opened["id"]])

        response = await svc.client.get(f"/v1/alerts/{opened['id']}.cap")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/cap+xml"
        first = parse_cap(response.content)
        assert first.findtext(CAP + "identifier") == opened["id"]
        assert first.findtext(CAP + "msgType") == "Alert"
        assert info(first, "id-ID").findtext(CAP + "headline") == opened["headline"]["id"]
        assert info(first, "en-US").findtext(CAP + "severity") == "Severe"
        # the sent time is the alert's issued_at, to the second, in WIB
        assert datetime.fromisoformat(first.findtext(CAP + "sent")) == datetime.fromisoformat(
            opened["issued_at"]).replace(microsecond=0)
        assert first.findtext(CAP + "sent").endswith("+07:00")
        web = info(first, "en-US").findtext(CAP + "web")
        assert web == f"{svc.base_url}/v1/alerts/{opened['id']}"
        assert (await svc.client.get(web)).json()["id"] == opened["id"]

        update = parse_cap((await svc.client.get(f"/v1/alerts/{worse['id']}.cap")).content)
        assert update.findtext(CAP + "msgType") == "Update"
        assert update.findtext(CAP + "references") == (
            f"bpbd@siaga.example.id,{opened['id']},{first.findtext(CAP + 'sent')}")
        assert info(update, "en-US").findtext(CAP + "severity") == "Extreme"

        # the JSON route still answers for the same id, and unknown ids are 404 in both
        assert (await svc.client.get(f"/v1/alerts/{worse['id']}")).json()["level"] == 1
        missing = await svc.client.get("/v1/alerts/no-such-alert.cap")
        assert missing.status_code == 404
        assert missing.json()["detail"] == "no alert 'no-such-alert'"

        feed_response = await svc.client.get("/v1/regions/kota-depok/alerts.atom")
        assert feed_response.status_code == 200
        assert feed_response.headers["content-type"] == "application/atom+xml"
        feed = parse_atom(feed_response.content)
        # the episode's latest message only: the update superseded the first alert
        assert cap_links(feed) == [f"{svc.base_url}/v1/alerts/{worse['id']}.cap"]
        assert feed.findtext(f"{ATOM}entry/{ATOM}title") == worse["headline"]["id"]
        linked = await svc.client.get(cap_links(feed)[0])
        assert parse_cap(linked.content).findtext(CAP + "identifier") == worse["id"]

        english = parse_atom((await svc.client.get(
            "/v1/regions/kota-depok/alerts.atom", params={"lang": "en"})).content)
        assert english.findtext(f"{ATOM}entry/{ATOM}title") == worse["headline"]["en"]
        # upstream regions' feeds do not carry Depok's alerts; Jakarta, downstream, has
        # the router's prediction for Manggarai; unknown regions are 404
        bogor = parse_atom((await svc.client.get("/v1/regions/kota-bogor/alerts.atom")
                            ).content)
        assert bogor.findall(ATOM + "entry") == []
        await svc.wait_for_alerts(1, region_id="dki-jakarta", kind="predicted")
        jakarta = parse_atom((await svc.client.get("/v1/regions/dki-jakarta/alerts.atom")
                              ).content)
        assert {c.get("term") for c in jakarta.iter(ATOM + "category")} == {"predicted"}
        assert (await svc.client.get("/v1/regions/atlantis/alerts.atom")).status_code == 404
        assert (await svc.client.get("/v1/regions/kota-depok/alerts.atom",
                                     params={"lang": "fr"})).status_code == 422
        # public, but a token presented is still checked
        stranger = {"Authorization": f"Bearer {mint_token()}"}
        assert (await svc.client.get(f"/v1/alerts/{worse['id']}.cap", headers=stranger)
                ).status_code == 401
        assert (await svc.client.get("/v1/regions/kota-depok/alerts.atom", headers=stranger)
                ).status_code == 401

        # falling (slowly enough not to look like a glitch) back to normal: the feed now
        # carries the all-clear, which ends the episode
        calm = series("depok", start + timedelta(hours=3), [260, 150], step=timedelta(hours=1))
        assert (await svc.gateway.post("/v1/readings", json={"readings": calm})
                ).status_code == 200
        clear, lower = (await svc.wait_for_alerts(4, station_id="depok", kind="observed"))[:2]
        assert (clear["msg_type"], clear["references"]) == ("cancel", [lower["id"]])
        feed = parse_atom((await svc.client.get("/v1/regions/kota-depok/alerts.atom")).content)
        assert cap_links(feed) == [f"{svc.base_url}/v1/alerts/{clear['id']}.cap"]
        cancel = parse_cap((await svc.client.get(cap_links(feed)[0])).content)
        lower_cap = parse_cap((await svc.client.get(f"/v1/alerts/{lower['id']}.cap")).content)
        assert cancel.findtext(CAP + "msgType") == "Cancel"
        assert cancel.findtext(CAP + "references") == (
            f"bpbd@siaga.example.id,{lower['id']},{lower_cap.findtext(CAP + 'sent')}")
        assert info(cancel, "id-ID").findtext(CAP + "responseType") == "AllClear"


async def test_feeds_follow_public_alerts_off(settings: Settings, network: Network) -> None:
    """`SIAGA_PUBLIC_ALERTS=false`: CAP and Atom want a valid token, like the JSON reads."""
    settings = settings.model_copy(update={"public_alerts": False})
    async with running_service(settings, network, with_worker=False) as svc:
        for path in ("/v1/alerts/none-such.cap", "/v1/regions/kota-bogor/alerts.atom"):
            refused = await svc.client.get(path)
            assert refused.status_code == 401
            assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await svc.client.get("/v1/alerts/none-such.cap", headers=bearer("bogor-sub"))
                ).status_code == 404
        feed = await svc.client.get("/v1/regions/kota-bogor/alerts.atom",
                                    headers=bearer("bogor-sub"))
        assert feed.status_code == 200
        assert parse_atom(feed.content).findall(ATOM + "entry") == []
