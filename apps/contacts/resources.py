"""django-import-export resources for contacts and groups: exports, and the admin-style
import/export of small files.

Large imports go through services/importing (COPY + SQL, many times faster); these resources
follow the same rules for what they accept — numbers normalised with the tenant's region, the
first row of a number wins — so both paths agree on a file. Every exported cell is neutralised
against spreadsheet formulas (apps/contacts/spreadsheets.py).
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import OuterRef, QuerySet
from import_export import fields, resources, widgets

from apps.contacts.models import Contact, Group, GroupMembership
from apps.contacts.services.phones import PhoneNormaliser
from apps.contacts.spreadsheets import formula_neutralise

CONTACT_EXPORT_FIELDS = (
    "phone",
    "name",
    "email",
    "language",
    "groups",
    "custom_fields",
    "consent_status",
    "consent_source",
    "consented_at",
    "opted_out_at",
    "opted_out_reason",
    "opted_out_via",
    "created_at",
    "updated_at",
)
# The annotation `contacts_with_group_names` adds: each contact's group names, in name order.
GROUP_NAMES_ANNOTATION = "export_group_names"


class JSONWidget(widgets.Widget):
    """A JSON object in one cell (custom fields)."""

    def clean(self, value: Any, row: dict | None = None, **kwargs: Any) -> dict:
        if value in (None, ""):
            return {}
        if isinstance(value, dict):
            return value
        try:
            parsed = json.loads(value)
        except ValueError as exc:
            raise ValueError("custom fields must be a JSON object") from exc
        if not isinstance(parsed, dict):
            raise ValueError("custom fields must be a JSON object")
        return parsed

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        return json.dumps(value or {}, ensure_ascii=False, sort_keys=True)


def tenant_region() -> str:
    from apps.tenants.models import Tenant

    region = Tenant.objects.filter(schema_name=connection.schema_name).values_list("default_region", flat=True).first()
    return region or "IN"


class NeutralisedExportMixin:
    def export_field(self, field, instance, **kwargs):
        return formula_neutralise(super().export_field(field, instance, **kwargs))


def contacts_with_group_names(queryset: QuerySet[Contact]) -> QuerySet[Contact]:
    """`queryset` with each contact's group names, for exports of many contacts: one subquery in
    the same SELECT, where prefetching builds a queryset per contact (half the export's time).
    Ordered by name like the prefetched relation (Group's default ordering), so the groups cell
    is the same either way."""
    names = GroupMembership.objects.filter(contact=OuterRef("pk")).order_by("group__name").values("group__name")
    return queryset.annotate(**{GROUP_NAMES_ANNOTATION: ArraySubquery(names)})


# Numbers looked up per query when counting how many of a file's contacts are new.
QUOTA_LOOKUP_CHUNK = 5000


class ContactResource(NeutralisedExportMixin, resources.ModelResource):
    groups = fields.Field(
        attribute="groups",
        column_name="groups",
        widget=widgets.ManyToManyWidget(Group, field="name", separator=";"),
    )
    custom_fields = fields.Field(attribute="custom_fields", column_name="custom_fields", widget=JSONWidget())

    class Meta:
        model = Contact
        import_id_fields = ("phone",)
        fields = CONTACT_EXPORT_FIELDS
        export_order = CONTACT_EXPORT_FIELDS
        skip_unchanged = True
        report_skipped = True

    def __init__(self, *, region: str | None = None, enforce_quota: bool = False, **kwargs: Any):
        """`enforce_quota`: refuse a file that would take the workspace past its plan's contacts
        (the workspace admin's import; the portal's import checks in its own pipeline)."""
        super().__init__(**kwargs)
        self._region = region
        self._enforce_quota = enforce_quota
        self._normalise: PhoneNormaliser | None = None
        self._seen: set[str] = set()

    def get_import_fields(self):
        return [f for f in super().get_import_fields() if f.column_name not in _NOT_IMPORTED]

    def before_import(self, dataset, **kwargs):
        self._normalise = PhoneNormaliser(self._region or tenant_region())
        self._seen = set()
        if self._enforce_quota:
            self._quota_check(dataset)
        super().before_import(dataset, **kwargs)

    def _quota_check(self, dataset) -> None:
        from apps.billing import services as billing
        from apps.tenants.models import Tenant

        column = self.fields["phone"].column_name
        phones = {e164 for e164, _ in map(self._normalise, (str(v or "") for v in dataset[column])) if e164}
        existing = 0
        listed = sorted(phones)
        for start in range(0, len(listed), QUOTA_LOOKUP_CHUNK):
            existing += Contact.objects.filter(phone__in=listed[start : start + QUOTA_LOOKUP_CHUNK]).count()
        billing.quota_require(
            tenant=Tenant.objects.get(schema_name=connection.schema_name),
            action=billing.QuotaAction.ADD_CONTACTS,
            amount=len(phones) - existing,
            current=Contact.objects.count(),
        )

    def before_import_row(self, row, **kwargs):
        column = self.fields["phone"].column_name
        e164, reason = self._normalise(str(row.get(column) or ""))
        if e164 is None:
            raise ValidationError({"phone": reason})
        row[column] = e164
        row["_duplicate"] = e164 in self._seen
        self._seen.add(e164)
        super().before_import_row(row, **kwargs)

    def skip_row(self, instance, original, row, import_validation_errors=None):
        if row.get("_duplicate"):
            return True
        return super().skip_row(instance, original, row, import_validation_errors)

    def get_queryset(self):
        return Contact.objects.prefetch_related("groups")

    def dehydrate_groups(self, contact: Contact) -> str:
        names = getattr(contact, GROUP_NAMES_ANNOTATION, None)
        if names is None:
            return self.fields["groups"].export(contact)
        return self.fields["groups"].widget.separator.join(names)


# Written by the product (consent and opt-out records, timestamps), never by a spreadsheet.
_NOT_IMPORTED = frozenset(
    {"consent_source", "consented_at", "opted_out_at", "opted_out_reason", "opted_out_via", "created_at", "updated_at"}
)


class GroupResource(NeutralisedExportMixin, resources.ModelResource):
    contacts = fields.Field(column_name="contacts", readonly=True)

    class Meta:
        model = Group
        import_id_fields = ("name",)
        fields = ("name", "description", "contacts", "created_at")
        export_order = ("name", "description", "contacts", "created_at")
        skip_unchanged = True

    def dehydrate_contacts(self, group: Group) -> int:
        return group.memberships.count()
