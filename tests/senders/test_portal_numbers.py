"""The portal's WhatsApp numbers pages and opt-out words, through the Django test client.

Requests run inside the test's transaction, so after-commit side effects (worker kicks, live
events) do not fire here; tests/senders/test_profiles_consumer.py covers the live parts."""

from __future__ import annotations

import datetime

import pytest
from django_tenants.utils import tenant_context

from apps.accounts.models import Membership, User
from apps.billing.models import Plan
from apps.billing.services import subscription_change_plan
from apps.senders.models import MessageState, OptOutKeyword, OutboundMessage, SenderProfile
from tests.conftest import PASSWORD

Status = SenderProfile.Status
PROXY = "socks5://proxyuser:s3cret-pass@10.1.2.3:1080"


@pytest.fixture
def member_of(db):
    """member_of(world, role) -> a new user with that role in the world's tenant."""

    def make(world, role: str) -> User:
        user = User.objects.create_user(
            f"{role}@{world.tenant.slug}.test", PASSWORD, full_name=f"{role.title()} Person"
        )
        Membership.objects.create(user=user, tenant=world.tenant, role=role)
        return user

    return make


def make_profile(world, **fields) -> SenderProfile:
    values = {"label": "Sales", "status": Status.WAITING_FOR_QR, **fields}
    with tenant_context(world.tenant):
        return SenderProfile.objects.create(**values)


def reload(world, profile_id: int) -> SenderProfile | None:
    with tenant_context(world.tenant):
        return SenderProfile.objects.filter(id=profile_id).first()


def profile_count(world) -> int:
    with tenant_context(world.tenant):
        return SenderProfile.objects.count()


