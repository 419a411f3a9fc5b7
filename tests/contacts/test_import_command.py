"""`manage.py import_contacts` runs the same service from a terminal."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import tenant_context

from apps.contacts.models import Contact, Group


def test_command_imports_with_mapping_mode_and_group(alpha, tmp_path):
    path = tmp_path / "list.csv"
    path.write_bytes(b"Mobile;Who\n+91 98765-43210;Asha\n098765 43211;Ravi\n12;Bad\n")
    out = io.StringIO()

    call_command(
        "import_contacts", str(path), tenant="alpha", mapping="phone=Mobile,name=Who", group="Walk-ins", stdout=out
    )

    with tenant_context(alpha.tenant):
        assert sorted(Contact.objects.values_list("phone", "name")) == [
            ("+919876543210", "Asha"),
            ("+919876543211", "Ravi"),
        ]
        assert Group.objects.get(name="Walk-ins").contacts.count() == 2
    output = out.getvalue()
    assert "3 rows" in output
    assert "2 created, 0 updated, 0 unchanged, 0 skipped, 0 duplicates, 1 errors" in output
    assert "Rows with errors:" in output


def test_command_refuses_an_unknown_tenant_and_a_bad_mapping(alpha, tmp_path):
    path = tmp_path / "list.csv"
    path.write_bytes(b"Phone\n+919876543210\n")

    with pytest.raises(CommandError, match="No tenant"):
        call_command("import_contacts", str(path), tenant="nope")
    with pytest.raises(CommandError, match="mapping"):
        call_command("import_contacts", str(path), tenant="alpha", mapping="phone=Mobile")
    with tenant_context(alpha.tenant):
        assert Contact.objects.count() == 0
