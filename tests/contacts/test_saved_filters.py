"""Saved filters: the service validates and names them, the contacts list, API and portal apply
them, campaigns that have not finished keep them from being deleted, and another workspace
never sees them."""

from __future__ import annotations

import datetime

import pytest

from apps.accounts.models import Role
from apps.campaigns.models import Campaign
from apps.contacts import selectors
from apps.contacts.models import Contact, SavedFilter
from apps.contacts.services import saved_filters as services
from apps.core.exceptions import Conflict, ValidationFailed
from tests.contacts.test_api import in_schema, member

HINDI_IN_PUNE = {
    "match": "all",
    "rules": [
        {"field": "language", "op": "eq", "value": "hi"},
        {"field": "custom.city", "op": "in", "value": ["Pune", "Mumbai"]},
    ],
}


def people() -> dict[str, int]:
    """Asha (hi, Pune), Ravi (hi, Delhi), Meera (en, Pune), Kiran (HI, mumbai)."""
    rows = [
        ("+919876500001", "Asha", "hi", {"city": "Pune"}),
        ("+919876500002", "Ravi", "hi", {"city": "Delhi"}),
        ("+919876500003", "Meera", "en", {"city": "Pune"}),
        ("+919876500004", "Kiran", "HI", {"city": " mumbai "}),
    ]
    return {
        name: Contact.objects.create(phone=phone, name=name, language=language, custom_fields=custom).id
        for phone, name, language, custom in rows
    }


def test_a_saved_filter_selects_exactly_its_contacts(in_alpha):
    ids = people()
    saved = services.saved_filter_create(name="Hindi in Pune", spec=HINDI_IN_PUNE)

    matched = set(selectors.contacts_list(saved_filter_id=saved.id).values_list("id", flat=True))

    assert matched == {ids["Asha"], ids["Kiran"]}
    assert selectors.saved_filter_matches(saved.spec, limit=10) == (2, True)
    assert selectors.saved_filter_matches(saved.spec, limit=1) == (1, False)
    # Combined with the list's other filters, and a deleted filter matches nobody.
    assert list(selectors.contacts_list(search="Kiran", saved_filter_id=saved.id).values_list("id", flat=True)) == [
        ids["Kiran"]
    ]
    assert selectors.contacts_list(saved_filter_id=saved.id + 1000).count() == 0