def settings_post(**overrides) -> dict[str, str]:
    data = {
        "label": "Sales India",
        "pacing_preset": "custom",
        "pacing_min_s": "7",
        "pacing_max_s": "12.5",
        "batch_size": "40",
        "batch_pause_s": "600",
        "daily_cap": "300",
        "warmup_enabled": "on",
        "warmup_started_on": "2026-11-01",
        "warmup_ramp": "10, 20, 40",
        "quiet_hours_start": "21:30",
        "quiet_hours_end": "08:00",
        "per_contact_daily_cap": "2",
        "proxy_url": "",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


# --- list and add -----------------------------------------------------------------------------


def test_list_shows_each_number_with_its_status_badge_and_the_live_socket(alpha, client_for):
    make_profile(alpha, label="Sales", phone="+919800000001", status=Status.CONNECTED)
    waiting = make_profile(alpha, label="Support")

    response = client_for(alpha).get("/numbers/")

    html = response.content.decode()
    assert response.status_code == 200
    assert html.count("data-profile-row=") == 2
    assert 'class="badge badge-success badge-dot" data-profile-status="connected">Connected</span>' in html
    assert f'href="/numbers/{waiting.id}/">Support</a>' in html
    assert 'data-profile-status="waiting_for_qr">Waiting for QR scan</span>' in html
    assert 'data-ws-path="/ws/profiles/"' in html
    assert '<script src="/static/js/numbers.js" defer></script>' in html
    assert 'href="/numbers/add/"' in html
    assert "2 of 10 numbers on your plan." in html
    assert 'class="nav-link is-active" href="/numbers/" aria-current="page"' in html
    assert "This part of Chorus is not built yet" not in html


@pytest.mark.parametrize("role", ["agent", "viewer"])
def test_agents_and_viewers_see_the_list_but_not_the_add_page(role, alpha, client_for, member_of):
    make_profile(alpha, label="Sales")
    client = client_for(alpha, user=member_of(alpha, role))

    page = client.get("/numbers/")
    add_page = client.get("/numbers/add/")
    add = client.post("/numbers/add/", {"label": "Sneaky"})

    assert page.status_code == 200
    assert "Sales" in page.content.decode()
    assert 'href="/numbers/add/"' not in page.content.decode()
    assert (add_page.status_code, add.status_code) == (403, 403)
    assert profile_count(alpha) == 1


def test_owner_adds_a_number_that_waits_for_its_qr_with_the_proxy_encrypted(alpha, client_for):
    response = client_for(alpha).post("/numbers/add/", {"label": "  Sales India ", "proxy_url": PROXY})

    with tenant_context(alpha.tenant):
        profiles = list(SenderProfile.objects.all())
    assert len(profiles) == 1
    profile = profiles[0]
    assert response.status_code == 302
    assert response["Location"] == f"/numbers/{profile.id}/"
    assert (profile.label, profile.status) == ("Sales India", Status.WAITING_FOR_QR)
    assert profile.proxy_url == PROXY
    assert b"s3cret-pass" not in bytes(profile.proxy_encrypted)


def test_admin_may_add_a_number(alpha, client_for, member_of):
    response = client_for(alpha, user=member_of(alpha, "admin")).post("/numbers/add/", {"label": "Admin's"})

    assert response.status_code == 302
    assert profile_count(alpha) == 1


def test_adding_past_the_plan_limit_is_refused_with_a_clear_message_and_no_row(alpha, client_for):
    subscription_change_plan(tenant=alpha.tenant, plan=Plan.objects.get(slug="free"))
    make_profile(alpha, label="The only one")

    page = client_for(alpha).get("/numbers/add/")
    response = client_for(alpha).post("/numbers/add/", {"label": "One too many"})

    assert "Your plan allows 1 WhatsApp number and it is in use." in page.content.decode()
    assert response.status_code == 402
    assert (
        "Your plan allows 1 WhatsApp numbers and this workspace already has 1. "
        "Delete a number or upgrade your plan to add another."
    ) in response.content.decode()
    assert profile_count(alpha) == 1


@pytest.mark.parametrize(
    ("data", "field_error"),
    [
        ({"label": "Bad proxy", "proxy_url": "ftp://host:21"}, "Proxy must look like"),
        ({"label": ""}, "This field is required."),
    ],
)
def test_invalid_add_is_refused_and_nothing_is_created(data, field_error, alpha, client_for):
    response = client_for(alpha).post("/numbers/add/", data)

    assert response.status_code == 400
    assert field_error in response.content.decode()
    assert profile_count(alpha) == 0


# --- the number's page ------------------------------------------------------------------------


def test_detail_page_waits_for_the_qr_over_the_websocket_and_never_shows_the_proxy(alpha, client_for):
    profile = make_profile(alpha, label="Sales")
    with tenant_context(alpha.tenant):
        profile.proxy_url = PROXY
        profile.save(update_fields=["proxy_encrypted"])

    response = client_for(alpha).get(f"/numbers/{profile.id}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert f'data-profile-page="{profile.id}" data-ws-path="/ws/profiles/"' in html
    assert '<div class="qr-panel" data-panel="linking">' in html
    assert "Waiting for the QR code…" in html
    assert '<div class="connected-panel" data-panel="connected" hidden>' in html
    assert "A proxy is set. For your security it is never shown again." in html
    assert "s3cret-pass" not in html and "proxyuser" not in html and "10.1.2.3" not in html
    assert f'action="/numbers/{profile.id}/settings/"' in html
    assert f'action="/numbers/{profile.id}/delete/"' in html
    assert 'id="numbers-status-labels"' in html and 'id="numbers-badge-classes"' in html
    assert 'class="nav-link is-active" href="/numbers/" aria-current="page"' in html


def test_connected_number_shows_connected_and_hides_the_qr(alpha, client_for):
    profile = make_profile(alpha, phone="+919800000001", status=Status.CONNECTED)

    html = client_for(alpha).get(f"/numbers/{profile.id}/").content.decode()

    assert '<div class="qr-panel" data-panel="linking" hidden>' in html
    assert '<div class="connected-panel" data-panel="connected">' in html
    assert "+919800000001" in html


def test_unknown_number_is_404(alpha, client_for):
    assert client_for(alpha).get("/numbers/987654/").status_code == 404


def test_owner_saves_every_setting(alpha, client_for):
    profile = make_profile(alpha)

    response = client_for(alpha).post(f"/numbers/{profile.id}/settings/", settings_post())

    assert response.status_code == 302
    assert response["Location"] == f"/numbers/{profile.id}/"
    saved = reload(alpha, profile.id)
    assert {
        "label": saved.label,
        "pacing_preset": saved.pacing_preset,
        "pacing_min_s": saved.pacing_min_s,
        "pacing_max_s": saved.pacing_max_s,
        "batch_size": saved.batch_size,
        "batch_pause_s": saved.batch_pause_s,
        "daily_cap": saved.daily_cap,
        "warmup_enabled": saved.warmup_enabled,
        "warmup_started_on": saved.warmup_started_on,
        "warmup_ramp": saved.warmup_ramp,
        "quiet_hours_start": saved.quiet_hours_start,
        "quiet_hours_end": saved.quiet_hours_end,
        "per_contact_daily_cap": saved.per_contact_daily_cap,
        "proxy_url": saved.proxy_url,
    } == {
        "label": "Sales India",
        "pacing_preset": "custom",
        "pacing_min_s": 7.0,
        "pacing_max_s": 12.5,
        "batch_size": 40,
        "batch_pause_s": 600,
        "daily_cap": 300,
        "warmup_enabled": True,
        "warmup_started_on": datetime.date(2026, 11, 1),
        "warmup_ramp": [10, 20, 40],
        "quiet_hours_start": datetime.time(21, 30),
        "quiet_hours_end": datetime.time(8, 0),
        "per_contact_daily_cap": 2,
        "proxy_url": "",
    }
    assert saved.status == Status.WAITING_FOR_QR


def test_settings_form_shows_the_stored_values(alpha, client_for):
    profile = make_profile(alpha, warmup_ramp=[5, 15], daily_cap=123)

    html = client_for(alpha).get(f"/numbers/{profile.id}/").content.decode()

    assert 'name="warmup_ramp" value="5, 15"' in html
    assert 'name="daily_cap" value="123"' in html


def test_warmup_off_and_quiet_hours_cleared_are_saved(alpha, client_for):
    profile = make_profile(alpha)

    response = client_for(alpha).post(
        f"/numbers/{profile.id}/settings/",
        settings_post(warmup_enabled=None, quiet_hours_start="", quiet_hours_end="", warmup_started_on=""),
    )

    assert response.status_code == 302
    saved = reload(alpha, profile.id)
    assert (saved.warmup_enabled, saved.quiet_hours_start, saved.quiet_hours_end, saved.warmup_started_on) == (
        False,
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"pacing_min_s": "20", "pacing_max_s": "10"}, "The maximum gap must not be below the minimum."),
        ({"quiet_hours_end": ""}, "Quiet hours need both a start and an end."),
        ({"warmup_ramp": "10, zero"}, "Write the daily caps as whole numbers separated by commas"),
        ({"per_contact_daily_cap": "0"}, "Ensure this value is greater than or equal to 1."),
        ({"proxy_url": "gopher://old:70"}, "Proxy must look like"),
    ],
)
def test_refused_settings_change_nothing(overrides, message, alpha, client_for):
    profile = make_profile(alpha, label="Before")

    response = client_for(alpha).post(f"/numbers/{profile.id}/settings/", settings_post(**overrides))

    assert response.status_code == 400
    assert message in response.content.decode()
    saved = reload(alpha, profile.id)
    assert (saved.label, saved.pacing_preset, saved.daily_cap, saved.proxy_encrypted) == (
        "Before",
        "balanced",
        500,
        None,
    )


