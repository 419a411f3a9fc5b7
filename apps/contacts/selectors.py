"""Reads of contacts, groups and imports, shaped to stay fast at a million contacts.

Search picks the index that fits what was typed: a number (digits, "+", spaces, dashes) is
matched by E.164 prefix on the phone's pattern index; an e-mail address by equality on the
lower(email) index; anything else by substring on the trigram index over UPPER(name).
"""

from __future__ import annotations

import re

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Lower

from apps.contacts.models import Contact, Group, ImportJob
from apps.contacts.resources import tenant_region
from apps.contacts.services.phones import normalise_phone

_LOOKS_LIKE_NUMBER = re.compile(r"\+?[\d\s\-().]{3,}")


def _search(queryset: QuerySet[Contact], term: str) -> QuerySet[Contact]:
    term = term.strip()
    if not term:
        return queryset
    if _LOOKS_LIKE_NUMBER.fullmatch(term):
        digits = re.sub(r"\D", "", term)
        e164, _ = normalise_phone(term, tenant_region())
        if e164 is not None:
            return queryset.filter(phone=e164)
        prefix = "+" + digits if term.startswith("+") else None
        if prefix:
            return queryset.filter(phone__startswith=prefix)
        return queryset.filter(phone__contains=digits)
    if "@" in term:
        return queryset.alias(email_lower=Lower("email")).filter(~Q(email=""), email_lower=term.lower())
    return queryset.filter(name__icontains=term)


def contacts_list(*, search: str = "", group_id: int | None = None, opted_out: bool | None = None) -> QuerySet[Contact]:
    queryset = Contact.objects.all()
    queryset = _search(queryset, search)
    if group_id is not None:
        queryset = queryset.filter(memberships__group_id=group_id)
    if opted_out is not None:
        queryset = queryset.filter(opted_out_at__isnull=not opted_out)
    return queryset


def contact_group_ids(contact: Contact) -> list[int]:
    return list(contact.memberships.order_by("group_id").values_list("group_id", flat=True))


def groups_list() -> QuerySet[Group]:
    return Group.objects.annotate(contact_count=Count("memberships")).order_by("-id")


def import_jobs_list() -> QuerySet[ImportJob]:
    return ImportJob.objects.select_related("group")
