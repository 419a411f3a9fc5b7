"""Message templates: create, change, delete, and preview against a contact or a sample."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction

from apps.campaigns import rendering
from apps.campaigns.models import MessageTemplate, TemplateCategory
from apps.campaigns.services.errors import CampaignError
from apps.contacts.models import Contact
from apps.core.exceptions import Conflict, NotFound, ValidationFailed

logger = logging.getLogger(__name__)

# Images, short videos and documents WhatsApp accepts as attachments.
MEDIA_MAX_BYTES = 16 * 1024 * 1024
MEDIA_EXTENSIONS = frozenset({"jpg", "jpeg", "png", "webp", "gif", "mp4", "3gp", "pdf", "doc", "docx", "xlsx"})


def template_get(*, template_id: int) -> MessageTemplate:
    template = MessageTemplate.objects.filter(id=template_id).first()
    if template is None:
        raise NotFound("No such template.", code=CampaignError.TEMPLATE_NOT_FOUND)
    return template


def _check_media(media: UploadedFile | None) -> None:
    if media is None:
        return
    extension = media.name.rsplit(".", 1)[-1].lower() if "." in media.name else ""
    if extension not in MEDIA_EXTENSIONS:
        raise ValidationFailed(
            f"Attach an image, video or document ({', '.join(sorted(MEDIA_EXTENSIONS))}).",
            code="invalid_media",
            details={"media": ["Unsupported file type."]},
        )
    if media.size > MEDIA_MAX_BYTES:
        raise ValidationFailed(
            "Attachments are limited to 16 MB.", code="invalid_media", details={"media": ["File too large."]}
        )


def _save(template: MessageTemplate, fields: list[str] | None = None) -> MessageTemplate:
    try:
        with transaction.atomic():
            template.save(update_fields=fields)
    except IntegrityError as exc:
        raise Conflict(
            "A template with this name exists.", code=CampaignError.TEMPLATE_EXISTS, details={"name": template.name}
        ) from exc
    return template


def template_create(
    *, name: str, body: str, category: str = TemplateCategory.CUSTOM, media: UploadedFile | None = None
) -> MessageTemplate:
    """A template; its placeholders are checked now (unknown ones are refused, listed)."""
    rendering.template_validate(body)
    _check_media(media)
    template = MessageTemplate(name=name.strip(), body=body, category=category)
    if media is not None:
        template.media = media
    _save(template)
    logger.info("template.created", extra={"template_id": template.id})
    return template


def template_update(
    *, template: MessageTemplate, media: UploadedFile | None = None, remove_media: bool = False, **fields: Any
) -> MessageTemplate:
    """Change a template. Campaigns read its text when a run starts: runs already materialized
    keep the text they were written with."""
    if "body" in fields:
        rendering.template_validate(fields["body"])
    if "name" in fields:
        fields["name"] = fields["name"].strip()
    _check_media(media)
    for name, value in fields.items():
        setattr(template, name, value)
    changed = [*fields, "updated_at"]
    dropped = ""
    if media is not None:
        template.media = media
        changed.append("media")
    elif remove_media and template.media:
        dropped = template.media.name
        template.media = ""
        changed.append("media")
    _save(template, changed)
    # Messages of a run already written carry the file's name and are sent with it: the file
    # goes only when none of them is still waiting (else it stays in storage, unlinked).
    if dropped and not _media_waiting(dropped):
        transaction.on_commit(lambda: default_storage.delete(dropped))
    return template


def _media_waiting(name: str) -> bool:
    from apps.senders.models import MessageState, OutboundMessage

    waiting = (MessageState.QUEUED, MessageState.HELD, MessageState.SENDING)
    return OutboundMessage.objects.filter(state__in=waiting, media=name).exists()


def template_delete(*, template: MessageTemplate) -> None:
    """Refused while a scheduled, running or paused campaign uses it (a recurring run reads the
    template when it starts). Finished campaigns keep their runs' texts; drafts lose the template
    and need a text again."""
    from apps.campaigns.models import Campaign

    active = (Campaign.State.SCHEDULED, Campaign.State.RUNNING, Campaign.State.PAUSED)
    users = list(Campaign.objects.filter(template=template, state__in=active).values_list("name", flat=True)[:5])
    if users:
        raise Conflict(
            f"This template is used by {', '.join(users)}; change or finish those campaigns first.",
            code=CampaignError.TEMPLATE_IN_USE,
            details={"campaigns": users},
        )
    if template.media:
        template.media.delete(save=False)
    template.delete()


@dataclass(frozen=True)
class Preview:
    text: str
    fields: tuple[str, ...]
    # Placeholders that had no value for this contact (their fallback, or nothing, was used).
    missing: tuple[str, ...]
    length: int


def template_preview(
    *,
    body: str,
    contact_id: int | None = None,
    sample: dict[str, Any] | None = None,
    seed: int | None = None,
    campaign_id: int = 0,
) -> Preview:
    """Render `body` for a contact of this tenant (by id) or an inline sample
    ({"name", "phone", "email", "language", "custom": {...}}). The spintax choice follows the
    contact's number like campaign `campaign_id`'s does (or `seed` to see other variants)."""
    compiled = rendering.template_compile(body)
    if contact_id is not None:
        contact = Contact.objects.filter(id=contact_id).first()
        if contact is None:
            raise NotFound("No such contact.", code=CampaignError.CONTACT_NOT_FOUND)
        values: dict[str, Any] = {
            "name": contact.name,
            "phone": contact.phone,
            "email": contact.email,
            "language": contact.language,
            "custom": contact.custom_fields or {},
        }
    else:
        values = dict(sample or {})
    given = rendering.values_from_mapping(compiled.fields, values)
    phone = str(values.get("phone") or "")
    text = compiled.render(given, seed if seed is not None else rendering.recipient_seed(campaign_id, phone))
    missing = tuple(key for key, value in zip(compiled.fields, given, strict=True) if value is None)
    return Preview(text=text, fields=compiled.fields, missing=missing, length=len(text))
