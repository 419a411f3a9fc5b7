"""A suppressed number never gets a message: the sender's claim skips a campaign row whose number
was suppressed after the row was queued, suppressing through the service skips waiting rows at
once with the campaign's counters following, and POST /api/v1/messages to a suppressed number is
refused with nothing written. Each workspace's list applies to its own messages only."""

from __future__ import annotations

from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.campaigns.services import progress
from apps.contacts.models import Group, SuppressedNumber
from apps.contacts.services import suppression
from apps.senders.models import MessageEvent, MessageState, OutboundMessage, SenderProfile
from apps.senders.services import ledger
from tests.campaigns.conftest import make_campaign, make_contacts, make_profile, start
from tests.senders.api_support import api_error, jwt_client, member

TO = "+919876543210"


def campaign_rows(count: int = 3):
    """A running campaign with `count` queued rows (one per contact), and its run."""
    profile = make_profile()
    group = Group.objects.create(name="Customers")
    contacts = make_contacts(count, group=group)
    campaign = make_campaign(profiles=[profile], groups=[group])
    run = start(campaign)
    return profile, contacts, run


def test_a_campaign_row_to_a_number_suppressed_before_the_claim_is_never_sent(in_alpha):
    profile, contacts, run = campaign_rows(3)
    # Straight into the table, as the workspace admin or a racing request would: only the claim
    # stands between this row and WhatsApp.
    SuppressedNumber.objects.create(phone=contacts[1].phone, reason="complaint")
    suppressed_row = OutboundMessage.objects.get(campaign_id=run.campaign_id, to_number=contacts[1].phone)
    assert suppressed_row.state == MessageState.QUEUED

    claimed = ledger.messages_claim(profile_id=profile.id, holder="w1", limit=10)
    again = ledger.messages_claim(profile_id=profile.id, holder="w1", limit=10)

    assert [c.to_number for c in claimed] == [contacts[0].phone, contacts[2].phone]
    assert again == []
    suppressed_row.refresh_from_db()
    assert (suppressed_row.state, suppressed_row.error_code, suppressed_row.attempts) == (
        MessageState.SKIPPED_SUPPRESSED,
        "suppressed",
        0,
    )
    assert suppressed_row.claim_token is None and suppressed_row.sent_at is None
    assert list(MessageEvent.objects.filter(message=suppressed_row).values_list("state", "detail")) == [
        ("skipped_suppressed", "number on the suppression list")
    ]
    assert progress.run_rollup(run=run).counts == {"sending": 2, "skipped_suppressed": 1}


def test_the_claim_of_chosen_rows_skips_a_suppressed_one_too(in_alpha):
    profile, contacts, run = campaign_rows(2)
    ids = list(OutboundMessage.objects.filter(campaign_id=run.campaign_id).order_by("id").values_list("id", flat=True))
    SuppressedNumber.objects.create(phone=contacts[0].phone)

    claimed = ledger.messages_claim(profile_id=profile.id, holder="w1", message_ids=ids)

    assert [c.id for c in claimed] == [ids[1]]
    assert dict(OutboundMessage.objects.filter(id__in=ids).values_list("id", "state")) == {
        ids[0]: "skipped_suppressed",
        ids[1]: "sending",
    }


def test_suppressing_mid_campaign_skips_the_waiting_row_at_once_and_the_counters_follow(in_alpha):
    profile, contacts, run = campaign_rows(3)

    added = suppression.suppression_add(phone=contacts[2].phone, reason="asked by phone")

    assert added.messages_skipped == 1
    assert progress.run_rollup(run=run).counts == {"queued": 2, "skipped_suppressed": 1}
    claimed = ledger.messages_claim(profile_id=profile.id, holder="w1", limit=10)
    assert [c.to_number for c in claimed] == [contacts[0].phone, contacts[1].phone]


def test_another_workspaces_suppression_list_does_not_touch_these_rows(alpha, beta):
    with tenant_context(alpha.tenant):
        profile, contacts, _run = campaign_rows(1)
    with tenant_context(beta.tenant):
        added = suppression.suppression_add(phone=contacts[0].phone)
        assert added.messages_skipped == 0

    with tenant_context(alpha.tenant):
        claimed = ledger.messages_claim(profile_id=profile.id, holder="w1")
        assert [c.to_number for c in claimed] == [contacts[0].phone]


# --- POST /api/v1/messages -------------------------------------------------------------------------


def test_a_single_send_to_a_suppressed_number_is_refused_and_nothing_is_written(alpha):
    with tenant_context(alpha.tenant):
        SenderProfile.objects.create(label="Main", status=SenderProfile.Status.CONNECTED)
        suppression.suppression_add(phone=TO, reason="complaint")
    client = jwt_client(alpha, member(alpha, Role.AGENT))

    plain = client.post("/api/v1/messages", {"to": "098765 43210", "text": "Hi"}, content_type="application/json")
    keyed = client.post(
        "/api/v1/messages", {"to": TO, "text": "Hi"}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1"
    )

    for response in (plain, keyed):
        assert response.status_code == 409
        assert response.json() == api_error("number_suppressed", "This number is on the suppression list.", {"to": TO})
    with tenant_context(alpha.tenant):
        assert OutboundMessage.objects.count() == 0
        assert MessageEvent.objects.count() == 0


def test_a_number_suppressed_in_another_workspace_is_still_sent_here(alpha, beta):
    with tenant_context(alpha.tenant):
        SenderProfile.objects.create(label="Main", status=SenderProfile.Status.CONNECTED)
    with tenant_context(beta.tenant):
        suppression.suppression_add(phone=TO)

    response = jwt_client(alpha, member(alpha, Role.AGENT)).post(
        "/api/v1/messages", {"to": TO, "text": "Hi"}, content_type="application/json"
    )

    assert response.status_code == 202
    with tenant_context(alpha.tenant):
        assert list(OutboundMessage.objects.values_list("to_number", "state")) == [(TO, "queued")]


def test_a_number_taken_off_the_list_can_be_sent_to_again(alpha):
    with tenant_context(alpha.tenant):
        SenderProfile.objects.create(label="Main", status=SenderProfile.Status.CONNECTED)
        suppression.suppression_add(phone=TO)
        suppression.suppression_remove(phone=TO)

    response = jwt_client(alpha, member(alpha, Role.AGENT)).post(
        "/api/v1/messages", {"to": TO, "text": "Hi"}, content_type="application/json"
    )

    assert response.status_code == 202
