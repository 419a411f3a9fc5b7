"""End to end: linking a WhatsApp number by QR, resuming its session elsewhere, logging out, and
a profile's proxy — real Chromium driven by the sender host against the simulator process."""

from __future__ import annotations

import json

import pytest

from apps.senders.models import SenderProfile
from apps.senders.services import ledger, profiles
from tests.senders.e2e_support import CountingProxy, wait_for
from tests.simulator.conftest import simulator, simulator_process  # noqa: F401 - fixtures

pytestmark = pytest.mark.live

PHONE = "919811100001"
CONTACT = "+919811100501"


def test_qr_login_with_a_refresh_links_the_number_and_stores_its_session_encrypted(e2e):
    e2e.sim.configure(qr_refresh_s=1.0, qr_max_refreshes=20)
    profile = e2e.profile()
    events = e2e.listen(f"profile.{profile.id}")
    notifications = e2e.listen("notifications")
    host = e2e.host()

    assert host.kick(e2e.schema, profile.id) is True
    first = events.until(lambda e: e["kind"] == "profile.qr")
    first_payload = e2e.qr_payload(profile)
    # The simulator rotates the code every second: a new payload reaches the page live.
    second = events.until(lambda e: e["kind"] == "profile.qr" and e["png"] != first["png"])
    second_payload = wait_for(lambda: (p := e2e.qr_payload(profile)) != first_payload and p, what="a new payload")
    assert first["png"].startswith("data:image/png;base64,") and second["png"].startswith("data:image/png;base64,")
    assert first_payload and second_payload and first_payload != second_payload
    assert e2e.status(profile) == SenderProfile.Status.WAITING_FOR_QR

    e2e.scan(profile, PHONE)
    linked = e2e.wait_status(profile, SenderProfile.Status.CONNECTED)

    assert linked.phone == f"+{PHONE}"
    assert linked.status_detail == ""
    assert e2e.qr_payload(profile) is None
    connected = events.until(lambda e: e["kind"] == "profile.status" and e["status"] == "connected")
    assert connected["phone"] == f"+{PHONE}"
    toast = notifications.until(lambda e: e["kind"] == "notification")
    assert toast["level"] == "info" and "Connected" in toast["message"]
    # The stored session is the browser's: its IndexedDB holds the simulator's session token,
    # and it is encrypted at rest.
    sessions = e2e.sim.get(f"/_sim/accounts/{PHONE}")["sessions"]
    assert len(sessions) == 1
    token = sessions[0]["token"]
    state = json.loads(linked.session_state)
    assert token in json.dumps(state["origins"])
    assert token.encode() not in bytes(linked.session_state_encrypted)
    assert b"origins" not in bytes(linked.session_state_encrypted)


def test_a_session_resumes_on_a_new_host_without_a_qr_scan(e2e):
    profile = e2e.profile()
    first = e2e.host()
    e2e.link(first, profile, PHONE)
    first.shutdown()
    parked = e2e.reload(profile)
    assert parked.status == SenderProfile.Status.CONNECTED
    assert parked.session_state and parked.lease_host == ""
    token = e2e.sim.get(f"/_sim/accounts/{PHONE}")["sessions"][0]["token"]

    events = e2e.listen(f"profile.{profile.id}")
    with e2e.tenant():
        message = ledger.message_enqueue(to=CONTACT, text="Resumed elsewhere", region="IN", profile=parked).message
    second = e2e.host()  # a new browser, a fresh context: only the stored state links it
    assert second.kick(e2e.schema, profile.id) is True
    message = e2e.settled(message.id)

    assert message.state in ("sent", "delivered", "read")
    statuses = [e["status"] for e in events.drain() if e["kind"] == "profile.status"]
    assert statuses[:2] == ["connecting", "connected"]
    assert not [e for e in events.events if e["kind"] == "profile.qr"]
    assert e2e.sim.get("/_sim/pairings")["pairings"] == []
    # Still the one linked device, with the same session.
    assert [s["token"] for s in e2e.sim.get(f"/_sim/accounts/{PHONE}")["sessions"]] == [token]
    assert [m["text"] for m in e2e.sim_outgoing(PHONE)] == ["Resumed elsewhere"]


def test_logout_discards_the_session_and_a_later_link_needs_a_new_qr_scan(e2e):
    profile = e2e.profile()
    host = e2e.host()
    linked = e2e.link(host, profile, PHONE)

    with e2e.tenant():
        profiles.profile_logout(profile=linked)
    # The runner notices, closes the browser and does not save the session back.
    wait_for(lambda: e2e.parked(host), what="the runner to stop")
    after = e2e.reload(profile)
    assert after.status == SenderProfile.Status.LOGGED_OUT
    assert after.session_state is None

    with e2e.tenant():
        profiles.profile_link(profile=after)
    assert e2e.kicks == [profile.id]
    assert host.kick(e2e.schema, profile.id) is True
    wait_for(lambda: e2e.qr_payload(profile), what="a QR code")
    assert e2e.status(profile) == SenderProfile.Status.WAITING_FOR_QR
    assert e2e.reload(profile).session_state is None


def test_a_profile_with_a_proxy_sends_its_traffic_through_it(e2e):
    proxy = CountingProxy("chorus", "s3cret pass").start()
    try:
        proxy_url = f"http://chorus:s3cret%20pass@127.0.0.1:{proxy.port}"
        profile = e2e.profile(proxy_url=proxy_url)
        assert e2e.reload(profile).proxy_url == proxy_url
        assert b"s3cret" not in bytes(e2e.reload(profile).proxy_encrypted)
        host = e2e.host()
        linked = e2e.link(host, profile, PHONE)
        with e2e.tenant():
            message = ledger.message_enqueue(to=CONTACT, text="Via the proxy", region="IN", profile=linked).message
        host.kick(e2e.schema, profile.id)
        message = e2e.settled(message.id)
    finally:
        proxy.close()

    assert message.state in ("sent", "delivered", "read")
    sim_host = e2e.sim.base_url.removeprefix("http://")
    seen = proxy.requests_to(sim_host)
    paths = [r.path.split("?")[0] for r in seen]
    # The page, its QR pairing, the chat opened in place (its contact lookup) and the send
    # itself all went through it.
    assert "/" in paths
    assert "/_sim/api/pairing" in paths
    assert "/_sim/api/contact" in paths
    assert [r.method for r in seen if r.path == "/_sim/api/messages"] == ["POST"]
    assert {r.host for r in proxy.forwarded} == {sim_host}
