"""One contact in the portal: details, message history, edit, opt-out / opt-in, delete, roles and
tenant isolation."""

from __future__ import annotations

import datetime
import re

import pytest
from django_tenants.utils import tenant_context

from apps.accounts.models import Membership, Role, User
from apps.contacts.models import Contact, Group, GroupMembership, SuppressedNumber
from apps.senders.models import InboundMessage, MessageState, OutboundMessage, SenderProfile
from tests.conftest import PASSWORD

PHONE = "+919876543210"


def member(world, role: str) -> User:
    user = User.objects.create_user(f"detail-{role}@{world.tenant.slug}.test", PASSWORD)
    Membership.objects.create(user=user, tenant=world.tenant, role=role)
    return user


def in_schema(world, fn):
    with tenant_context(world.tenant):
        return fn()


def make_contact(world, **fields) -> Contact:
    values = {"phone": PHONE, "name": "Asha Rao", **fields}
    return in_schema(world, lambda: Contact.objects.create(**values))


def reload(world, contact_id: int) -> Contact | None:
    return in_schema(world, lambda: Contact.objects.filter(id=contact_id).first())


def at(minute: int) -> datetime.datetime:
    return datetime.datetime(2026, 3, 1, 10, minute, tzinfo=datetime.UTC)


@pytest.fixture
def agent(alpha, client_for):
    return client_for(alpha, member(alpha, Role.AGENT))


