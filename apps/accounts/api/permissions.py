"""Who may call the API of a tenant host.

`IsTenantMember` (the default permission class): a signed-in principal that belongs to this
tenant — a user with a Membership here, a platform superuser, or an API key of this tenant —
on a tenant that is not suspended. `HasRole("admin")` adds a minimum role on top of it.
Refusals are 403s with codes (`not_a_member`, `tenant_suspended`, `role_required`); a request
without credentials is a 401.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from apps.accounts.api.authentication import ApiKeyPrincipal
from apps.accounts.models import ROLE_RANK, Membership, Role

if TYPE_CHECKING:
    from rest_framework.views import APIView

_MEMBERSHIP_CACHE = "_chorus_membership"


def request_membership(request: Request) -> Membership | None:
    """The signed-in user's Membership in the request's tenant (cached per request)."""
    if not hasattr(request, _MEMBERSHIP_CACHE):
        user, tenant = request.user, getattr(request, "tenant", None)
        membership = None
        if tenant is not None and user.is_authenticated and not isinstance(user, ApiKeyPrincipal):
            membership = Membership.objects.filter(user=user, tenant=tenant).first()
        setattr(request, _MEMBERSHIP_CACHE, membership)
    return getattr(request, _MEMBERSHIP_CACHE)


def request_role(request: Request) -> str | None:
    """The principal's role here: the API key's role, or the user's membership role.

    None for a superuser without a membership (who passes role checks anyway).
    """
    if isinstance(request.user, ApiKeyPrincipal):
        return request.user.role
    membership = request_membership(request)
    return membership.role if membership is not None else None


class IsTenantMember(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        tenant = getattr(request, "tenant", None)
        user = request.user
        if tenant is None or tenant.is_public or not (user and user.is_authenticated):
            return False
        if not tenant.is_active:
            raise exceptions.PermissionDenied(_("This workspace is suspended."), code="tenant_suspended")
        if isinstance(user, ApiKeyPrincipal):
            if user.tenant.pk == tenant.pk:
                return True
        elif user.is_superuser or request_membership(request) is not None:
            return True
        raise exceptions.PermissionDenied(_("You are not a member of this workspace."), code="not_a_member")


def HasRole(minimum: str) -> type[BasePermission]:
    """A permission class: tenant member with at least `minimum` role (owner > admin > agent >
    viewer). Use as `permission_classes = [HasRole(Role.ADMIN)]`."""
    required = Role(minimum)

    class _HasRole(IsTenantMember):
        def has_permission(self, request: Request, view: APIView) -> bool:
            if not super().has_permission(request, view):
                return False
            if request.user.is_superuser:
                return True
            role = request_role(request)
            if role is None or ROLE_RANK[Role(role)] < ROLE_RANK[required]:
                raise exceptions.PermissionDenied(
                    _("This needs the %(role)s role or higher.") % {"role": required.label}, code="role_required"
                )
            return True

    _HasRole.__name__ = _HasRole.__qualname__ = f"HasRole_{required.value}"
    return _HasRole


class RolePerMethodMixin:
    """Safe methods for every member; `write_role` to change; `delete_role` to delete."""

    write_role: str = Role.AGENT
    delete_role: str = Role.ADMIN

    def get_permissions(self) -> list[BasePermission]:
        if self.request.method in SAFE_METHODS:
            return [IsTenantMember()]
        if self.request.method == "DELETE":
            return [HasRole(self.delete_role)()]
        return [HasRole(self.write_role)()]
