"""Team management inside one tenant: changing a member's role and removing a member.

Invariants kept here, whatever the caller:
- a tenant always keeps at least one owner (the last owner can be neither demoted nor removed);
- only owners grant, change or take away the owner role; admins manage admins, agents, viewers;
- agents and viewers manage nobody.
The owner count is read under a row lock on the tenant's owner memberships, so two concurrent
demotions cannot both see "another owner is left" and leave the tenant without one.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from django.db import transaction
from django.utils.translation import gettext as _

from apps.accounts.models import Membership, Role
from apps.core.exceptions import Conflict, NotFound, PermissionDenied, ValidationFailed
from apps.tenants.models import Tenant

logger = logging.getLogger(__name__)


class MemberError(StrEnum):
    NOT_ALLOWED = "member_change_not_allowed"
    LAST_OWNER = "last_owner"
    UNKNOWN_ROLE = "unknown_role"
    NOT_FOUND = "member_not_found"


def _member_for_update(*, tenant: Tenant, membership_id: int) -> Membership:
    membership = (
        Membership.objects.select_for_update().select_related("user").filter(tenant=tenant, pk=membership_id).first()
    )
    if membership is None:
        raise NotFound(_("No such member in this workspace."), code=MemberError.NOT_FOUND)
    return membership


def _ensure_actor_may_manage(*, actor: Membership, target: Membership, new_role: str | None = None) -> None:
    if actor.tenant_id != target.tenant_id or not actor.has_role(Role.ADMIN):
        raise PermissionDenied(_("Only owners and admins manage the team."), code=MemberError.NOT_ALLOWED)
    touches_owner = target.role == Role.OWNER or new_role == Role.OWNER
    if touches_owner and actor.role != Role.OWNER:
        raise PermissionDenied(_("Only an owner can grant or change the owner role."), code=MemberError.NOT_ALLOWED)


def _ensure_another_owner_remains(*, tenant: Tenant, leaving: Membership) -> None:
    owners = list(
        Membership.objects.select_for_update().filter(tenant=tenant, role=Role.OWNER).values_list("pk", flat=True)
    )
    if [pk for pk in owners if pk != leaving.pk]:
        return
    raise Conflict(
        _("A workspace needs at least one owner. Make someone else owner first."), code=MemberError.LAST_OWNER
    )


def member_change_role(*, tenant: Tenant, actor: Membership, membership_id: int, role: str) -> Membership:
    """Give a member of `tenant` a new role, on behalf of `actor` (the acting user's membership
    in the same tenant)."""
    if role not in Role.values:
        raise ValidationFailed(
            _("Unknown role %(role)s.") % {"role": role}, code=MemberError.UNKNOWN_ROLE, details={"field": "role"}
        )
    with transaction.atomic():
        target = _member_for_update(tenant=tenant, membership_id=membership_id)
        _ensure_actor_may_manage(actor=actor, target=target, new_role=role)
        if target.role == role:
            return target
        if target.role == Role.OWNER:
            _ensure_another_owner_remains(tenant=tenant, leaving=target)
        previous = target.role
        target.role = role
        target.save(update_fields=["role"])
    logger.info(
        "member.role_changed",
        extra={"tenant_id": tenant.id, "membership_id": target.pk, "from_role": previous, "to_role": role},
    )
    return target


def member_remove(*, tenant: Tenant, actor: Membership, membership_id: int) -> None:
    """Take a member out of `tenant`. The user account stays (users are global and may belong
    to other tenants); only this membership goes."""
    with transaction.atomic():
        target = _member_for_update(tenant=tenant, membership_id=membership_id)
        _ensure_actor_may_manage(actor=actor, target=target)
        if target.role == Role.OWNER:
            _ensure_another_owner_remains(tenant=tenant, leaving=target)
        removed_id = target.pk
        target.delete()
    logger.info("member.removed", extra={"tenant_id": tenant.id, "membership_id": removed_id})
