"""Websocket admission: which tenant, which user, and may they be here.

HTTP requests get their tenant from django-tenants' TenantMainMiddleware; websockets bypass the
Django middleware stack, so this does the same for them: the Host header (port and a leading
"www." dropped) is looked up in Domain. The user comes from the Django session cookie (sessions
live in the public schema) or from a simplejwt access token in `?token=` (for API clients and
pages that cannot send the cookie); the token must name this host's tenant. Only members of the
tenant and platform superusers get in.

A refused connection is accepted and closed at once with a 4xxx code, because closing before the
handshake only gives the browser an opaque HTTP 403 and the client could not tell "log in again"
from "wrong tenant" (it stops reconnecting on these codes).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.sessions.backends.base import SessionBase
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host
from django.utils.module_loading import import_string
from django_tenants.utils import get_public_schema_name, remove_www, schema_context

from apps.accounts.models import Membership, User
from apps.accounts.services import jwt
from apps.tenants.models import Domain, Tenant

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403  # not a member, token of another tenant, or tenant suspended
CLOSE_UNKNOWN_TENANT = 4404  # no tenant for this host (or the public host: no realtime there)

_TOKEN_IN_QUERY = re.compile(r"(?<=[?&]token=)[^&\s\"']+")


class QueryTokenRedactor(logging.Filter):
    """Blanks `?token=` values in log lines: the ASGI server logs every websocket path with its
    query string, and an access token must not end up in logs. Installed on the server's
    loggers by config/asgi.py."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _TOKEN_IN_QUERY.sub("[redacted]", record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN_IN_QUERY.sub("[redacted]", arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True


@dataclass(frozen=True)
class Admission:
    close_code: int | None
    reason: str
    tenant: Tenant | None = None
    user: User | None = None
    membership: Membership | None = None


def hostname_from_scope(scope: dict[str, Any]) -> str | None:
    """The host the client asked for, as TenantMainMiddleware.hostname_from_request sees it;
    None when missing or not in ALLOWED_HOSTS (Django answers DisallowedHost there)."""
    for name, value in scope.get("headers", []):
        if name == b"host":
            domain, _port = split_domain_port(value.decode("latin-1"))
            if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
                return None
            return remove_www(domain)
    return None


def _session_user(cookies: dict[str, str]) -> User | None:
    session_key = cookies.get(settings.SESSION_COOKIE_NAME)
    if not session_key:
        return None
    store_class: type[SessionBase] = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    # django.contrib.auth.get_user only needs `.session`; it also verifies the session hash, so
    # a password change logs websockets out like pages.
    user = get_user(SimpleNamespace(session=store_class(session_key)))  # type: ignore[arg-type]
    return user if user.is_authenticated else None


def _token_user(raw_token: str, tenant: Tenant) -> Admission | User:
    try:
        user, _token = jwt.jwt_access_authenticate(tenant=tenant, raw_token=raw_token)
    except jwt.TokenRefused as exc:
        if exc.code == jwt.JwtError.WRONG_TENANT:
            return Admission(CLOSE_FORBIDDEN, "token_of_another_tenant")
        return Admission(CLOSE_UNAUTHENTICATED, "invalid_token")
    return user


def admit(*, hostname: str | None, cookies: dict[str, str], raw_token: str | None) -> Admission:
    """Decide on one websocket connection. Runs in the public schema (domains, users, sessions
    and memberships all live there) and leaves the connection's schema as it found it."""
    with schema_context(get_public_schema_name()):
        domain = (
            Domain.objects.select_related("tenant").filter(domain=hostname).first() if hostname is not None else None
        )
        if domain is None or domain.tenant.schema_name == get_public_schema_name():
            return Admission(CLOSE_UNKNOWN_TENANT, "unknown_tenant")
        tenant = domain.tenant
        tenant.domain_url = hostname
        if not tenant.is_active:
            return Admission(CLOSE_FORBIDDEN, "tenant_suspended", tenant=tenant)
        if raw_token:
            # An explicit token wins; a bad one is refused rather than quietly trying the cookie.
            found = _token_user(raw_token, tenant)
            if isinstance(found, Admission):
                return Admission(found.close_code, found.reason, tenant=tenant)
            user: User | None = found
        else:
            user = _session_user(cookies)
        if user is None:
            return Admission(CLOSE_UNAUTHENTICATED, "unauthenticated", tenant=tenant)
        membership = Membership.objects.filter(user=user, tenant=tenant).first()
        if membership is None and not user.is_superuser:
            return Admission(CLOSE_FORBIDDEN, "not_a_member", tenant=tenant, user=user)
        return Admission(None, "admitted", tenant=tenant, user=user, membership=membership)


async def deny(receive: Any, send: Any, code: int) -> None:
    """Complete the handshake and close with `code` at once (see the module docstring)."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": code})


class TenantWebsocketMiddleware:
    """Puts `tenant`, `schema_name`, `user` and `membership` (None for a superuser who is not a
    member) into the scope of admitted websockets; refuses the rest with a 4xxx close code.
    Consumers do their database work in `scope["schema_name"]` (see TenantConsumer.in_tenant_schema)."""

    def __init__(self, inner: Any):
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] != "websocket":
            return await self.inner(scope, receive, send)
        hostname = hostname_from_scope(scope)
        cookies: dict[str, str] = {}
        for name, value in scope.get("headers", []):
            if name == b"cookie":
                cookies.update(parse_cookie(value.decode("latin-1")))
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        raw_token = (query.get("token") or [None])[0]

        admission = await database_sync_to_async(admit)(hostname=hostname, cookies=cookies, raw_token=raw_token)
        if admission.close_code is not None:
            logger.info(
                "realtime.connection_refused",
                extra={
                    "host": hostname,
                    "reason": admission.reason,
                    "code": admission.close_code,
                    "user_id": admission.user.pk if admission.user else None,
                },
            )
            return await deny(receive, send, admission.close_code)

        assert admission.tenant is not None and admission.user is not None
        scope = dict(
            scope,
            tenant=admission.tenant,
            schema_name=admission.tenant.schema_name,
            user=admission.user,
            membership=admission.membership,
        )
        return await self.inner(scope, receive, send)
