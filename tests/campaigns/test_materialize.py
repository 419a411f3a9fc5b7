"""Starting a campaign writes one ledger row per recipient: personalised, with its number, and
with the reason for every contact that gets no message."""

from __future__ import annotations

import datetime

from django.utils import timezone

from apps.campaigns import rendering
from apps.campaigns.models import Campaign, CampaignRun
from apps.campaigns.services import progress
from apps.contacts.models import Contact, Group, SuppressedNumber
from apps.senders.models import OutboundMessage
from tests.campaigns.conftest import make_campaign, make_contacts, make_profile, start


def ledger(campaign: Campaign) -> list[OutboundMessage]:
    return list(OutboundMessage.objects.filter(campaign_id=campaign.id).order_by("id"))


def test_each_contact_gets_one_queued_row_with_its_personalised_text(
    in_alpha, handoffs, django_capture_on_commit_callbacks
):
    profile = make_profile()
    group = Group.objects.create(name="Customers")
    contacts = make_contacts(3, group=group)
    Contact.objects.filter(id=contacts[1].id).update(name="", custom_fields={"city": "Pune"})
    campaign = make_campaign(profiles=[profile], groups=[group], body="Hi {{name|there}} from {{custom.city|home}}")

    with django_capture_on_commit_callbacks(execute=True):
        run = start(campaign)

    rows = ledger(campaign)
    assert [(r.to_number, r.body, r.state, r.profile_id, r.recipient_ref) for r in rows] == [
        ("+919876000000", "Hi Person 0 from home", "queued", profile.id, str(contacts[0].id)),
        ("+919876000001", "Hi there from Pune", "queued", profile.id, str(contacts[1].id)),
        ("+919876000002", "Hi Person 2 from home", "queued", profile.id, str(contacts[2].id)),
    ]
    assert all(r.queued_at is not None and r.attempts == 0 for r in rows)
    assert (run.first_message_id, run.last_message_id) == (rows[0].id, rows[-1].id)
    assert (run.recipients, run.queued_initially, run.duplicates) == (3, 3, 0)
    assert run.counts == {"queued": 3}
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.RUNNING
    # After commit: the worker materializes, then the number is woken and the ticks start.
    assert (handoffs.materialize, handoffs.kicks, handoffs.ticks) == ([run.id], [profile.id], [run.id])


def test_opted_out_revoked_and_suppressed_contacts_never_get_a_queued_row(in_alpha):
    profile = make_profile()
    group = Group.objects.create(name="Customers")
    contacts = make_contacts(6, group=group)
    Contact.objects.filter(id=contacts[0].id).update(opted_out_at=timezone.now())
    Contact.objects.filter(id=contacts[1].id).update(consent_status=Contact.Consent.REVOKED)
    SuppressedNumber.objects.create(phone=contacts[2].phone, reason="complaint")
    SuppressedNumber.objects.create(phone="+919999999999", reason="not a contact")
    campaign = make_campaign(profiles=[profile], groups=[group])

    run = start(campaign)

    rows = {r.to_number: r for r in ledger(campaign)}
    assert len(rows) == 6
    assert (rows[contacts[0].phone].state, rows[contacts[0].phone].error_code) == ("skipped_opted_out", "opted_out")
    assert (rows[contacts[1].phone].state, rows[contacts[1].phone].error_code) == (
        "skipped_opted_out",
        "consent_revoked",
    )
    assert (rows[contacts[2].phone].state, rows[contacts[2].phone].error_code) == ("skipped_suppressed", "suppressed")
    skipped = [rows[c.phone] for c in contacts[:3]]
    assert all(r.profile_id is None and r.queued_at is None for r in skipped)
    assert [rows[c.phone].state for c in contacts[3:]] == ["queued"] * 3
    assert (run.recipients, run.queued_initially, run.skipped_opted_out, run.skipped_suppressed) == (6, 3, 2, 1)
    assert run.counts == {"queued": 3, "skipped_opted_out": 2, "skipped_suppressed": 1}


def test_a_contact_in_several_groups_is_one_recipient_and_the_extra_matches_are_counted(in_alpha):
    profile = make_profile()
    first, second, third = (Group.objects.create(name=n) for n in ("A", "B", "C"))
    contacts = make_contacts(5, group=first)
    from apps.contacts.models import GroupMembership

    GroupMembership.objects.bulk_create([GroupMembership(group=second, contact=c) for c in contacts[:3]])
    GroupMembership.objects.bulk_create([GroupMembership(group=third, contact=c) for c in contacts[:1]])
    campaign = make_campaign(profiles=[profile], groups=[first, second, third])

    run = start(campaign)

    assert [r.to_number for r in ledger(campaign)] == [c.phone for c in contacts]
    assert (run.audience_matches, run.recipients, run.duplicates) == (9, 5, 4)


