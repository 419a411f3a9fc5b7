"""JSON Web Tokens that name their tenant.

Users are global, so a token alone would open every tenant its user belongs to. Each token
carries the claims `tenant` (schema name) and `tenant_id`, is issued only to members of that
tenant (or platform superusers), and is refused on any other tenant's host — for API calls,
refresh, logout and websockets alike (`jwt_access_authenticate` is the one check they share).

Access tokens live 15 minutes and are not revocable; refresh tokens live 7 days, rotate on every
refresh and are blacklisted when used or on logout (SIMPLE_JWT settings).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from django.contrib.auth.models import update_last_login
from django.db import transaction
from django.utils.translation import gettext as _
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, Token

from apps.accounts.models import Membership, User
from apps.core.exceptions import ChorusError, PermissionDenied
from apps.tenants.models import Tenant

logger = logging.getLogger(__name__)

TENANT_CLAIM = "tenant"
TENANT_ID_CLAIM = "tenant_id"


class JwtError(StrEnum):
    NOT_VALID = "token_not_valid"
    WRONG_TENANT = "token_wrong_tenant"
    USER_NOT_FOUND = "user_not_found"
    USER_INACTIVE = "user_inactive"
    NOT_A_MEMBER = "not_a_member"


class TokenRefused(ChorusError):
    """The token cannot be used here (invalid, expired, blacklisted, another tenant's)."""

    status = 401
    default_code = JwtError.NOT_VALID


@dataclass(frozen=True)
class JwtPair:
    access: str
    refresh: str


def _may_enter(*, user: User, tenant: Tenant) -> bool:
    return user.is_superuser or Membership.objects.filter(user=user, tenant=tenant).exists()


def _parse(token_class: type[Token], raw_token: str | bytes) -> Token:
    try:
        return token_class(raw_token)
    except TokenError as exc:
        raise TokenRefused(str(exc.args[0]) if exc.args else _("Token is invalid.")) from exc


def _check_tenant(*, token: Token, tenant: Tenant) -> None:
    if token.get(TENANT_CLAIM) != tenant.schema_name or token.get(TENANT_ID_CLAIM) != tenant.pk:
        logger.info("jwt.wrong_tenant", extra={"tenant": tenant.schema_name, "token_tenant": token.get(TENANT_CLAIM)})
        raise TokenRefused(_("This token was issued for another workspace."), code=JwtError.WRONG_TENANT)


def _active_user(token: Token) -> User:
    user = User.objects.filter(pk=token.get(api_settings.USER_ID_CLAIM)).first()
    if user is None:
        raise TokenRefused(_("User not found."), code=JwtError.USER_NOT_FOUND)
    if not user.is_active:
        raise TokenRefused(_("User is inactive."), code=JwtError.USER_INACTIVE)
    return user


def _require_entry(*, user: User, tenant: Tenant) -> None:
    if not _may_enter(user=user, tenant=tenant):
        raise PermissionDenied(_("You are not a member of this workspace."), code=JwtError.NOT_A_MEMBER)


def jwt_pair_issue(*, user: User, tenant: Tenant) -> JwtPair:
    """A new access + refresh pair for an already authenticated user, bound to `tenant`.

    Refuses (PermissionDenied not_a_member) users who may not enter the tenant, so a password
    valid on one tenant never yields a token for another.
    """
    if not user.is_active:
        raise TokenRefused(_("User is inactive."), code=JwtError.USER_INACTIVE)
    _require_entry(user=user, tenant=tenant)
    refresh = RefreshToken.for_user(user)
    refresh[TENANT_CLAIM] = tenant.schema_name
    refresh[TENANT_ID_CLAIM] = tenant.pk
    if api_settings.UPDATE_LAST_LOGIN:
        update_last_login(None, user)
    logger.info("jwt.issued", extra={"user_id": user.pk, "tenant": tenant.schema_name})
    return JwtPair(access=str(refresh.access_token), refresh=str(refresh))


def jwt_access_authenticate(*, tenant: Tenant, raw_token: str | bytes) -> tuple[User, AccessToken]:
    """The user behind an access token presented on `tenant`'s host; TokenRefused otherwise.

    Membership is not checked here: the permission layer (or websocket middleware) does that, so
    a removed member's token yields a 403 rather than looking like a broken token.
    """
    token = _parse(AccessToken, raw_token)
    _check_tenant(token=token, tenant=tenant)
    return _active_user(token), token


def jwt_refresh(*, tenant: Tenant, raw_refresh: str) -> JwtPair:
    """Exchange a refresh token for a new pair on the tenant it was issued for.

    With rotation the old refresh token is blacklisted, so each one is usable once; a user who
    left the tenant cannot refresh into it.
    """
    with transaction.atomic():
        refresh = _parse(RefreshToken, raw_refresh)
        _check_tenant(token=refresh, tenant=tenant)
        user = _active_user(refresh)
        _require_entry(user=user, tenant=tenant)
        access = str(refresh.access_token)
        if not api_settings.ROTATE_REFRESH_TOKENS:
            return JwtPair(access=access, refresh=raw_refresh)
        if api_settings.BLACKLIST_AFTER_ROTATION:
            refresh.blacklist()
        refresh.set_jti()
        refresh.set_exp()
        refresh.set_iat()
        refresh.outstand()
    logger.info("jwt.refreshed", extra={"user_id": user.pk, "tenant": tenant.schema_name})
    return JwtPair(access=access, refresh=str(refresh))


def jwt_revoke(*, tenant: Tenant, raw_refresh: str) -> None:
    """Log out: blacklist the refresh token. Access tokens already issued expire on their own."""
    refresh = _parse(RefreshToken, raw_refresh)
    _check_tenant(token=refresh, tenant=tenant)
    refresh.blacklist()
    logger.info("jwt.revoked", extra={"user_id": refresh.get(api_settings.USER_ID_CLAIM), "tenant": tenant.schema_name})