def test_proxy_is_kept_when_left_empty_replaced_when_given_and_removed_on_request(alpha, client_for):
    profile = make_profile(alpha)
    client = client_for(alpha)
    url = f"/numbers/{profile.id}/settings/"

    client.post(url, settings_post(proxy_url=PROXY))
    assert reload(alpha, profile.id).proxy_url == PROXY
    client.post(url, settings_post(proxy_url=""))
    assert reload(alpha, profile.id).proxy_url == PROXY
    client.post(url, settings_post(proxy_url="http://other:8080"))
    assert reload(alpha, profile.id).proxy_url == "http://other:8080"
    client.post(url, settings_post(clear_proxy="on"))
    assert reload(alpha, profile.id).proxy_encrypted is None


@pytest.mark.parametrize("role", ["agent", "viewer"])
def test_agents_and_viewers_see_a_number_but_cannot_change_link_log_out_or_delete_it(
    role, alpha, client_for, member_of
):
    profile = make_profile(alpha, label="Untouched", status=Status.CONNECTED)
    with tenant_context(alpha.tenant):
        profile.session_state = b'{"cookies": []}'
        profile.save(update_fields=["session_state_encrypted"])
    client = client_for(alpha, user=member_of(alpha, role))

    page = client.get(f"/numbers/{profile.id}/")
    refused = [
        client.post(f"/numbers/{profile.id}/settings/", settings_post(label="Hijacked")).status_code,
        client.post(f"/numbers/{profile.id}/link/").status_code,
        client.post(f"/numbers/{profile.id}/logout/").status_code,
        client.post(f"/numbers/{profile.id}/delete/").status_code,
    ]

    html = page.content.decode()
    assert page.status_code == 200
    assert "Only owners and admins can change these settings." in html
    assert "Save settings" not in html and "Delete number" not in html
    assert refused == [403, 403, 403, 403]
    saved = reload(alpha, profile.id)
    assert (saved.label, saved.status, saved.session_state) == ("Untouched", Status.CONNECTED, b'{"cookies": []}')


