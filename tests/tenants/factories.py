"""factory_boy factories for apps.tenants (public schema)."""

from __future__ import annotations

from decimal import Decimal

import factory

from apps.tenants import services
from apps.tenants.models import Reseller, Tenant


class ResellerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Reseller

    name = factory.Sequence(lambda n: f"Reseller {n}")
    contact_email = factory.Sequence(lambda n: f"partner{n}@resellers.test")
    commission_percent = Decimal("10")


class TenantFactory(factory.django.DjangoModelFactory):
    """A real tenant made by services.tenant_create: schema cloned from the template, domain,
    subscription (default plan unless `plan_slug`) and, with `owner`, the owner's membership.
    Inside a test's transaction the schema disappears with the rollback."""

    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"Factory Tenant {n}")
    slug = factory.Sequence(lambda n: f"factory-{n}")
    owner = None
    plan_slug = None
    reseller = None

    @classmethod
    def _create(cls, model_class: type[Tenant], *args, **kwargs) -> Tenant:
        return services.tenant_create(**kwargs).tenant