def test_the_filter_narrows_the_audience(in_alpha):
    profile = make_profile()
    make_contacts(2, language="hi", custom_fields={"city": "Pune"})
    make_contacts(2, start=10, language="en", custom_fields={"city": " pune "})
    make_contacts(2, start=20, language="hi", custom_fields={"city": "Delhi"})
    campaign = make_campaign(
        profiles=[profile],
        audience_filter={
            "match": "all",
            "rules": [
                {"field": "custom.city", "op": "eq", "value": "PUNE"},
                {"field": "language", "op": "in", "value": ["hi", "mr"]},
            ],
        },
    )

    start(campaign)

    assert [r.to_number for r in ledger(campaign)] == ["+919876000000", "+919876000001"]


def test_created_after_filter_uses_the_tenants_time_zone(in_alpha):
    from apps.tenants.models import Tenant

    Tenant.objects.filter(pk=in_alpha.tenant.pk).update(timezone="Asia/Kolkata")
    profile = make_profile()
    old, new = make_contacts(2)
    # 2026-03-01 00:00 in Kolkata is 2026-02-28 18:30 UTC.
    Contact.objects.filter(id=old.id).update(created_at=datetime.datetime(2026, 2, 28, 18, 29, tzinfo=datetime.UTC))
    Contact.objects.filter(id=new.id).update(created_at=datetime.datetime(2026, 2, 28, 18, 30, tzinfo=datetime.UTC))
    campaign = make_campaign(
        profiles=[profile],
        audience_filter={"rules": [{"field": "created_at", "op": "after", "value": "2026-03-01"}]},
    )

    start(campaign)

    assert [r.to_number for r in ledger(campaign)] == [new.phone]


def test_spintax_is_chosen_per_recipient_and_is_the_same_when_rendered_again(in_alpha):
    profile = make_profile()
    make_contacts(40)
    campaign = make_campaign(profiles=[profile], audience_all=True, body="{Hi|Hello|Hey} {{name}}")

    start(campaign)

    rows = ledger(campaign)
    compiled = rendering.template_compile(campaign.body)
    for row in rows:
        name = Contact.objects.get(phone=row.to_number).name
        assert row.body == compiled.render((name,), rendering.recipient_seed(campaign.id, row.to_number))
    assert {r.body.split()[0] for r in rows} == {"Hi", "Hello", "Hey"}


def test_a_text_longer_than_whatsapp_allows_is_recorded_failed_not_queued(in_alpha):
    profile = make_profile()
    short, long = make_contacts(2)
    Contact.objects.filter(id=long.id).update(custom_fields={"note": "x" * 4100})
    campaign = make_campaign(profiles=[profile], audience_all=True, body="{{custom.note|ok}}")

    run = start(campaign)

    rows = {r.to_number: r for r in ledger(campaign)}
    assert rows[short.phone].state == "queued"
    assert (rows[long.phone].state, rows[long.phone].error_code, len(rows[long.phone].body)) == (
        "failed",
        "text_too_long",
        4096,
    )
    assert run.skipped_too_long == 1


def test_an_empty_audience_completes_at_the_first_tick(in_alpha):
    from apps.campaigns.services import ticks

    profile = make_profile()
    group = Group.objects.create(name="Nobody")
    campaign = make_campaign(profiles=[profile], groups=[group])

    run = start(campaign)

    assert (run.recipients, run.first_message_id, run.last_message_id) == (0, None, None)
    assert ticks.run_tick(run_id=run.id) is False
    campaign.refresh_from_db()
    run.refresh_from_db()
    assert (campaign.state, run.state) == (Campaign.State.COMPLETED, CampaignRun.State.COMPLETED)


def test_materializing_twice_writes_nothing_more(in_alpha):
    from apps.campaigns.services import materialize

    profile = make_profile()
    make_contacts(3)
    campaign = make_campaign(profiles=[profile], audience_all=True)
    run = start(campaign)

    again = materialize.run_materialize(run_id=run.id)

    assert again.materialized_at == run.materialized_at
    assert OutboundMessage.objects.filter(campaign_id=campaign.id).count() == 3


def test_run_rows_are_only_this_runs(in_alpha):
    profile = make_profile()
    make_contacts(2)
    campaign = make_campaign(profiles=[profile], audience_all=True)
    other = make_campaign(profiles=[profile], audience_all=True, name="Other")
    run = start(campaign)
    start(other)

    assert progress.run_rows(run).count() == 2
    assert set(progress.run_rows(run).values_list("campaign_id", flat=True)) == {campaign.id}


def test_texts_with_tabs_newlines_backslashes_quotes_and_commas_are_stored_exactly(in_alpha):
    profile = make_profile()
    contact = make_contacts(1)[0]
    Contact.objects.filter(id=contact.id).update(
        name='Ana "Nani", D\'Souza \\ Jr', custom_fields={"note": "line one\nline\ttwo\r\n\\N, ok"}
    )
    campaign = make_campaign(profiles=[profile], audience_all=True, body="Hi {{name}}!\n{{custom.note}}\t✓")

    start(campaign)

    assert ledger(campaign)[0].body == 'Hi Ana "Nani", D\'Souza \\ Jr!\nline one\nline\ttwo\r\n\\N, ok\t✓'