def test_logout_forgets_the_session_and_marks_the_number_logged_out(alpha, client_for):
    profile = make_profile(alpha, status=Status.CONNECTED, phone="+919800000001")
    with tenant_context(alpha.tenant):
        profile.session_state = b'{"cookies": []}'
        profile.save(update_fields=["session_state_encrypted"])

    response = client_for(alpha).post(f"/numbers/{profile.id}/logout/")

    assert response.status_code == 302
    saved = reload(alpha, profile.id)
    assert (saved.status, saved.session_state_encrypted, saved.status_detail) == (
        Status.LOGGED_OUT,
        None,
        "Logged out by a user",
    )


def test_relink_puts_a_logged_out_number_back_to_waiting_for_its_qr(alpha, client_for):
    profile = make_profile(alpha, status=Status.LOGGED_OUT)

    response = client_for(alpha).post(f"/numbers/{profile.id}/link/")

    assert response.status_code == 302
    assert reload(alpha, profile.id).status == Status.WAITING_FOR_QR


def test_banned_number_cannot_be_relinked(alpha, client_for):
    profile = make_profile(alpha, status=Status.BANNED)

    response = client_for(alpha).post(f"/numbers/{profile.id}/link/", follow=True)

    assert "This number is banned by WhatsApp." in response.content.decode()
    assert reload(alpha, profile.id).status == Status.BANNED


def test_delete_removes_the_number_and_keeps_its_sent_history(alpha, client_for):
    profile = make_profile(alpha, status=Status.CONNECTED)
    with tenant_context(alpha.tenant):
        sent = OutboundMessage.objects.create(profile=profile, to_number="+919800000002", body="hi", state="sent")

    response = client_for(alpha).post(f"/numbers/{profile.id}/delete/")

    assert response.status_code == 302
    assert response["Location"] == "/numbers/"
    assert reload(alpha, profile.id) is None
    with tenant_context(alpha.tenant):
        assert OutboundMessage.objects.filter(id=sent.id, profile=None).count() == 1


