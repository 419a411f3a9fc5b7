"""Shared pieces of the platform admin (public schema, bare domain only).

Who sees what
-------------
- Platform superusers see and manage everything.
- Reseller staff (`user.reseller` set, `is_staff`, not superuser) see and manage only their
  reseller's tenants and what hangs off them. Each scoped ModelAdmin names the path from its
  model to the reseller (`reseller_lookup`), and `get_queryset` filters on it. Every admin view
  that takes an object id (change, delete, history, the password form, actions) loads it
  through `get_queryset`, so another reseller's object simply does not exist for them: its URL
  answers 404 and a crafted action POST selects nothing.
- Other staff users fall back to Django's model permissions.

Why permissions are decided in code, not with Django Groups
-----------------------------------------------------------
Reseller staff get their rights from `has_*_permission` overrides keyed on
`user.is_reseller_staff`, declared per admin in `reseller_permissions`. A Group would have to be
created by a data migration, kept in sync with every new model, and attached to each reseller
user by whoever creates them; forgetting any step silently shows a reseller nothing (or, worse,
a permission added for platform staff leaks to them). Here the rule lives next to the queryset
filter it depends on, needs no data, and is covered by the admin tests. Django's own permission
tables still govern platform staff who are not superusers.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.admin.utils import unquote
from django.db import connection
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django_tenants.utils import get_public_schema_name

VIEW, ADD, CHANGE, DELETE = "view", "add", "change", "delete"
ALL_PERMISSIONS = frozenset({VIEW, ADD, CHANGE, DELETE})


def is_platform_admin(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_superuser)


def is_reseller_staff(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_staff and getattr(user, "is_reseller_staff", False))


def reseller_id_of(request: HttpRequest) -> int | None:
    """The reseller a request is scoped to, or None for platform staff."""
    return request.user.reseller_id if is_reseller_staff(request) else None


def superuser_only(request: HttpRequest) -> bool:
    """Sidebar permission callback for platform-only sections."""
    return is_platform_admin(request)


def environment_callback(request: HttpRequest) -> list[str]:
    """The label unfold shows next to the site title, so nobody mistakes production for a
    playground (or the reverse)."""
    module = settings.SETTINGS_MODULE or ""
    if module.endswith(".dev"):
        return ["Development", "info"]
    if module.endswith(".test"):
        return ["Test", "warning"]
    return ["Production", "danger"]


class PublicSchemaOnlyMixin:
    """The admin class belongs to the public admin: on any other schema it shows nothing and
    allows nothing (tenant hosts do not route the admin at all; this is the second lock)."""

    @staticmethod
    def on_public_schema() -> bool:
        return connection.schema_name == get_public_schema_name()

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.on_public_schema() and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.on_public_schema() and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self.on_public_schema() and super().has_add_permission(request, *args)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.on_public_schema() and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.on_public_schema() and super().has_delete_permission(request, obj)


class ResellerScopedAdminMixin(PublicSchemaOnlyMixin):
    """Reseller scoping for a public ModelAdmin (see the module docstring).

    - `reseller_lookup`: ORM path from the model to its reseller id ("reseller_id" for
      tenants, "tenant__reseller_id" for things that belong to a tenant). None means the model
      is not reseller-owned: reseller staff see no rows unless `scope_queryset` is overridden.
    - `reseller_permissions`: what reseller staff may do on rows in their scope.
    - `scoped_foreign_keys`: {field name: ORM path to the reseller id on the related model},
      so form choices (and crafted POSTs) cannot point at another reseller's rows.
    """

    reseller_lookup: str | None = None
    reseller_permissions: frozenset[str] = frozenset({VIEW})
    scoped_foreign_keys: dict[str, str] = {}

    # --- rows ---------------------------------------------------------------------------------

    def scope_queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        reseller_id = reseller_id_of(request)
        if reseller_id is None:
            return queryset
        if self.reseller_lookup is None:
            return queryset.none()
        return queryset.filter(**{self.reseller_lookup: reseller_id})

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if is_platform_admin(request) or not is_reseller_staff(request):
            return queryset
        return self.scope_queryset(request, queryset)

    def in_scope(self, request: HttpRequest, obj: Model) -> bool:
        if not is_reseller_staff(request):
            return True
        return self.get_queryset(request).filter(pk=obj.pk).exists()

    # --- permissions --------------------------------------------------------------------------

    def _reseller_may(self, request: HttpRequest, permission: str, obj: Model | None) -> bool:
        if permission not in self.reseller_permissions:
            return False
        return obj is None or self.in_scope(request, obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        if is_reseller_staff(request):
            return self.on_public_schema() and VIEW in self.reseller_permissions
        return super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if is_reseller_staff(request):
            return self.on_public_schema() and (
                self._reseller_may(request, VIEW, obj) or self._reseller_may(request, CHANGE, obj)
            )
        return super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        if is_reseller_staff(request):
            return self.on_public_schema() and ADD in self.reseller_permissions
        return super().has_add_permission(request, *args)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if is_reseller_staff(request):
            return self.on_public_schema() and self._reseller_may(request, CHANGE, obj)
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if is_reseller_staff(request):
            return self.on_public_schema() and self._reseller_may(request, DELETE, obj)
        return super().has_delete_permission(request, obj)

    # --- form choices -------------------------------------------------------------------------

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        reseller_id = reseller_id_of(request)
        lookup = self.scoped_foreign_keys.get(db_field.name)
        if reseller_id is not None and lookup is not None:
            related = db_field.remote_field.model._default_manager.all()
            kwargs["queryset"] = related.filter(**{lookup: reseller_id})
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    # --- object URLs: another reseller's object is a 404, not a redirect ---------------------

    def _object_in_queryset_or_404(self, request: HttpRequest, object_id: str | None) -> None:
        if object_id is None or not is_reseller_staff(request):
            return
        if self.get_object(request, unquote(object_id)) is None:
            raise Http404("No such object.")

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None) -> HttpResponse:
        self._object_in_queryset_or_404(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def delete_view(self, request: HttpRequest, object_id: str, extra_context=None) -> HttpResponse:
        self._object_in_queryset_or_404(request, object_id)
        return super().delete_view(request, object_id, extra_context)

    def history_view(self, request: HttpRequest, object_id: str, extra_context=None) -> HttpResponse:
        self._object_in_queryset_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context)


class ScopedInlineMixin:
    """Inline rows and their foreign-key choices limited to the reseller's scope."""

    reseller_lookup: str | None = None
    reseller_permissions: frozenset[str] = frozenset({VIEW})
    scoped_foreign_keys: dict[str, str] = {}

    # The parent object is already in the reseller's scope (its admin loaded it through a
    # scoped queryset); these say what reseller staff may do to its inline rows.
    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if is_reseller_staff(request):
            return bool({VIEW, CHANGE} & self.reseller_permissions)
        return super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if is_reseller_staff(request):
            return ADD in self.reseller_permissions
        return super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if is_reseller_staff(request):
            return CHANGE in self.reseller_permissions
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if is_reseller_staff(request):
            return DELETE in self.reseller_permissions
        return super().has_delete_permission(request, obj)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        reseller_id = reseller_id_of(request)
        if reseller_id is None or self.reseller_lookup is None:
            return queryset
        return queryset.filter(**{self.reseller_lookup: reseller_id})

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        reseller_id = reseller_id_of(request)
        lookup = self.scoped_foreign_keys.get(db_field.name)
        if reseller_id is not None and lookup is not None:
            related = db_field.remote_field.model._default_manager.all()
            kwargs["queryset"] = related.filter(**{lookup: reseller_id})
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ReadOnlyAdminMixin:
    """Rows written by the system (usage roll-ups, lockout records): nobody edits them here."""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


