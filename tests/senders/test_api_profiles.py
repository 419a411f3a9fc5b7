"""/api/v1/profiles: WhatsApp numbers over the API — settings, proxy kept secret, QR as PNG,
status, link and logout; admins manage, everyone reads, tenants never meet."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django_tenants.utils import tenant_context
from drf_spectacular.generators import SchemaGenerator

from apps.accounts.models import Role
from apps.senders.models import MessageState, OutboundMessage, SenderProfile
from apps.senders.services import profiles
from tests.senders.api_support import api_error, change_plan, jwt_client, key_client, member

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PROXY = "socks5://proxy-user:s3cret-pass@proxy.example:1080"


def alpha_profile(alpha, **fields) -> SenderProfile:
    with tenant_context(alpha.tenant):
        return profiles.profile_create(label=fields.pop("label", "Sales"), link=False, **fields)


def count(world) -> int:
    with tenant_context(world.tenant):
        return SenderProfile.objects.count()


def reload(world, profile: SenderProfile) -> SenderProfile:
    with tenant_context(world.tenant):
        return SenderProfile.objects.get(id=profile.id)


def test_admin_adds_a_number_with_settings_and_the_proxy_never_comes_back(alpha):
    client = jwt_client(alpha)

    response = client.post(
        "/api/v1/profiles",
        {
            "label": "Support line",
            "proxy_url": PROXY,
            "pacing_preset": "custom",
            "pacing_min_s": 3,
            "pacing_max_s": 6,
            "daily_cap": 200,
            "quiet_hours_start": "21:00",
            "quiet_hours_end": "08:00",
        },
        content_type="application/json",
    )

    assert response.status_code == 201
    body = response.json()
    assert "s3cret" not in response.content.decode()
    assert "proxy-user" not in response.content.decode()
    assert not {"proxy_url", "proxy_encrypted", "session_state", "session_state_encrypted"} & set(body)
    with tenant_context(alpha.tenant):
        row = SenderProfile.objects.get()
    assert body == {
        "id": row.id,
        "label": "Support line",
        "phone": "",
        "status": "waiting_for_qr",
        "status_label": "Waiting for QR scan",
        "status_detail": "",
        "has_proxy": True,
        "proxy_server": "socks5://proxy.example:1080",
        "pacing_preset": "custom",
        "pacing_min_s": 3.0,
        "pacing_max_s": 6.0,
        "batch_size": 50,
        "batch_pause_s": 300,
        "daily_cap": 200,
        "warmup_enabled": True,
        "warmup_started_on": None,
        "warmup_ramp": [20, 40, 80, 150, 250, 400, 600],
        "quiet_hours_start": "21:00:00",
        "quiet_hours_end": "08:00:00",
        "per_contact_daily_cap": 3,
        "paused_until": None,
        "last_activity_at": None,
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    assert row.proxy_url == PROXY
    assert (row.pacing_min_s, row.pacing_max_s, row.quiet_hours_start) == (3.0, 6.0, datetime.time(21, 0))


def test_adding_without_linking_leaves_the_number_new(alpha):
    response = jwt_client(alpha).post(
        "/api/v1/profiles", {"label": "Later", "link": False}, content_type="application/json"
    )

    assert response.status_code == 201
    assert (response.json()["status"], response.json()["has_proxy"], response.json()["proxy_server"]) == (
        "new",
        False,
        None,
    )
    assert count(alpha) == 1


@pytest.mark.parametrize(
    ("payload", "code", "details"),
    [
        ({"label": "X", "proxy_url": "ftp://proxy.example:21"}, "invalid_proxy", None),
        ({"label": "X", "pacing_preset": "custom", "pacing_min_s": 10, "pacing_max_s": 5}, "invalid_pacing", None),
        ({"label": "X", "quiet_hours_start": "22:00"}, "invalid_quiet_hours", None),
        ({"label": "X", "pacing_preset": "warp"}, "invalid", {"pacing_preset": ['"warp" is not a valid choice.']}),
        ({"pacing_preset": "safe"}, "invalid", {"label": ["This field is required."]}),
        (
            {"label": "X", "per_contact_daily_cap": 0},
            "invalid",
            {"per_contact_daily_cap": ["Ensure this value is greater than or equal to 1."]},
        ),
        (
            {"label": "X", "warmup_ramp": [10, 0]},
            "invalid",
            {"warmup_ramp": {"1": ["Ensure this value is greater than or equal to 1."]}},
        ),
    ],
)
def test_invalid_settings_are_refused_in_the_error_shape_and_nothing_is_created(alpha, payload, code, details):
    response = jwt_client(alpha).post("/api/v1/profiles", payload, content_type="application/json")

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert body["error"]["details"] == details
    assert count(alpha) == 0


def test_the_plans_number_limit_is_a_402_and_nothing_is_created(alpha):
    change_plan(alpha, "pro")  # 3 numbers
    for label in ("One", "Two", "Three"):
        alpha_profile(alpha, label=label)

    response = jwt_client(alpha).post("/api/v1/profiles", {"label": "Four"}, content_type="application/json")

    assert response.status_code == 402
    assert response.json() == api_error(
        "number_limit",
        "Your plan allows 3 WhatsApp numbers; 3 used, 1 more requested.",
        {"action": "add_number", "limit": 3, "used": 3, "remaining": 0},
    )
    assert count(alpha) == 3


def test_members_of_any_role_list_and_read_numbers(alpha):
    first = alpha_profile(alpha, label="First")
    second = alpha_profile(alpha, label="Second", proxy_url=PROXY)
    viewer = jwt_client(alpha, member(alpha, Role.VIEWER))

    listed = viewer.get("/api/v1/profiles")
    detail = viewer.get(f"/api/v1/profiles/{second.id}")

    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()["results"]] == [second.id, first.id]
    assert (listed.json()["next"], listed.json()["previous"]) == (None, None)
    assert detail.status_code == 200
    assert (detail.json()["label"], detail.json()["proxy_server"]) == ("Second", "socks5://proxy.example:1080")
    assert "s3cret" not in listed.content.decode() + detail.content.decode()
    missing = viewer.get("/api/v1/profiles/999999")
    assert missing.status_code == 404
    assert missing.json() == api_error("profile_not_found", "No such WhatsApp number.")


def test_patch_changes_only_the_given_settings(alpha):
    profile = alpha_profile(alpha, proxy_url=PROXY)

    response = jwt_client(alpha).patch(
        f"/api/v1/profiles/{profile.id}",
        {"label": "Renamed", "pacing_preset": "safe", "warmup_ramp": [5, 10]},
        content_type="application/json",
    )

    assert response.status_code == 200
    assert (response.json()["label"], response.json()["pacing_preset"], response.json()["warmup_ramp"]) == (
        "Renamed",
        "safe",
        [5, 10],
    )
    row = reload(alpha, profile)
    assert (row.label, row.pacing_preset, row.warmup_ramp, row.daily_cap) == ("Renamed", "safe", [5, 10], 500)
    assert row.proxy_url == PROXY


def test_patch_replaces_or_removes_the_proxy(alpha):
    profile = alpha_profile(alpha, proxy_url=PROXY)
    client = jwt_client(alpha)

    replaced = client.patch(
        f"/api/v1/profiles/{profile.id}", {"proxy_url": "http://other.example:3128"}, content_type="application/json"
    )
    assert replaced.status_code == 200
    assert replaced.json()["proxy_server"] == "http://other.example:3128"
    assert reload(alpha, profile).proxy_url == "http://other.example:3128"

    removed = client.patch(f"/api/v1/profiles/{profile.id}", {"proxy_url": ""}, content_type="application/json")
    assert removed.status_code == 200
    assert (removed.json()["has_proxy"], removed.json()["proxy_server"]) == (False, None)
    assert reload(alpha, profile).proxy_encrypted is None


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"pacing_preset": "custom", "pacing_min_s": 9, "pacing_max_s": 2}, "invalid_pacing"),
        ({"proxy_url": "gopher://old.example:70"}, "invalid_proxy"),
        ({"quiet_hours_end": "06:00"}, "invalid_quiet_hours"),
        ({"label": ""}, "invalid"),
    ],
)
def test_invalid_patch_changes_nothing(alpha, payload, code):
    profile = alpha_profile(alpha, proxy_url=PROXY)
    before = reload(alpha, profile)

    response = jwt_client(alpha).patch(f"/api/v1/profiles/{profile.id}", payload, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    after = reload(alpha, profile)
    assert (after.label, after.pacing_preset, after.pacing_min_s, after.pacing_max_s, after.quiet_hours_end) == (
        before.label,
        before.pacing_preset,
        before.pacing_min_s,
        before.pacing_max_s,
        before.quiet_hours_end,
    )
    assert after.proxy_url == PROXY
    assert after.updated_at == before.updated_at


def test_delete_removes_a_number_unless_it_still_has_messages_to_send(alpha):
    idle = alpha_profile(alpha, label="Idle")
    busy = alpha_profile(alpha, label="Busy")
    with tenant_context(alpha.tenant):
        OutboundMessage.objects.create(profile=busy, to_number="+919876543210", body="Hi", state=MessageState.QUEUED)
    client = jwt_client(alpha)

    deleted = client.delete(f"/api/v1/profiles/{idle.id}")
    refused = client.delete(f"/api/v1/profiles/{busy.id}")

    assert deleted.status_code == 204
    assert refused.status_code == 400
    assert refused.json() == api_error("profile_busy", "This number still has messages to send; cancel them first.")
    with tenant_context(alpha.tenant):
        assert list(SenderProfile.objects.values_list("id", flat=True)) == [busy.id]
    assert client.delete(f"/api/v1/profiles/{idle.id}").status_code == 404


def test_qr_is_a_png_of_the_code_on_screen_and_a_404_without_one(alpha):
    profile = alpha_profile(alpha)
    client = jwt_client(alpha)

    none_yet = client.get(f"/api/v1/profiles/{profile.id}/qr")
    assert none_yet.status_code == 404
    assert none_yet["Content-Type"] == "application/json"
    assert none_yet.json() == api_error(
        "qr_not_available", "There is no QR code to scan for this number right now.", {"status": "new"}
    )

    with tenant_context(alpha.tenant):
        profiles.profile_qr_update(profile_id=profile.id, payload="2@pairing-payload,abc,def")

    response = client.get(f"/api/v1/profiles/{profile.id}/qr", HTTP_ACCEPT="image/png")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == "no-store"
    assert response.content.startswith(PNG_SIGNATURE)
    assert response.content == profiles.qr_png("2@pairing-payload,abc,def")


def test_qr_of_one_tenant_is_never_served_for_anothers_number_with_the_same_id(alpha, beta):
    profile = alpha_profile(alpha)
    with tenant_context(alpha.tenant):
        profiles.profile_qr_update(profile_id=profile.id, payload="2@alpha-only")
    with tenant_context(beta.tenant):
        SenderProfile.objects.create(id=profile.id, label="Beta's own")

    response = jwt_client(beta).get(f"/api/v1/profiles/{profile.id}/qr")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "qr_not_available"


def test_status_reports_the_live_state_and_whether_a_qr_is_ready(alpha):
    profile = alpha_profile(alpha)
    with tenant_context(alpha.tenant):
        profiles.profile_set_status(profile=profile, status=SenderProfile.Status.WAITING_FOR_QR)
        profiles.profile_qr_update(profile_id=profile.id, payload="2@payload")
    viewer = jwt_client(alpha, member(alpha, Role.VIEWER))

    response = viewer.get(f"/api/v1/profiles/{profile.id}/status")

    assert response.status_code == 200
    assert response.json() == {
        "profile_id": profile.id,
        "status": "waiting_for_qr",
        "status_label": "Waiting for QR scan",
        "detail": "",
        "phone": "",
        "paused_until": None,
        "qr_available": True,
    }


def test_logout_forgets_the_session(alpha):
    profile = alpha_profile(alpha)
    with tenant_context(alpha.tenant):
        profiles.profile_connected(profile_id=profile.id, phone="919800000001", state=b'{"cookies": []}')

    response = jwt_client(alpha).post(f"/api/v1/profiles/{profile.id}/logout")

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["phone"]) == ("logged_out", "+919800000001")
    row = reload(alpha, profile)
    assert (row.status, row.session_state_encrypted, row.session_saved_at) == ("logged_out", None, None)


def test_link_starts_linking_and_is_refused_for_a_banned_number(alpha):
    profile = alpha_profile(alpha)
    banned = alpha_profile(alpha, label="Banned")
    with tenant_context(alpha.tenant):
        profiles.profile_set_status(profile=banned, status=SenderProfile.Status.BANNED)
    client = jwt_client(alpha)

    started = client.post(f"/api/v1/profiles/{profile.id}/link")
    refused = client.post(f"/api/v1/profiles/{banned.id}/link")

    assert started.status_code == 202
    assert started.json()["status"] == "waiting_for_qr"
    assert reload(alpha, profile).status == "waiting_for_qr"
    assert refused.status_code == 400
    assert refused.json() == api_error("profile_banned", "This number is banned by WhatsApp.")
    assert reload(alpha, banned).status == "banned"


@pytest.mark.parametrize("role", [Role.VIEWER, Role.AGENT])
def test_viewers_and_agents_cannot_manage_numbers(alpha, role):
    profile = alpha_profile(alpha, label="Keep")
    with tenant_context(alpha.tenant):
        profiles.profile_qr_update(profile_id=profile.id, payload="2@payload")
    client = jwt_client(alpha, member(alpha, role))
    refused = api_error("role_required", "This needs the Admin role or higher.")

    attempts = [
        client.post("/api/v1/profiles", {"label": "New"}, content_type="application/json"),
        client.patch(f"/api/v1/profiles/{profile.id}", {"label": "Changed"}, content_type="application/json"),
        client.delete(f"/api/v1/profiles/{profile.id}"),
        client.post(f"/api/v1/profiles/{profile.id}/logout"),
        client.post(f"/api/v1/profiles/{profile.id}/link"),
        client.get(f"/api/v1/profiles/{profile.id}/qr"),
    ]

    assert [(r.status_code, r.json()) for r in attempts] == [(403, refused)] * len(attempts)
    row = reload(alpha, profile)
    assert (row.label, row.status) == ("Keep", "new")
    assert count(alpha) == 1


def test_a_viewer_api_key_reads_but_cannot_create(alpha):
    client = key_client(alpha, Role.VIEWER)

    assert client.get("/api/v1/profiles").status_code == 200
    response = client.post("/api/v1/profiles", {"label": "New"}, content_type="application/json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "role_required"
    assert count(alpha) == 0


def test_an_admin_api_key_manages_numbers(alpha):
    response = key_client(alpha, Role.ADMIN).post(
        "/api/v1/profiles", {"label": "Via key", "link": False}, content_type="application/json"
    )

    assert response.status_code == 201
    assert count(alpha) == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/profiles"),
        ("post", "/api/v1/profiles"),
        ("get", "/api/v1/profiles/{id}"),
        ("patch", "/api/v1/profiles/{id}"),
        ("delete", "/api/v1/profiles/{id}"),
        ("get", "/api/v1/profiles/{id}/qr"),
        ("get", "/api/v1/profiles/{id}/status"),
        ("post", "/api/v1/profiles/{id}/logout"),
        ("post", "/api/v1/profiles/{id}/link"),
    ],
)
def test_without_credentials_every_profile_endpoint_is_a_401(alpha, method, path):
    profile = alpha_profile(alpha, label="Keep")

    client, url = Client(HTTP_HOST=alpha.host), path.format(id=profile.id)

    if method in ("post", "patch"):
        response = getattr(client, method)(url, {"label": "X"}, content_type="application/json")
    else:
        response = getattr(client, method)(url)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert count(alpha) == 1
    assert reload(alpha, profile).label == "Keep"


def test_betas_token_and_key_are_refused_on_alpha_and_change_nothing(alpha, beta):
    profile = alpha_profile(alpha, label="Alpha's")
    beta_token = jwt_client(beta, host=alpha.host)
    beta_key = key_client(beta, Role.ADMIN, host=alpha.host)

    for client in (beta_token, beta_key):
        read = client.get(f"/api/v1/profiles/{profile.id}")
        changed = client.patch(f"/api/v1/profiles/{profile.id}", {"label": "Mine"}, content_type="application/json")
        deleted = client.delete(f"/api/v1/profiles/{profile.id}")
        assert (read.status_code, changed.status_code, deleted.status_code) == (401, 401, 401)
        assert "Alpha's" not in read.content.decode()

    assert reload(alpha, profile).label == "Alpha's"
    assert count(alpha) == 1


def test_beta_on_its_own_host_never_sees_alphas_numbers(alpha, beta):
    profile = alpha_profile(alpha, label="Alpha's")
    client = jwt_client(beta)

    listed = client.get("/api/v1/profiles")
    read = client.get(f"/api/v1/profiles/{profile.id}")
    changed = client.patch(f"/api/v1/profiles/{profile.id}", {"label": "Mine"}, content_type="application/json")
    logged_out = client.post(f"/api/v1/profiles/{profile.id}/logout")

    assert listed.json()["results"] == []
    assert (read.status_code, changed.status_code, logged_out.status_code) == (404, 404, 404)
    row = reload(alpha, profile)
    assert (row.label, row.status) == ("Alpha's", "new")
    assert count(beta) == 0


def test_the_api_docs_describe_the_profile_endpoints_and_the_png():
    schema = SchemaGenerator().get_schema(request=None, public=True)

    paths = schema["paths"]
    assert set(paths["/api/v1/profiles"]) == {"get", "post"}
    assert set(paths["/api/v1/profiles/{profile_id}"]) == {"get", "patch", "delete"}
    for action, method in (("qr", "get"), ("status", "get"), ("logout", "post"), ("link", "post")):
        assert set(paths[f"/api/v1/profiles/{{profile_id}}/{action}"]) == {method}
    qr = paths["/api/v1/profiles/{profile_id}/qr"]["get"]["responses"]
    assert qr["200"]["content"] == {"image/png": {"schema": {"type": "string", "format": "binary"}}}
    assert qr["404"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ApiError"}
    create = schema["components"]["schemas"]["ProfileCreateRequest"]["properties"]
    assert create["proxy_url"]["writeOnly"] is True
    shown = set(schema["components"]["schemas"]["Profile"]["properties"])
    assert {"has_proxy", "proxy_server"} <= shown
    assert not {"proxy_url", "proxy_encrypted", "session_state", "session_state_encrypted", "lease_host"} & shown


def test_status_of_a_rate_limited_number_says_until_when(alpha):
    profile = alpha_profile(alpha)
    until = datetime.datetime(2026, 3, 2, 10, 15, tzinfo=datetime.UTC)
    with tenant_context(alpha.tenant):
        profiles.profile_set_status(
            profile=profile,
            status=SenderProfile.Status.RATE_LIMITED,
            detail="Too many messages",
            extra_fields={"paused_until": until},
        )

    body = jwt_client(alpha).get(f"/api/v1/profiles/{profile.id}/status").json()

    assert body == {
        "profile_id": profile.id,
        "status": "rate_limited",
        "status_label": "Rate limited",
        "detail": "Too many messages",
        "phone": "",
        "paused_until": "2026-03-02T10:15:00Z",
        "qr_available": False,
    }
    assert jwt_client(alpha).get(f"/api/v1/profiles/{profile.id}").json()["paused_until"] == "2026-03-02T10:15:00Z"
