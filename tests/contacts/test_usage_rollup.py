"""The hourly usage roll-up: every workspace's current contacts and numbers land on its usage
row for the day, counted in its own schema, whatever changed them (API, deletes)."""

from __future__ import annotations

from django_tenants.utils import tenant_context

from apps.billing import selectors as billing_selectors
from apps.billing.models import UsageRecord
from apps.contacts import tasks
from apps.contacts.models import Contact
from apps.senders.models import SenderProfile


def test_each_workspace_gets_its_own_counts_for_today(alpha, beta, monkeypatch):
    with tenant_context(alpha.tenant):
        Contact.objects.bulk_create([Contact(phone=f"+91987650{i:04d}") for i in range(3)])
        SenderProfile.objects.create(label="Main")
    with tenant_context(beta.tenant):
        Contact.objects.create(phone="+919876509999")
    UsageRecord.objects.filter(tenant__in=[alpha.tenant, beta.tenant]).delete()
    monkeypatch.setitem(tasks.app.conf, "task_always_eager", True)

    asked = tasks.usage_rollup()

    today_alpha = billing_selectors.tenant_local_today(alpha.tenant)
    today_beta = billing_selectors.tenant_local_today(beta.tenant)
    alpha_row = UsageRecord.objects.get(tenant=alpha.tenant, day=today_alpha)
    beta_row = UsageRecord.objects.get(tenant=beta.tenant, day=today_beta)
    assert asked >= 2
    assert (alpha_row.contacts, alpha_row.numbers) == (3, 1)
    assert (beta_row.contacts, beta_row.numbers) == (1, 0)


def test_a_later_roll_up_follows_deletes_and_keeps_message_counts(alpha, monkeypatch):
    from apps.billing import services as billing

    monkeypatch.setitem(tasks.app.conf, "task_always_eager", True)
    with tenant_context(alpha.tenant):
        contacts = Contact.objects.bulk_create([Contact(phone=f"+91987650{i:04d}") for i in range(4)])
    billing.usage_record_add(tenant=alpha.tenant, messages_sent=7)
    tasks.usage_rollup()
    with tenant_context(alpha.tenant):
        Contact.objects.filter(id__in=[c.id for c in contacts[:3]]).delete()

    tasks.usage_rollup()

    row = UsageRecord.objects.get(tenant=alpha.tenant, day=billing_selectors.tenant_local_today(alpha.tenant))
    assert (row.contacts, row.messages_sent) == (1, 7)
