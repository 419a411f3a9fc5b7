"""The suppression list: numbers are normalised with the workspace's region and added once, a
pasted list reports its bad lines and adds the rest, waiting messages to a suppressed number
are skipped at once, roles decide who reads, adds and removes, and another workspace's list is
never seen through the API or the portal."""

from __future__ import annotations

import pytest

from apps.accounts.models import Role
from apps.contacts import selectors
from apps.contacts.models import SuppressedNumber
from apps.contacts.services import suppression as services
from apps.core.exceptions import NotFound, ValidationFailed
from apps.senders.models import MessageEvent, MessageState, OutboundMessage, SenderProfile
from tests.contacts.test_api import in_schema, member

TO = "+919876543210"


def numbers() -> list[tuple[str, str]]:
    return list(SuppressedNumber.objects.order_by("phone").values_list("phone", "reason"))


def numbers_in(world) -> list[str]:
    return in_schema(world, lambda: sorted(SuppressedNumber.objects.values_list("phone", flat=True)))


# --- the service ---------------------------------------------------------------------------------


def test_a_number_is_normalised_with_the_workspace_region_and_added_once(in_alpha):
    first = services.suppression_add(phone="098765 43210", reason=" complaint ")
    again = services.suppression_add(phone="+91 98765-43210", reason="another reason")

    assert (first.created, first.suppressed.phone, first.suppressed.reason, first.messages_skipped) == (
        True,
        TO,
        "complaint",
        0,
    )
    assert (again.created, again.suppressed.id, again.messages_skipped) == (False, first.suppressed.id, 0)
    assert numbers() == [(TO, "complaint")]


@pytest.mark.parametrize(
    ("phone", "reason", "code"),
    [("12", "", "invalid_phone"), ("call me", "", "invalid_phone"), (TO, "x" * 201, "invalid_reason")],
)
def test_a_bad_number_or_reason_is_refused_and_nothing_is_stored(in_alpha, phone, reason, code):
    with pytest.raises(ValidationFailed) as refused:
        services.suppression_add(phone=phone, reason=reason)

    assert refused.value.code == code
    assert SuppressedNumber.objects.count() == 0


def test_a_pasted_list_reports_bad_lines_by_number_and_adds_the_good_ones(in_alpha):
    services.suppression_add(phone="+919876500003", reason="earlier")
    text = "+919876500001\n\n  not a number \r\n09876500002\n+91 98765 00001\n12\n98765 00003\n98765 00004"

    result = services.suppressions_bulk_add(lines=services.suppression_lines(text), reason="regulator list")

    assert (result.added, result.already_suppressed, result.duplicates, result.messages_skipped) == (3, 1, 1, 0)
    assert [(bad.line, bad.value, bad.error) for bad in result.errors] == [
        (3, "not a number", "not a phone number"),
        (6, "12", "phone number too short"),
    ]
    assert numbers() == [
        ("+919876500001", "regulator list"),
        ("+919876500002", "regulator list"),
        ("+919876500003", "earlier"),
        ("+919876500004", "regulator list"),
    ]


def test_pasting_the_same_list_again_changes_nothing(in_alpha):
    lines = ["+919876500001", "+919876500002"]
    services.suppressions_bulk_add(lines=lines)

    again = services.suppressions_bulk_add(lines=lines, reason="new reason")

    assert (again.added, again.already_suppressed, again.duplicates, again.errors) == (0, 2, 0, [])
    assert numbers() == [("+919876500001", ""), ("+919876500002", "")]


@pytest.mark.parametrize(
    ("lines", "code"),
    [([], "empty_list"), (["", "   "], "empty_list"), (["+919876500001"] * 10_001, "list_too_long")],
)
def test_an_empty_or_too_long_list_is_refused_and_nothing_is_stored(in_alpha, lines, code):
    with pytest.raises(ValidationFailed) as refused:
        services.suppressions_bulk_add(lines=lines)

    assert refused.value.code == code
    assert SuppressedNumber.objects.count() == 0


def test_a_list_of_only_bad_lines_adds_nothing_and_reports_every_line(in_alpha):
    result = services.suppressions_bulk_add(lines=["hello", "12"])

    assert (result.added, [bad.line for bad in result.errors]) == (0, [1, 2])
    assert SuppressedNumber.objects.count() == 0


