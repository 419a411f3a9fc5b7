"""Admin fixtures: two resellers, each with one of the session tenants and a staff user, and a
platform superuser; all inside the test's transaction. The admin lives on the bare domain."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.conf import settings
from django.forms import MultiWidget
from django.test import Client

from apps.accounts.models import User
from apps.tenants.models import Reseller, Tenant
from tests.accounts.factories import UserFactory
from tests.tenants.factories import ResellerFactory

ADMIN_HOST = settings.BASE_DOMAIN


@dataclass
class ResellerWorld:
    reseller: Reseller
    staff: User
    tenant: Tenant


@pytest.fixture
def superuser(db) -> User:
    return UserFactory(email="root@chorus.test", is_staff=True, is_superuser=True)


@pytest.fixture
def north(alpha) -> ResellerWorld:
    reseller = ResellerFactory(name="North Partners", commission_percent=15)
    Tenant.objects.filter(pk=alpha.tenant.pk).update(reseller=reseller)
    staff = UserFactory(email="staff@north.test", is_staff=True, reseller=reseller)
    return ResellerWorld(reseller=reseller, staff=staff, tenant=Tenant.objects.get(pk=alpha.tenant.pk))


@pytest.fixture
def south(beta) -> ResellerWorld:
    reseller = ResellerFactory(name="South Partners", commission_percent=10)
    Tenant.objects.filter(pk=beta.tenant.pk).update(reseller=reseller)
    staff = UserFactory(email="staff@south.test", is_staff=True, reseller=reseller)
    return ResellerWorld(reseller=reseller, staff=staff, tenant=Tenant.objects.get(pk=beta.tenant.pk))


@pytest.fixture
def admin_client():
    """admin_client(user) -> a test client on the public host, logged in as `user`."""

    def make(user: User) -> Client:
        client = Client(HTTP_HOST=ADMIN_HOST)
        client.force_login(user)
        return client

    return make


def _field_post_values(bound_field) -> dict[str, object]:
    """What a browser would post for a rendered form field left as it is."""
    widget = bound_field.field.widget
    value = bound_field.value()
    name = bound_field.html_name
    if isinstance(widget, MultiWidget):
        parts = widget.decompress(value) if not isinstance(value, list) else value
        return {f"{name}_{i}": "" if part is None else part for i, part in enumerate(parts)}
    if value is None:
        return {}
    if isinstance(value, bool):
        return {name: "on"} if value else {}
    if isinstance(value, list | tuple):
        return {name: [str(v) for v in value]}
    return {name: str(value)}


def change_form_data(response) -> dict[str, object]:
    """The POST body of an admin change page as rendered (form + every inline formset)."""
    data: dict[str, object] = {}
    form = response.context["adminform"].form
    for name in form.fields:
        data.update(_field_post_values(form[name]))
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[management[name].html_name] = management[name].value()
        for inline_form in formset.forms:
            for name in inline_form.fields:
                data.update(_field_post_values(inline_form[name]))
    return data
