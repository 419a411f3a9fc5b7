"""factory_boy factories for apps.billing (public schema).

There is no Subscription factory: every tenant gets its subscription from tenant_create (a
tenant has exactly one), so tests change that one instead of making another."""

from __future__ import annotations

import factory
from django.utils import timezone

from apps.billing.models import Plan, UsageRecord


class PlanFactory(factory.django.DjangoModelFactory):
    """A plan that is not offered at sign-up, so the seeded Free/Pro/Business stay the choices."""

    class Meta:
        model = Plan

    slug = factory.Sequence(lambda n: f"plan-{n}")
    name = factory.Sequence(lambda n: f"Plan {n}")
    is_public = False


class UsageRecordFactory(factory.django.DjangoModelFactory):
    """Pass `tenant=world.tenant`; `day` is today (UTC) unless given."""

    class Meta:
        model = UsageRecord

    tenant = factory.SubFactory("tests.tenants.factories.TenantFactory")
    day = factory.LazyFunction(lambda: timezone.now().date())