# --- third-party admins, restyled ------------------------------------------------------------
# django-celery-beat and axes register plain Django admins; the same classes mixed with
# unfold's ModelAdmin get unfold's widgets. Their modules are imported here first, so this
# works whichever admin module the autodiscovery reaches first. Access stays with Django's
# model permissions (platform staff); reseller staff have none of them.

from axes import admin as axes_admin  # noqa: E402
from axes.models import AccessAttempt, AccessFailureLog, AccessLog  # noqa: E402
from django.contrib import admin  # noqa: E402
from django_celery_beat import admin as beat_admin  # noqa: E402
from django_celery_beat.models import (  # noqa: E402
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)
from unfold.admin import ModelAdmin  # noqa: E402
from unfold.widgets import UnfoldAdminSelectWidget, UnfoldAdminTextInputWidget  # noqa: E402


class UnfoldTaskSelectWidget(UnfoldAdminSelectWidget, beat_admin.TaskSelectWidget):
    pass


class PeriodicTaskForm(beat_admin.PeriodicTaskForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["task"].widget = UnfoldAdminTextInputWidget()
        self.fields["regtask"].widget = UnfoldTaskSelectWidget()


def _reregister(model: type[Model], admin_class: type) -> None:
    """Swap the admin class of a model its app registered (left alone if it did not)."""
    if admin.site.is_registered(model):
        admin.site.unregister(model)
        admin.site.register(model, admin_class)


class PeriodicTaskAdmin(PublicSchemaOnlyMixin, beat_admin.PeriodicTaskAdmin, ModelAdmin):
    form = PeriodicTaskForm


class IntervalScheduleAdmin(PublicSchemaOnlyMixin, beat_admin.IntervalScheduleAdmin, ModelAdmin):
    pass


class CrontabScheduleAdmin(PublicSchemaOnlyMixin, beat_admin.CrontabScheduleAdmin, ModelAdmin):
    pass


class SolarScheduleAdmin(PublicSchemaOnlyMixin, beat_admin.SolarScheduleAdmin, ModelAdmin):
    pass


class ClockedScheduleAdmin(PublicSchemaOnlyMixin, beat_admin.ClockedScheduleAdmin, ModelAdmin):
    pass


class AccessAttemptAdmin(PublicSchemaOnlyMixin, axes_admin.AccessAttemptAdmin, ModelAdmin):
    pass


class AccessLogAdmin(PublicSchemaOnlyMixin, axes_admin.AccessLogAdmin, ModelAdmin):
    pass


class AccessFailureLogAdmin(PublicSchemaOnlyMixin, axes_admin.AccessFailureLogAdmin, ModelAdmin):
    pass


_reregister(PeriodicTask, PeriodicTaskAdmin)
_reregister(IntervalSchedule, IntervalScheduleAdmin)
_reregister(CrontabSchedule, CrontabScheduleAdmin)
_reregister(SolarSchedule, SolarScheduleAdmin)
_reregister(ClockedSchedule, ClockedScheduleAdmin)
_reregister(AccessAttempt, AccessAttemptAdmin)
_reregister(AccessLog, AccessLogAdmin)
_reregister(AccessFailureLog, AccessFailureLogAdmin)
