"""Contact imports of messy files, run inline in alpha's schema, with exact outcomes."""

from __future__ import annotations

import codecs
import io

import pytest
from openpyxl import Workbook

from apps.billing.models import Plan, Subscription
from apps.contacts.models import Contact, Group, GroupMembership, ImportJob, ImportMapping
from apps.contacts.services import importing
from apps.contacts.services.groups import group_get_or_create
from apps.core.exceptions import ValidationFailed
from tests.contacts.conftest import error_rows


def contacts() -> list[tuple[str, str]]:
    return sorted(Contact.objects.values_list("phone", "name"))


def counts(job: ImportJob) -> dict[str, int]:
    return {
        "total": job.total_rows,
        "created": job.created_count,
        "updated": job.updated_count,
        "unchanged": job.unchanged_count,
        "skipped": job.skipped_count,
        "duplicates": job.duplicate_count,
        "errors": job.error_count,
    }


def expect(**given: int) -> dict[str, int]:
    base = dict.fromkeys(("total", "created", "updated", "unchanged", "skipped", "duplicates", "errors"), 0)
    return base | given


# --- encodings and delimiters ------------------------------------------------------------------


def test_utf8_with_bom_and_commas(in_alpha, run_import):
    data = codecs.BOM_UTF8 + "Name,Phone\nZoë Ångström,+91 98765-43210\nराम,098765 43211\n".encode()

    job = run_import(data)

    assert job.state == ImportJob.State.COMPLETED
    assert (job.encoding, job.delimiter, job.headers) == ("utf-8-sig", ",", ["Name", "Phone"])
    assert job.mapping == {"phone": "Phone", "name": "Name"}
    assert counts(job) == expect(total=2, created=2)
    assert contacts() == [("+919876543210", "Zoë Ångström"), ("+919876543211", "राम")]
    assert not job.error_file


def test_semicolons_and_custom_fields(in_alpha, run_import):
    data = b"Mobile;Full name;City;Plan\n+91 98765-43210;Asha Rao;Pune;gold\n9876543211;Ravi;;\n"

    job = run_import(
        data, mapping={"phone": "Mobile", "name": "Full name", "custom.city": "City", "custom.Plan": "Plan"}
    )

    assert job.delimiter == ";"
    assert job.mapping == {"phone": "Mobile", "name": "Full name", "custom.city": "City", "custom.plan": "Plan"}
    assert counts(job) == expect(total=2, created=2)
    assert sorted(Contact.objects.values_list("phone", "custom_fields")) == [
        ("+919876543210", {"city": "Pune", "plan": "gold"}),
        ("+919876543211", {}),
    ]


def test_excel_unicode_text_is_utf16_with_tabs(in_alpha, run_import):
    data = "Name\tPhone\tE-mail\r\nFrançois\t+91 98765 43210\tfr@example.com\r\nÇağrı\t098765 43211\t\r\n".encode(
        "utf-16"
    )

    job = run_import(data, name="contacts.txt")

    assert (job.encoding, job.delimiter) == ("utf-16", "\t")
    assert counts(job) == expect(total=2, created=2)
    assert sorted(Contact.objects.values_list("phone", "name", "email")) == [
        ("+919876543210", "François", "fr@example.com"),
        ("+919876543211", "Çağrı", ""),
    ]


def test_latin1_names(in_alpha, run_import):
    data = "Name,Phone\nJosé Müller,+91 98765 43210\nFrançoise Øberg,+91 98765 43211\n".encode("latin-1")

    job = run_import(data)

    assert job.encoding == "cp1252"
    assert contacts() == [("+919876543210", "José Müller"), ("+919876543211", "Françoise Øberg")]


