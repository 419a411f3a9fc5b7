"""Which file column feeds which contact field, and remembering that per tenant.

A mapping is {field: column header}: fields are "phone" (required), "name", "email",
"language", "consent", "opted_out", "tags" and "custom.<key>" for custom fields. The last
mapping used for a set of headers is kept (ImportMapping) and offered again for the next file
with the same headers; a file with new headers gets the last mapping whose columns it has, or
a guess from the header names.
"""

from __future__ import annotations

import hashlib
import re

from django.db import transaction

from apps.contacts.models import ImportMapping
from apps.core.exceptions import ValidationFailed

FIELDS = ("phone", "name", "email", "language", "consent", "opted_out", "tags")
CUSTOM_PREFIX = "custom."
# Custom keys are used in templates as {{custom.city}}: keep them identifier-like.
CUSTOM_KEY = re.compile(r"[a-z][a-z0-9_]{0,49}")

# Header names (lowercased, without spaces, "-", "_" or ".") that suggest a field.
_SYNONYMS = {
    "phone": {"phone", "phonenumber", "mobile", "mobilenumber", "mobileno", "number", "whatsapp", "whatsappnumber"}
    | {"cell", "cellphone", "tel", "telephone", "msisdn", "contactnumber", "contact", "phoneno"},
    "name": {"name", "fullname", "contactname", "customer", "customername", "displayname"},
    "email": {"email", "emailaddress", "mail"},
    "language": {"language", "lang", "locale"},
    "consent": {"consent", "optin", "consentstatus"},
    "opted_out": {"optedout", "optout", "unsubscribed", "dnd"},
    "tags": {"tags", "tag", "groups", "group", "labels", "label", "segments"},
}


def _squash(header: str) -> str:
    return re.sub(r"[\s\-_.]+", "", header.lower())


def header_signature(headers: list[str]) -> str:
    return hashlib.sha256("\x1f".join(h.strip().lower() for h in headers).encode()).hexdigest()


def mapping_guess(headers: list[str]) -> dict[str, str]:
    guessed: dict[str, str] = {}
    for header in headers:
        squashed = _squash(header)
        for field, names in _SYNONYMS.items():
            if field not in guessed and squashed in names:
                guessed[field] = header
                break
    return guessed


def mapping_suggest(headers: list[str]) -> dict[str, str]:
    """The remembered mapping for these headers, else the most recent one that fits them,
    else a guess from the header names."""
    remembered = ImportMapping.objects.filter(header_signature=header_signature(headers)).first()
    if remembered is not None:
        return dict(remembered.mapping)
    present = set(headers)
    for candidate in ImportMapping.objects.order_by("-updated_at")[:20]:
        if candidate.mapping and set(candidate.mapping.values()) <= present:
            return dict(candidate.mapping)
    return mapping_guess(headers)


def mapping_remember(*, headers: list[str], mapping: dict[str, str]) -> None:
    with transaction.atomic():
        ImportMapping.objects.update_or_create(
            header_signature=header_signature(headers), defaults={"headers": headers, "mapping": mapping}
        )


def mapping_parse(text: str) -> dict[str, str]:
    """ "phone=Mobile,name=Full name" (the command line's form) to a mapping."""
    mapping: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        field, sep, column = part.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise ValidationFailed(f"Mapping entries look like field=Column, not {part!r}.", code="invalid_mapping")
        mapping[field.strip()] = column.strip()
    return mapping


def mapping_validate(mapping: dict[str, str], headers: list[str]) -> dict[str, str]:
    """Checks fields and columns; returns the mapping with custom keys lowercased."""
    errors: dict[str, list[str]] = {}
    clean: dict[str, str] = {}
    present = set(headers)
    for field, column in mapping.items():
        key = field.strip()
        if key.startswith(CUSTOM_PREFIX):
            custom_key = key[len(CUSTOM_PREFIX) :].lower()
            if not CUSTOM_KEY.fullmatch(custom_key):
                errors.setdefault(field, []).append(
                    "Custom field names use lowercase letters, digits and _ and start with a letter."
                )
                continue
            key = CUSTOM_PREFIX + custom_key
        elif key not in FIELDS:
            errors.setdefault(field, []).append(f"Unknown field. Use one of {', '.join(FIELDS)} or custom.<name>.")
            continue
        if column not in present:
            errors.setdefault(field, []).append(f"The file has no column {column!r}.")
            continue
        clean[key] = column
    if "phone" not in clean and "phone" not in errors:
        errors["phone"] = ["Choose the column that holds phone numbers."]
    if errors:
        raise ValidationFailed("The column mapping does not fit this file.", code="invalid_mapping", details=errors)
    return clean