def test_number_with_queued_messages_is_not_deleted(alpha, client_for):
    profile = make_profile(alpha, status=Status.CONNECTED)
    with tenant_context(alpha.tenant):
        OutboundMessage.objects.create(profile=profile, to_number="+919800000002", body="hi")

    response = client_for(alpha).post(f"/numbers/{profile.id}/delete/", follow=True)

    assert "This number still has messages to send; cancel them first." in response.content.decode()
    assert reload(alpha, profile.id) is not None


# --- test message -----------------------------------------------------------------------------


def test_test_message_is_queued_on_this_number_and_its_state_is_polled_until_final(alpha, client_for):
    profile = make_profile(alpha, status=Status.CONNECTED)
    client = client_for(alpha)

    response = client.post(f"/numbers/{profile.id}/test-message/", {"to": "98765 43210", "text": "Hello there"})

    with tenant_context(alpha.tenant):
        messages = list(OutboundMessage.objects.all())
    assert len(messages) == 1
    message = messages[0]
    assert (message.profile_id, message.to_number, message.body, message.state) == (
        profile.id,
        "+919876543210",
        "Hello there",
        MessageState.QUEUED,
    )
    assert response.status_code == 302
    assert response["Location"] == f"/numbers/{profile.id}/?message={message.id}#test-message"

    page = client.get(f"/numbers/{profile.id}/?message={message.id}").content.decode()
    poll_url = f"/numbers/{profile.id}/messages/{message.id}/"
    assert f'hx-get="{poll_url}" hx-trigger="every 2s"' in page
    assert 'data-message-state="queued"' in page

    with tenant_context(alpha.tenant):
        OutboundMessage.objects.filter(id=message.id).update(state=MessageState.DELIVERED)
    fragment = client.get(poll_url, HTTP_HX_REQUEST="true")
    html = fragment.content.decode()
    assert fragment.status_code == 200
    assert 'data-message-state="delivered"' in html
    assert "Delivered" in html
    assert "hx-trigger" not in html


def test_test_message_to_an_invalid_number_is_refused_and_nothing_is_queued(alpha, client_for):
    profile = make_profile(alpha, status=Status.CONNECTED)

    response = client_for(alpha).post(f"/numbers/{profile.id}/test-message/", {"to": "12", "text": "Hi"})

    assert response.status_code == 400
    assert "is not a valid phone number" in response.content.decode()
    with tenant_context(alpha.tenant):
        assert OutboundMessage.objects.count() == 0


def test_agent_may_send_a_test_message_but_a_viewer_may_not(alpha, client_for, member_of):
    profile = make_profile(alpha, status=Status.CONNECTED)
    data = {"to": "+919876543210", "text": "Hi"}

    viewer = client_for(alpha, user=member_of(alpha, "viewer")).post(f"/numbers/{profile.id}/test-message/", data)
    with tenant_context(alpha.tenant):
        assert OutboundMessage.objects.count() == 0
    agent = client_for(alpha, user=member_of(alpha, "agent")).post(f"/numbers/{profile.id}/test-message/", data)

    assert (viewer.status_code, agent.status_code) == (403, 302)
    with tenant_context(alpha.tenant):
        assert OutboundMessage.objects.count() == 1


def test_message_state_of_another_number_is_404(alpha, client_for):
    first, second = make_profile(alpha, label="One"), make_profile(alpha, label="Two")
    with tenant_context(alpha.tenant):
        message = OutboundMessage.objects.create(profile=first, to_number="+919800000002", body="hi")

    assert client_for(alpha).get(f"/numbers/{second.id}/messages/{message.id}/").status_code == 404


# --- tenant isolation -------------------------------------------------------------------------


