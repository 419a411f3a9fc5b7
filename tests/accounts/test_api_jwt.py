"""JWT sign-in on a tenant host: tokens name their tenant and are refused on any other."""

from __future__ import annotations

from django.test import Client
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from apps.accounts.models import Membership, Role, User
from tests.conftest import PASSWORD


def error(code: str, message: str, details=None) -> dict:
    return {"error": {"code": code, "message": message, "details": details}}


def obtain(host: str, email: str, password: str = PASSWORD):
    return Client(HTTP_HOST=host).post(
        "/api/v1/auth/token", {"email": email, "password": password}, content_type="application/json"
    )


def refresh(host: str, token: str):
    return Client(HTTP_HOST=host).post(
        "/api/v1/auth/token/refresh", {"refresh": token}, content_type="application/json"
    )


def me(host: str, access: str):
    return Client(HTTP_HOST=host).get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {access}")


def agency_user(alpha, beta) -> User:
    """A member of both tenants: any refusal on beta is about the token, not the membership."""
    user = User.objects.create_user("api-agency@both.test", PASSWORD, full_name="Agency Person")
    Membership.objects.create(user=user, tenant=alpha.tenant, role=Role.ADMIN)
    Membership.objects.create(user=user, tenant=beta.tenant, role=Role.AGENT)
    return user


def test_token_obtained_on_alpha_names_alpha_and_opens_its_api(alpha):
    response = obtain(alpha.host, "Owner@Alpha.test")

    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}
    access = AccessToken(response.json()["access"])
    assert (access["tenant"], access["tenant_id"], access["user_id"]) == (
        alpha.tenant.schema_name,
        alpha.tenant.pk,
        str(alpha.owner.pk),
    )
    assert RefreshToken(response.json()["refresh"])["tenant"] == alpha.tenant.schema_name
    reply = me(alpha.host, response.json()["access"])
    assert reply.status_code == 200
    assert reply.json() == {
        "user": {"id": alpha.owner.pk, "email": "owner@alpha.test", "full_name": "alpha owner"},
        "api_key": None,
        "tenant": {"slug": "alpha", "name": "Alpha Inc", "timezone": "UTC"},
        "role": "owner",
        "plan": {"slug": "business", "name": "Business"},
    }
    alpha.owner.refresh_from_db()
    assert alpha.owner.last_login is not None


def test_alpha_access_token_is_refused_on_beta_even_for_a_member_of_both(alpha, beta):
    user = agency_user(alpha, beta)
    access = obtain(alpha.host, user.email).json()["access"]

    on_beta = me(beta.host, access)

    assert on_beta.status_code == 401
    assert on_beta.json() == error("token_wrong_tenant", "This token was issued for another workspace.")
    assert me(alpha.host, access).status_code == 200


def test_alpha_refresh_token_is_refused_on_beta_and_stays_usable_on_alpha(alpha, beta):
    user = agency_user(alpha, beta)
    refresh_token = obtain(alpha.host, user.email).json()["refresh"]
    blacklisted_before = BlacklistedToken.objects.count()

    on_beta = refresh(beta.host, refresh_token)

    assert on_beta.status_code == 401
    assert on_beta.json() == error("token_wrong_tenant", "This token was issued for another workspace.")
    assert BlacklistedToken.objects.count() == blacklisted_before
    assert refresh(alpha.host, refresh_token).status_code == 200


def test_non_member_gets_no_token_on_beta(alpha, beta):
    outstanding_before = OutstandingToken.objects.filter(user=alpha.owner).count()

    response = obtain(beta.host, alpha.owner.email)

    assert response.status_code == 403
    assert response.json() == error("not_a_member", "You are not a member of this workspace.")
    assert OutstandingToken.objects.filter(user=alpha.owner).count() == outstanding_before


def test_wrong_password_gets_no_token(alpha):
    outstanding_before = OutstandingToken.objects.count()

    response = obtain(alpha.host, alpha.owner.email, "wrong-password")

    assert response.status_code == 401
    assert response.json() == error("invalid_credentials", "No active account found with the given credentials.")
    assert OutstandingToken.objects.count() == outstanding_before


