"""The workspace admin on a tenant host (/admin/ on <slug>.<BASE_DOMAIN>): contacts and groups
with django-import-export's import and export through the contacts resources. Platform
superusers and the tenant's own reseller staff get in; tenant members and other resellers'
staff do not; a workspace's admin never shows another workspace's contacts."""

from __future__ import annotations

import csv
import io
import re

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_tenants.utils import tenant_context

from apps.contacts.models import Contact, Group

CHANGELIST = "/admin/contacts/contact/"


def on_host(world, user) -> Client:
    client = Client(HTTP_HOST=world.host)
    client.force_login(user)
    return client


def format_value(html: str, label: str) -> str:
    """The <option> value of an import/export format by its label (csv, xlsx…)."""
    match = re.search(rf'<option value="(\d+)"[^>]*>\s*{label}\s*</option>', html)
    assert match, f"no {label} format offered"
    return match.group(1)


def test_superuser_sees_only_this_workspaces_contacts(alpha, beta, superuser):
    with tenant_context(alpha.tenant):
        Contact.objects.create(phone="+919876500001", name="Alpha Asha")
    with tenant_context(beta.tenant):
        Contact.objects.create(phone="+919876500002", name="Beta Bela")

    alpha_page = on_host(alpha, superuser).get(CHANGELIST)
    beta_page = on_host(beta, superuser).get(CHANGELIST)

    assert alpha_page.status_code == 200 and beta_page.status_code == 200
    assert "Alpha Asha" in alpha_page.content.decode() and "Beta Bela" not in alpha_page.content.decode()
    assert "Beta Bela" in beta_page.content.decode() and "Alpha Asha" not in beta_page.content.decode()


def test_export_uses_the_resource_and_neutralises_formulas(alpha, superuser):
    with tenant_context(alpha.tenant):
        vip = Group.objects.create(name="VIP")
        contact = Contact.objects.create(phone="+919876500001", name="=HYPERLINK(1)", email="a@x.test")
        contact.groups.add(vip)
    client = on_host(alpha, superuser)
    page = client.get(f"{CHANGELIST}export/").content.decode()

    response = client.post(f"{CHANGELIST}export/", {"format": format_value(page, "csv"), "resource": "0"})

    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert response.status_code == 200
    assert [(r["phone"], r["name"], r["email"], r["groups"]) for r in rows] == [
        ("+919876500001", "'=HYPERLINK(1)", "a@x.test", "VIP")
    ]


def test_import_normalises_numbers_in_the_workspaces_region(alpha, superuser):
    client = on_host(alpha, superuser)
    page = client.get(f"{CHANGELIST}import/").content.decode()
    data = b"phone,name,email\n098765 00011,Ravi,ravi@x.test\n+91 98765-00012,Meera,\n"

    preview = client.post(
        f"{CHANGELIST}import/",
        {
            "resource": "0",
            "format": format_value(page, "csv"),
            "import_file": SimpleUploadedFile("people.csv", data, "text/csv"),
        },
    )
    html = preview.content.decode()
    confirm = {
        name: re.search(rf'name="{name}" value="([^"]*)"', html).group(1)
        for name in ("import_file_name", "original_file_name", "format")
    }
    done = client.post(f"{CHANGELIST}process_import/", {**confirm, "resource": "0"})

    with tenant_context(alpha.tenant):
        stored = sorted(Contact.objects.values_list("phone", "name"))
    assert preview.status_code == 200 and done.status_code == 302
    assert stored == [("+919876500011", "Ravi"), ("+919876500012", "Meera")]


def test_who_gets_in(alpha, beta, superuser, north, south):
    """north's staff run alpha; south's staff run beta; alpha's owner is a member, not staff."""
    responses = {
        "superuser": on_host(alpha, superuser).get(CHANGELIST).status_code,
        "own reseller": on_host(alpha, north.staff).get(CHANGELIST).status_code,
        "other reseller": on_host(alpha, south.staff).get(CHANGELIST).status_code,
        "tenant owner": on_host(alpha, alpha.owner).get(CHANGELIST).status_code,
    }
    anonymous = Client(HTTP_HOST=alpha.host).get(CHANGELIST)

    assert responses == {"superuser": 200, "own reseller": 200, "other reseller": 302, "tenant owner": 302}
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/admin/login/")


