"""End to end, attachments: a campaign whose template has an image reaches each recipient once,
through WhatsApp Web's attach flow, with the exact file and the personalised text as its caption;
a row whose file was deleted fails as `media_missing` without reaching WhatsApp; text rows and
text-only campaigns go as before — real Chromium driven by the sender host against the simulator,
the test PostgreSQL and Redis, files in Django's default storage."""

from __future__ import annotations

import hashlib
import tempfile
import urllib.request
from collections import Counter
from pathlib import Path, PurePosixPath

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from apps.campaigns.models import Campaign, MessageTemplate
from apps.campaigns.services import templates
from apps.contacts.models import Contact, Group, GroupMembership
from apps.senders.models import MessageState, OutboundMessage
from apps.senders.services import ledger
from tests.campaigns.conftest import make_campaign, start
from tests.simulator.conftest import simulator, simulator_process  # noqa: F401 - fixtures
from tests.simulator.test_attachments import png_bytes

pytestmark = pytest.mark.live

PHONE = "919811100005"
SENT_STATES = {MessageState.SENT, MessageState.DELIVERED, MessageState.READ}
IMAGE = png_bytes(width=6, height=5, rgb=(250, 180, 20))
IMAGE_SHA256 = hashlib.sha256(IMAGE).hexdigest()


@pytest.fixture
def made(e2e, settings, tmp_path):
    """Template files in a folder of the test's own; the campaigns, templates, groups and
    contacts the test makes are removed after it (the e2e fixture removes its profiles' rows)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    created: dict[str, list[int]] = {"campaigns": [], "templates": [], "groups": []}
    yield created
    with e2e.tenant():
        OutboundMessage.objects.filter(campaign_id__in=created["campaigns"]).delete()
        Campaign.objects.filter(id__in=created["campaigns"]).delete()
        MessageTemplate.objects.filter(id__in=created["templates"]).delete()
        Group.objects.filter(id__in=created["groups"]).delete()


def guests(e2e, made, name: str, numbers: list[str], **fields) -> Group:
    """A group of contacts `Guest <number>` (inside the tenant)."""
    group = Group.objects.create(name=name)
    made["groups"].append(group.id)
    contacts = Contact.objects.bulk_create(
        [Contact(phone=f"+{number}", name=f"Guest {number[-3:]}", **fields) for number in numbers]
    )
    GroupMembership.objects.bulk_create([GroupMembership(group=group, contact=c) for c in contacts])
    e2e.phones.update(numbers)
    return group


def image_template(made, name: str = "Offer with image") -> MessageTemplate:
    template = templates.template_create(
        name=name,
        body="Hi {{name}}, our spring offer is attached",
        media=SimpleUploadedFile("offer.png", IMAGE, content_type="image/png"),
    )
    made["templates"].append(template.id)
    return template


def campaign_with(made, profile, group: Group, **values) -> Campaign:
    campaign = make_campaign(profiles=[profile], groups=[group], **values)
    made["campaigns"].append(campaign.id)
    return campaign


def sim_file(e2e, message_id: str) -> bytes:
    """The bytes of a message's attachment as they arrived in WhatsApp (the simulator)."""
    url = f"{e2e.sim.base_url}/_sim/accounts/{PHONE}/messages/{message_id}/media"
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def rows_of(campaign: Campaign) -> list[OutboundMessage]:
    return list(OutboundMessage.objects.filter(campaign_id=campaign.id).order_by("id"))


def test_an_image_campaign_reaches_each_recipient_once_with_the_exact_file_and_its_caption(e2e, made):
    profile = e2e.profile()
    host = e2e.host()
    e2e.link(host, profile, PHONE)
    numbers = ["919811107001", "919811107002", "919811107003"]
    with e2e.tenant():
        group = guests(e2e, made, "Image guests", numbers)
        opted_out = Contact.objects.create(phone="+919811107004", name="Guest 004", opted_out_at=timezone.now())
        GroupMembership.objects.create(group=group, contact=opted_out)
        e2e.phones.add("919811107004")
        template = image_template(made)
        campaign = campaign_with(made, profile, group, template=template, body="")
        start(campaign)
        rows = rows_of(campaign)
    # Every queued row carries the template's file; the row that is never sent carries none.
    assert [(r.to_number, r.state, r.media) for r in rows] == [
        *[(f"+{n}", MessageState.QUEUED, template.media.name) for n in numbers],
        ("+919811107004", MessageState.SKIPPED_OPTED_OUT, ""),
    ]

    host.kick(e2e.schema, profile.id)
    settled = [e2e.settled(r.id) for r in rows[:3]]

    out = e2e.sim_outgoing(PHONE)
    assert sorted((m["chat"], m["text"]) for m in out) == [
        (n, f"Hi Guest {n[-3:]}, our spring offer is attached") for n in numbers
    ]
    for record in out:
        assert record["media"] == {
            "name": PurePosixPath(template.media.name).name,
            "mime": "image/png",
            "size": len(IMAGE),
            "sha256": IMAGE_SHA256,
            "kind": "image",
        }
        assert sim_file(e2e, record["id"]) == IMAGE
    by_chat = {m["chat"]: m for m in out}
    for row in settled:
        record = by_chat[row.to_number.lstrip("+")]
        assert (row.state in SENT_STATES, row.attempts, row.error_code) == (True, 1, "")
        assert row.wa_message_id == record["data_id"]
    assert e2e.sim_outgoing(PHONE, chat="919811107004") == []


