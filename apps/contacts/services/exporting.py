"""Contact and group exports through the import-export resources (formula cells neutralised)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from apps.contacts.models import Contact, Group
from apps.contacts.resources import ContactResource, GroupResource
from apps.core.exceptions import ValidationFailed

EXPORT_FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True)
class ExportFile:
    content: bytes
    content_type: str
    extension: str


def _render(dataset, file_format: str) -> ExportFile:
    if file_format not in EXPORT_FORMATS:
        raise ValidationFailed(f"Unknown export format {file_format!r}: use csv or xlsx.", code="invalid_format")
    data = dataset.export(file_format)
    # Excel reads UTF-8 CSV correctly only with a byte-order mark.
    content = data.encode("utf-8-sig") if isinstance(data, str) else data
    return ExportFile(content=content, content_type=EXPORT_FORMATS[file_format], extension=file_format)


def contacts_export(*, queryset: QuerySet[Contact] | None = None, file_format: str = "csv") -> ExportFile:
    resource = ContactResource()
    queryset = (queryset if queryset is not None else Contact.objects.all()).prefetch_related("groups").order_by("id")
    return _render(resource.export(queryset), file_format)


def groups_export(*, file_format: str = "csv") -> ExportFile:
    return _render(GroupResource().export(Group.objects.order_by("name")), file_format)