def test_refused_users_change_nothing(alpha, south):
    with tenant_context(alpha.tenant):
        contact = Contact.objects.create(phone="+919876500001", name="Asha")

    response = on_host(alpha, south.staff).post(f"{CHANGELIST}{contact.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    with tenant_context(alpha.tenant):
        assert Contact.objects.filter(pk=contact.pk).exists()


def test_the_platform_admin_does_not_offer_tenant_models(superuser, admin_client):
    response = admin_client(superuser).get("/admin/contacts/contact/")

    assert response.status_code == 404


def test_suppressing_in_the_admin_normalises_and_skips_waiting_messages(alpha, superuser):
    from apps.contacts.models import SuppressedNumber
    from apps.senders.models import OutboundMessage, SenderProfile

    with tenant_context(alpha.tenant):
        profile = SenderProfile.objects.create(label="Main")
        waiting = OutboundMessage.objects.create(profile=profile, to_number="+919876500001", body="Hi", state="queued")
    client = on_host(alpha, superuser)

    bad = client.post("/admin/contacts/suppressednumber/add/", {"phone": "not a number", "reason": "x"})
    good = client.post("/admin/contacts/suppressednumber/add/", {"phone": "098765 00001", "reason": "complaint"})

    with tenant_context(alpha.tenant):
        stored = list(SuppressedNumber.objects.values_list("phone", "reason"))
        waiting.refresh_from_db()
    assert bad.status_code == 200 and "Invalid phone number" in bad.content.decode()
    assert good.status_code == 302
    assert stored == [("+919876500001", "complaint")]
    assert (waiting.state, waiting.error_code) == ("skipped_suppressed", "suppressed")


def test_groups_and_saved_filters_an_unfinished_campaign_uses_are_not_deleted_in_the_admin(alpha, superuser):
    from apps.campaigns.models import Campaign
    from apps.contacts.models import SavedFilter

    with tenant_context(alpha.tenant):
        group = Group.objects.create(name="Customers")
        saved = SavedFilter.objects.create(
            name="Hindi", spec={"rules": [{"field": "language", "op": "eq", "value": "hi"}]}
        )
        campaign = Campaign.objects.create(name="Diwali", body="Hi", saved_filter=saved)
        campaign.groups.add(group)
    client = on_host(alpha, superuser)

    group_page = client.post(f"/admin/contacts/group/{group.pk}/delete/", {"post": "yes"}, follow=True)
    filter_page = client.post(f"/admin/contacts/savedfilter/{saved.pk}/delete/", {"post": "yes"}, follow=True)
    group_list = client.get("/admin/contacts/group/")

    assert "Campaigns that have not finished use this group: Diwali." in group_page.content.decode()
    assert "Campaigns that have not finished use this filter: Diwali." in filter_page.content.decode()
    assert group_list.context["action_form"] is None  # no bulk delete (it was the only action)
    with tenant_context(alpha.tenant):
        assert Group.objects.filter(pk=group.pk).exists() and SavedFilter.objects.filter(pk=saved.pk).exists()
        Campaign.objects.filter(pk=campaign.pk).update(state=Campaign.State.COMPLETED)

    client.post(f"/admin/contacts/group/{group.pk}/delete/", {"post": "yes"})

    with tenant_context(alpha.tenant):
        assert not Group.objects.filter(pk=group.pk).exists()


def test_contacts_added_in_the_admin_are_normalised_and_held_to_the_plan(alpha, superuser):
    from apps.billing.models import Plan

    client = on_host(alpha, superuser)
    fields = {"name": "Ravi", "email": "", "language": "", "custom_fields": "{}", "consent_status": "unknown"}

    added = client.post(f"{CHANGELIST}add/", {**fields, "phone": "098765 00099"})
    again = client.post(f"{CHANGELIST}add/", {**fields, "phone": "+91 98765-00099"})
    with tenant_context(alpha.tenant):
        stored = list(Contact.objects.values_list("phone", flat=True))
    Plan.objects.filter(pk=alpha.tenant.subscription.plan_id).update(max_contacts=1)
    over = client.post(f"{CHANGELIST}add/", {**fields, "phone": "+919876500098"})

    assert added.status_code == 302 and stored == ["+919876500099"]
    assert again.status_code == 200 and "A contact with this number exists." in again.content.decode()
    assert over.status_code == 200 and "Your plan allows 1 contacts; 1 used, 1 more requested." in over.content.decode()
    with tenant_context(alpha.tenant):
        assert Contact.objects.count() == 1


def test_an_admin_import_past_the_plan_is_refused_and_adds_nothing(alpha, superuser):
    from apps.billing.models import Plan

    Plan.objects.filter(pk=alpha.tenant.subscription.plan_id).update(max_contacts=2)
    with tenant_context(alpha.tenant):
        Contact.objects.create(phone="+919876500001", name="Asha")
    client = on_host(alpha, superuser)
    page = client.get(f"{CHANGELIST}import/").content.decode()
    data = b"phone,name\n+919876500001,Asha\n+919876500002,Ravi\n+919876500003,Meera\n"

    response = client.post(
        f"{CHANGELIST}import/",
        {"resource": "0", "format": format_value(page, "csv"), "import_file": SimpleUploadedFile("p.csv", data)},
    )

    assert "Your plan allows 2 contacts; 1 used, 2 more requested." in response.content.decode()
    assert 'name="import_file_name"' not in response.content.decode()  # no confirm step offered
    with tenant_context(alpha.tenant):
        assert Contact.objects.count() == 1