def test_suppressing_skips_every_waiting_message_to_the_number_at_once(in_alpha):
    profile = SenderProfile.objects.create(label="Main", status=SenderProfile.Status.CONNECTED)

    def row(to: str, state: str, **fields) -> int:
        return OutboundMessage.objects.create(profile=profile, to_number=to, body="Hi", state=state, **fields).id

    queued = row(TO, MessageState.QUEUED)
    held = row(TO, MessageState.HELD, campaign_id=7)
    sent = row(TO, MessageState.SENT)
    sending = row(TO, MessageState.SENDING)
    other = row("+919876500001", MessageState.QUEUED)

    added = services.suppression_add(phone=TO)
    again = services.suppression_add(phone=TO)

    states = dict(OutboundMessage.objects.values_list("id", "state"))
    assert (added.messages_skipped, again.messages_skipped) == (2, 0)
    assert states == {
        queued: "skipped_suppressed",
        held: "skipped_suppressed",
        sent: "sent",
        sending: "sending",
        other: "queued",
    }
    skipped = OutboundMessage.objects.filter(id__in=[queued, held])
    assert set(skipped.values_list("error_code", flat=True)) == {"suppressed"}
    assert all(m.failed_at is not None for m in skipped)
    assert sorted(MessageEvent.objects.values_list("message_id", "state")) == [
        (queued, "skipped_suppressed"),
        (held, "skipped_suppressed"),
    ]


def test_a_pasted_list_skips_the_waiting_messages_of_the_numbers_it_adds(in_alpha):
    profile = SenderProfile.objects.create(label="Main", status=SenderProfile.Status.CONNECTED)
    for to in ("+919876500001", "+919876500001", "+919876500002", "+919876500009"):
        OutboundMessage.objects.create(profile=profile, to_number=to, body="Hi")

    result = services.suppressions_bulk_add(lines=["+919876500001", "+919876500002"])

    assert result.messages_skipped == 3
    assert sorted(OutboundMessage.objects.values_list("to_number", "state")) == [
        ("+919876500001", "skipped_suppressed"),
        ("+919876500001", "skipped_suppressed"),
        ("+919876500002", "skipped_suppressed"),
        ("+919876500009", "queued"),
    ]


def test_a_number_is_removed_by_id_or_by_number_and_a_missing_one_is_not_found(in_alpha):
    first = services.suppression_add(phone="+919876500001").suppressed
    services.suppression_add(phone="+919876500002")

    removed = services.suppression_remove(suppression_id=first.id)
    services.suppression_remove(phone="098765 00002")

    assert (removed.id, removed.phone) == (first.id, "+919876500001")
    assert SuppressedNumber.objects.count() == 0
    with pytest.raises(NotFound):
        services.suppression_remove(suppression_id=first.id)
    with pytest.raises(NotFound):
        services.suppression_remove(phone="not a number")


def test_search_matches_the_digits_of_the_number_or_the_reason(in_alpha):
    services.suppression_add(phone="+919876500001", reason="Complaint by e-mail")
    services.suppression_add(phone="+919876500002", reason="legal")

    def found(search: str) -> list[str]:
        return list(selectors.suppressions_list(search=search).values_list("phone", flat=True))

    assert found("98765 00002") == ["+919876500002"]
    assert found("COMPLAINT") == ["+919876500001"]
    assert found("9876500") == ["+919876500002", "+919876500001"]
    assert found("nobody") == []


# --- API -----------------------------------------------------------------------------------------


def test_api_roles_viewers_read_agents_add_admins_remove(alpha, client_for):
    viewer = client_for(alpha, member(alpha, Role.VIEWER))
    agent = client_for(alpha, member(alpha, Role.AGENT))
    admin = client_for(alpha, member(alpha, Role.ADMIN))
    one = {"phone": "098765 43210", "reason": "complaint"}

    refused = [
        viewer.post("/api/v1/suppressions", one, content_type="application/json"),
        viewer.post("/api/v1/suppressions/bulk", {"phones": [TO]}, content_type="application/json"),
    ]
    assert [r.status_code for r in refused] == [403, 403]
    assert {r.json()["error"]["code"] for r in refused} == {"role_required"}
    assert numbers_in(alpha) == []

    created = agent.post("/api/v1/suppressions", one, content_type="application/json")
    again = agent.post("/api/v1/suppressions", {"phone": TO, "reason": "other"}, content_type="application/json")
    entry_id = created.json()["id"]
    listed = viewer.get("/api/v1/suppressions")
    detail = viewer.get(f"/api/v1/suppressions/{entry_id}")
    agent_delete = agent.delete(f"/api/v1/suppressions/{entry_id}")

    assert created.status_code == 201
    assert created.json() == {
        "id": entry_id,
        "phone": TO,
        "reason": "complaint",
        "created_at": created.json()["created_at"],
        "created": True,
        "messages_skipped": 0,
    }
    assert again.status_code == 200
    assert (again.json()["id"], again.json()["created"], again.json()["reason"]) == (entry_id, False, "complaint")
    assert [item["phone"] for item in listed.json()["results"]] == [TO]
    assert set(listed.json()["results"][0]) == {"id", "phone", "reason", "created_at"}
    assert detail.status_code == 200 and detail.json()["phone"] == TO
    assert agent_delete.status_code == 403
    assert numbers_in(alpha) == [TO]

    removed = admin.delete(f"/api/v1/suppressions/{entry_id}")
    gone = admin.delete(f"/api/v1/suppressions/{entry_id}")

    assert removed.status_code == 204
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "suppression_not_found"
    assert numbers_in(alpha) == []


