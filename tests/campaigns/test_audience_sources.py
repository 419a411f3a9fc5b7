"""A campaign's audience from a saved filter (read afresh at every run) and from an uploaded
list (imported into a group of its own; starting waits for the import)."""

from __future__ import annotations

import datetime
import io

import pytest

from apps.campaigns.models import Campaign
from apps.campaigns.services import campaigns as campaign_services
from apps.campaigns.services import lists, ticks
from apps.contacts.models import Contact, ImportJob
from apps.contacts.services import importing
from apps.contacts.services import saved_filters as filter_services
from apps.core.exceptions import Conflict, ValidationFailed
from apps.senders.models import OutboundMessage
from tests.campaigns.conftest import make_campaign, make_contacts, make_profile, start

HINDI = {"rules": [{"field": "language", "op": "eq", "value": "hi"}]}


def numbers(campaign: Campaign, run) -> list[str]:
    rows = OutboundMessage.objects.filter(
        campaign_id=campaign.id, id__gte=run.first_message_id, id__lte=run.last_message_id
    )
    return sorted(rows.values_list("to_number", flat=True))


def test_a_saved_filter_alone_picks_from_every_contact(in_alpha):
    make_contacts(2, language="hi")
    make_contacts(2, start=10, language="en")
    saved = filter_services.saved_filter_create(name="Hindi", spec=HINDI)
    campaign = make_campaign(profiles=[make_profile()], saved_filter=saved)

    run = start(campaign)

    assert numbers(campaign, run) == ["+919876000000", "+919876000001"]
    assert (run.recipients, run.queued_initially) == (2, 2)


def test_a_saved_filter_and_the_campaigns_own_filter_both_apply(in_alpha):
    make_contacts(2, language="hi", custom_fields={"city": "Pune"})
    make_contacts(2, start=10, language="hi", custom_fields={"city": "Delhi"})
    saved = filter_services.saved_filter_create(name="Hindi", spec=HINDI)
    campaign = make_campaign(
        profiles=[make_profile()],
        saved_filter=saved,
        audience_filter={"rules": [{"field": "custom.city", "op": "eq", "value": "delhi"}]},
    )

    run = start(campaign)

    assert numbers(campaign, run) == ["+919876000010", "+919876000011"]


def test_a_recurring_campaign_follows_edits_to_its_saved_filter(in_alpha):
    make_contacts(1, language="hi")
    make_contacts(1, start=10, language="mr")
    saved = filter_services.saved_filter_create(name="Hindi", spec=HINDI)
    campaign = make_campaign(
        profiles=[make_profile()], saved_filter=saved, schedule="daily", send_time=datetime.time(8)
    )
    campaign_services.campaign_schedule(campaign=campaign)
    first = start(campaign)
    OutboundMessage.objects.filter(campaign_id=campaign.id).update(state="sent")
    assert ticks.run_tick(run_id=first.id) is False

    filter_services.saved_filter_update(
        saved_filter=saved, spec={"rules": [{"field": "language", "op": "in", "value": ["hi", "mr"]}]}
    )
    second = start(campaign)

    assert numbers(campaign, first) == ["+919876000000"]
    assert numbers(campaign, second) == ["+919876000000", "+919876000010"]


def test_an_uploaded_list_becomes_a_group_and_starting_waits_for_its_import(in_alpha):
    make_contacts(1)  # +919876000000 exists already, named "Person 0"
    data = b"phone,name\n+91 98760-00000,Renamed\n098760 00005,New person\nnot a number,Bad\n"

    job = lists.audience_list_upload(campaign_name="Diwali", stream=io.BytesIO(data), name="list.csv")
    campaign = make_campaign(profiles=[make_profile()], groups=[job.group])

    assert job.state == ImportJob.State.QUEUED and job.group.name.startswith("Diwali · list ")
    with pytest.raises(Conflict) as refused:
        start(campaign)
    assert refused.value.code == "audience_importing" and refused.value.details == {"imports": ["list.csv"]}
    assert campaign.runs.count() == 0 and OutboundMessage.objects.count() == 0

    finished = importing.import_job_run(job_id=job.id)
    run = start(campaign)

    assert (finished.created_count, finished.error_count) == (1, 1)
    assert numbers(campaign, run) == ["+919876000000", "+919876000005"]
    # The list joins existing contacts to the group without rewriting them.
    assert Contact.objects.get(phone="+919876000000").name == "Person 0"


def test_an_unreadable_list_is_refused_and_leaves_no_group(in_alpha):
    from apps.contacts.models import Group

    with pytest.raises(ValidationFailed):
        lists.audience_list_upload(campaign_name="Diwali", stream=io.BytesIO(b"name\nAsha\n"), name="list.csv")

    assert Group.objects.count() == 0 and ImportJob.objects.count() == 0


def test_two_lists_in_the_same_minute_get_their_own_groups(in_alpha):
    data = b"phone\n+919876000001\n"

    first = lists.audience_list_upload(campaign_name="Diwali", stream=io.BytesIO(data), name="a.csv")
    second = lists.audience_list_upload(campaign_name="Diwali", stream=io.BytesIO(data), name="b.csv")

    assert first.group_id != second.group_id and first.group.name != second.group.name
