"""Tenants for benchmarks: on an effectively unlimited plan, so plan quotas never stop a run."""

from __future__ import annotations

from apps.billing.models import Plan
from apps.tenants import services
from apps.tenants.models import Tenant

BENCH_PLAN_SLUG = "bench-unlimited"
# Above anything a benchmark sends or stores in one run.
UNLIMITED = 10**9


def bench_tenant(*, slug: str, name: str, default_region: str = "IN") -> Tenant:
    """The benchmark tenant `slug`, created (by cloning, like any tenant) on first use."""
    plan, _ = Plan.objects.update_or_create(
        slug=BENCH_PLAN_SLUG,
        defaults={
            "name": "Benchmark (unlimited)",
            "is_public": False,
            "max_numbers": 1000,
            "messages_per_day": UNLIMITED,
            "messages_per_month": UNLIMITED,
            "max_contacts": UNLIMITED,
            "feature_api": True,
            "feature_chatbots": True,
        },
    )
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        tenant = services.tenant_create(name=name, slug=slug, plan_slug=plan.slug, default_region=default_region).tenant
    return tenant
