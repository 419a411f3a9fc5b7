"""Tenant API keys: created by owners/admins, shown once, stored as a SHA-256, revocable.

A key reads `chk_<prefix>_<secret>`: the 8-character prefix is stored in clear so people can
tell keys apart in lists and logs; only the SHA-256 hex of the whole key is kept, so a database
leak does not leak working keys. Lookup is by that hash (an indexed, unique column), which makes
the comparison independent of how many leading characters of a guess are right.

API access is a plan feature (Plan.feature_api): keys can be neither created nor used on a
tenant whose plan lacks it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import string
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import ApiKey, Role, User
from apps.accounts.services.notices import notice_api_key_created
from apps.billing.models import Subscription
from apps.core.exceptions import NotFound, PermissionDenied, ValidationFailed
from apps.tenants.models import Tenant

logger = logging.getLogger(__name__)

KEY_PREFIX = "chk"
PREFIX_LENGTH = 8
# 40 characters of base62 ≈ 238 bits: beyond guessing, short enough to paste.
SECRET_LENGTH = 40
ALPHABET = string.ascii_letters + string.digits
# last_used_at is for people ("used 3 minutes ago"), not auditing: one write per key per minute
# at most, not one per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Keys act for an integration; ownership of a workspace stays with people.
KEY_ROLES = (Role.ADMIN, Role.AGENT, Role.VIEWER)
KEY_ROLE_CHOICES = [(role.value, role.label) for role in KEY_ROLES]
# A clash of random 8-character prefixes is rare; a few fresh draws settle it.
CREATE_ATTEMPTS = 5


class ApiKeyError(StrEnum):
    PLAN_FEATURE_MISSING = "plan_feature_missing"
    NOT_FOUND = "api_key_not_found"
    INVALID_NAME = "invalid_name"
    INVALID_ROLE = "invalid_role"


@dataclass(frozen=True)
class ApiKeyCreated:
    api_key: ApiKey
    secret: str  # the full key, `chk_<prefix>_<secret>`; shown once, never stored


def _hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def _random(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def _require_api_feature(tenant: Tenant) -> None:
    try:
        plan = tenant.subscription.plan
    except Subscription.DoesNotExist:
        plan = None
    if plan is None or not plan.feature_api:
        raise PermissionDenied(
            _("Your plan does not include API access."),
            code=ApiKeyError.PLAN_FEATURE_MISSING,
            details={"feature": "api", "plan": plan.slug if plan else None},
        )


def api_key_create(*, tenant: Tenant, name: str, created_by: User | None, role: str = Role.ADMIN) -> ApiKeyCreated:
    """Create a key for `tenant` and return it with its secret, which exists only in this result.

    The caller decides who may create keys (owners/admins); this refuses tenants whose plan
    lacks API access, roles above admin, and empty names.
    """
    _require_api_feature(tenant)
    name = (name or "").strip()
    if not name or len(name) > ApiKey._meta.get_field("name").max_length:
        raise ValidationFailed(_("Give the key a name of 1–100 characters."), code=ApiKeyError.INVALID_NAME)
    if role not in KEY_ROLES:
        raise ValidationFailed(
            _("An API key's role is admin, agent or viewer."),
            code=ApiKeyError.INVALID_ROLE,
            details={"allowed": [str(r) for r in KEY_ROLES]},
        )
    for attempt in range(1, CREATE_ATTEMPTS + 1):
        prefix = _random(PREFIX_LENGTH)
        raw_key = f"{KEY_PREFIX}_{prefix}_{_random(SECRET_LENGTH)}"
        try:
            with transaction.atomic():
                api_key = ApiKey.objects.create(
                    tenant=tenant, name=name, prefix=prefix, key_hash=_hash(raw_key), role=role, created_by=created_by
                )
                notice_api_key_created(api_key=api_key)
        except IntegrityError:
            if attempt == CREATE_ATTEMPTS:
                raise
            continue
        logger.info("api_key.created", extra={"tenant": tenant.schema_name, "api_key_id": api_key.pk, "prefix": prefix})
        return ApiKeyCreated(api_key=api_key, secret=raw_key)
    raise AssertionError("unreachable")


def api_key_revoke(*, tenant: Tenant, api_key_id: int) -> ApiKey:
    """Revoke one of `tenant`'s keys; it stops working at once. Revoking twice keeps the first
    revocation time. Another tenant's key is NotFound, never revealed."""
    with transaction.atomic():
        api_key = ApiKey.objects.select_for_update().filter(tenant=tenant, pk=api_key_id).first()
        if api_key is None:
            raise NotFound(_("No such API key in this workspace."), code=ApiKeyError.NOT_FOUND)
        if api_key.revoked_at is None:
            api_key.revoked_at = timezone.now()
            api_key.save(update_fields=["revoked_at"])
            logger.info("api_key.revoked", extra={"tenant": tenant.schema_name, "api_key_id": api_key.pk})
    return api_key


def api_key_authenticate(*, tenant: Tenant, raw_key: str) -> ApiKey | None:
    """The active key of `tenant` matching `raw_key`, or None (unknown, malformed, revoked, or
    another tenant's key).

    A valid key on a tenant whose plan lacks API access raises PermissionDenied
    (plan_feature_missing), so the client learns why rather than seeing a bad-key error.
    """
    parts = raw_key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != PREFIX_LENGTH or not parts[2]:
        return None
    key_hash = _hash(raw_key)
    api_key = ApiKey.objects.filter(key_hash=key_hash).first()
    if api_key is None or not hmac.compare_digest(api_key.key_hash, key_hash):
        return None
    if api_key.tenant_id != tenant.pk:
        logger.warning("api_key.wrong_tenant", extra={"tenant": tenant.schema_name, "api_key_id": api_key.pk})
        return None
    if api_key.revoked_at is not None:
        return None
    _require_api_feature(tenant)
    now = timezone.now()
    if api_key.last_used_at is None or api_key.last_used_at <= now - LAST_USED_RESOLUTION:
        # Conditional update: concurrent requests of the same minute write once between them.
        ApiKey.objects.filter(pk=api_key.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key
