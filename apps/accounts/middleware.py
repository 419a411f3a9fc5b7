"""Tenant-host access: only members of the tenant (and platform superusers) get in.

Pages, the API (apps.accounts.api.permissions) and websockets (apps.core.realtime.middleware)
agree: a platform superuser is admitted on every active tenant without a Membership and passes
every role check there. For pages that means `request.membership` is an unsaved owner-level
Membership (pk None, `is_platform_staff` True), so views and templates that read the acting
member's role need no special case; nothing is written for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from apps.accounts.models import Membership, Role, User

if TYPE_CHECKING:
    from apps.tenants.models import Tenant

# Paths on a tenant host that work without a membership (sign-in flows, assets, API: the API
# checks membership itself so it can answer in its own error shape; the workspace admin admits
# platform and reseller staff itself, apps.core.tenant_admin).
OPEN_PREFIXES = ("/accounts/", "/static/", "/i18n/", "/api/", "/admin/")


def platform_staff_membership(*, user: User, tenant: Tenant) -> Membership:
    """The stand-in membership of a superuser who is not a member: owner-level, never saved."""
    membership = Membership(user=user, tenant=tenant, role=Role.OWNER)
    membership.is_platform_staff = True
    return membership


class TenantMembershipMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant = getattr(request, "tenant", None)
        request.membership = None
        if tenant is None or tenant.is_public:
            return self.get_response(request)
        user = request.user
        if user.is_authenticated:
            request.membership = Membership.objects.filter(user=user, tenant=tenant).first()
            if request.membership is None and user.is_superuser:
                request.membership = platform_staff_membership(user=user, tenant=tenant)
        if request.path.startswith(OPEN_PREFIXES) or not user.is_authenticated:
            # Anonymous users reach login_required views, which redirect to the login page.
            return self.get_response(request)
        if not tenant.is_active:
            return render(request, "portal/suspended.html", status=403)
        if request.membership is None:
            return render(request, "portal/no_access.html", status=403)
        return self.get_response(request)
