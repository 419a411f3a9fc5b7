"""/api/v1/opt-out-words: each workspace edits its own list of words that opt a contact out, and
the list is what incoming messages are matched against."""

from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.contacts.models import Contact
from apps.senders.models import OptOutKeyword, SenderProfile
from apps.senders.services.inbound import Received, inbound_capture
from tests.senders.api_support import api_error, jwt_client, key_client, member


def words(world) -> list[str]:
    with tenant_context(world.tenant):
        return sorted(OptOutKeyword.objects.values_list("word", flat=True))


def word_id(world, word: str) -> int:
    with tenant_context(world.tenant):
        return OptOutKeyword.objects.get(word=word).id


def test_every_member_reads_the_list_seeded_with_stop(alpha):
    client = jwt_client(alpha, member(alpha, Role.VIEWER))

    response = client.get("/api/v1/opt-out-words", {"page_size": 200})

    assert response.status_code == 200
    listed = response.json()["results"]
    assert sorted(item["word"] for item in listed) == words(alpha)
    assert {"stop", "unsubscribe"} <= {item["word"] for item in listed}
    assert set(listed[0]) == {"id", "word", "created_at"}


def test_admin_adds_a_word_stored_as_incoming_text_is_compared(alpha):
    before = words(alpha)

    response = jwt_client(alpha).post(
        "/api/v1/opt-out-words", {"word": "  Basta   YA! "}, content_type="application/json"
    )

    assert response.status_code == 201
    body = response.json()
    assert body == {"id": word_id(alpha, "basta ya"), "word": "basta ya", "created_at": body["created_at"]}
    assert words(alpha) == sorted([*before, "basta ya"])


def test_an_existing_word_is_a_409_naming_it(alpha):
    before = words(alpha)

    response = jwt_client(alpha).post("/api/v1/opt-out-words", {"word": "STOP!"}, content_type="application/json")

    assert response.status_code == 409
    assert response.json() == api_error(
        "opt_out_word_exists",
        "This opt-out word is already in the list.",
        {"id": word_id(alpha, "stop"), "word": "stop"},
    )
    assert words(alpha) == before


@pytest.mark.parametrize(
    ("payload", "code"),
    [({"word": "?!..."}, "invalid_opt_out_word"), ({"word": "x" * 51}, "invalid_opt_out_word"), ({}, "invalid")],
)
def test_unusable_words_are_refused_and_nothing_is_added(alpha, payload, code):
    before = words(alpha)

    response = jwt_client(alpha).post("/api/v1/opt-out-words", payload, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert words(alpha) == before


def test_admin_removes_a_word(alpha):
    target = word_id(alpha, "quit")
    client = jwt_client(alpha)

    removed = client.delete(f"/api/v1/opt-out-words/{target}")
    again = client.delete(f"/api/v1/opt-out-words/{target}")

    assert removed.status_code == 204
    assert "quit" not in words(alpha)
    assert again.status_code == 404
    assert again.json() == api_error("opt_out_word_not_found", "No such opt-out word.")


@pytest.mark.parametrize("role", [Role.VIEWER, Role.AGENT])
def test_viewers_and_agents_cannot_edit_the_list(alpha, role):
    before = words(alpha)
    target = word_id(alpha, "stop")
    refused = api_error("role_required", "This needs the Admin role or higher.")

    for client in (jwt_client(alpha, member(alpha, role)), key_client(alpha, role)):
        added = client.post("/api/v1/opt-out-words", {"word": "halt"}, content_type="application/json")
        removed = client.delete(f"/api/v1/opt-out-words/{target}")
        assert [(added.status_code, added.json()), (removed.status_code, removed.json())] == [(403, refused)] * 2

    assert words(alpha) == before


def test_without_credentials_it_is_a_401(alpha):
    before = words(alpha)
    client = Client(HTTP_HOST=alpha.host)

    responses = [
        client.get("/api/v1/opt-out-words"),
        client.post("/api/v1/opt-out-words", {"word": "halt"}, content_type="application/json"),
        client.delete(f"/api/v1/opt-out-words/{word_id(alpha, 'stop')}"),
    ]

    assert [r.status_code for r in responses] == [401, 401, 401]
    assert words(alpha) == before


def test_each_workspace_has_its_own_list(alpha, beta):
    beta_before = words(beta)

    added = jwt_client(alpha).post("/api/v1/opt-out-words", {"word": "basta"}, content_type="application/json")
    beta_list = jwt_client(beta).get("/api/v1/opt-out-words", {"page_size": 200})

    assert added.status_code == 201
    assert "basta" not in {item["word"] for item in beta_list.json()["results"]}
    assert words(beta) == beta_before
    for client in (jwt_client(beta, host=alpha.host), key_client(beta, Role.ADMIN, host=alpha.host)):
        assert client.delete(f"/api/v1/opt-out-words/{added.json()['id']}").status_code == 401
        assert client.get("/api/v1/opt-out-words").status_code == 401
    assert "basta" in words(alpha)


def test_an_added_word_opts_out_senders_in_that_workspace_only(alpha, beta):
    assert (
        jwt_client(alpha)
        .post("/api/v1/opt-out-words", {"word": "Basta ya"}, content_type="application/json")
        .status_code
        == 201
    )

    for world in (alpha, beta):
        with tenant_context(world.tenant):
            profile = SenderProfile.objects.create(label="Main", status=SenderProfile.Status.CONNECTED)
            inbound_capture(
                profile_id=profile.id,
                messages=[
                    Received(wa_message_id="in-1", from_number="919876543210", sender_name="R", text="basta YA!")
                ],
            )

    with tenant_context(alpha.tenant):
        assert Contact.objects.get(phone="+919876543210").is_opted_out is True
    with tenant_context(beta.tenant):
        assert Contact.objects.filter(phone="+919876543210", opted_out_at__isnull=False).count() == 0