def test_detail_shows_fields_groups_consent_and_the_message_history_newest_first(alpha, client_for):
    contact = make_contact(
        alpha,
        email="asha@example.com",
        custom_fields={"city": "Pune"},
        consent_status=Contact.Consent.GRANTED,
        consent_source="checkout form",
    )

    def seed():
        vip = Group.objects.create(name="VIP")
        GroupMembership.objects.create(group=vip, contact=contact)
        profile = SenderProfile.objects.create(label="Sales line", phone="+919800000001")
        first = OutboundMessage.objects.create(
            profile=profile, to_number=PHONE, body="Hello Asha, your order shipped", state=MessageState.READ
        )
        OutboundMessage.objects.filter(id=first.id).update(created_at=at(1), sent_at=at(1))
        InboundMessage.objects.create(
            profile=profile,
            chat=PHONE,
            from_number=PHONE,
            body="Thanks! When will it arrive?",
            wa_message_id="in-1",
            received_at=at(2),
        )
        second = OutboundMessage.objects.create(
            profile=profile, to_number=PHONE, body="Tomorrow by noon", state=MessageState.QUEUED
        )
        OutboundMessage.objects.filter(id=second.id).update(created_at=at(3))
        # Someone else's messages stay off this page.
        OutboundMessage.objects.create(profile=profile, to_number="+919800000099", body="Not for Asha")
        InboundMessage.objects.create(
            profile=profile,
            chat="x",
            from_number="+919800000099",
            body="Also not Asha",
            wa_message_id="in-2",
            received_at=at(4),
        )

    in_schema(alpha, seed)

    response = client_for(alpha, member(alpha, Role.VIEWER)).get(f"/contacts/{contact.id}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert re.findall(r'data-history-item="(\w+)"', html) == ["out", "in", "out"]
    assert (
        html.index("Tomorrow by noon") < html.index("Thanks! When will it arrive?") < html.index("your order shipped")
    )
    assert "Not for Asha" not in html and "Also not Asha" not in html
    assert "Sales line" in html and ">Read<" in html and ">Queued<" in html
    for text in ("Asha Rao", "asha@example.com", "custom.city", "Pune", "VIP", "Granted", "checkout form"):
        assert text in html
    assert 'data-opt-out-state="subscribed"' in html
    # A viewer reads; the form is there, disabled, with nothing to submit.
    assert "Only agents, admins and owners can change contacts." in html
    assert 'name="name" value="Asha Rao" maxlength="200" disabled' in html
    assert f'action="/contacts/{contact.id}/opt-out/"' not in html


def test_agent_edits_fields_consent_custom_fields_and_groups(alpha, agent):
    contact = make_contact(alpha)
    vip, new = in_schema(alpha, lambda: (Group.objects.create(name="VIP"), Group.objects.create(name="New")))
    in_schema(alpha, lambda: GroupMembership.objects.create(group=vip, contact=contact))

    response = agent.post(
        f"/contacts/{contact.id}/edit/",
        {
            "name": "Asha R.",
            "email": "asha@example.com",
            "language": "hi",
            "consent_status": "granted",
            "consent_source": "shop counter",
            "custom_fields": "city = Pune\nplan_tier=gold\n\n",
            "groups": [new.id],
        },
    )

    saved = reload(alpha, contact.id)
    assert response.status_code == 302 and response["Location"] == f"/contacts/{contact.id}/"
    assert (saved.name, saved.email, saved.language, saved.consent_status, saved.consent_source) == (
        "Asha R.",
        "asha@example.com",
        "hi",
        "granted",
        "shop counter",
    )
    assert saved.custom_fields == {"city": "Pune", "plan_tier": "gold"}
    assert saved.consented_at is not None
    assert saved.phone == PHONE
    assert in_schema(alpha, lambda: list(GroupMembership.objects.values_list("group_id", flat=True))) == [new.id]


def test_a_bad_edit_is_shown_with_its_errors_and_saves_nothing(alpha, agent):
    contact = make_contact(alpha)

    response = agent.post(
        f"/contacts/{contact.id}/edit/",
        {"name": "Changed", "email": "not-an-email", "consent_status": "unknown", "custom_fields": "City = x y\n"},
    )

    html = response.content.decode()
    assert response.status_code == 400
    assert "Enter a valid email address." in html
    assert "Line 1: write key = value" not in html  # "city" lowercased is a valid key
    assert reload(alpha, contact.id).name == "Asha Rao"
    bad_key = agent.post(
        f"/contacts/{contact.id}/edit/", {"name": "Changed", "consent_status": "unknown", "custom_fields": "1st = x"}
    )
    assert bad_key.status_code == 400 and "Line 1: write key = value" in bad_key.content.decode()
    assert reload(alpha, contact.id).name == "Asha Rao"


def test_opt_out_with_a_reason_then_opt_back_in(alpha, agent):
    contact = make_contact(alpha)

    out = agent.post(f"/contacts/{contact.id}/opt-out/", {"reason": "asked by phone"})
    opted = reload(alpha, contact.id)
    again = agent.post(f"/contacts/{contact.id}/opt-out/", {"reason": "second time"})
    still = reload(alpha, contact.id)
    page = agent.get(f"/contacts/{contact.id}/").content.decode()
    back_in = agent.post(f"/contacts/{contact.id}/opt-in/")
    restored = reload(alpha, contact.id)

    assert (out.status_code, again.status_code, back_in.status_code) == (302, 302, 302)
    assert (opted.opted_out_via, opted.opted_out_reason, opted.opted_out_at is not None) == (
        "manual",
        "asked by phone",
        True,
    )
    assert (still.opted_out_reason, still.opted_out_at) == ("asked by phone", opted.opted_out_at)
    assert 'data-opt-out-state="opted_out"' in page and "asked by phone" in page
    assert f'action="/contacts/{contact.id}/opt-in/"' in page
    assert (restored.opted_out_at, restored.opted_out_reason, restored.opted_out_via) == (None, "", "")


def test_a_suppressed_number_is_marked_on_its_contact(alpha, client_for):
    contact = make_contact(alpha)
    in_schema(alpha, lambda: SuppressedNumber.objects.create(phone=PHONE, reason="complaint"))

    html = client_for(alpha).get(f"/contacts/{contact.id}/").content.decode()

    assert "On the suppression list" in html


def test_viewer_cannot_edit_opt_out_or_delete(alpha, client_for):
    contact = make_contact(alpha)
    viewer = client_for(alpha, member(alpha, Role.VIEWER))

    refused = [
        viewer.post(f"/contacts/{contact.id}/edit/", {"name": "Hacked", "consent_status": "unknown"}),
        viewer.post(f"/contacts/{contact.id}/opt-out/"),
        viewer.post(f"/contacts/{contact.id}/delete/"),
    ]

    saved = reload(alpha, contact.id)
    assert [r.status_code for r in refused] == [403, 403, 403]
    assert (saved.name, saved.opted_out_at) == ("Asha Rao", None)


def test_only_admins_and_owners_delete_a_contact(alpha, agent, client_for):
    contact = make_contact(alpha)
    in_schema(alpha, lambda: GroupMembership.objects.create(group=Group.objects.create(name="VIP"), contact=contact))

    refused = agent.post(f"/contacts/{contact.id}/delete/")
    assert refused.status_code == 403 and reload(alpha, contact.id) is not None

    deleted = client_for(alpha, member(alpha, Role.ADMIN)).post(f"/contacts/{contact.id}/delete/")
    assert deleted.status_code == 302 and deleted["Location"] == "/contacts/"
    assert in_schema(alpha, lambda: (Contact.objects.count(), GroupMembership.objects.count())) == (0, 0)


def test_another_tenant_cannot_open_or_change_a_contact(alpha, beta, client_for):
    contact = make_contact(alpha)
    in_schema(beta, lambda: Contact.objects.filter(id=contact.id).delete())
    beta_owner = client_for(beta)

    own_host = [
        beta_owner.get(f"/contacts/{contact.id}/"),
        beta_owner.post(f"/contacts/{contact.id}/edit/", {"name": "Hacked", "consent_status": "unknown"}),
        beta_owner.post(f"/contacts/{contact.id}/opt-out/"),
        beta_owner.post(f"/contacts/{contact.id}/delete/"),
    ]
    beta_owner.defaults["HTTP_HOST"] = alpha.host
    alpha_host = beta_owner.get(f"/contacts/{contact.id}/")

    assert [r.status_code for r in own_host] == [404, 404, 404, 404]
    assert alpha_host.status_code == 403
    assert "Asha Rao" not in alpha_host.content.decode()
    saved = reload(alpha, contact.id)
    assert (saved.name, saved.opted_out_at) == ("Asha Rao", None)