def test_api_bad_number_is_a_400_in_the_one_error_shape(alpha, client_for):
    agent = client_for(alpha, member(alpha, Role.AGENT))

    response = agent.post("/api/v1/suppressions", {"phone": "12"}, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "invalid_phone",
            "message": "Invalid phone number: phone number too short.",
            "details": {"phone": ["phone number too short"]},
        }
    }
    assert numbers_in(alpha) == []


def test_api_bulk_reports_bad_items_by_line_and_adds_the_rest(alpha, client_for):
    agent = client_for(alpha, member(alpha, Role.AGENT))
    in_schema(alpha, lambda: services.suppression_add(phone="+919876500003"))

    response = agent.post(
        "/api/v1/suppressions/bulk",
        {"phones": ["+919876500001", "hello", "09876500002", "", "+919876500001", "+919876500003"], "reason": "dnc"},
        content_type="application/json",
    )
    empty = agent.post("/api/v1/suppressions/bulk", {"phones": []}, content_type="application/json")

    assert response.status_code == 200
    assert response.json() == {
        "added": 2,
        "already_suppressed": 1,
        "duplicates": 1,
        "messages_skipped": 0,
        "errors": [{"line": 2, "value": "hello", "error": "not a phone number"}],
    }
    assert numbers_in(alpha) == ["+919876500001", "+919876500002", "+919876500003"]
    assert empty.status_code == 400


def test_api_lists_with_search_and_cursor_pages(alpha, client_for):
    viewer = client_for(alpha, member(alpha, Role.VIEWER))
    in_schema(
        alpha,
        lambda: services.suppressions_bulk_add(lines=[f"+9198765000{i:02d}" for i in range(5)], reason="batch"),
    )
    in_schema(alpha, lambda: services.suppression_add(phone="+919811111111", reason="Complaint"))

    first = viewer.get("/api/v1/suppressions", {"page_size": 4}).json()
    second = viewer.get(first["next"]).json()
    by_digits = viewer.get("/api/v1/suppressions", {"q": "98111 11111"}).json()
    by_reason = viewer.get("/api/v1/suppressions", {"q": "complaint"}).json()

    seen = [item["phone"] for item in first["results"] + second["results"]]
    assert len(first["results"]) == 4 and second["next"] is None
    assert seen == ["+919811111111", *(f"+9198765000{i:02d}" for i in (4, 3, 2, 1, 0))]
    assert [item["phone"] for item in by_digits["results"]] == ["+919811111111"]
    assert [item["phone"] for item in by_reason["results"]] == ["+919811111111"]


def theirs_beyond_mine(alpha, beta) -> tuple[int, int]:
    """An entry in each workspace, beta's with an id alpha does not have (ids are per schema)."""
    mine = in_schema(alpha, lambda: services.suppression_add(phone="+919876500001").suppressed.id)

    def make_theirs() -> int:
        for attempt in range(mine + 1):
            theirs = services.suppression_add(phone=f"+9198888{attempt:05d}").suppressed.id
            if theirs > mine:
                return theirs
        raise AssertionError("beta's ids never passed alpha's")

    return mine, in_schema(beta, make_theirs)


def test_another_workspaces_list_is_invisible_to_the_api_and_the_portal(alpha, beta, client_for):
    _mine, theirs = theirs_beyond_mine(alpha, beta)
    theirs_before = numbers_in(beta)
    admin = client_for(alpha, member(alpha, Role.ADMIN))

    listed = admin.get("/api/v1/suppressions")
    searched = admin.get("/api/v1/suppressions", {"q": "98888"})
    page = admin.get("/contacts/suppressions/").content.decode()
    responses = [
        admin.get(f"/api/v1/suppressions/{theirs}"),
        admin.delete(f"/api/v1/suppressions/{theirs}"),
        admin.post(f"/contacts/suppressions/{theirs}/remove/"),
    ]

    assert [item["phone"] for item in listed.json()["results"]] == ["+919876500001"]
    assert searched.json()["results"] == []
    assert "+9198888" not in page and "+919876500001" in page
    assert [r.status_code for r in responses] == [404, 404, 404]
    assert numbers_in(beta) == theirs_before
    # Alpha's additions never land in beta's list either.
    admin.post("/api/v1/suppressions", {"phone": "+919876500077"}, content_type="application/json")
    assert "+919876500077" not in numbers_in(beta)