def test_created_at_rules_use_the_workspace_time_zone(in_alpha):
    ids = people()
    # Asha joined on 2026-03-01 at 20:00 UTC: already 2 March in Kolkata (UTC+5:30).
    Contact.objects.filter(id=ids["Asha"]).update(created_at=datetime.datetime(2026, 3, 1, 20, 0, tzinfo=datetime.UTC))
    Contact.objects.exclude(id=ids["Asha"]).update(created_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
    in_alpha.tenant.timezone = "Asia/Kolkata"
    in_alpha.tenant.save(update_fields=["timezone"])
    saved = services.saved_filter_create(
        name="March", spec={"rules": [{"field": "created_at", "op": "after", "value": "2026-03-02"}]}
    )

    assert list(selectors.contacts_list(saved_filter_id=saved.id).values_list("id", flat=True)) == [ids["Asha"]]


@pytest.mark.parametrize(
    ("name", "spec", "code", "message"),
    [
        ("No rules", {"match": "all", "rules": []}, "invalid_filter", "A saved filter needs at least one rule."),
        ("Bad op", {"rules": [{"field": "language", "op": "contains", "value": "h"}]}, "invalid_filter", "Rule 1:"),
        ("Bad field", {"rules": [{"field": "age", "op": "eq", "value": "3"}]}, "invalid_filter", "unknown field"),
        (
            "No such day",
            {"rules": [{"field": "created_at", "op": "after", "value": "2026-02-30"}]},
            "invalid_filter",
            "Rule 1: that date does not exist.",
        ),
        ("", HINDI_IN_PUNE, "invalid_saved_filter", "Name the filter"),
    ],
)
def test_bad_filters_are_refused_and_nothing_is_saved(in_alpha, name, spec, code, message):
    with pytest.raises(ValidationFailed) as refused:
        services.saved_filter_create(name=name, spec=spec)

    assert refused.value.code == code and message in refused.value.message
    assert SavedFilter.objects.count() == 0


def test_names_are_unique_regardless_of_case(in_alpha):
    services.saved_filter_create(name="Hindi in Pune", spec=HINDI_IN_PUNE)

    with pytest.raises(Conflict) as refused:
        services.saved_filter_create(name="HINDI  in pune", spec=HINDI_IN_PUNE)

    assert refused.value.code == "saved_filter_exists"
    assert SavedFilter.objects.count() == 1


def test_a_filter_an_unfinished_campaign_uses_cannot_be_deleted(in_alpha):
    saved = services.saved_filter_create(name="Hindi in Pune", spec=HINDI_IN_PUNE)
    draft = Campaign.objects.create(name="Diwali", body="Hi", saved_filter=saved)

    with pytest.raises(Conflict) as refused:
        services.saved_filter_delete(saved_filter=saved)

    assert refused.value.code == "saved_filter_in_use" and refused.value.details == {"campaigns": [draft.id]}
    assert SavedFilter.objects.count() == 1

    Campaign.objects.filter(id=draft.id).update(state=Campaign.State.COMPLETED)
    services.saved_filter_delete(saved_filter=saved)

    assert SavedFilter.objects.count() == 0
    assert Campaign.objects.get(id=draft.id).saved_filter_id is None


def theirs_beyond_mine(alpha, beta) -> tuple[int, int]:
    """A filter in each workspace, beta's with an id alpha does not have (ids are per schema)."""
    mine = in_schema(alpha, lambda: services.saved_filter_create(name="Mine", spec=HINDI_IN_PUNE).id)

    def make_theirs() -> int:
        for attempt in range(mine + 1):
            theirs = services.saved_filter_create(name=f"Theirs {attempt}", spec=HINDI_IN_PUNE).id
            if theirs > mine:
                return theirs
        raise AssertionError("beta's ids never passed alpha's")

    return mine, in_schema(beta, make_theirs)


# --- API -----------------------------------------------------------------------------------------


def test_api_crud_with_roles(alpha, client_for):
    ids = in_schema(alpha, people)
    agent = client_for(alpha, member(alpha, Role.AGENT))
    viewer = client_for(alpha, member(alpha, Role.VIEWER))
    admin = client_for(alpha, member(alpha, Role.ADMIN))

    refused = viewer.post(
        "/api/v1/saved-filters", {"name": "X", "spec": HINDI_IN_PUNE}, content_type="application/json"
    )
    created = agent.post(
        "/api/v1/saved-filters", {"name": "Hindi in Pune", "spec": HINDI_IN_PUNE}, content_type="application/json"
    )
    saved_id = created.json()["id"]
    detail = viewer.get(f"/api/v1/saved-filters/{saved_id}")
    listed = viewer.get(f"/api/v1/contacts?saved_filter={saved_id}")
    bad = agent.patch(
        f"/api/v1/saved-filters/{saved_id}",
        {"spec": {"rules": [{"field": "consent", "op": "eq", "value": "maybe"}]}},
        content_type="application/json",
    )
    renamed = agent.patch(
        f"/api/v1/saved-filters/{saved_id}", {"name": "Pune + Mumbai"}, content_type="application/json"
    )
    agent_delete = agent.delete(f"/api/v1/saved-filters/{saved_id}")

    assert refused.status_code == 403 and created.status_code == 201
    assert (detail.json()["matches"], detail.json()["matches_exact"]) == (2, True)
    assert sorted(c["id"] for c in listed.json()["results"]) == sorted([ids["Asha"], ids["Kiran"]])
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_filter"
    assert bad.json()["error"]["details"] == {"spec": ["Rule 1: consent is one of granted, revoked, unknown."]}
    assert renamed.status_code == 200 and renamed.json()["spec"] == HINDI_IN_PUNE
    assert agent_delete.status_code == 403
    assert in_schema(alpha, lambda: list(SavedFilter.objects.values_list("name", flat=True))) == ["Pune + Mumbai"]

    assert admin.delete(f"/api/v1/saved-filters/{saved_id}").status_code == 204
    assert in_schema(alpha, SavedFilter.objects.count) == 0


def test_api_campaigns_take_a_saved_filter_of_their_own_workspace_only(alpha, beta, client_for):
    mine, theirs = theirs_beyond_mine(alpha, beta)
    agent = client_for(alpha, member(alpha, Role.AGENT))
    body = {"name": "Offer", "body": "Hi", "saved_filter": theirs}

    refused = agent.post("/api/v1/campaigns", body, content_type="application/json")
    created = agent.post("/api/v1/campaigns", {**body, "saved_filter": mine}, content_type="application/json")

    assert refused.status_code == 400 and "saved_filter" in refused.json()["error"]["details"]
    assert created.status_code == 201 and created.json()["saved_filter"] == mine
    assert in_schema(alpha, lambda: list(Campaign.objects.values_list("saved_filter_id", flat=True))) == [mine]


def test_another_workspaces_filters_are_invisible(alpha, beta, client_for):
    _mine, theirs = theirs_beyond_mine(alpha, beta)
    admin = client_for(alpha, member(alpha, Role.ADMIN))

    listed = admin.get("/api/v1/saved-filters")
    responses = [
        admin.get(f"/api/v1/saved-filters/{theirs}"),
        admin.patch(f"/api/v1/saved-filters/{theirs}", {"name": "Stolen"}, content_type="application/json"),
        admin.delete(f"/api/v1/saved-filters/{theirs}"),
        admin.get(f"/contacts/filters/{theirs}/"),
    ]

    assert [f["name"] for f in listed.json()["results"]] == ["Mine"]
    assert [r.status_code for r in responses] == [404, 404, 404, 404]
    assert in_schema(beta, lambda: SavedFilter.objects.filter(name__startswith="Theirs").count()) >= 1
    assert in_schema(beta, lambda: SavedFilter.objects.filter(name="Stolen").count()) == 0


# --- portal --------------------------------------------------------------------------------------


def rule_rows(*rows: dict[str, str], blank: int = 1) -> dict[str, str]:
    data = {"rule-TOTAL_FORMS": str(len(rows) + blank), "rule-INITIAL_FORMS": "0"}
    for index, row in enumerate([*rows, *({} for _ in range(blank))]):
        for key in ("field", "custom_key", "op", "value"):
            data[f"rule-{index}-{key}"] = row.get(key, "")
    return data


def test_portal_creates_a_filter_from_rule_rows_and_the_list_applies_it(alpha, client_for):
    ids = in_schema(alpha, people)
    agent = client_for(alpha, member(alpha, Role.AGENT))

    response = agent.post(
        "/contacts/filters/new/",
        {
            "name": "Hindi in Pune",
            "match": "all",
            **rule_rows(
                {"field": "language", "op": "eq", "value": "hi"},
                {"field": "custom", "custom_key": "city", "op": "in", "value": "Pune, Mumbai"},
            ),
        },
    )
    saved = in_schema(alpha, lambda: SavedFilter.objects.get())
    page = agent.get(response["Location"]).content.decode()
    listed = agent.get(f"/contacts/?saved_filter={saved.id}").content.decode()

    assert response.status_code == 302 and response["Location"] == f"/contacts/filters/{saved.id}/"
    assert saved.spec == HINDI_IN_PUNE
    assert 'data-filter-matches="2"' in page
    assert f"/contacts/{ids['Asha']}/" in listed and f"/contacts/{ids['Kiran']}/" in listed
    assert f"/contacts/{ids['Ravi']}/" not in listed and f"/contacts/{ids['Meera']}/" not in listed
    assert "Hindi in Pune" in agent.get("/contacts/filters/").content.decode()


def test_portal_shows_a_bad_rule_and_saves_nothing(alpha, client_for):
    agent = client_for(alpha, member(alpha, Role.AGENT))

    response = agent.post(
        "/contacts/filters/new/",
        {"name": "Bad", "match": "all", **rule_rows({"field": "created_at", "op": "after", "value": "soon"})},
    )

    assert response.status_code == 400
    assert "Rule 1: the value must be a date (2026-01-31) or a date and time." in response.content.decode()
    assert in_schema(alpha, SavedFilter.objects.count) == 0


def test_portal_roles(alpha, client_for):
    saved_id = in_schema(alpha, lambda: services.saved_filter_create(name="Mine", spec=HINDI_IN_PUNE).id)
    viewer = client_for(alpha, member(alpha, Role.VIEWER))
    agent = client_for(alpha, member(alpha, Role.AGENT))
    new = {"name": "X", "match": "all", **rule_rows({"field": "language", "op": "eq", "value": "en"})}

    statuses = [
        viewer.get(f"/contacts/filters/{saved_id}/").status_code,
        viewer.post("/contacts/filters/new/", new).status_code,
        viewer.post(f"/contacts/filters/{saved_id}/", new).status_code,
        agent.post(f"/contacts/filters/{saved_id}/delete/").status_code,
    ]

    assert statuses == [200, 403, 403, 403]
    assert in_schema(alpha, lambda: list(SavedFilter.objects.values_list("name", flat=True))) == ["Mine"]
