"""Inviting people into a tenant by e-mail, with a role.

The token is 256 random bits shown once (in the e-mailed link) and stored only as its SHA-256,
so a leaked database cannot be turned into working invitation links. An invitation is good for
INVITATION_TTL, for one acceptance, and only on its own tenant's host. Re-inviting an address
replaces its pending invitation, so there is at most one live link per (tenant, e-mail).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Invitation, Membership, Role, User
from apps.accounts.services.emails import email_send
from apps.accounts.services.links import tenant_path, tenant_url
from apps.accounts.services.notices import notice_invitation_created, notice_member_joined
from apps.core.exceptions import Conflict, NotFound, PermissionDenied, ValidationFailed
from apps.tenants.models import Tenant

logger = logging.getLogger(__name__)

# Long enough to survive a weekend and a holiday inbox, short enough that a forgotten link dies.
INVITATION_TTL = timedelta(days=7)
# 32 bytes = 256 bits of randomness; URL-safe so it can sit in a path segment.
TOKEN_BYTES = 32


class InvitationError(StrEnum):
    NOT_FOUND = "invitation_not_found"
    EXPIRED = "invitation_expired"
    USED = "invitation_used"
    WRONG_TENANT = "invitation_wrong_tenant"
    EMAIL_MISMATCH = "invitation_email_mismatch"
    ALREADY_MEMBER = "already_member"
    NOT_ALLOWED = "invitation_not_allowed"
    UNKNOWN_ROLE = "unknown_role"
    INVALID_EMAIL = "invalid_email"


@dataclass(frozen=True)
class InvitationCreated:
    invitation: Invitation
    # The only copy of the secret; it is in the e-mail and nowhere else.
    token: str


def invitation_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_url(*, invitation: Invitation, token: str) -> str:
    return tenant_url(tenant=invitation.tenant, path=tenant_path("accounts:invite", token=token))


def _ensure_inviter_may_grant(*, tenant: Tenant, invited_by: User, role: str) -> None:
    if invited_by.is_superuser:
        return
    membership = Membership.objects.filter(tenant=tenant, user=invited_by).first()
    if membership is None or not membership.has_role(Role.ADMIN):
        raise PermissionDenied("Only owners and admins invite people.", code=InvitationError.NOT_ALLOWED)
    if role == Role.OWNER and membership.role != Role.OWNER:
        raise PermissionDenied("Only an owner can invite another owner.", code=InvitationError.NOT_ALLOWED)


def invitation_create(*, tenant: Tenant, email: str, role: str, invited_by: User) -> InvitationCreated:
    """Invite `email` into `tenant` as `role` and e-mail them a link to the tenant's host.

    Refuses an address that is already a member (Conflict) and a role the inviter may not grant
    (only owners grant owner; agents and viewers invite nobody)."""
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationFailed(
            "Enter a valid e-mail address.", code=InvitationError.INVALID_EMAIL, details={"field": "email"}
        ) from exc
    if role not in Role.values:
        raise ValidationFailed(f"Unknown role {role!r}.", code=InvitationError.UNKNOWN_ROLE, details={"field": "role"})
    _ensure_inviter_may_grant(tenant=tenant, invited_by=invited_by, role=role)
    if Membership.objects.filter(tenant=tenant, user__email__iexact=email).exists():
        raise Conflict(
            f"{email} is already a member of this workspace.",
            code=InvitationError.ALREADY_MEMBER,
            details={"field": "email"},
        )

    token = secrets.token_urlsafe(TOKEN_BYTES)
    with transaction.atomic():
        Invitation.objects.filter(tenant=tenant, email=email, accepted_at__isnull=True).delete()
        invitation = Invitation.objects.create(
            tenant=tenant,
            email=email,
            role=role,
            token_hash=invitation_token_hash(token),
            invited_by=invited_by,
            expires_at=timezone.now() + INVITATION_TTL,
        )
        context = {
            "invitation": invitation,
            "tenant": tenant,
            "inviter": invited_by,
            "role_label": Role(role).label,
            "url": invitation_url(invitation=invitation, token=token),
        }
        transaction.on_commit(lambda: email_send(to=email, template="invitation", context=context))
        notice_invitation_created(invitation=invitation)
    logger.info("invitation.created", extra={"tenant_id": tenant.id, "invitation_id": invitation.id, "role": role})
    return InvitationCreated(invitation=invitation, token=token)


def invitation_for_token(*, token: str, tenant: Tenant | None = None) -> Invitation:
    """The live invitation behind `token`, or a NotFound/Conflict saying why it cannot be used.
    Passing `tenant` (the host's tenant) refuses a link opened on another tenant's host."""
    invitation = Invitation.objects.select_related("tenant", "invited_by").filter(
        token_hash=invitation_token_hash(token)
    )
    return _check_usable(invitation.first(), tenant=tenant)


def _check_usable(invitation: Invitation | None, *, tenant: Tenant | None) -> Invitation:
    if invitation is None:
        raise NotFound("This invitation link is not valid.", code=InvitationError.NOT_FOUND)
    if tenant is not None and invitation.tenant_id != tenant.id:
        # Same answer as an unknown token: the link says nothing about other workspaces.
        raise NotFound("This invitation link is not valid.", code=InvitationError.WRONG_TENANT)
    if invitation.accepted_at is not None:
        raise Conflict("This invitation has already been used.", code=InvitationError.USED)
    if invitation.expires_at <= timezone.now():
        raise Conflict("This invitation has expired.", code=InvitationError.EXPIRED)
    return invitation


def invitation_accept(*, token: str, user: User, tenant: Tenant | None = None) -> Membership:
    """Make `user` a member with the invited role and spend the invitation.

    The invitation is locked while it is spent, so a double submit cannot accept it twice. The
    user's e-mail must be the invited address: the link is a secret sent to that inbox, and a
    forwarded link must not let someone else in. A user who is already a member keeps their
    current role (the invitation is still marked used)."""
    with transaction.atomic():
        invitation = _check_usable(
            Invitation.objects.select_for_update()
            .select_related("tenant")
            .filter(token_hash=invitation_token_hash(token))
            .first(),
            tenant=tenant,
        )
        if user.email.lower() != invitation.email.lower():
            raise PermissionDenied(
                "This invitation was sent to another e-mail address.", code=InvitationError.EMAIL_MISMATCH
            )
        membership, created = Membership.objects.get_or_create(
            user=user, tenant=invitation.tenant, defaults={"role": invitation.role}
        )
        if created:
            notice_member_joined(membership=membership)
        invitation.accepted_at = timezone.now()
        invitation.save(update_fields=["accepted_at"])
        if user.email_verified_at is None:
            # Opening the link proves the inbox is theirs.
            user.email_verified_at = invitation.accepted_at
            user.save(update_fields=["email_verified_at"])
    logger.info(
        "invitation.accepted",
        extra={"tenant_id": invitation.tenant_id, "invitation_id": invitation.id, "membership_created": created},
    )
    return membership


def invitation_accept_as_new_user(
    *, token: str, full_name: str, password: str, tenant: Tenant | None = None
) -> Membership:
    """For an invitee without an account: create it for the invited address and accept, in one
    transaction, so a refused invitation leaves no account behind."""
    with transaction.atomic():
        invitation = invitation_for_token(token=token, tenant=tenant)
        if User.objects.filter(email__iexact=invitation.email).exists():
            raise Conflict(
                "An account with this e-mail already exists; sign in instead.", code=InvitationError.ALREADY_MEMBER
            )
        user = User.objects.create_user(invitation.email, password, full_name=full_name.strip())
        return invitation_accept(token=token, user=user, tenant=tenant)


def invitation_revoke(*, tenant: Tenant, invitation_id: int) -> None:
    """Withdraw a pending invitation of `tenant`; its link stops working at once."""
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().filter(tenant=tenant, pk=invitation_id).first()
        if invitation is None:
            raise NotFound("No such invitation in this workspace.", code=InvitationError.NOT_FOUND)
        if invitation.accepted_at is not None:
            raise Conflict("This invitation has already been accepted.", code=InvitationError.USED)
        invitation.delete()
    logger.info("invitation.revoked", extra={"tenant_id": tenant.id, "invitation_id": invitation_id})
