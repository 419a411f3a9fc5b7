"""One contact API per workspace: another workspace's contact id is not found (and left as it
was), and one workspace's JWT or API key is refused on the other's host."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.contacts.models import Contact
from tests.senders.api_support import jwt_client, key_client

FIELDS = ("phone", "name", "opted_out_at", "opted_out_reason", "opted_out_via")


def in_schema(world, fn):
    with tenant_context(world.tenant):
        return fn()


def stored(world) -> list[tuple]:
    return in_schema(world, lambda: list(Contact.objects.order_by("id").values_list(*FIELDS)))


def foreign_contact(world, other, **fields) -> Contact:
    """A contact of `world` whose id is no contact of `other` (ids are per schema, so they can meet)."""
    taken = in_schema(other, lambda: max(Contact.objects.values_list("pk", flat=True), default=0))
    contact = in_schema(world, lambda: Contact.objects.create(pk=taken + 1000, **fields))
    assert not in_schema(other, lambda: Contact.objects.filter(pk=contact.pk).exists())
    return contact


def every_call(client, contact_id: int) -> list:
    url = f"/api/v1/contacts/{contact_id}"
    return [
        client.get(url),
        client.patch(url, {"name": "Taken over"}, content_type="application/json"),
        client.post(f"{url}/opt-out", {"reason": "Not yours"}, content_type="application/json"),
        client.post(f"{url}/opt-in"),
        client.delete(url),
    ]


@pytest.mark.parametrize("credential", ["jwt", "api_key"])
def test_another_workspaces_contact_id_is_not_found_and_left_alone(alpha, beta, credential):
    own = in_schema(beta, lambda: Contact.objects.create(phone="+919876543299", name="Beta's own"))
    theirs = foreign_contact(alpha, beta, phone="+919876543210", name="Alpha's")
    alpha_before, beta_before = stored(alpha), stored(beta)
    client = jwt_client(beta) if credential == "jwt" else key_client(beta, Role.ADMIN)

    responses = every_call(client, theirs.id)
    listed = client.get("/api/v1/contacts")

    assert [(r.status_code, r.json()["error"]["code"]) for r in responses] == [(404, "contact_not_found")] * 5
    assert [c["id"] for c in listed.json()["results"]] == [own.id]
    assert stored(alpha) == alpha_before
    assert stored(beta) == beta_before


@pytest.mark.parametrize("credential", ["jwt", "api_key"])
def test_a_workspaces_token_and_key_are_refused_on_the_other_host(alpha, beta, credential):
    contact = in_schema(alpha, lambda: Contact.objects.create(phone="+919876543210", name="Alpha's"))
    before = stored(alpha)
    if credential == "jwt":
        client, code = jwt_client(beta, host=alpha.host), "token_wrong_tenant"
    else:
        client, code = key_client(beta, Role.ADMIN, host=alpha.host), "api_key_not_valid"

    responses = [*every_call(client, contact.id), client.get("/api/v1/contacts")]
    created = client.post("/api/v1/contacts", {"phone": "+919876543212"}, content_type="application/json")
    bulk = client.post(
        "/api/v1/contacts/bulk", {"contacts": [{"phone": "+919876543213"}]}, content_type="application/json"
    )

    assert [(r.status_code, r.json()["error"]["code"]) for r in [*responses, created, bulk]] == [(401, code)] * 8
    assert "Alpha's" not in str([r.content for r in responses])
    assert stored(alpha) == before
    assert in_schema(beta, Contact.objects.count) == 0