def test_xlsx_with_numbers_typed_as_numbers(in_alpha, run_import):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Name", "Phone", "Tags"])
    sheet.append(["Asha", 919876543210, "vip"])
    sheet.append(["Ravi", "+91 98765-43211", None])
    sheet.append([None, None, None])
    sheet.append(["Meera", 9876543212.0, "vip, pune"])
    buffer = io.BytesIO()
    workbook.save(buffer)

    job = run_import(buffer.getvalue(), name="contacts.xlsx")

    assert (job.format, job.encoding, job.delimiter) == ("xlsx", "", "")
    assert job.mapping == {"phone": "Phone", "name": "Name", "tags": "Tags"}
    assert counts(job) == expect(total=4, created=3, errors=1)
    assert contacts() == [("+919876543210", "Asha"), ("+919876543211", "Ravi"), ("+919876543212", "Meera")]
    assert error_rows(job) == [["line", "error", "Name", "Phone", "Tags"], ["4", "empty row"]]
    assert sorted(Group.objects.values_list("name", flat=True)) == ["pune", "vip"]
    assert sorted(GroupMembership.objects.values_list("group__name", "contact__phone")) == [
        ("pune", "+919876543212"),
        ("vip", "+919876543210"),
        ("vip", "+919876543212"),
    ]


# --- numbers -----------------------------------------------------------------------------------


def test_messy_numbers_read_with_the_tenants_region(in_alpha, run_import):
    data = b"Name,Phone\nA,+91 98765-43210\nB,098765 43211\nC,(555) 123-4567\n"

    job = run_import(data)

    # Read in India, "(555) 123-4567" is ten digits of an Indian number: the region decides.
    assert counts(job) == expect(total=3, created=3)
    assert contacts() == [("+915551234567", "C"), ("+919876543210", "A"), ("+919876543211", "B")]

    Contact.objects.all().delete()
    in_alpha.tenant.default_region = "US"
    in_alpha.tenant.save(update_fields=["default_region"])

    job = run_import(data)

    # In the US the same file reads "(555) 123-4567" and refuses the Indian trunk-prefix form.
    assert counts(job) == expect(total=3, created=2, errors=1)
    assert contacts() == [("+15551234567", "C"), ("+919876543210", "A")]
    assert error_rows(job)[1] == ["3", "phone number too long", "B", "098765 43211"]


# --- duplicates --------------------------------------------------------------------------------


def test_duplicates_in_the_file_first_occurrence_wins(in_alpha, run_import):
    data = b"Name,Phone\nFirst,+91 98765-43210\nSecond,098765 43210\nOther,9876543211\nThird,919876543210\n"

    job = run_import(data)

    assert counts(job) == expect(total=4, created=2, duplicates=2)
    assert contacts() == [("+919876543210", "First"), ("+919876543211", "Other")]


def test_existing_contacts_are_updated_in_update_mode(in_alpha, run_import):
    kept = Contact.objects.create(phone="+919876543210", name="Old name", email="old@example.com", language="en")
    same = Contact.objects.create(phone="+919876543211", name="Same")
    data = b"Name,Phone,Email,Language\nNew name,+919876543210,,hi\nSame,+919876543211,,\nFresh,+919876543212,f@x.io,\n"

    job = run_import(data, mode="update")

    assert counts(job) == expect(total=3, created=1, updated=1, unchanged=1)
    kept.refresh_from_db()
    # The empty e-mail cell leaves the stored address alone.
    assert (kept.name, kept.email, kept.language) == ("New name", "old@example.com", "hi")
    same_before = same.updated_at
    same.refresh_from_db()
    assert same.updated_at == same_before
    assert Contact.objects.get(phone="+919876543212").email == "f@x.io"


def test_existing_contacts_are_left_alone_in_skip_mode(in_alpha, run_import):
    Contact.objects.create(phone="+919876543210", name="Old name")
    group, _ = group_get_or_create(name="Diwali")
    data = b"Name,Phone\nNew name,+919876543210\nFresh,+919876543212\n"

    job = run_import(data, mode="skip", group=group)

    assert counts(job) == expect(total=2, created=1, skipped=1)
    assert contacts() == [("+919876543210", "Old name"), ("+919876543212", "Fresh")]
    # Group membership is about who was in the file: existing contacts join the group too.
    assert sorted(group.contacts.values_list("phone", flat=True)) == ["+919876543210", "+919876543212"]


