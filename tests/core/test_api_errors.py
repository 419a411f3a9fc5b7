"""Every API error leaves in one shape: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from django_tenants.utils import tenant_context

from apps.accounts.api.views import MeView
from apps.accounts.models import Membership, Role, User
from apps.core.api.throttling import PrincipalRateThrottle
from tests.conftest import PASSWORD


def error(code: str, message: str, details=None) -> dict:
    return {"error": {"code": code, "message": message, "details": details}}


def test_validation_error_lists_field_errors_in_details(alpha):
    client = Client(HTTP_HOST=alpha.host)

    response = client.post("/api/v1/auth/token", {"email": "not-an-email"}, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == error(
        "invalid",
        "Invalid input.",
        {"email": ["Enter a valid email address."], "password": ["This field is required."]},
    )


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_unknown_api_path_is_a_json_404_for_anyone(alpha, method):
    client = Client(HTTP_HOST=alpha.host)

    response = getattr(client, method)("/api/v1/nope")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == error("not_found", "No API endpoint at this path.")


def test_unknown_path_outside_v1_is_also_a_json_404(alpha, client_for):
    response = client_for(alpha).get("/api/v2/me")

    assert response.status_code == 404
    assert response.json() == error("not_found", "No API endpoint at this path.")


def test_missing_credentials_are_a_401_not_authenticated(alpha):
    response = Client(HTTP_HOST=alpha.host).get("/api/v1/me")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json() == error("not_authenticated", "Authentication credentials were not provided.")


def test_malformed_bearer_token_is_a_401_token_not_valid(alpha):
    response = Client(HTTP_HOST=alpha.host).get("/api/v1/me", HTTP_AUTHORIZATION="Bearer not.a.jwt")

    assert response.status_code == 401
    assert response.json() == error("token_not_valid", "Token is invalid")


def test_non_member_is_a_403_not_a_member(alpha, beta, client_for):
    response = client_for(beta, alpha.owner).get("/api/v1/me")

    assert response.status_code == 403
    assert response.json() == error("not_a_member", "You are not a member of this workspace.")


def test_method_not_allowed_is_a_405_in_the_shape(alpha, client_for):
    response = client_for(alpha).put("/api/v1/me", {}, content_type="application/json")

    assert response.status_code == 405
    assert response.json() == error("method_not_allowed", 'Method "PUT" not allowed.')


def test_chorus_error_keeps_its_status_code_and_message(alpha, client_for):
    response = client_for(alpha).delete("/api/v1/api-keys/987654321")

    assert response.status_code == 404
    assert response.json() == error("api_key_not_found", "No such API key in this workspace.")


def test_malformed_json_is_a_400_parse_error(alpha, client_for):
    response = client_for(alpha).post("/api/v1/api-keys", "{not json", content_type="application/json")

    assert response.status_code == 400
    body = response.json()
    assert body["error"]["code"] == "parse_error"
    assert body["error"]["message"].startswith("JSON parse error")
    assert body["error"]["details"] is None


def test_the_fourth_request_over_a_3_per_minute_limit_is_throttled(alpha, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"principal": "3/minute"}}
    user = User.objects.create_user("api-throttled@alpha.test", PASSWORD)
    Membership.objects.create(user=user, tenant=alpha.tenant, role=Role.VIEWER)
    client = Client(HTTP_HOST=alpha.host)
    client.force_login(user)
    cache_key = f"throttle_principal_{alpha.tenant.schema_name}:user:{user.pk}"
    # A recreated test database reuses user ids, so an earlier run may have left this bucket.
    with tenant_context(alpha.tenant):
        cache.delete(cache_key)
    try:
        statuses = [client.get("/api/v1/me").status_code for _ in range(3)]
        response = client.get("/api/v1/me")

        assert statuses == [200, 200, 200]
        assert response.status_code == 429
        body = response.json()
        retry_after = body["error"]["details"]["retry_after"]
        # Seconds until the oldest of the three requests leaves the one-minute window.
        assert 55 <= retry_after <= 60
        assert body == error("throttled", "Too many requests.", {"retry_after": retry_after})
        assert response["Retry-After"] == str(retry_after)
        with tenant_context(alpha.tenant):
            assert len(cache.get(cache_key)) == 3
    finally:
        with tenant_context(alpha.tenant):
            cache.delete(cache_key)


def test_throttle_buckets_are_per_principal_and_tenant(alpha, beta):
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    request = Request(APIRequestFactory().get("/api/v1/me"))
    request.tenant = alpha.tenant
    request.user = alpha.owner
    throttle = PrincipalRateThrottle()

    assert (
        throttle.get_cache_key(request, None) == f"throttle_principal_{alpha.tenant.schema_name}:user:{alpha.owner.pk}"
    )
    request.tenant = beta.tenant
    assert (
        throttle.get_cache_key(request, None) == f"throttle_principal_{beta.tenant.schema_name}:user:{alpha.owner.pk}"
    )


def test_unexpected_exception_is_a_500_in_the_shape_and_still_raised(alpha, client_for, monkeypatch):
    def explode(self, request):
        raise RuntimeError("boom")

    monkeypatch.setattr(MeView, "get", explode)
    quiet = client_for(alpha)
    quiet.raise_request_exception = False

    response = quiet.get("/api/v1/me")

    assert response.status_code == 500
    assert response.json() == error("server_error", "Something went wrong on our side.")
    # Not swallowed: Django saw the exception (logging, error reporting), so the test client re-raises it.
    with pytest.raises(RuntimeError, match="boom"):
        client_for(alpha).get("/api/v1/me")


def test_500_outside_the_api_is_not_json(alpha, rf):
    from apps.core.api.errors import server_error

    response = server_error(rf.get("/dashboard/", HTTP_HOST=alpha.host))

    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
