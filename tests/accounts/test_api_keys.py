"""Tenant API keys: shown once, stored hashed, tenant-bound, revocable, managed by admins."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apps.accounts.models import ApiKey, Membership, Role, User
from apps.accounts.services.api_keys import ApiKeyCreated, api_key_authenticate, api_key_create, api_key_revoke
from apps.billing.models import Plan
from apps.core.exceptions import NotFound, PermissionDenied, ValidationFailed
from tests.conftest import PASSWORD

KEY_PATTERN = re.compile(r"^chk_([A-Za-z0-9]{8})_[A-Za-z0-9]{40}$")


def error(code: str, message: str, details=None) -> dict:
    return {"error": {"code": code, "message": message, "details": details}}


def with_key(host: str, key: str) -> Client:
    return Client(HTTP_HOST=host, HTTP_AUTHORIZATION=f"Api-Key {key}")


def member(world, role: str) -> User:
    user = User.objects.create_user(f"api-{role}@{world.tenant.slug}.test", PASSWORD)
    Membership.objects.create(user=user, tenant=world.tenant, role=role)
    return user


def downgrade_to(world, plan_slug: str) -> None:
    subscription = world.tenant.subscription
    subscription.plan = Plan.objects.get(slug=plan_slug)
    subscription.save(update_fields=["plan"])


def test_create_shows_the_key_once_and_stores_only_its_sha256(alpha, client_for):
    client = client_for(alpha)

    response = client.post("/api/v1/api-keys", {"name": "CRM sync"}, content_type="application/json")

    assert response.status_code == 201
    body = response.json()
    key = body["key"]
    match = KEY_PATTERN.match(key)
    assert match is not None
    row = ApiKey.objects.get(pk=body["id"])
    assert (row.tenant_id, row.name, row.role, row.prefix, row.created_by_id) == (
        alpha.tenant.pk,
        "CRM sync",
        "admin",
        match.group(1),
        alpha.owner.pk,
    )
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    secret = key.split("_", 2)[2]
    stored = [str(value) for value in ApiKey.objects.filter(pk=row.pk).values().get().values()]
    assert not [value for value in stored if secret in value or key in value]
    assert body == {
        "id": row.pk,
        "name": "CRM sync",
        "prefix": row.prefix,
        "role": "admin",
        "is_active": True,
        "created_by": "owner@alpha.test",
        "created_at": body["created_at"],
        "last_used_at": None,
        "revoked_at": None,
        "key": key,
    }
    listed = client.get("/api/v1/api-keys").json()
    assert [item["id"] for item in listed["results"]] == [row.pk]
    assert "key" not in listed["results"][0]
    assert key not in str(listed)


def test_key_opens_the_api_records_last_use_and_stops_working_once_revoked(alpha, client_for):
    created = api_key_create(tenant=alpha.tenant, name="Zapier", created_by=alpha.owner, role=Role.AGENT)

    response = with_key(alpha.host, created.secret).get("/api/v1/me")

    assert response.status_code == 200
    assert response.json() == {
        "user": None,
        "api_key": {"id": created.api_key.pk, "name": "Zapier", "prefix": created.api_key.prefix, "role": "agent"},
        "tenant": {"slug": "alpha", "name": "Alpha Inc", "timezone": "UTC"},
        "role": "agent",
        "plan": {"slug": "business", "name": "Business"},
    }
    created.api_key.refresh_from_db()
    first_use = created.api_key.last_used_at
    assert first_use is not None
    # The X-Api-Key header works too; a second use within the minute writes nothing.
    assert Client(HTTP_HOST=alpha.host, HTTP_X_API_KEY=created.secret).get("/api/v1/me").status_code == 200
    created.api_key.refresh_from_db()
    assert created.api_key.last_used_at == first_use

    revoked = client_for(alpha).delete(f"/api/v1/api-keys/{created.api_key.pk}")

    assert revoked.status_code == 204
    created.api_key.refresh_from_db()
    assert created.api_key.revoked_at is not None
    refused = with_key(alpha.host, created.secret).get("/api/v1/me")
    assert refused.status_code == 401
    assert refused.json() == error("api_key_not_valid", "Invalid or revoked API key.")


def test_last_used_at_is_rewritten_only_after_a_minute(alpha):
    created = api_key_create(tenant=alpha.tenant, name="Cron", created_by=None)
    recent = timezone.now() - timedelta(seconds=30)
    ApiKey.objects.filter(pk=created.api_key.pk).update(last_used_at=recent)

    api_key_authenticate(tenant=alpha.tenant, raw_key=created.secret)

    created.api_key.refresh_from_db()
    assert created.api_key.last_used_at == recent
    stale = timezone.now() - timedelta(minutes=2)
    ApiKey.objects.filter(pk=created.api_key.pk).update(last_used_at=stale)
    api_key_authenticate(tenant=alpha.tenant, raw_key=created.secret)
    created.api_key.refresh_from_db()
    assert created.api_key.last_used_at > stale + timedelta(minutes=1)


def test_alpha_key_is_refused_on_beta(alpha, beta):
    created = api_key_create(tenant=alpha.tenant, name="Alpha only", created_by=alpha.owner)

    response = with_key(beta.host, created.secret).get("/api/v1/me")

    assert response.status_code == 401
    assert response.json() == error("api_key_not_valid", "Invalid or revoked API key.")
    assert api_key_authenticate(tenant=beta.tenant, raw_key=created.secret) is None
    created.api_key.refresh_from_db()
    assert created.api_key.last_used_at is None


@pytest.mark.parametrize(
    "raw_key", ["", "chk_", "chk_short_secret", "nope_abcdefgh_" + "x" * 40, "chk_abcdefgh_" + "x" * 40]
)
def test_malformed_or_unknown_keys_authenticate_nobody(alpha, raw_key):
    assert api_key_authenticate(tenant=alpha.tenant, raw_key=raw_key) is None


@pytest.mark.parametrize("role", [Role.AGENT, Role.VIEWER])
def test_agents_and_viewers_cannot_manage_keys(alpha, client_for, role):
    existing = api_key_create(tenant=alpha.tenant, name="Existing", created_by=alpha.owner)
    client = client_for(alpha, member(alpha, role))
    refusal = error("role_required", "This needs the Admin role or higher.")

    listed = client.get("/api/v1/api-keys")
    created = client.post("/api/v1/api-keys", {"name": "Mine"}, content_type="application/json")
    revoked = client.delete(f"/api/v1/api-keys/{existing.api_key.pk}")

    assert [(r.status_code, r.json()) for r in (listed, created, revoked)] == [(403, refusal)] * 3
    assert list(ApiKey.objects.filter(tenant=alpha.tenant).values_list("name", flat=True)) == ["Existing"]
    existing.api_key.refresh_from_db()
    assert existing.api_key.revoked_at is None


def test_admins_manage_keys(alpha, client_for):
    client = client_for(alpha, member(alpha, Role.ADMIN))

    response = client.post("/api/v1/api-keys", {"name": "Admin's", "role": "viewer"}, content_type="application/json")

    assert response.status_code == 201
    assert ApiKey.objects.get(pk=response.json()["id"]).role == "viewer"


def test_an_agent_key_cannot_manage_keys_but_an_admin_key_can(alpha):
    agent_key = api_key_create(tenant=alpha.tenant, name="Agent key", created_by=alpha.owner, role=Role.AGENT)
    admin_key = api_key_create(tenant=alpha.tenant, name="Admin key", created_by=alpha.owner, role=Role.ADMIN)

    as_agent = with_key(alpha.host, agent_key.secret).get("/api/v1/api-keys")
    as_admin = with_key(alpha.host, admin_key.secret).post(
        "/api/v1/api-keys", {"name": "Made by a key"}, content_type="application/json"
    )

    assert as_agent.status_code == 403
    assert as_agent.json()["error"]["code"] == "role_required"
    assert as_admin.status_code == 201
    assert as_admin.json()["created_by"] is None


def test_keys_cannot_be_made_owner(alpha, client_for):
    response = client_for(alpha).post(
        "/api/v1/api-keys", {"name": "Boss", "role": "owner"}, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json() == error("invalid", "Invalid input.", {"role": ['"owner" is not a valid choice.']})
    with pytest.raises(ValidationFailed) as excinfo:
        api_key_create(tenant=alpha.tenant, name="Boss", created_by=alpha.owner, role=Role.OWNER)
    assert excinfo.value.code == "invalid_role"
    assert not ApiKey.objects.filter(tenant=alpha.tenant).exists()


def test_revoking_another_tenants_key_is_not_found_and_leaves_it_working(alpha, beta, client_for):
    beta_key = api_key_create(tenant=beta.tenant, name="Beta's", created_by=beta.owner)

    response = client_for(alpha).delete(f"/api/v1/api-keys/{beta_key.api_key.pk}")

    assert response.status_code == 404
    assert response.json() == error("api_key_not_found", "No such API key in this workspace.")
    with pytest.raises(NotFound):
        api_key_revoke(tenant=alpha.tenant, api_key_id=beta_key.api_key.pk)
    beta_key.api_key.refresh_from_db()
    assert beta_key.api_key.revoked_at is None
    assert with_key(beta.host, beta_key.secret).get("/api/v1/me").status_code == 200


def test_revoking_twice_keeps_the_first_revocation_time(alpha):
    created = api_key_create(tenant=alpha.tenant, name="Twice", created_by=alpha.owner)

    first = api_key_revoke(tenant=alpha.tenant, api_key_id=created.api_key.pk).revoked_at
    second = api_key_revoke(tenant=alpha.tenant, api_key_id=created.api_key.pk).revoked_at

    assert first is not None
    assert second == first


def test_plan_without_api_access_refuses_creating_and_using_keys(alpha, client_for):
    existing = api_key_create(tenant=alpha.tenant, name="From business days", created_by=alpha.owner)
    downgrade_to(alpha, "pro")
    refusal = error("plan_feature_missing", "Your plan does not include API access.", {"feature": "api", "plan": "pro"})

    created = client_for(alpha).post("/api/v1/api-keys", {"name": "New"}, content_type="application/json")
    used = with_key(alpha.host, existing.secret).get("/api/v1/me")

    assert (created.status_code, created.json()) == (403, refusal)
    assert (used.status_code, used.json()) == (403, refusal)
    with pytest.raises(PermissionDenied) as excinfo:
        api_key_create(tenant=alpha.tenant, name="New", created_by=alpha.owner)
    assert excinfo.value.code == "plan_feature_missing"
    assert list(ApiKey.objects.filter(tenant=alpha.tenant).values_list("name", flat=True)) == ["From business days"]


def test_list_pages_with_a_cursor_newest_first(alpha, client_for):
    ids = [api_key_create(tenant=alpha.tenant, name=f"Key {n}", created_by=alpha.owner).api_key.pk for n in range(3)]
    client = client_for(alpha)

    first = client.get("/api/v1/api-keys", {"page_size": 2}).json()
    second = client.get(first["next"]).json()

    assert [item["id"] for item in first["results"]] == [ids[2], ids[1]]
    assert first["previous"] is None
    assert [item["id"] for item in second["results"]] == [ids[0]]
    assert second["next"] is None


def test_api_key_create_returns_a_frozen_result(alpha):
    created = api_key_create(tenant=alpha.tenant, name="Frozen", created_by=alpha.owner)

    assert isinstance(created, ApiKeyCreated)
    with pytest.raises(AttributeError):
        created.secret = "changed"  # type: ignore[misc]
