"""Sign-up, e-mail verification and the one-time hand-off from the public site into a new
workspace.

Sign-up happens on the bare domain but the workspace lives on `<slug>.<BASE_DOMAIN>`, and
session cookies are per host. So when provisioning is done the public site gives the browser a
signed, short-lived, single-use link that logs the new owner in on the tenant host. The link is
signed (TimestampSigner, so it cannot be forged or stretched past HANDOFF_TOKEN_MAX_AGE_S),
names its tenant (it works on that host only) and carries a random nonce that is burned in the
shared cache on first use (so a leaked or replayed link is refused).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import Membership, User
from apps.accounts.services.emails import email_send
from apps.accounts.services.links import host_url, tenant_path, tenant_url
from apps.core.exceptions import Conflict, NotFound, PermissionDenied, ValidationFailed
from apps.tenants.models import Tenant, TenantProvisioning, validate_timezone
from apps.tenants.services import provisioning_start

logger = logging.getLogger(__name__)

VERIFY_SALT = "accounts.email-verification"
# Long enough for someone who signs up on Friday and reads mail on Monday.
VERIFY_MAX_AGE = timedelta(days=3)
HANDOFF_SALT = "accounts.signup-handoff"
# The burned-nonce record only has to outlive the token it guards; a margin covers clock skew
# between web processes.
HANDOFF_NONCE_MARGIN_S = 60


class AccountError(StrEnum):
    EMAIL_TAKEN = "email_taken"
    WEAK_PASSWORD = "weak_password"
    INVALID_TIMEZONE = "invalid_timezone"
    TOKEN_INVALID = "token_invalid"
    TOKEN_EXPIRED = "token_expired"
    HANDOFF_USED = "handoff_used"
    HANDOFF_NOT_READY = "handoff_not_ready"
    NOT_A_MEMBER = "not_a_member"
    RETRY_NOT_ALLOWED = "retry_not_allowed"


@dataclass(frozen=True)
class Registration:
    user: User
    provisioning: TenantProvisioning


def account_register(
    *,
    full_name: str,
    email: str,
    password: str,
    company_name: str,
    slug: str,
    timezone_name: str = "UTC",
    language: str = "",
    verification_host: str | None = None,
) -> Registration:
    """Create an unverified user and start provisioning their workspace (a worker creates the
    tenant after commit). The user and the provisioning request commit together: a taken or
    reserved slug leaves no user behind. The verification e-mail goes out after commit with a
    link to `verification_host` (the public site by default: the workspace host may not exist
    yet, or ever, if provisioning fails)."""
    email = email.strip().lower()
    if User.objects.filter(email__iexact=email).exists():
        raise Conflict("An account with this e-mail already exists.", code=AccountError.EMAIL_TAKEN)
    try:
        validate_password(password, user=User(email=email, full_name=full_name))
    except ValidationError as exc:
        raise ValidationFailed(
            " ".join(exc.messages), code=AccountError.WEAK_PASSWORD, details={"field": "password"}
        ) from exc
    try:
        validate_timezone(timezone_name)
    except ValidationError as exc:
        raise ValidationFailed(
            str(exc.messages[0]), code=AccountError.INVALID_TIMEZONE, details={"field": "timezone"}
        ) from exc

    if language not in dict(settings.LANGUAGES):
        language = ""
    try:
        with transaction.atomic():
            user = User.objects.create_user(email, password, full_name=full_name.strip(), language=language)
            provisioning = provisioning_start(owner=user, name=company_name.strip(), slug=slug, timezone=timezone_name)
            _schedule_verification_email(user=user, host=verification_host or settings.BASE_DOMAIN)
    except IntegrityError as exc:
        # Two sign-ups with one address at the same moment: the unique constraint decides.
        raise Conflict("An account with this e-mail already exists.", code=AccountError.EMAIL_TAKEN) from exc
    logger.info("account.registered", extra={"user_id": user.pk, "provisioning_id": provisioning.pk})
    return Registration(user=user, provisioning=provisioning)


def account_provisioning_retry(*, provisioning: TenantProvisioning, slug: str) -> TenantProvisioning:
    """After a failed provisioning, try again for the same owner with another (or the same)
    workspace address. Only failed requests can be retried: a running one may still succeed."""
    if provisioning.state != TenantProvisioning.State.FAILED:
        raise Conflict("This workspace is not in a failed state.", code=AccountError.RETRY_NOT_ALLOWED)
    return provisioning_start(
        owner=provisioning.owner,
        name=provisioning.name,
        slug=slug,
        plan_slug=provisioning.plan_slug,
        timezone=provisioning.timezone,
    )


# --- e-mail verification ----------------------------------------------------------------------


def email_verification_token(*, user: User) -> str:
    """Signed (user, address): changing the address later voids links sent to the old one."""
    return signing.TimestampSigner(salt=VERIFY_SALT).sign_object({"u": user.pk, "e": user.email})


def _schedule_verification_email(*, user: User, host: str) -> None:
    url = host_url(host=host, path=tenant_path("accounts:verify", token=email_verification_token(user=user)))
    context = {"user": user, "url": url, "max_age_days": VERIFY_MAX_AGE.days}
    transaction.on_commit(lambda: email_send(to=user.email, template="verify_email", context=context))


def email_verification_send(*, user: User, host: str) -> None:
    """(Re)send the verification link, pointing at `host` (the host the user is on)."""
    if user.email_verified_at is not None:
        return
    _schedule_verification_email(user=user, host=host)
    logger.info("account.verification_sent", extra={"user_id": user.pk})


def email_verify(*, token: str) -> User:
    """Mark the address in a verification link as verified (idempotent for a verified user)."""
    try:
        payload = signing.TimestampSigner(salt=VERIFY_SALT).unsign_object(token, max_age=VERIFY_MAX_AGE.total_seconds())
    except signing.SignatureExpired as exc:
        raise ValidationFailed("This verification link has expired.", code=AccountError.TOKEN_EXPIRED) from exc
    except signing.BadSignature as exc:
        raise ValidationFailed("This verification link is not valid.", code=AccountError.TOKEN_INVALID) from exc
    user = User.objects.filter(pk=payload.get("u"), email=payload.get("e")).first()
    if user is None:
        raise ValidationFailed("This verification link is not valid.", code=AccountError.TOKEN_INVALID)
    if user.email_verified_at is None:
        user.email_verified_at = timezone.now()
        user.save(update_fields=["email_verified_at"])
        logger.info("account.email_verified", extra={"user_id": user.pk})
    return user


# --- sign-up hand-off into the tenant host ----------------------------------------------------


def handoff_url(*, provisioning: TenantProvisioning) -> str:
    """A fresh one-time login link into the finished workspace, for its owner."""
    if provisioning.state != TenantProvisioning.State.DONE or provisioning.tenant is None:
        raise Conflict("The workspace is not ready yet.", code=AccountError.HANDOFF_NOT_READY)
    token = signing.TimestampSigner(salt=HANDOFF_SALT).sign_object(
        {"u": provisioning.owner_id, "t": provisioning.tenant_id, "n": secrets.token_urlsafe(16)}
    )
    return tenant_url(tenant=provisioning.tenant, path=tenant_path("accounts:handoff", token=token))


def handoff_redeem(*, token: str, tenant: Tenant) -> User:
    """The user a hand-off link logs in on `tenant`'s host. Refuses forged, expired, replayed
    and other-tenant links, and users who are inactive or not members."""
    try:
        payload = signing.TimestampSigner(salt=HANDOFF_SALT).unsign_object(
            token, max_age=settings.HANDOFF_TOKEN_MAX_AGE_S
        )
    except signing.SignatureExpired as exc:
        raise ValidationFailed("This sign-in link has expired.", code=AccountError.TOKEN_EXPIRED) from exc
    except signing.BadSignature as exc:
        raise ValidationFailed("This sign-in link is not valid.", code=AccountError.TOKEN_INVALID) from exc
    if payload.get("t") != tenant.pk:
        raise ValidationFailed("This sign-in link is not valid.", code=AccountError.TOKEN_INVALID)
    nonce_key = f"accounts:handoff-used:{payload.get('n')}"
    if not cache.add(nonce_key, 1, timeout=settings.HANDOFF_TOKEN_MAX_AGE_S + HANDOFF_NONCE_MARGIN_S):
        raise Conflict("This sign-in link has already been used.", code=AccountError.HANDOFF_USED)
    user = User.objects.filter(pk=payload.get("u"), is_active=True).first()
    if user is None:
        raise NotFound("This sign-in link is not valid.", code=AccountError.TOKEN_INVALID)
    if not Membership.objects.filter(user=user, tenant=tenant).exists():
        raise PermissionDenied("You are not a member of this workspace.", code=AccountError.NOT_A_MEMBER)
    logger.info("account.handoff_redeemed", extra={"user_id": user.pk, "tenant_id": tenant.pk})
    return user