def test_reimporting_into_a_group_adds_no_duplicate_memberships(in_alpha, run_import):
    group, _ = group_get_or_create(name="VIP")
    data = b"Name,Phone\nA,+919876543210\nB,+919876543211\n"

    run_import(data, group=group)
    job = run_import(data, group=group)

    assert counts(job) == expect(total=2, unchanged=2)
    assert GroupMembership.objects.filter(group=group).count() == 2


# --- bad rows ----------------------------------------------------------------------------------


def test_bad_rows_are_reported_with_line_and_reason_while_good_rows_import(in_alpha, run_import):
    data = (
        b"Name,Phone,Email\n"  # line 1
        b"Asha,+91 98765-43210,asha@example.com\n"  # 2 good
        b"\n"  # 3 blank line
        b",,\n"  # 4 empty cells
        b"Short,12345,\n"  # 5 too short
        b"No phone,,x@example.com\n"  # 6
        b"Bad mail,9876543211,not-an-address\n"  # 7
        b"Too,many,columns,here\n"  # 8
        b"Word,call me,\n"  # 9
        b'"Multi\nline",9876543212,\n'  # 10-11, good
        b"Last,+91 98765 43213,\n"  # 12 good
    )

    job = run_import(data)

    assert counts(job) == expect(total=10, created=3, errors=7)
    assert contacts() == [("+919876543210", "Asha"), ("+919876543212", "Multi\nline"), ("+919876543213", "Last")]
    assert error_rows(job) == [
        ["line", "error", "Name", "Phone", "Email"],
        ["3", "empty row"],
        ["4", "empty row", "", "", ""],
        ["5", "phone number too short", "Short", "12345", ""],
        ["6", "missing phone number", "No phone", "", "x@example.com"],
        ["7", "invalid e-mail address 'not-an-address'", "Bad mail", "9876543211", "not-an-address"],
        ["8", "expected 3 columns, found 4", "Too", "many", "columns", "here"],
        ["9", "not a phone number", "Word", "call me", ""],
    ]
    assert job.error_file.name.startswith(f"imports/{in_alpha.tenant.schema_name}/")


def test_formula_cells_are_stored_as_text_and_neutralised_in_the_error_report(in_alpha, run_import):
    data = b'Name,Phone\n"=HYPERLINK(""http://x.test"",""win"")",+919876543210\n@SUM(A1),12\n'

    job = run_import(data)

    assert Contact.objects.get().name == '=HYPERLINK("http://x.test","win")'
    assert error_rows(job)[1] == ["3", "phone number too short", "'@SUM(A1)", "12"]


def test_consent_opt_out_and_language_columns(in_alpha, run_import):
    opted_out = Contact.objects.create(
        phone="+919876543211", opted_out_at="2026-01-01T00:00:00Z", opted_out_via=Contact.OptOutVia.KEYWORD
    )
    data = (
        b"Phone,Consent,Opted out,Language\n"
        b"+919876543210,yes,,pt_br\n"
        b"+919876543211,no,no,EN\n"
        b"+919876543212,maybe,,\n"
        b"+919876543213,,STOP,xx-toolongsubtag\n"
        b"+919876543214,,y,\n"
    )

    job = run_import(
        data, mapping={"phone": "Phone", "consent": "Consent", "opted_out": "Opted out", "language": "Language"}
    )

    assert counts(job) == expect(total=5, created=2, updated=1, errors=2)
    granted = Contact.objects.get(phone="+919876543210")
    assert (granted.consent_status, granted.consent_source, granted.language) == (
        "granted",
        "import: contacts.csv",
        "pt-br",
    )
    assert granted.consented_at is not None and granted.opted_out_at is None
    opted_out.refresh_from_db()
    # "no" in the opted-out column never clears an opt-out.
    assert (opted_out.consent_status, opted_out.opted_out_via, opted_out.language) == ("revoked", "keyword", "en")
    assert opted_out.opted_out_at is not None
    new_opt_out = Contact.objects.get(phone="+919876543214")
    assert (new_opt_out.opted_out_via, new_opt_out.opted_out_reason) == ("import", "Imported as opted out")
    assert [row[:2] for row in error_rows(job)[1:]] == [
        ["4", "unknown consent value 'maybe'"],
        ["5", "invalid language code 'xx-toolongsubtag'"],
    ]