def test_a_row_whose_file_was_deleted_fails_as_media_missing_and_nothing_reaches_whatsapp(e2e, made):
    profile = e2e.profile()
    host = e2e.host()
    linked = e2e.link(host, profile, PHONE)
    with e2e.tenant():
        group = guests(e2e, made, "Missing file guests", ["919811107011"])
        template = image_template(made, "Offer, file deleted")
        campaign = campaign_with(made, profile, group, template=template, body="")
        start(campaign)
        (row,) = rows_of(campaign)
        default_storage.delete(template.media.name)
        # A text message queued after it still goes: the missing file stops only its own row.
        after = ledger.message_enqueue(to="+919811107012", text="Plain text after", region="IN", profile=linked)
        e2e.phones.add("919811107012")

    host.kick(e2e.schema, profile.id)
    failed = e2e.settled(row.id)
    sent = e2e.settled(after.message.id)

    assert (failed.state, failed.error_code, failed.attempts) == (MessageState.FAILED, "media_missing", 1)
    assert failed.next_attempt_at is None and failed.sent_at is None and failed.wa_message_id == ""
    assert sent.state in SENT_STATES
    assert [(m["chat"], m["text"], m["media"]) for m in e2e.sim_outgoing(PHONE)] == [
        ("919811107012", "Plain text after", None)
    ]
    with e2e.tenant():
        assert ledger.next_due_messages(profile_id=profile.id, limit=10) == []


def test_text_only_runs_are_unaffected_and_text_around_an_attachment_goes_once_each(e2e, made):
    profile = e2e.profile()
    host = e2e.host()
    linked = e2e.link(host, profile, PHONE)
    text_numbers = ["919811107021", "919811107022"]
    with e2e.tenant():
        text_group = guests(e2e, made, "Text guests", text_numbers)
        text_campaign = campaign_with(made, profile, text_group, body="Hello {{name}}", name="Text only")
        start(text_campaign)
        image_group = guests(e2e, made, "One image guest", ["919811107023"])
        image_campaign = campaign_with(
            made, profile, image_group, template=image_template(made), body="", name="With image"
        )
        start(image_campaign)
        singles = [
            ledger.message_enqueue(to=f"+{n}", text=f"Single {n[-2:]}", region="IN", profile=linked).message
            for n in ("919811107024", "919811107025")
        ]
        e2e.phones.update({"919811107024", "919811107025"})
        text_rows, image_rows = rows_of(text_campaign), rows_of(image_campaign)
    assert [r.media for r in text_rows + singles] == ["", "", "", ""]
    assert [bool(r.media) for r in image_rows] == [True]

    host.kick(e2e.schema, profile.id)
    settled = [e2e.settled(r.id) for r in [*text_rows, *image_rows, *singles]]

    assert [(m.state in SENT_STATES, m.attempts) for m in settled] == [(True, 1)] * 5
    out = e2e.sim_outgoing(PHONE)
    assert Counter((m["chat"], m["text"], (m["media"] or {}).get("sha256")) for m in out) == Counter(
        [
            ("919811107021", "Hello Guest 021", None),
            ("919811107022", "Hello Guest 022", None),
            ("919811107023", "Hi Guest 023, our spring offer is attached", IMAGE_SHA256),
            ("919811107024", "Single 24", None),
            ("919811107025", "Single 25", None),
        ]
    )
    assert {m.wa_message_id for m in settled} == {m["data_id"] for m in out}


def test_a_file_in_storage_without_local_paths_is_sent_from_a_temporary_copy_that_is_removed(e2e, made, settings):
    # Object storage has no local path: the driver copies the file for the browser, then removes it.
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}
    copies_before = set(Path(tempfile.gettempdir()).glob("chorus-media-*"))
    profile = e2e.profile()
    host = e2e.host()
    e2e.link(host, profile, PHONE)
    with e2e.tenant():
        group = guests(e2e, made, "Object storage guests", ["919811107031"])
        template = image_template(made, "Offer in object storage")
        campaign = campaign_with(made, profile, group, template=template, body="")
        start(campaign)
        (row,) = rows_of(campaign)

    host.kick(e2e.schema, profile.id)
    sent = e2e.settled(row.id)

    assert (sent.state in SENT_STATES, sent.attempts, sent.error_detail) == (True, 1, "")
    (record,) = e2e.sim_outgoing(PHONE)
    assert (record["text"], record["media"]["sha256"]) == ("Hi Guest 031, our spring offer is attached", IMAGE_SHA256)
    assert sim_file(e2e, record["id"]) == IMAGE
    assert set(Path(tempfile.gettempdir()).glob("chorus-media-*")) == copies_before