def test_refresh_rotates_and_the_used_refresh_token_is_refused(alpha):
    first = obtain(alpha.host, alpha.owner.email).json()

    rotated = refresh(alpha.host, first["refresh"])

    assert rotated.status_code == 200
    assert set(rotated.json()) == {"access", "refresh"}
    assert rotated.json()["refresh"] != first["refresh"]
    assert RefreshToken(rotated.json()["refresh"])["tenant"] == alpha.tenant.schema_name
    assert me(alpha.host, rotated.json()["access"]).status_code == 200
    again = refresh(alpha.host, first["refresh"])
    assert again.status_code == 401
    assert again.json() == error("token_not_valid", "Token is blacklisted")


def test_blacklist_logs_out_the_refresh_token(alpha):
    tokens = obtain(alpha.host, alpha.owner.email).json()
    jti = RefreshToken(tokens["refresh"])["jti"]

    response = Client(HTTP_HOST=alpha.host).post(
        "/api/v1/auth/token/blacklist", {"refresh": tokens["refresh"]}, content_type="application/json"
    )

    assert response.status_code == 204
    assert BlacklistedToken.objects.filter(token__jti=jti).count() == 1
    assert refresh(alpha.host, tokens["refresh"]).status_code == 401


def test_blacklist_of_another_tenants_refresh_token_is_refused(alpha, beta):
    tokens = obtain(alpha.host, alpha.owner.email).json()
    jti = RefreshToken(tokens["refresh"])["jti"]

    response = Client(HTTP_HOST=beta.host).post(
        "/api/v1/auth/token/blacklist", {"refresh": tokens["refresh"]}, content_type="application/json"
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_wrong_tenant"
    assert BlacklistedToken.objects.filter(token__jti=jti).count() == 0


def test_a_member_removed_from_the_tenant_can_neither_use_nor_refresh_a_token(alpha):
    user = User.objects.create_user("api-leaver@alpha.test", PASSWORD)
    membership = Membership.objects.create(user=user, tenant=alpha.tenant, role=Role.AGENT)
    tokens = obtain(alpha.host, user.email).json()
    membership.delete()

    used = me(alpha.host, tokens["access"])
    refreshed = refresh(alpha.host, tokens["refresh"])

    assert used.status_code == 403
    assert used.json() == error("not_a_member", "You are not a member of this workspace.")
    assert refreshed.status_code == 403
    assert refreshed.json() == error("not_a_member", "You are not a member of this workspace.")


def test_repeated_failures_lock_the_token_endpoint_in_the_api_shape(alpha, settings):
    # Test settings: AXES_FAILURE_LIMIT = 3.
    statuses = [obtain(alpha.host, alpha.owner.email, "wrong-password").status_code for _ in range(2)]
    locked = obtain(alpha.host, alpha.owner.email, "wrong-password")
    with_right_password = obtain(alpha.host, alpha.owner.email)

    assert statuses == [401, 401]
    expected = error(
        "locked_out",
        "Too many failed sign-in attempts. Try again later.",
        {"retry_after": int(settings.AXES_COOLOFF_TIME.total_seconds())},
    )
    assert (locked.status_code, locked.json()) == (429, expected)
    assert (with_right_password.status_code, with_right_password.json()) == (429, expected)


def test_session_user_of_alpha_only_gets_403_on_beta(alpha, beta, client_for):
    on_alpha = client_for(alpha, alpha.owner).get("/api/v1/me")
    on_beta = client_for(beta, alpha.owner).get("/api/v1/me")

    assert on_alpha.status_code == 200
    assert on_alpha.json()["role"] == "owner"
    assert on_beta.status_code == 403
    assert on_beta.json() == error("not_a_member", "You are not a member of this workspace.")


def test_suspended_tenant_refuses_its_members(alpha, client_for):
    alpha.tenant.status = "suspended"
    alpha.tenant.save(update_fields=["status"])

    response = client_for(alpha).get("/api/v1/me")

    assert response.status_code == 403
    assert response.json() == error("tenant_suspended", "This workspace is suspended.")


def test_superuser_without_membership_may_use_the_api(alpha):
    admin = User.objects.create_superuser("api-staff@chorus.test", PASSWORD)
    tokens = obtain(alpha.host, admin.email)

    response = me(alpha.host, tokens.json()["access"])

    assert tokens.status_code == 200
    assert response.status_code == 200
    assert response.json()["role"] is None
    assert response.json()["user"]["email"] == "api-staff@chorus.test"