# --- portal --------------------------------------------------------------------------------------


def test_portal_pages_the_list_newest_first_and_searches_it(alpha, client_for):
    viewer = client_for(alpha, member(alpha, Role.VIEWER))
    phones = [f"+91987650{i:04d}" for i in range(55)]
    in_schema(alpha, lambda: services.suppressions_bulk_add(lines=phones, reason="batch"))
    in_schema(alpha, lambda: services.suppression_add(phone="+919811111111", reason="Complaint"))
    ids = in_schema(alpha, lambda: list(SuppressedNumber.objects.order_by("-id").values_list("id", flat=True)))

    first = viewer.get("/contacts/suppressions/")
    html = first.content.decode()
    older = viewer.get(f"/contacts/suppressions/?after={ids[49]}").content.decode()
    searched = viewer.get("/contacts/suppressions/", {"q": "complaint"}).content.decode()

    assert first.status_code == 200
    assert html.count("data-suppression=") == 50
    assert f'data-suppression="{ids[0]}"' in html and f'data-suppression="{ids[50]}"' not in html
    assert f"?after={ids[49]}" in html and "data-page-newer" not in html
    assert older.count("data-suppression=") == 6 and "data-page-newer" in older
    assert searched.count("data-suppression=") == 1 and "+919811111111" in searched
    # Viewers read only: no forms to add, no remove buttons.
    assert "data-suppression-add" not in html and "/remove/" not in html


def test_portal_adds_one_number_and_says_when_it_was_already_there(alpha, client_for):
    agent = client_for(alpha, member(alpha, Role.AGENT))

    added = agent.post("/contacts/suppressions/add/", {"phone": "098765 43210", "reason": "complaint"}, follow=True)
    again = agent.post("/contacts/suppressions/add/", {"phone": TO}, follow=True)
    bad = agent.post("/contacts/suppressions/add/", {"phone": "12"})

    assert added.redirect_chain == [("/contacts/suppressions/", 302)]
    assert f"{TO} suppressed." in added.content.decode()
    assert "was already on the suppression list; nothing changed." in again.content.decode()
    assert bad.status_code == 400 and "Invalid phone number: phone number too short." in bad.content.decode()
    assert in_schema(alpha, numbers) == [(TO, "complaint")]


def test_portal_paste_reports_bad_lines_and_adds_the_good_ones(alpha, client_for):
    agent = client_for(alpha, member(alpha, Role.AGENT))

    response = agent.post(
        "/contacts/suppressions/paste/",
        {"numbers": "+919876500001\nhello there\n09876500002\n+919876500001\n", "reason": "dnc"},
    )
    html = response.content.decode()

    assert response.status_code == 200
    assert 'data-report-added="2"' in html and 'data-report-duplicates="1"' in html
    assert 'data-bad-line="2"' in html and "hello there" in html and "not a phone number" in html
    assert html.count("data-bad-line=") == 1
    assert in_schema(alpha, numbers) == [("+919876500001", "dnc"), ("+919876500002", "dnc")]


def test_portal_roles_refused_requests_change_nothing(alpha, client_for):
    entry = in_schema(alpha, lambda: services.suppression_add(phone=TO).suppressed.id)
    viewer = client_for(alpha, member(alpha, Role.VIEWER))
    agent = client_for(alpha, member(alpha, Role.AGENT))
    admin = client_for(alpha, member(alpha, Role.ADMIN))

    statuses = [
        viewer.get("/contacts/suppressions/").status_code,
        viewer.post("/contacts/suppressions/add/", {"phone": "+919876500001"}).status_code,
        viewer.post("/contacts/suppressions/paste/", {"numbers": "+919876500002"}).status_code,
        agent.post(f"/contacts/suppressions/{entry}/remove/").status_code,
    ]
    assert statuses == [200, 403, 403, 403]
    assert numbers_in(alpha) == [TO]
    agent_page = agent.get("/contacts/suppressions/").content.decode()
    assert "data-suppression-add" in agent_page and f"/contacts/suppressions/{entry}/remove/" not in agent_page
    assert f"/contacts/suppressions/{entry}/remove/" in admin.get("/contacts/suppressions/").content.decode()

    removed = admin.post(f"/contacts/suppressions/{entry}/remove/", follow=True)

    assert removed.redirect_chain == [("/contacts/suppressions/", 302)]
    assert f"{TO} was removed from the suppression list." in removed.content.decode()
    assert numbers_in(alpha) == []


def test_the_contacts_tabs_link_to_the_suppression_list(alpha, client_for):
    html = client_for(alpha).get("/contacts/").content.decode()

    assert 'href="/contacts/suppressions/"' in html and "Suppression list" in html
