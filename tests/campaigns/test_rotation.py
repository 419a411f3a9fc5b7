"""Which number sends to whom: round robin, weighted and sticky rotation, decided when a run's
rows are written."""

from __future__ import annotations

from collections import Counter

from apps.campaigns.models import Campaign
from apps.campaigns.services import rotation
from apps.campaigns.services.campaigns import SenderChoice
from apps.senders.models import OutboundMessage, SenderProfile
from tests.campaigns.conftest import make_campaign, make_contacts, make_profile, start


def assigned(campaign: Campaign) -> list[int]:
    return list(
        OutboundMessage.objects.filter(campaign_id=campaign.id, state="queued")
        .order_by("id")
        .values_list("profile_id", flat=True)
    )


def test_round_robin_takes_the_numbers_in_turn(in_alpha):
    a, b, c = make_profile("A"), make_profile("B"), make_profile("C")
    make_contacts(10)
    campaign = make_campaign(profiles=[c, a, b], audience_all=True, rotation=Campaign.Rotation.ROUND_ROBIN)

    start(campaign)

    assert assigned(campaign) == [a.id, b.id, c.id] * 3 + [a.id]


def test_weighted_rotation_gives_each_number_exactly_its_share_interleaved(in_alpha):
    a, b = make_profile("A"), make_profile("B")
    make_contacts(400)
    campaign = make_campaign(
        profiles=[SenderChoice(a, weight=3), SenderChoice(b, weight=1)],
        audience_all=True,
        rotation=Campaign.Rotation.WEIGHTED,
    )

    start(campaign)

    order = assigned(campaign)
    assert Counter(order) == {a.id: 300, b.id: 100}
    # Every window of 4 (the sum of the weights) has exactly one message from B.
    assert all(order[i : i + 4].count(b.id) == 1 for i in range(0, 400, 4))


def test_opted_out_rows_take_no_turn_in_the_rotation(in_alpha):
    from django.utils import timezone

    from apps.contacts.models import Contact

    a, b = make_profile("A"), make_profile("B")
    contacts = make_contacts(5)
    Contact.objects.filter(id=contacts[1].id).update(opted_out_at=timezone.now())
    campaign = make_campaign(profiles=[a, b], audience_all=True)

    start(campaign)

    assert assigned(campaign) == [a.id, b.id, a.id, b.id]


def test_sticky_rotation_keeps_each_contact_on_its_number_across_runs(in_alpha):
    a, b, c = make_profile("A"), make_profile("B"), make_profile("C")
    contacts = make_contacts(300)
    senders = [(a.id, 1), (b.id, 1), (c.id, 1)]
    first = make_campaign(profiles=[a, b, c], audience_all=True, rotation=Campaign.Rotation.STICKY)
    second = make_campaign(profiles=[b, c, a], audience_all=True, rotation=Campaign.Rotation.STICKY, name="Again")

    start(first)
    start(second)

    expected = [rotation.sticky_profile(contact.phone, sorted(senders)) for contact in contacts]
    assert assigned(first) == expected
    assert assigned(second) == expected
    shares = Counter(expected)
    assert set(shares) == {a.id, b.id, c.id}
    assert all(70 <= share <= 130 for share in shares.values())


def test_sticky_removing_a_number_moves_only_its_own_contacts():
    senders = [(1, 1), (2, 1), (3, 1)]
    phones = [f"+9198761{i:05d}" for i in range(2000)]
    before = {phone: rotation.sticky_profile(phone, senders) for phone in phones}

    after = {phone: rotation.sticky_profile(phone, senders[:2]) for phone in phones}

    moved = [phone for phone in phones if before[phone] != after[phone]]
    assert moved == [phone for phone in phones if before[phone] == 3]


def test_banned_numbers_get_no_rows(in_alpha):
    a, b = make_profile("A"), make_profile("B", status=SenderProfile.Status.BANNED)
    make_contacts(4)
    campaign = make_campaign(profiles=[a, b], audience_all=True)

    start(campaign)

    assert assigned(campaign) == [a.id] * 4