# --- jobs, mappings, quotas --------------------------------------------------------------------


def test_mapping_is_remembered_for_files_with_the_same_headers(in_alpha, run_import):
    data = b"Cell,Who,Town\n+919876543210,Asha,Pune\n"
    run_import(data, mapping={"phone": "Cell", "name": "Who", "custom.town": "Town"})

    preview = importing.import_preview(stream=io.BytesIO(b"Cell,Who,Town\n+919876543211,Ravi,Goa\n"), name="b.csv")

    assert preview.mapping == {"phone": "Cell", "name": "Who", "custom.town": "Town"}
    assert preview.rows == [["+919876543211", "Ravi", "Goa"]]
    assert ImportMapping.objects.count() == 1


def test_mapping_errors_are_refused_before_a_job_exists(in_alpha):
    with pytest.raises(ValidationFailed) as refused:
        importing.import_job_create(
            stream=io.BytesIO(b"Name,Phone\nA,1\n"),
            name="a.csv",
            mapping={"name": "Name", "colour": "Phone", "custom.Bad Key": "Phone"},
            start=False,
        )

    assert refused.value.details == {
        "colour": [
            "Unknown field. Use one of phone, name, email, language, consent, opted_out, tags or custom.<name>."
        ],
        "custom.Bad Key": ["Custom field names use lowercase letters, digits and _ and start with a letter."],
        "phone": ["Choose the column that holds phone numbers."],
    }
    assert ImportJob.objects.count() == 0


def test_contact_quota_fails_the_whole_import(in_alpha, run_import):
    plan = Subscription.objects.get(tenant=in_alpha.tenant).plan
    Plan.objects.filter(pk=plan.pk).update(max_contacts=2)
    Contact.objects.create(phone="+919876543200")

    job = run_import(b"Name,Phone\nA,+919876543210\nB,+919876543211\n")

    assert job.state == ImportJob.State.FAILED
    assert "contacts" in job.failure
    assert Contact.objects.count() == 1


def test_unreadable_file_fails_the_job_with_a_reason(in_alpha):
    with pytest.raises(ValidationFailed, match="empty"):
        importing.import_job_create(stream=io.BytesIO(b"\n\n"), name="a.csv", start=False)
    assert ImportJob.objects.count() == 0


def test_a_number_inserted_concurrently_falls_back_to_on_conflict(in_alpha):
    """The fast anti-join INSERT cannot see a row another transaction adds after its snapshot;
    the unique index stops it and the guarded ON CONFLICT form runs instead."""
    from django.db import connection

    from apps.contacts.services.import_staging import _execute_fast_or_guarded

    Contact.objects.create(phone="+919876543210")
    columns = "phone, name, opted_out_reason, opted_out_via, created_at, updated_at"
    fast = (
        f"INSERT INTO contacts_contact ({columns}) "
        "VALUES (%(a)s, '', '', '', now(), now()), (%(b)s, '', '', '', now(), now())"
    )
    guarded = fast + " ON CONFLICT (phone) DO NOTHING"
    with connection.cursor() as cursor:
        inserted = _execute_fast_or_guarded(cursor, fast, guarded, {"a": "+919876543210", "b": "+919876543211"})

    assert inserted == 1
    assert sorted(Contact.objects.values_list("phone", flat=True)) == ["+919876543210", "+919876543211"]
