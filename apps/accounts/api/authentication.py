"""How API requests on a tenant host say who they are.

Order (REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]): JWT bearer, then API key, then the
portal's session cookie (with CSRF). The first authenticator answers 401s with
`WWW-Authenticate: Bearer realm="api"`.

For an API key, `request.user` is an `ApiKeyPrincipal` (not a User) and `request.auth` is the
ApiKey. It is authenticated for DRF, carries the key's tenant and role, and is what the
permission layer (apps/accounts/api/permissions.py) and throttling recognise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.tokens import AccessToken

from apps.accounts.models import ApiKey, User
from apps.accounts.services import api_keys, jwt
from apps.core.api.errors import ChorusAPIException
from apps.core.exceptions import PermissionDenied as ChorusPermissionDenied
from apps.tenants.models import Tenant

API_KEY_KEYWORD = "Api-Key"
API_KEY_HEADER = "HTTP_X_API_KEY"


@dataclass(eq=False)
class ApiKeyPrincipal:
    """`request.user` for a request signed with an API key.

    Quacks like enough of a user for DRF and Django (authenticated, not staff, no id) while
    making clear no person is behind it: code that needs a User must check
    `isinstance(request.user, ApiKeyPrincipal)` first.
    """

    api_key: ApiKey
    tenant: Tenant = field(repr=False)

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    @property
    def role(self) -> str:
        return self.api_key.role

    def get_username(self) -> str:
        return f"api-key:{self.api_key.prefix}"

    def __str__(self) -> str:
        return self.get_username()


def _tenant_of(request: Request) -> Tenant | None:
    tenant = getattr(request, "tenant", None)
    return None if tenant is None or tenant.is_public else tenant


class TenantJWTAuthentication(JWTAuthentication):
    """simplejwt bearer tokens, refused unless their `tenant` claim names this host's tenant."""

    def authenticate(self, request: Request) -> tuple[User, AccessToken] | None:
        header = self.get_header(request)
        if header is None:
            return None
        raw_token = self.get_raw_token(header)
        if raw_token is None:
            return None
        tenant = _tenant_of(request)
        if tenant is None:
            raise exceptions.AuthenticationFailed(_("Tokens are only accepted on a workspace host."))
        try:
            return jwt.jwt_access_authenticate(tenant=tenant, raw_token=raw_token)
        except jwt.TokenRefused as exc:
            raise exceptions.AuthenticationFailed(exc.message, code=exc.code) from exc


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Api-Key chk_…` or `X-Api-Key: chk_…`."""

    def authenticate(self, request: Request) -> tuple[ApiKeyPrincipal, ApiKey] | None:
        raw_key = self._raw_key(request)
        if raw_key is None:
            return None
        tenant = _tenant_of(request)
        if tenant is None:
            raise exceptions.AuthenticationFailed(_("API keys are only accepted on a workspace host."))
        try:
            api_key = api_keys.api_key_authenticate(tenant=tenant, raw_key=raw_key)
        except ChorusPermissionDenied as exc:
            raise ChorusAPIException(exc) from exc
        if api_key is None:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked API key."), code="api_key_not_valid")
        return ApiKeyPrincipal(api_key=api_key, tenant=tenant), api_key

    @staticmethod
    def _raw_key(request: Request) -> str | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        keyword, _sep, value = header.partition(" ")
        if keyword.lower() == API_KEY_KEYWORD.lower():
            value = value.strip()
            if not value or " " in value:
                raise exceptions.AuthenticationFailed(_("Send the key as 'Authorization: Api-Key <key>'."))
            return value
        value = request.META.get(API_KEY_HEADER, "").strip()
        return value or None

    def authenticate_header(self, request: Request) -> str:
        return API_KEY_KEYWORD
