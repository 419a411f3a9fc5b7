"""The templates pages: list by category, create / edit / delete with the API's roles, the live
preview against a contact (with the unknown-placeholder error) and tenant isolation."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.campaigns.models import MessageTemplate
from apps.contacts.models import Contact
from tests.senders.api_support import member


def in_schema(world, fn):
    with tenant_context(world.tenant):
        return fn()


def make_template(world, **fields) -> MessageTemplate:
    values = {"name": "Parcel shipped", "category": "order", "body": "Hi {{name|there}}, your order shipped.", **fields}
    return in_schema(world, lambda: MessageTemplate.objects.create(**values))


def templates_by_name(world) -> dict[str, tuple[str, str]]:
    return in_schema(
        world, lambda: {t.name: (t.category, t.body) for t in MessageTemplate.objects.filter(is_builtin=False)}
    )


@pytest.fixture
def agent(alpha, client_for):
    return client_for(alpha, member(alpha, Role.AGENT))


@pytest.fixture
def viewer(alpha, client_for):
    return client_for(alpha, member(alpha, Role.VIEWER))


def test_list_groups_templates_by_category_and_filters(alpha, viewer):
    shipped = make_template(alpha)
    promo = make_template(alpha, name="Diwali sale", category="promo", body="{Hi|Hello}, 20% off!")

    html = viewer.get("/templates/").content.decode()
    promo_only = viewer.get("/templates/?category=promo").content.decode()

    assert f'<tr data-template-row="{shipped.id}">' in html
    assert f'<tr data-template-row="{promo.id}">' in html
    assert 'data-template-category="order"' in html and 'data-template-category="promo"' in html
    assert f'href="/templates/{shipped.id}/">Parcel shipped</a>' in html
    assert "Hi {{name|there}}, your order shipped." in html
    assert f'<tr data-template-row="{promo.id}">' in promo_only
    assert f'<tr data-template-row="{shipped.id}">' not in promo_only
    # A viewer reads but is not offered a new template.
    assert 'href="/templates/new/"' not in html
    assert 'class="nav-link is-active" href="/templates/" aria-current="page"' in html


def test_agent_creates_and_edits_a_template(alpha, agent):
    created = agent.post(
        "/templates/new/", {"name": "Reminder", "category": "reminder", "body": "See you {{custom.day|soon}}"}
    )
    template = in_schema(alpha, lambda: MessageTemplate.objects.get(name="Reminder"))
    edited = agent.post(
        f"/templates/{template.id}/", {"name": "Reminder 2", "category": "custom", "body": "Bye {{name}}"}
    )

    assert created.status_code == 302 and created["Location"] == f"/templates/{template.id}/"
    assert edited.status_code == 302
    assert templates_by_name(alpha) == {"Reminder 2": ("custom", "Bye {{name}}")}
    page = agent.get(f"/templates/{template.id}/").content.decode()
    assert "Bye {{name}}</textarea>" in page


def test_unknown_placeholder_or_a_taken_name_is_shown_and_saves_nothing(alpha, agent):
    make_template(alpha)

    unknown = agent.post("/templates/new/", {"name": "Bad", "category": "custom", "body": "Hi {{nmae}} {{city}}"})
    taken = agent.post("/templates/new/", {"name": "parcel SHIPPED", "category": "custom", "body": "Hi"})

    assert unknown.status_code == 400
    assert "Unknown placeholders: {{nmae}}, {{city}}." in unknown.content.decode()
    assert taken.status_code == 400
    assert "A template with this name exists." in taken.content.decode()
    assert list(templates_by_name(alpha)) == ["Parcel shipped"]


def test_viewer_cannot_create_edit_or_delete(alpha, viewer):
    template = make_template(alpha)

    responses = [
        viewer.get("/templates/new/"),
        viewer.post("/templates/new/", {"name": "X", "category": "custom", "body": "Hi"}),
        viewer.post(f"/templates/{template.id}/", {"name": "Hacked", "category": "custom", "body": "Hi"}),
        viewer.post(f"/templates/{template.id}/delete/"),
    ]

    assert [r.status_code for r in responses] == [403, 403, 403, 403]
    assert templates_by_name(alpha) == {"Parcel shipped": ("order", "Hi {{name|there}}, your order shipped.")}
    # The form is there, disabled, without a save button.
    page = viewer.get(f"/templates/{template.id}/").content.decode()
    assert "disabled" in page and ">Save</button>" not in page


def test_only_admins_and_owners_delete(alpha, agent, client_for):
    template = make_template(alpha)

    refused = agent.post(f"/templates/{template.id}/delete/")
    still_there = templates_by_name(alpha)
    deleted = client_for(alpha).post(f"/templates/{template.id}/delete/")

    assert refused.status_code == 403 and list(still_there) == ["Parcel shipped"]
    assert deleted.status_code == 302 and deleted["Location"] == "/templates/"
    assert templates_by_name(alpha) == {}


def test_preview_renders_for_the_chosen_contact(alpha, viewer):
    contact = in_schema(
        alpha, lambda: Contact.objects.create(phone="+919876500001", name="Asha", custom_fields={"city": "Pune"})
    )

    html = viewer.post(
        "/templates/preview/",
        {"body": "Hi {{name|there}} from {{custom.city}}, {{email|no mail}}", "contact": contact.id},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    empty = viewer.post("/templates/preview/", {"body": "Hi {{name|there}}"}).content.decode()

    assert '<div class="preview-bubble" data-preview-text>Hi Asha from Pune, no mail</div>' in html
    assert "<code>email</code>" in html
    assert '<div class="preview-bubble" data-preview-text>Hi there</div>' in empty


def test_preview_shows_unknown_placeholders_clearly(alpha, viewer):
    html = viewer.post("/templates/preview/", {"body": "Hi {{nmae}}"}).content.decode()

    assert 'role="alert" data-preview-error="unknown_placeholder"' in html
    assert "This text cannot be sent yet." in html
    assert "<code data-unknown-placeholder>{{nmae}}</code>" in html
    assert "data-preview-text" not in html


def test_another_tenant_cannot_open_change_delete_or_preview_as_a_contact(alpha, beta, client_for):
    template = make_template(alpha)
    contact = in_schema(alpha, lambda: Contact.objects.create(phone="+919876500001", name="Asha"))
    owner_beta = client_for(beta)

    responses = [
        owner_beta.get(f"/templates/{template.id}/"),
        owner_beta.post(f"/templates/{template.id}/", {"name": "Hacked", "category": "custom", "body": "Hi"}),
        owner_beta.post(f"/templates/{template.id}/delete/"),
    ]
    preview = owner_beta.post("/templates/preview/", {"body": "Hi {{name}}", "contact": contact.id}).content.decode()
    listing = owner_beta.get("/templates/").content.decode()

    assert [r.status_code for r in responses] == [404, 404, 404]
    assert "No such contact." in preview and "Asha" not in preview
    assert "Parcel shipped" not in listing
    assert templates_by_name(alpha) == {"Parcel shipped": ("order", "Hi {{name|there}}, your order shipped.")}
