"""Exports through the import-export resources: formula cells neutralised, groups by name."""

from __future__ import annotations

import csv
import io

import tablib
from openpyxl import load_workbook

from apps.contacts.models import Contact, GroupMembership
from apps.contacts.resources import ContactResource
from apps.contacts.services.exporting import contacts_export, groups_export
from apps.contacts.services.groups import group_get_or_create


def _csv(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def test_export_neutralises_formula_cells_but_not_phone_numbers(in_alpha):
    vip, _ = group_get_or_create(name="=VIP")
    contact = Contact.objects.create(
        phone="+919876543210", name='=HYPERLINK("http://x.test")', email="@evil", custom_fields={"note": "-2+3"}
    )
    GroupMembership.objects.create(group=vip, contact=contact)
    Contact.objects.create(phone="+919876543211", name="+1 (555) call me", language="hi")

    rows = _csv(contacts_export().content)

    assert [(r["phone"], r["name"], r["email"], r["groups"], r["custom_fields"]) for r in rows] == [
        ("+919876543210", '\'=HYPERLINK("http://x.test")', "'@evil", "'=VIP", '{"note": "-2+3"}'),
        ("+919876543211", "'+1 (555) call me", "", "", "{}"),
    ]


def test_xlsx_export_neutralises_too(in_alpha):
    Contact.objects.create(phone="+919876543210", name="-10+20")

    sheet = load_workbook(io.BytesIO(contacts_export(file_format="xlsx").content)).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]

    assert values[0][:3] == ["phone", "name", "email"]
    assert values[1][:2] == ["+919876543210", "'-10+20"]


def test_group_export_counts_members(in_alpha):
    group, _ = group_get_or_create(name="Pune")
    group_get_or_create(name="@Empty")
    GroupMembership.objects.create(group=group, contact=Contact.objects.create(phone="+919876543210"))

    rows = _csv(groups_export().content)

    assert [(r["name"], r["contacts"]) for r in rows] == [("'@Empty", "0"), ("Pune", "1")]


def test_resource_import_normalises_and_keeps_the_first_of_a_number(in_alpha):
    dataset = tablib.Dataset(headers=["phone", "name", "groups"])
    dataset.append(["098765 43210", "First", ""])
    dataset.append(["+91 98765-43210", "Second", ""])
    dataset.append(["12", "Bad", ""])

    result = ContactResource(region="IN").import_data(dataset, raise_errors=False)

    assert result.totals["new"] == 1 and result.totals["skip"] == 1 and result.totals["invalid"] == 1
    assert list(Contact.objects.values_list("phone", "name")) == [("+919876543210", "First")]
