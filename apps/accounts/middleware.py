"""Tenant-host access: only members of the tenant (and platform superusers) get in."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from apps.accounts.models import Membership

# Paths on a tenant host that work without a membership (sign-in flows, assets, API: the API
# checks membership itself so it can answer in its own error shape).
OPEN_PREFIXES = ("/accounts/", "/static/", "/i18n/", "/api/")


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
        if request.path.startswith(OPEN_PREFIXES) or not user.is_authenticated:
            # Anonymous users reach login_required views, which redirect to the login page.
            return self.get_response(request)
        if not tenant.is_active:
            return render(request, "portal/suspended.html", status=403)
        if request.membership is None:
            return render(request, "portal/no_access.html", status=403)
        return self.get_response(request)
