"""The workspace admin: the Django admin on a tenant host (`<slug>.<BASE_DOMAIN>/admin/`) for the
tenant-schema models (contacts, groups, suppression, saved filters), with django-import-export's
import and export. The platform admin on the bare domain cannot show these: they live in each
tenant's own schema, which a tenant host's request is already switched to.

Who gets in: platform superusers, and reseller staff on tenants of their own reseller. Tenant
members (owners included) use the portal, not this admin. Every ModelAdmin registered here
takes its rights from the site's admission (TenantSchemaOnlyMixin) and shows nothing on the
public schema.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Model
from django.http import HttpRequest
from django_tenants.utils import get_public_schema_name
from unfold.sites import UnfoldAdminSite


def admits(request: HttpRequest) -> bool:
    """May this user use the admin of the request's tenant?"""
    user, tenant = request.user, getattr(request, "tenant", None)
    if tenant is None or tenant.schema_name == get_public_schema_name() or not user.is_active:
        return False
    if user.is_superuser:
        return True
    reseller_id = getattr(user, "reseller_id", None)
    return bool(user.is_staff and reseller_id is not None and reseller_id == tenant.reseller_id)


class TenantAdminSite(UnfoldAdminSite):
    settings_name = "UNFOLD_TENANT"
    site_title = "Chorus workspace admin"
    site_header = "Chorus"
    index_title = "Workspace admin"

    def has_permission(self, request: HttpRequest) -> bool:
        return admits(request)


tenant_admin_site = TenantAdminSite(name="tenant_admin")


class TenantSchemaOnlyMixin:
    """The admin class belongs to the workspace admin: on the public schema it shows nothing and
    allows nothing; on a tenant host whoever the site admits may view, add, change and delete."""

    @staticmethod
    def on_tenant_schema() -> bool:
        return connection.schema_name != get_public_schema_name()

    def _allowed(self, request: HttpRequest) -> bool:
        return self.on_tenant_schema() and admits(request)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self._allowed(request)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request)

    # django-import-export asks these before showing its buttons.
    def has_import_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)

    def has_export_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)