def test_beta_never_reaches_alphas_numbers(alpha, beta, client_for):
    profile = make_profile(alpha, label="Alpha secret line")
    with tenant_context(beta.tenant):
        assert not SenderProfile.objects.filter(id=profile.id).exists()

    on_alpha_host = client_for(alpha, user=beta.owner)
    on_beta_host = client_for(beta)

    assert on_alpha_host.get(f"/numbers/{profile.id}/").status_code == 403
    assert on_alpha_host.post(f"/numbers/{profile.id}/delete/").status_code == 403
    assert on_beta_host.get(f"/numbers/{profile.id}/").status_code == 404
    assert on_beta_host.post(f"/numbers/{profile.id}/delete/").status_code == 404
    assert on_beta_host.post(f"/numbers/{profile.id}/logout/").status_code == 404
    assert "Alpha secret line" not in on_beta_host.get("/numbers/").content.decode()
    saved = reload(alpha, profile.id)
    assert (saved.label, saved.status) == ("Alpha secret line", Status.WAITING_FOR_QR)


def test_a_number_added_on_beta_is_counted_and_stored_in_beta_only(alpha, beta, client_for):
    client_for(beta).post("/numbers/add/", {"label": "Beta line"})

    assert (profile_count(alpha), profile_count(beta)) == (0, 1)


# --- opt-out words ----------------------------------------------------------------------------


def opt_out_words(world) -> list[str]:
    with tenant_context(world.tenant):
        return list(OptOutKeyword.objects.values_list("word", flat=True))


def test_opt_out_words_page_lists_the_seeded_words(alpha, client_for):
    response = client_for(alpha).get("/settings/opt-out-words/")

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-word="stop"' in html and 'data-word="बंद"' in html
    assert html.count("data-word=") == len(opt_out_words(alpha))
    assert 'class="tab is-active" href="/settings/opt-out-words/" aria-current="page"' in html


def test_owner_adds_and_removes_an_opt_out_word(alpha, client_for):
    client = client_for(alpha)
    before = len(opt_out_words(alpha))

    added = client.post("/settings/opt-out-words/add/", {"word": "  Halt! "})
    assert added.status_code == 302
    assert "halt" in opt_out_words(alpha)
    assert len(opt_out_words(alpha)) == before + 1

    with tenant_context(alpha.tenant):
        word_id = OptOutKeyword.objects.get(word="halt").id
    removed = client.post(f"/settings/opt-out-words/{word_id}/remove/")
    assert removed.status_code == 302
    assert "halt" not in opt_out_words(alpha)
    assert len(opt_out_words(alpha)) == before


def test_duplicate_opt_out_word_is_refused(alpha, client_for):
    before = opt_out_words(alpha)

    response = client_for(alpha).post("/settings/opt-out-words/add/", {"word": "STOP"})

    assert response.status_code == 409
    assert "This opt-out word is already in the list." in response.content.decode()
    assert opt_out_words(alpha) == before


@pytest.mark.parametrize("role", ["agent", "viewer"])
def test_agents_and_viewers_see_opt_out_words_but_cannot_change_them(role, alpha, client_for, member_of):
    client = client_for(alpha, user=member_of(alpha, role))
    before = opt_out_words(alpha)
    with tenant_context(alpha.tenant):
        stop_id = OptOutKeyword.objects.get(word="stop").id

    page = client.get("/settings/opt-out-words/")
    add = client.post("/settings/opt-out-words/add/", {"word": "halt"})
    remove = client.post(f"/settings/opt-out-words/{stop_id}/remove/")

    assert page.status_code == 200
    assert "Only owners and admins can change the opt-out words." in page.content.decode()
    assert (add.status_code, remove.status_code) == (403, 403)
    assert opt_out_words(alpha) == before


def test_opt_out_words_are_per_tenant(alpha, beta, client_for):
    client_for(alpha).post("/settings/opt-out-words/add/", {"word": "basta"})

    assert "basta" in opt_out_words(alpha)
    assert "basta" not in opt_out_words(beta)
    assert 'data-word="basta"' not in client_for(beta).get("/settings/opt-out-words/").content.decode()
