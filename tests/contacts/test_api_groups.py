"""/api/v1/groups: list with counts, create, rename, delete; roles per method; and each workspace
reaching only its own groups. Refused requests change nothing."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from apps.accounts.models import Membership, Role, User
from apps.contacts.models import Contact, Group, GroupMembership
from tests.conftest import PASSWORD


def member(world, role: str) -> User:
    user = User.objects.create_user(f"groups-{role}@{world.tenant.slug}.test", PASSWORD)
    Membership.objects.create(user=user, tenant=world.tenant, role=role)
    return user


def in_schema(world, fn):
    with tenant_context(world.tenant):
        return fn()


def groups(world) -> list[tuple[str, str, int]]:
    """(name, description, members) of every group of `world`, by name."""

    def read():
        return [(g.name, g.description, g.memberships.count()) for g in Group.objects.order_by("name")]

    return in_schema(world, read)


def seed_vip(world) -> Group:
    """VIP with two members, Leads with none."""

    def seed():
        vip = Group.objects.create(name="VIP", description="Best customers")
        Group.objects.create(name="Leads")
        for phone in ("+919876543210", "+919876543211"):
            GroupMembership.objects.create(group=vip, contact=Contact.objects.create(phone=phone))
        return vip

    return in_schema(world, seed)


def foreign_group(world, other) -> Group:
    """A group of `world` whose id is no group of `other` (ids are per schema, so they can meet)."""
    taken = in_schema(other, lambda: max(Group.objects.values_list("pk", flat=True), default=0))
    group = in_schema(world, lambda: Group.objects.create(pk=taken + 1000, name="Beta's own", description="Keep"))
    assert not in_schema(other, lambda: Group.objects.filter(pk=group.pk).exists())
    return group


@pytest.fixture
def agent(alpha, client_for):
    return client_for(alpha, member(alpha, Role.AGENT))


def test_list_shows_each_group_with_its_contact_count(alpha, agent):
    vip = seed_vip(alpha)

    response = agent.get("/api/v1/groups")

    assert response.status_code == 200
    assert [(g["id"], g["name"], g["description"], g["contact_count"]) for g in response.json()["results"]] == [
        (vip.id + 1, "Leads", "", 0),
        (vip.id, "VIP", "Best customers", 2),
    ]
    detail = agent.get(f"/api/v1/groups/{vip.id}").json()
    assert (detail["name"], detail["contact_count"]) == ("VIP", 2)


def test_create_tidies_the_name_and_a_name_taken_in_any_case_is_refused(alpha, agent):
    created = agent.post(
        "/api/v1/groups", {"name": "  VIP   customers ", "description": "Top 50"}, content_type="application/json"
    )
    again = agent.post(
        "/api/v1/groups", {"name": "vip CUSTOMERS", "description": "Other"}, content_type="application/json"
    )

    assert created.status_code == 201
    body = created.json()
    assert (body["name"], body["description"], body["contact_count"]) == ("VIP customers", "Top 50", 0)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "group_exists"
    assert again.json()["error"]["details"] == {"id": body["id"]}
    assert groups(alpha) == [("VIP customers", "Top 50", 0)]


def test_rename_and_describe_and_a_taken_name_changes_nothing(alpha, agent):
    vip = seed_vip(alpha)
    url = f"/api/v1/groups/{vip.id}"

    renamed = agent.patch(url, {"name": " Gold "}, content_type="application/json")
    described = agent.patch(url, {"description": "Spent over 10k"}, content_type="application/json")
    taken = agent.patch(url, {"name": "LEADS", "description": "Lost"}, content_type="application/json")
    blank = agent.patch(url, {"name": ""}, content_type="application/json")

    assert renamed.status_code == 200
    assert (renamed.json()["name"], renamed.json()["description"], renamed.json()["contact_count"]) == (
        "Gold",
        "Best customers",
        2,
    )
    assert described.status_code == 200 and described.json()["name"] == "Gold"
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "group_exists"
    assert blank.status_code == 400
    assert groups(alpha) == [("Gold", "Spent over 10k", 2), ("Leads", "", 0)]

    own_spelling = agent.patch(url, {"name": "GOLD"}, content_type="application/json")

    assert own_spelling.status_code == 200
    assert groups(alpha) == [("GOLD", "Spent over 10k", 2), ("Leads", "", 0)]


def test_delete_removes_the_group_and_its_contacts_stay(alpha, client_for):
    vip = seed_vip(alpha)
    admin = client_for(alpha, member(alpha, Role.ADMIN))

    deleted = admin.delete(f"/api/v1/groups/{vip.id}")
    again = admin.delete(f"/api/v1/groups/{vip.id}")

    assert deleted.status_code == 204
    assert again.status_code == 404 and again.json()["error"]["code"] == "group_not_found"
    assert groups(alpha) == [("Leads", "", 0)]
    assert in_schema(alpha, Contact.objects.count) == 2
    assert in_schema(alpha, GroupMembership.objects.count) == 0


def test_viewers_read_agents_create_and_rename_admins_delete(alpha, client_for, agent):
    vip = seed_vip(alpha)
    viewer = client_for(alpha, member(alpha, Role.VIEWER))
    url = f"/api/v1/groups/{vip.id}"
    before = groups(alpha)

    assert viewer.get("/api/v1/groups").status_code == 200
    assert viewer.get(url).status_code == 200
    refused = [
        viewer.post("/api/v1/groups", {"name": "Mine"}, content_type="application/json"),
        viewer.patch(url, {"name": "Mine"}, content_type="application/json"),
        viewer.delete(url),
        agent.delete(url),
    ]

    assert [(r.status_code, r.json()["error"]["code"]) for r in refused] == [(403, "role_required")] * 4
    assert groups(alpha) == before

    assert agent.post("/api/v1/groups", {"name": "New"}, content_type="application/json").status_code == 201
    assert agent.patch(url, {"name": "Renamed"}, content_type="application/json").status_code == 200
    assert groups(alpha) == [("Leads", "", 0), ("New", "", 0), ("Renamed", "Best customers", 2)]


def test_another_workspaces_group_is_not_found_and_not_listed(alpha, beta, client_for):
    own = seed_vip(alpha)
    theirs = foreign_group(beta, alpha)
    client = client_for(alpha)
    url = f"/api/v1/groups/{theirs.id}"

    responses = [
        client.get(url),
        client.patch(url, {"name": "Taken over"}, content_type="application/json"),
        client.delete(url),
    ]
    listed = client.get("/api/v1/groups")

    assert [(r.status_code, r.json()["error"]["code"]) for r in responses] == [(404, "group_not_found")] * 3
    assert "Beta's own" not in str([r.content for r in responses])
    assert [g["id"] for g in listed.json()["results"]] == [own.id + 1, own.id]
    assert groups(beta) == [("Beta's own", "Keep", 0)]


def test_a_contact_cannot_join_another_workspaces_group(alpha, beta, agent):
    theirs = foreign_group(beta, alpha)
    contact = in_schema(alpha, lambda: Contact.objects.create(phone="+919876543210", name="Asha"))

    created = agent.post(
        "/api/v1/contacts", {"phone": "+919876543211", "groups": [theirs.id]}, content_type="application/json"
    )
    changed = agent.patch(
        f"/api/v1/contacts/{contact.id}", {"name": "Changed", "groups": [theirs.id]}, content_type="application/json"
    )
    bulk = agent.post(
        "/api/v1/contacts/bulk",
        {"contacts": [{"phone": "+919876543212"}], "group": theirs.id},
        content_type="application/json",
    )

    assert (created.status_code, changed.status_code, bulk.status_code) == (400, 400, 400)
    assert created.json()["error"]["details"] == {"groups": [f'Invalid pk "{theirs.id}" - object does not exist.']}
    assert list(changed.json()["error"]["details"]) == ["groups"]
    assert bulk.json()["error"]["details"] == {"group": [f'Invalid pk "{theirs.id}" - object does not exist.']}
    assert in_schema(alpha, lambda: list(Contact.objects.values_list("phone", "name"))) == [("+919876543210", "Asha")]
    assert in_schema(alpha, GroupMembership.objects.count) == 0
    assert in_schema(beta, GroupMembership.objects.count) == 0
    assert in_schema(beta, Contact.objects.count) == 0


def test_a_group_an_unfinished_campaign_uses_is_not_deleted(alpha, client_for):
    from apps.accounts.models import Role
    from apps.campaigns.models import Campaign
    from tests.contacts.test_api import in_schema, member

    def make():
        group = Group.objects.create(name="Customers")
        campaign = Campaign.objects.create(name="Diwali", body="Hi", state=Campaign.State.SCHEDULED)
        campaign.groups.add(group)
        return group.id, campaign.id

    group_id, campaign_id = in_schema(alpha, make)
    admin = client_for(alpha, member(alpha, Role.ADMIN))

    refused = admin.delete(f"/api/v1/groups/{group_id}")

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "group_in_use"
    assert refused.json()["error"]["details"] == {"campaigns": [campaign_id]}
    assert in_schema(alpha, lambda: Group.objects.filter(id=group_id).exists())
